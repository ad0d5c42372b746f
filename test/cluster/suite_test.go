// Package cluster proves the operator as users run it: installed into a real
// single-node cluster (make cluster) from its image, once with
// dist/install.yaml and once with the Helm chart, next to the cloud simulator
// running as a Pod, with Pods consuming its Secrets.
//
// `make test-cluster` runs it; without MODELARTS_CLUSTER_KUBECONFIG (as in
// `make test`) every spec is skipped.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

var (
	kubeconfig string
	restConfig *rest.Config
	k8s        client.Client
	clientset  *kubernetes.Clientset
	repoRoot   string
	// The operator image make image built into the cluster's containerd.
	operatorImage = envOr("CLUSTER_IMG", "localhost/modelarts-operator:dev")
	cloudsimImage = envOr("CLOUDSIM_IMAGE", "localhost/modelarts-cloudsim:dev")
	consumerImage = envOr("CONSUMER_IMAGE", "localhost/modelarts-consumer:dev")
	// The kubelet's syncFrequency in hack/cluster/env.sh: it bounds how late a
	// mounted Secret may show a new value.
	kubeletSyncPeriod = 20 * time.Second
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Real cluster suite")
}

var _ = BeforeSuite(func() {
	kubeconfig = os.Getenv("MODELARTS_CLUSTER_KUBECONFIG")
	if kubeconfig == "" {
		Skip("MODELARTS_CLUSTER_KUBECONFIG is not set: run `make test-cluster`")
	}
	if d, err := time.ParseDuration(os.Getenv("KUBELET_SYNC_FREQUENCY")); err == nil {
		kubeletSyncPeriod = d
	}
	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	restConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(scheme)).To(Succeed())
	k8s, err = client.New(restConfig, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(restConfig)
	Expect(err).NotTo(HaveOccurred())
	SetDefaultEventuallyPollingInterval(500 * time.Millisecond)
})

// run executes a command line tool and returns its stdout; stderr goes into the error.
func run(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func kubectl(ctx context.Context, args ...string) (string, error) {
	return run(ctx, envOr("KUBECTL", "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

func helm(ctx context.Context, args ...string) (string, error) {
	return run(ctx, envOr("HELM", "helm"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// measured prints a measurement; make test-cluster runs with -ginkgo.v, so it lands in CI's log.
func measured(format string, args ...any) {
	GinkgoWriter.Printf("[cluster] "+format+"\n", args...)
}
