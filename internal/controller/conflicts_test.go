package controller

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// API server write failures are injected with an interceptor around a fake
// client (the suite's manager would otherwise race the reconciler under
// test); the cloud is the suite's simulator. Each Reconcile call stands for
// one the manager makes: at once after an error, after RequeueAfter otherwise.
var _ = Describe("API server write conflicts and failures, and the status heartbeat", func() {
	ctx := context.Background()
	const ns = "conflicts"
	key := types.NamespacedName{Namespace: ns, Name: "tok"}
	var (
		c              client.Client
		r              *MirrorReconciler[*v1alpha1.DevEnvironmentToken, string]
		mu             sync.Mutex
		failStatus     int // status writes to fail
		failSecret     int // Secret creates/updates to fail with a conflict
		now            time.Time
		tokenCalls     func() int
		instanceID     string // the spec's own, so no other object's calls count (mirror_test.go)
		statusErr      = apierrors.NewServerTimeout(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "devenvironmenttokens"}, "patch", 1)
		secretConflict = apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "tok", nil)
		take           = func(n *int) bool { mu.Lock(); defer mu.Unlock(); ok := *n > 0; *n--; return ok }
		reconcile      = func() (ctrl.Result, error) { return r.Reconcile(ctx, ctrl.Request{NamespacedName: key}) }
		currentToken   = func() *v1alpha1.DevEnvironmentToken {
			var t v1alpha1.DevEnvironmentToken
			Expect(c.Get(ctx, key, &t)).To(Succeed())
			return &t
		}
		tokenSecret = func() (map[string][]byte, error) {
			var s corev1.Secret
			err := c.Get(ctx, key, &s)
			return s.Data, err
		}
	)

	BeforeEach(func() {
		sim.ClearFaults()
		failStatus, failSecret = 0, 0
		now = time.Now()
		instanceID = ownDevEnvInstanceID()
		tok := &v1alpha1.DevEnvironmentToken{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tok", UID: "uid-tok", Generation: 1},
			Spec:       v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: instanceID},
		}
		c = interceptor.NewClient(
			fake.NewClientBuilder().WithScheme(testScheme).WithObjects(tok).WithStatusSubresource(tok).
				WithIndex(&corev1.Secret{}, fieldIndexSecretController, secretControllerUID).Build(),
			interceptor.Funcs{
				SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					if take(&failStatus) {
						return statusErr
					}
					return cl.SubResource(sub).Patch(ctx, obj, p, opts...)
				},
				Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if _, ok := obj.(*corev1.Secret); ok && take(&failSecret) {
						return secretConflict
					}
					return cl.Create(ctx, obj, opts...)
				},
				Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
					if _, ok := obj.(*corev1.Secret); ok && take(&failSecret) {
						return secretConflict
					}
					return cl.Update(ctx, obj, opts...)
				},
			})
		accounts := NewAccounts(cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second}))
		cfg := connectionConfig(simAccount(ns, "acct", "creds").Spec.CloudConnection)
		cfg.Credentials = cloudclient.Credentials{AccessKey: cloudsim.DefaultAccessKey, SecretKey: cloudsim.DefaultSecretKey}
		accounts.Set(types.NamespacedName{Namespace: ns, Name: "acct"}, cfg)
		r = &MirrorReconciler[*v1alpha1.DevEnvironmentToken, string]{
			Client: c, APIReader: c, Kind: devEnvTokenKind{}, Accounts: accounts,
			Recorder: events.NewFakeRecorder(100), Heartbeat: 5 * time.Minute, Workers: 1,
			Now: func() time.Time { return now },
		}
		tokenCalls = func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }
	})

	It("writes the status on the retry after a failed status write, after a backoff, not a refresh interval later", func() {
		failStatus = 1
		res, err := reconcile()
		Expect(err).NotTo(HaveOccurred(), "the skeleton retries itself, after a backoff")
		Expect(res.RequeueAfter).To(BeNumerically("~", backoffBase, backoffBase/5))
		Expect(tokenSecret()).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}))

		now = now.Add(time.Second)
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenCalls()).To(Equal(1), "not due before the backoff: no cloud call")

		now = now.Add(res.RequeueAfter)
		res, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		t := currentToken()
		Expect(meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionReady)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Expect(t.Status.SecretName).To(Equal("tok"))
		Expect(tokenCalls()).To(Equal(2), "the retry syncs again")
		Expect(res.RequeueAfter).To(BeNumerically(">", time.Minute), "then back to the refresh interval")

		now = now.Add(time.Second)
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenCalls()).To(Equal(2), "not due: no cloud call")
	})

	It("backs off exponentially while status writes keep failing: one cloud call per retry, no hot loop", func() {
		failStatus = 4
		var waits []time.Duration
		for i := 0; i < 4; i++ {
			res, err := reconcile()
			Expect(err).NotTo(HaveOccurred())
			waits = append(waits, res.RequeueAfter)
			now = now.Add(res.RequeueAfter)
		}
		Expect(tokenCalls()).To(Equal(4), "one cloud call per retry")
		for i, want := range []time.Duration{backoffBase, 2 * backoffBase, 4 * backoffBase, 8 * backoffBase} {
			Expect(waits[i]).To(BeNumerically("~", want, want/5), "retry %d", i+1)
		}
		_, err := reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(meta.FindStatusCondition(currentToken().Status.Conditions, v1alpha1.ConditionReady)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Expect(tokenCalls()).To(Equal(5))
	})

	It("retries a Secret write conflict with backoff, keeping status and Secret consistent", func() {
		failSecret = 1
		res, err := reconcile()
		Expect(err).NotTo(HaveOccurred())
		t := currentToken()
		Expect(meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionSynced)).To(And(
			haveCondition(metav1.ConditionFalse, v1alpha1.ReasonCloudError), HaveField("Message", ContainSubstring("cannot write Secret tok"))))
		Expect(t.Status.SecretName).To(BeEmpty(), "status does not run ahead of the Secret")
		_, err = tokenSecret()
		Expect(apierrors.IsNotFound(err)).To(BeTrue())
		Expect(res.RequeueAfter).To(BeNumerically("~", backoffBase, backoffBase/5))

		now = now.Add(res.RequeueAfter)
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		t = currentToken()
		Expect(meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionSynced)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Expect(tokenSecret()).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}))
		Expect(tokenCalls()).To(Equal(2))

		By("a conflicting update of an existing Secret (rotated token) is retried the same way")
		rotated, err := sim.RotateDevEnvToken(cloudsim.DefaultProjectID, instanceID)
		Expect(err).NotTo(HaveOccurred())
		failSecret = 1
		t = currentToken()
		t.Annotations = map[string]string{v1alpha1.AnnotationSyncNow: "1"}
		Expect(c.Update(ctx, t)).To(Succeed())
		res, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenSecret()).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}), "the old token stays until the write succeeds")
		now = now.Add(res.RequeueAfter)
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenSecret()).To(Equal(map[string][]byte{"token": []byte(rotated)}))
		Expect(meta.FindStatusCondition(currentToken().Status.Conditions, v1alpha1.ConditionSynced)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
	})

	It("moves the sync times only as a heartbeat: once they are older than max(heartbeat, refreshInterval)", func() {
		t := currentToken()
		t.Spec.RefreshInterval = &metav1.Duration{Duration: time.Minute} // the heartbeat (5m) is longer
		Expect(c.Update(ctx, t)).To(Succeed())
		_, err := reconcile()
		Expect(err).NotTo(HaveOccurred())
		first := currentToken()
		Expect(first.Status.LastSyncTime).NotTo(BeNil())
		start := first.Status.LastSyncTime.Time

		// Every 70s (past the 1m interval and its jitter) a sync reads the
		// same data: a cloud call each time, no write until 5m have passed.
		for i := 1; i <= 4; i++ {
			now = now.Add(70 * time.Second)
			_, err := reconcile()
			Expect(err).NotTo(HaveOccurred())
			Expect(tokenCalls()).To(Equal(1 + i))
			Expect(currentToken().ResourceVersion).To(Equal(first.ResourceVersion), "sync %d at +%ds writes nothing", i, 70*i)
		}
		now = now.Add(70 * time.Second) // +350s
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		beat := currentToken()
		Expect(beat.ResourceVersion).NotTo(Equal(first.ResourceVersion), "the heartbeat writes")
		Expect(beat.Status.LastSyncTime.Time).To(BeTemporally("~", start.Add(350*time.Second), time.Second))
		Expect(beat.Status.LastSuccessfulSyncTime.Time).To(Equal(beat.Status.LastSyncTime.Time))

		By("a failing sync moves lastSyncTime at the heartbeat, never lastSuccessfulSyncTime")
		sim.InjectFault(cloudsim.APIDevEnvToken, cloudsim.Fault{Status: 403})
		DeferCleanup(sim.ClearFaults)
		now = now.Add(70 * time.Second)
		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		failed := currentToken()
		Expect(meta.FindStatusCondition(failed.Status.Conditions, v1alpha1.ConditionSynced)).To(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonForbidden))
		Expect(failed.Status.LastSuccessfulSyncTime.Time).To(Equal(beat.Status.LastSuccessfulSyncTime.Time))
	})
})
