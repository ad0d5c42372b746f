package controller

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

// The suite runs a real kube-apiserver and etcd (envtest), the cloud simulator
// over real HTTP, and the manager with every controller. Tests assert through
// k8sClient, which reads the API server directly (no cache).
var (
	testEnv    *envtest.Environment
	cfg        *rest.Config
	k8sClient  client.Client
	clientset  kubernetes.Interface
	sim        *cloudsim.Server
	simServer  *httptest.Server
	testScheme = runtime.NewScheme()
	cancelMgr  context.CancelFunc
	mgrDone    = make(chan struct{})
	logs       = &testutil.LogBuffer{} // everything the manager logged, for leak scans
	nsCounter  atomic.Int32
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(&teeWriter{GinkgoWriter, logs}), zap.UseDevMode(true)))

	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	Expect(clientgoscheme.AddToScheme(testScheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(testScheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// Running from an editor without KUBEBUILDER_ASSETS: use what `make envtest` linked.
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		testEnv.BinaryAssetsDirectory = filepath.Join("..", "..", "bin", "k8s")
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	sim = cloudsim.New(cloudsim.DefaultFixture())
	simServer = httptest.NewServer(sim)

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	pool := cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second, Observe: ObserveCloudRequest,
		ServiceAccountToken: ServiceAccountTokens(clientset)})
	Expect(SetupWithManager(mgr, clientset, Options{Pool: pool, StatusHeartbeat: 5 * time.Minute, MaxConcurrentReconciles: 4})).To(Succeed())

	var ctx context.Context
	ctx, cancelMgr = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		defer close(mgrDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancelMgr != nil {
		cancelMgr()
		Eventually(mgrDone, 30*time.Second).Should(BeClosed())
	}
	if simServer != nil {
		sim.Close() // releases requests held by a Hang fault
		simServer.Close()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// newNamespace creates a namespace of its own for one test.
func newNamespace() string {
	name := fmt.Sprintf("t%d-%d", GinkgoParallelProcess(), nsCounter.Add(1))
	Expect(k8sClient.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

// akskData and passwordData are the simulator's default credentials.
func akskData() map[string][]byte {
	return map[string][]byte{
		v1alpha1.CredentialAccessKey: []byte(cloudsim.DefaultAccessKey),
		v1alpha1.CredentialSecretKey: []byte(cloudsim.DefaultSecretKey),
	}
}

func passwordData() map[string][]byte {
	return map[string][]byte{
		v1alpha1.CredentialUserName:   []byte(cloudsim.DefaultUserName),
		v1alpha1.CredentialPassword:   []byte(cloudsim.DefaultPassword),
		v1alpha1.CredentialDomainName: []byte(cloudsim.DefaultDomainName),
	}
}

func createSecret(ns, name string, data map[string][]byte) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	Expect(k8sClient.Create(context.Background(), s)).To(Succeed())
	return s
}

// simAccount is a CloudAccount pointing every endpoint at the simulator.
func simAccount(ns, name, secretName string) *v1alpha1.CloudAccount {
	return &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.CloudAccountSpec{
			CloudConnection: v1alpha1.CloudConnection{
				Region:            "cn-north-4",
				ProjectID:         cloudsim.DefaultProjectID,
				Endpoints:         &v1alpha1.CloudEndpoints{IAM: simServer.URL, ModelArts: simServer.URL, ROMA: simServer.URL},
				AllowInsecureHTTP: true,
			},
			CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: secretName},
		},
	}
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.b.Write(p)
	return t.a.Write(p)
}
