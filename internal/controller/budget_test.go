package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

func TestSetBudgetStatus(t *testing.T) {
	for _, tc := range []struct {
		reason              string
		need, rps           float64
		wantNeed, wantBudge int64
		wantExceeded        bool
	}{
		{"no objects", 0, 10, 0, 600, false},
		{"three objects at 90s need exactly 2/min, not 3", 3.0 / 90, 1, 2, 60, false},
		{"just above the budget reads above it", 60.5 / 60, 1, 61, 60, true},
		{"just below the budget reads as the budget, and is within it", 59.9 / 60, 1, 60, 60, false},
		{"exactly the budget is within it", 1, 1, 60, 60, false},
		{"1000 tokens at 1m against the default", 1000.0 / 60, 10, 1000, 600, true},
	} {
		var st v1alpha1.CloudAccountStatus
		setBudgetStatus(&st, 1, tc.need, tc.rps)
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionRateBudgetExceeded)
		if *st.RequiredRequestsPerMinute != tc.wantNeed || *st.BudgetRequestsPerMinute != tc.wantBudge ||
			(c.Status == metav1.ConditionTrue) != tc.wantExceeded {
			t.Errorf("%s: need %d budget %d exceeded %s, want %d %d %v", tc.reason,
				*st.RequiredRequestsPerMinute, *st.BudgetRequestsPerMinute, c.Status, tc.wantNeed, tc.wantBudge, tc.wantExceeded)
		}
	}
}

func TestWithBudgetOf(t *testing.T) {
	var kept, current v1alpha1.CloudAccountStatus
	setBudgetStatus(&kept, 1, 0, 1)
	meta.SetStatusCondition(&kept.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "CredentialsValid"})
	setBudgetStatus(&current, 1, 2, 1)
	got := withBudgetOf(kept, &current)
	if *got.RequiredRequestsPerMinute != 120 || !meta.IsStatusConditionTrue(got.Conditions, v1alpha1.ConditionRateBudgetExceeded) ||
		!meta.IsStatusConditionTrue(got.Conditions, v1alpha1.ConditionReady) {
		t.Errorf("the kept status must carry the current budget and its own Ready: %+v", got)
	}
}

// budgetOf reads an account's need, budget and RateBudgetExceeded status.
func budgetOf(ns, name string) func(g Gomega) string {
	return func(g Gomega) string {
		var a v1alpha1.CloudAccount
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &a)).To(Succeed())
		c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionRateBudgetExceeded)
		if a.Status.RequiredRequestsPerMinute == nil || a.Status.BudgetRequestsPerMinute == nil || c == nil {
			return "unset"
		}
		return fmt.Sprintf("%d/%d %s %s", *a.Status.RequiredRequestsPerMinute, *a.Status.BudgetRequestsPerMinute, c.Status, c.Reason)
	}
}

