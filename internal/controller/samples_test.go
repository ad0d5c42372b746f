package controller

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The samples users copy must pass the API server's validation.
var _ = It("accepts every sample in config/samples", func() {
	ns := newNamespace()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "modelarts_*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	kinds := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			obj := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal([]byte(doc), &obj.Object)).To(Succeed(), f)
			if obj.GetKind() != "ClusterCloudAccount" {
				obj.SetNamespace(ns)
			}
			Expect(k8sClient.Create(context.Background(), obj, client.DryRunAll)).To(Succeed(), f)
			kinds[obj.GetKind()] = true
		}
	}
	for _, k := range []string{"Secret", "ServiceAccount", "CloudAccount", "ClusterCloudAccount", "Workspace", "AuthorizationSet", "ServiceAppAuth", "RomaApp", "DevEnvironmentToken"} {
		Expect(kinds).To(HaveKey(k))
	}
})
