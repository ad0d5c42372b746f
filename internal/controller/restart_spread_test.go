package controller

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// A restart is a fresh reconciler (no records) over objects an earlier one
// synced: the same fake client and the suite's simulator, so each cloud call
// is counted where it lands.
var _ = Describe("A restart without a thundering herd", func() {
	ctx := context.Background()
	const (
		ns       = "restart"
		objects  = 100
		interval = 10 * time.Minute
	)
	var (
		c             client.Client
		accounts      *Accounts
		now           time.Time
		tokenCalls    func() int
		instanceID    string // the spec's own, so no other object's calls count (mirror_test.go)
		newReconciler = func() *MirrorReconciler[*v1alpha1.DevEnvironmentToken, string] {
			return &MirrorReconciler[*v1alpha1.DevEnvironmentToken, string]{
				Client: c, APIReader: c, Kind: devEnvTokenKind{}, Accounts: accounts,
				Recorder: events.NewFakeRecorder(1000), Heartbeat: time.Hour, Workers: 1,
				Now: func() time.Time { return now },
			}
		}
		key = func(i int) types.NamespacedName {
			return types.NamespacedName{Namespace: ns, Name: fmt.Sprintf("tok-%03d", i)}
		}
		reconcileAll = func(r *MirrorReconciler[*v1alpha1.DevEnvironmentToken, string]) []time.Duration {
			waits := make([]time.Duration, objects)
			for i := range objects {
				res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key(i)})
				Expect(err).NotTo(HaveOccurred())
				waits[i] = res.RequeueAfter
			}
			return waits
		}
		// expectSpread checks that waits fall within (0, interval] and
		// uniformly over its fifths: 20 per fifth expected; 40 or more in
		// one is a tail far below one in a million.
		expectSpread = func(waits []time.Duration) {
			perFifth := make([]int, 5)
			for _, w := range waits {
				Expect(w).To(BeNumerically(">", 0))
				Expect(w).To(BeNumerically("<=", interval))
				perFifth[min(int(w*5/interval), 4)]++
			}
			for i, n := range perFifth {
				Expect(n).To(BeNumerically("<", 40), "fifth %d of the interval holds %d of %d", i, n, len(waits))
			}
		}
		token = func(i int) *v1alpha1.DevEnvironmentToken {
			var t v1alpha1.DevEnvironmentToken
			Expect(c.Get(ctx, key(i), &t)).To(Succeed())
			return &t
		}
	)

	BeforeEach(func() {
		sim.ClearFaults()
		now = time.Now()
		instanceID = ownDevEnvInstanceID()
		b := fake.NewClientBuilder().WithScheme(testScheme).
			WithIndex(&corev1.Secret{}, fieldIndexSecretController, secretControllerUID)
		for i := range objects {
			spec := mirror()
			spec.RefreshInterval = &metav1.Duration{Duration: interval}
			tok := &v1alpha1.DevEnvironmentToken{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key(i).Name, UID: types.UID(fmt.Sprintf("uid-%03d", i)), Generation: 1},
				Spec:       v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: spec, InstanceID: instanceID},
			}
			b = b.WithObjects(tok).WithStatusSubresource(tok)
		}
		c = b.Build()
		accounts = NewAccounts(cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second}))
		cfg := connectionConfig(simAccount(ns, "acct", "creds").Spec.CloudConnection)
		cfg.Credentials = cloudclient.Credentials{AccessKey: cloudsim.DefaultAccessKey, SecretKey: cloudsim.DefaultSecretKey}
		accounts.Set(types.NamespacedName{Namespace: ns, Name: "acct"}, cfg)
		tokenCalls = func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }

		reconcileAll(newReconciler())
		Expect(tokenCalls()).To(Equal(objects), "the first process syncs every object once")
		for i := range objects {
			Expect(meta.IsStatusConditionTrue(token(i).Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}
	})

	It("spreads Ready objects with intact Secrets over their interval instead of reading them all at once", func() {
		now = now.Add(time.Minute)
		restarted := newReconciler()
		waits := reconcileAll(restarted)
		Expect(tokenCalls()).To(Equal(objects), "no cloud call at restart")
		expectSpread(waits)

		// Each becomes due at its own moment, once.
		earliest := 0
		for i, w := range waits {
			if w < waits[earliest] {
				earliest = i
			}
		}
		now = now.Add(waits[earliest])
		_, err := restarted.Reconcile(ctx, ctrl.Request{NamespacedName: key(earliest)})
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenCalls()).To(Equal(objects+1), "the earliest is read at its moment")
	})

	It("spreads them as well when all their heartbeats fall due in the first seconds", func() {
		// Objects created together reach their heartbeat together; bounding
		// the first sync by it put them all in the restart's first seconds.
		for i := range objects {
			t := token(i)
			t.Status.LastSuccessfulSyncTime = &metav1.Time{Time: now.Add(-time.Hour + 10*time.Second)}
			Expect(c.Status().Update(ctx, t)).To(Succeed())
		}
		expectSpread(reconcileAll(newReconciler()))
		Expect(tokenCalls()).To(Equal(objects), "no cloud call at restart")
	})

	It("writes a heartbeat falling due within the interval on the first sync after it, as without a restart", func() {
		// The heartbeat (1h) falls due 30s after the restart; the status
		// must move on the first sync at or after that moment, not before.
		t := token(0)
		due := now.Add(30 * time.Second)
		t.Status.LastSuccessfulSyncTime = &metav1.Time{Time: due.Add(-time.Hour)}
		t.Status.LastSyncTime = t.Status.LastSuccessfulSyncTime
		Expect(c.Status().Update(ctx, t)).To(Succeed())
		restarted := newReconciler()
		res, err := restarted.Reconcile(ctx, ctrl.Request{NamespacedName: key(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenCalls()).To(Equal(objects), "no cloud call at restart")
		Expect(res.RequeueAfter).To(BeNumerically("<=", interval))

		for syncs := 1; ; syncs++ {
			now = now.Add(res.RequeueAfter)
			res, err = restarted.Reconcile(ctx, ctrl.Request{NamespacedName: key(0)})
			Expect(err).NotTo(HaveOccurred())
			Expect(tokenCalls()).To(Equal(objects+syncs), "one cloud call per due moment")
			if now.Before(due) {
				Expect(token(0).Status.LastSuccessfulSyncTime.Time).To(BeTemporally("==", due.Add(-time.Hour)),
					"no heartbeat before it falls due")
				continue
			}
			Expect(token(0).Status.LastSuccessfulSyncTime.Time).To(BeTemporally("==", now.Truncate(time.Second)),
				"the first sync after the heartbeat falls due writes it")
			Expect(now).To(BeTemporally("<=", due.Add(interval+refreshSlot)), "at most one interval late")
			break
		}
	})

	It("looks at new, changed, failed and sync-now objects, and those whose Secret is gone or taken, at once", func() {
		t := token(1)
		t.Generation = 2 // a spec change not yet synced
		Expect(c.Update(ctx, t)).To(Succeed())

		t = token(2)
		meta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionSynced,
			Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCloudError, Message: "cloud request failed"})
		Expect(c.Status().Update(ctx, t)).To(Succeed())

		t = token(3)
		t.Annotations = map[string]string{v1alpha1.AnnotationSyncNow: "now"}
		Expect(c.Update(ctx, t)).To(Succeed())

		Expect(c.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key(4).Name}})).To(Succeed())

		var s corev1.Secret
		Expect(c.Get(ctx, key(5), &s)).To(Succeed())
		s.OwnerReferences = nil // someone else's now
		Expect(c.Update(ctx, &s)).To(Succeed())

		fresh := &v1alpha1.DevEnvironmentToken{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new", UID: "uid-new", Generation: 1},
			Spec:       v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: instanceID},
		}
		Expect(c.Create(ctx, fresh)).To(Succeed())

		r := newReconciler()
		for _, k := range []types.NamespacedName{key(0), key(1), key(2), key(3), key(4), key(5), client.ObjectKeyFromObject(fresh)} {
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: k})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(tokenCalls()).To(Equal(objects+5), "every one but the intact tok-000 and tok-005, whose Secret is taken")
		Expect(meta.FindStatusCondition(token(5).Status.Conditions, v1alpha1.ConditionSynced)).To(
			haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict), "a taken Secret is reported at once, without a cloud call")
	})

	It("waits for a Ready account to be registered rather than syncing every object the moment it is", func() {
		account := simAccount(ns, "acct", "creds")
		account.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: "CredentialsValid", Message: "ok", LastTransitionTime: metav1.Now()}}
		Expect(c.Create(ctx, account)).To(Succeed())
		accounts.Delete(types.NamespacedName{Namespace: ns, Name: "acct"}) // a fresh process: nothing registered yet

		r := newReconciler()
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: key(0)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(BeNumerically("~", accountRegisterWait, accountRegisterWait/5))
		Expect(tokenCalls()).To(Equal(objects))
	})
})