func every(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

var _ = Describe("Account rate budget", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("shows what the objects need next to the budget, and RateBudgetExceeded while the need is above it", func() {
		// Not Ready (its Secret is missing): its objects make no cloud call,
		// and need and budget show all the same.
		a := simAccount(ns, "acct", "missing")
		a.Spec.RequestsPerSecond = ptr.To[int32](1)
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(budgetOf(ns, "acct")).Should(Equal("0/60 False WithinBudget"))

		By("one object of each kind: 6 + 3 + 0.2 (ServiceAppAuth's default 5m) + 0.67 + 2 = 11.87/min")
		ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws-0"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: "0"}}
		ws.Spec.RefreshInterval = every(10 * time.Second)
		set := &v1alpha1.AuthorizationSet{ObjectMeta: objMeta(ns, "auths"), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror()}}
		set.Spec.RefreshInterval = every(20 * time.Second)
		saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "saa"),
			Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(), ServiceID: cloudsim.DefaultServiceID}}
		roma := &v1alpha1.RomaApp{ObjectMeta: objMeta(ns, "roma"),
			Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID}}
		roma.Spec.RefreshInterval = every(90 * time.Second)
		token := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "token"),
			Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: "dev-1"}}
		token.Spec.RefreshInterval = every(30 * time.Second)
		for _, o := range []client.Object{ws, set, saa, roma, token} {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		Eventually(budgetOf(ns, "acct")).Should(Equal("12/60 False WithinBudget"))

		By("8 more Workspaces at 10s: 59.87/min reads 60 (rounded up) and is within the budget")
		for i := 1; i <= 8; i++ {
			w := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, fmt.Sprintf("ws-%d", i)), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: "0"}}
			w.Spec.RefreshInterval = every(10 * time.Second)
			Expect(k8sClient.Create(ctx, w)).To(Succeed())
		}
		Eventually(budgetOf(ns, "acct")).Should(Equal("60/60 False WithinBudget"))

		By("a paused object makes no calls and does not count")
		paused := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "paused"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: "0"}}
		paused.Annotations = map[string]string{v1alpha1.AnnotationPaused: "true"}
		paused.Spec.RefreshInterval = every(10 * time.Second)
		Expect(k8sClient.Create(ctx, paused)).To(Succeed())
		Consistently(budgetOf(ns, "acct"), 3*time.Second).Should(Equal("60/60 False WithinBudget"))

		By("shortening the ServiceAppAuth to 10s: 65.67/min, over the budget")
		edit(saa, func() {
			saa.Spec.RefreshInterval = every(10 * time.Second)
		})
		Eventually(budgetOf(ns, "acct")).Should(Equal("66/60 True NeedExceedsBudget"))
		Eventually(func() []string { return eventNotes(ns, "acct") }).Should(ContainElement(And(
			HavePrefix(v1alpha1.ConditionRateBudgetExceeded+": "), ContainSubstring("need 66 requests/min, more than the budget of 60"),
			ContainSubstring("raise spec.requestsPerSecond"), ContainSubstring("lengthen the objects' refreshInterval"))))
		Expect(accountReady(ns, "acct")(Default)).To(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound),
			"the budget does not touch Ready")

		By("deleting two Workspaces: 53.67/min, within the budget again")
		Expect(k8sClient.Delete(ctx, ws)).To(Succeed())
		Expect(k8sClient.Delete(ctx, &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws-1")})).To(Succeed())
		Eventually(budgetOf(ns, "acct")).Should(Equal("54/60 False WithinBudget"))
		Eventually(func() []string { return eventNotes(ns, "acct") }).Should(ContainElement(HavePrefix(v1alpha1.ReasonWithinBudget + ": ")))

		By("without requestsPerSecond the budget is the default 10/s: 600/min")
		edit(a, func() {
			a.Spec.RequestsPerSecond = nil
		})
		Eventually(budgetOf(ns, "acct")).Should(Equal("54/600 False WithinBudget"))
		Eventually(gaugeOf("modelarts_operator_account_required_requests_per_second",
			map[string]string{"account_namespace": ns, "account": "acct"})).Should(BeNumerically("~", 53.67/60, 0.001))
		expectNoSecretValues(fetch(a))
	})

	It("serves new objects and sync-now before the routine refreshes queued behind a small budget", func() {
		workspaceID := ownWorkspaceID()
		createSecret(ns, "creds", akskData())
		a := simAccount(ns, "acct", "creds")
		a.Spec.RequestsPerSecond, a.Spec.Burst = ptr.To[int32](100), ptr.To[int32](100)
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		DeferCleanup(func() {
			By("the backlog drains at full speed before the next spec (faults are per API, not per object)")
			edit(a, func() {
				a.Spec.RequestsPerSecond, a.Spec.Burst = ptr.To[int32](100), ptr.To[int32](100)
			})
			Expect(k8sClient.DeleteAllOf(ctx, &v1alpha1.Workspace{}, client.InNamespace(ns))).To(Succeed())
			Eventually(func() bool {
				n := sim.RequestsFor(cloudsim.APIWorkspace, workspaceID)
				time.Sleep(3 * time.Second)
				return sim.RequestsFor(cloudsim.APIWorkspace, workspaceID) == n
			}, 60*time.Second).Should(BeTrue())
		})

		const n = 60
		workspace := func(name string, interval time.Duration) *v1alpha1.Workspace {
			w := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, name), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: workspaceID}}
			w.Spec.RefreshInterval = every(interval)
			return w
		}
		for i := range n {
			Expect(k8sClient.Create(ctx, workspace(fmt.Sprintf("ws-%02d", i), 10*time.Second))).To(Succeed())
		}
		Eventually(func(g Gomega) int {
			var list v1alpha1.WorkspaceList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			synced := 0
			for i := range list.Items {
				if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
					synced++
				}
			}
			return synced
		}, 60*time.Second, time.Second).Should(Equal(n))

		By("at 1 call/s the 60 objects at 10s (6 calls/s) queue up: about 50 are due at any moment, ~50s of calls")
		edit(a, func() {
			a.Spec.RequestsPerSecond, a.Spec.Burst = ptr.To[int32](1), ptr.To[int32](1)
		})
		Eventually(budgetOf(ns, "acct")).Should(Equal("360/60 True NeedExceedsBudget"))
		Eventually(func() []string { return eventNotes(ns, "acct") }).Should(ContainElement(ContainSubstring("need 360 requests/min")))
		time.Sleep(20 * time.Second)

		By("a new object is served within seconds, not after the backlog")
		start := time.Now()
		fresh := workspace("fresh", 5*time.Minute)
		Expect(k8sClient.Create(ctx, fresh)).To(Succeed())
		Eventually(condition(fresh, v1alpha1.ConditionReady), 60*time.Second, 200*time.Millisecond).
			Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		took := time.Since(start)
		GinkgoWriter.Printf("new object served after %v\n", took)
		Expect(took).To(BeNumerically("<", 15*time.Second), "in FIFO order it would wait behind ~50 routine refreshes at 1/s")

		By("so is a sync-now on an object whose routine refresh is queued")
		old := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws-00")}
		start = time.Now()
		annotate(old, v1alpha1.AnnotationSyncNow, "budget-1")
		Eventually(func() string { return fetch(old).(v1alpha1.Mirrored).Sync().SyncNowHandled }, 60*time.Second, 200*time.Millisecond).
			Should(Equal("budget-1"))
		took = time.Since(start)
		GinkgoWriter.Printf("sync-now served after %v\n", took)
		Expect(took).To(BeNumerically("<", 15*time.Second), "in FIFO order it would wait behind ~50 routine refreshes at 1/s")
	})
})
