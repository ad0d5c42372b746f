# modelarts-operator Makefile (kubebuilder layout). Every tool it needs is
# installed into ./bin by a target here; nothing is assumed on the machine but Go.

IMG ?= ghcr.io/cloudmirror-io/modelarts-operator:latest
ENVTEST_K8S_VERSION ?= 1.37.2

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
KUSTOMIZE ?= $(LOCALBIN)/kustomize
HELM ?= $(LOCALBIN)/helm
PROMTOOL ?= $(LOCALBIN)/promtool

CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# v5.8.3 needs Go >= 1.27; v5.8.2 is the newest that builds with the go.mod toolchain (1.26).
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v4.3.2
# Prometheus v3.x is published to the module proxy as v0.3xx.y (v0.316.0 = v3.16.0).
PROMTOOL_VERSION ?= v0.316.0

# The images `make image` builds into the cluster's containerd (no registry).
CLUSTER_IMG ?= localhost/modelarts-operator:dev

# Packages whose tests need a control plane are found through KUBEBUILDER_ASSETS.
GO_TEST_FLAGS ?= -count=1 -timeout 30m

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the API types and markers, and copy them and the Grafana dashboard into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	@# The chart installs the same CRDs and manager rules; a test checks the rest of it against config/.
	rm -f charts/modelarts-operator/crds/*.yaml
	cp config/crd/bases/*.yaml charts/modelarts-operator/crds/
	cp config/rbac/role.yaml charts/modelarts-operator/files/manager-role.yaml
	cp config/grafana/modelarts-operator-dashboard.json charts/modelarts-operator/files/grafana-dashboard.json

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: test
test: manifests generate fmt vet build-installer helm promtool ## Run all tests: unit tests, fuzz seed corpora, the envtest suites (one dry-run applies dist/install.yaml), the Helm chart's lint and render checks, and the alerts' promtool tests.
	@assets="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh)"; \
	echo "KUBEBUILDER_ASSETS=$$assets"; \
	KUBEBUILDER_ASSETS="$$assets" HELM="$(HELM)" KUSTOMIZE="$(KUSTOMIZE)" PROMTOOL="$(PROMTOOL)" go test $(GO_TEST_FLAGS) ./... -coverprofile cover.out

.PHONY: fuzz
fuzz: ## Run every Fuzz* test for FUZZTIME each (default 30s); `make test` runs only their seed corpora.
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for fn in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
			echo "== $$dir $$fn (-fuzztime=$${FUZZTIME:-30s})"; \
			go test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$${FUZZTIME:-30s} $$dir || exit 1; \
		done; \
	done

.PHONY: envtest
envtest: ## Provision kube-apiserver, etcd and kubectl for envtest (cached outside the repo, linked at bin/k8s).
	@ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary into bin/manager and the simulator into bin/cloudsim.
	go build -o bin/manager ./cmd
	go build -o bin/cloudsim ./cmd/cloudsim

.PHONY: demo
demo: build ## Run the operator against the cloud simulator on a local control plane; DEMO_HOLD=1 keeps it running.
	@assets="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go run ./hack/demo

.PHONY: bench
bench: build ## Benchmark the operator (N objects per kind, default 1000) against a local control plane and the simulator; writes bin/bench/report.json.
	@assets="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go run ./hack/bench -n $(or $(N),1000) $(BENCH_ARGS)

GROWTH ?= 1000,2000,5000

.PHONY: bench-growth
bench-growth: build ## Run the benchmark for each N in GROWTH (default 1000,2000,5000; about 25 minutes on 2 CPUs) with refreshInterval 1m; writes bin/bench/growth/, the growth table in docs/performance.md and docs/performance-growth.svg.
	@assets="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go run ./hack/bench -growth $(GROWTH) $(BENCH_ARGS)

##@ Cluster (a real single-node Kubernetes on this machine; run as root)

.PHONY: cluster
cluster: ## Start a single-node cluster (etcd, API server, controller-manager, scheduler, containerd, kubelet, kube-proxy); kubeconfig at bin/cluster/kubeconfig.
	hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the cluster and remove everything it left on the machine.
	hack/cluster/down.sh

.PHONY: image
image: ## Build the operator, simulator and consumer images and import them into the cluster's containerd.
	MANAGER_IMAGE=$(CLUSTER_IMG) hack/cluster/images.sh manager cloudsim consumer

.PHONY: test-cluster
test-cluster: build-installer helm cluster image ## Install the operator into the cluster (install.yaml, then Helm) and prove it as users run it.
	@mkdir -p bin/cluster/install
	@# dist/install.yaml as make build-installer writes it, with the cluster's image.
	@printf 'resources:\n- ../../../config/default\nimages:\n- name: %s\n  newName: %s\n  newTag: %s\n' \
		"$$(sed -n 's/^ *newName: //p' config/manager/kustomization.yaml)" "$(firstword $(subst :, ,$(CLUSTER_IMG)))" "$(lastword $(subst :, ,$(CLUSTER_IMG)))" > bin/cluster/install/kustomization.yaml
	$(KUSTOMIZE) build bin/cluster/install > bin/cluster/install.yaml
	MODELARTS_CLUSTER_KUBECONFIG=$(CURDIR)/bin/cluster/kubeconfig CLUSTER_IMG=$(CLUSTER_IMG) HELM="$(HELM)" \
		KUBECTL="$$(readlink -f bin/k8s)/kubectl" go test -count=1 -timeout 40m -v ./test/cluster/ -ginkgo.v

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster in KUBECONFIG.
	go run ./cmd

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: CRDs, namespace, RBAC and the manager Deployment using IMG.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Tools

.PHONY: helm
helm: $(HELM) ## Install helm into bin/ (built from the Go module proxy).
$(HELM): | $(LOCALBIN)
	@start=$$(date +%s); GOBIN=$(LOCALBIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION); \
	echo "helm $(HELM_VERSION) built in $$(( $$(date +%s) - start ))s"

.PHONY: promtool
promtool: $(PROMTOOL) ## Install promtool into bin/ (built from the Go module proxy) to unit-test the alerts.
$(PROMTOOL): | $(LOCALBIN)
	@start=$$(date +%s); GOBIN=$(LOCALBIN) go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION); \
	echo "promtool $(PROMTOOL_VERSION) built in $$(( $$(date +%s) - start ))s"

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/.
$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
