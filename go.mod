module github.com/cloudmirror-io/modelarts-operator

go 1.26.0
