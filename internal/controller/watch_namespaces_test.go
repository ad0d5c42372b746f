package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// A second manager, confined with --watch-namespaces to one namespace and
// allowed only there (a RoleBinding to the generated ClusterRole), runs and
// syncs; it has no access to another namespace's Secrets.
var _ = Describe("Namespace-scoped install (--watch-namespaces)", func() {
	ctx := context.Background()

	It("works with RoleBindings in the watched namespace only", func() {
		watched, other := newNamespace(), newNamespace()

		By("the generated ClusterRole, bound in the watched namespace only")
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var role rbacv1.ClusterRole
		Expect(yaml.Unmarshal(raw, &role)).To(Succeed())
		role.Name = "manager-role-" + watched
		Expect(k8sClient.Create(ctx, &role)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, &role)).To(Succeed()) })
		user := "modelarts-operator-" + watched
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "manager"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		})).To(Succeed())
		authn, err := testEnv.AddUser(envtest.User{Name: user}, cfg)
		Expect(err).NotTo(HaveOccurred())
		restricted := authn.Config()

		By("a manager with --watch-namespaces " + watched)
		mgr, err := ctrl.NewManager(restricted, ctrl.Options{
			Scheme: testScheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
			Cache: CacheOptions(watched),
			// Its controllers share names with the suite's manager's.
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		cs, err := kubernetes.NewForConfig(restricted)
		Expect(err).NotTo(HaveOccurred())
		var calls atomic.Int32
		pool := cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second,
			Observe: func(cloudclient.API, string, time.Duration) { calls.Add(1) }})
		Expect(SetupWithManager(mgr, cs, Options{Pool: pool, StatusHeartbeat: 5 * time.Minute,
			MaxConcurrentReconciles: 2, WatchNamespaces: []string{watched}})).To(Succeed())
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- mgr.Start(mctx) }()
		DeferCleanup(func() {
			cancel()
			Eventually(done, 30*time.Second).Should(Receive(BeNil()))
		})

		By("it syncs objects of the watched namespace")
		readyAccount(watched, akskData())
		w := workspaceOf(watched, "ws", v1alpha1.AccountReference{Name: "acct"})
		Expect(k8sClient.Create(ctx, w)).To(Succeed())
		Eventually(condition(w, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		// The suite's manager serves the namespace too: if it synced first,
		// the confined one found the object Ready and spread its first call
		// over the interval (as after a restart). A sync-now request is due
		// for both at once, once the confined one has registered the account
		// (until then it waits, and may find the request handled): ask again
		// until it calls.
		requests := 0
		Eventually(func() int32 {
			requests++
			annotate(w, v1alpha1.AnnotationSyncNow, fmt.Sprintf("confined-%d", requests))
			return calls.Load()
		}, 30*time.Second, 3*time.Second).Should(BeNumerically(">", 0), "the confined manager made the cloud call")
		Consistently(done, 2*time.Second).ShouldNot(Receive(), "no RBAC or cache error stops it")

		By("its cache and its credentials stop at the namespace")
		var list v1alpha1.WorkspaceList
		Expect(mgr.GetCache().List(ctx, &list, client.InNamespace(other))).NotTo(Succeed())
		direct, err := client.New(restricted, client.Options{Scheme: testScheme})
		Expect(err).NotTo(HaveOccurred())
		createSecret(other, "creds", akskData())
		err = direct.Get(ctx, client.ObjectKey{Namespace: other, Name: "creds"}, &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		Expect(direct.Get(ctx, client.ObjectKey{Namespace: watched, Name: "creds"}, &corev1.Secret{})).To(Succeed())
	})
})
