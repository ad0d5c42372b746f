package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// gauge returns the value of the series of family name whose labels include
// labels, and whether there is exactly one such series.
func gauge(name string, labels map[string]string) (float64, bool) {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var found []float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			found = append(found, m.GetGauge().GetValue())
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

// gaugeOf polls gauge; -1 stands for no (or more than one) series.
func gaugeOf(name string, labels map[string]string) func() float64 {
	return func() float64 {
		if v, ok := gauge(name, labels); ok {
			return v
		}
		return -1
	}
}

// lateAfter returns how many syncs of kind the lateness histogram counts as
// more than seconds late.
func lateAfter(kind string, seconds float64) uint64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "modelarts_operator_sync_lateness_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() != kind {
				continue
			}
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == seconds {
					return h.GetSampleCount() - b.GetCumulativeCount()
				}
			}
			Fail(fmt.Sprintf("no bucket at %v s", seconds))
		}
	}
	return 0
}

func TestLateness(t *testing.T) {
	for _, tc := range []struct{ gap, interval, want time.Duration }{
		{60 * time.Second, time.Minute, 0},
		{66 * time.Second, time.Minute, 0},                         // within the jitter
		{66*time.Second + refreshSlot/2, time.Minute, 0},           // and the rounding to a slot
		{100 * time.Second, time.Minute, 33500 * time.Millisecond}, // the default budget with 1000 tokens at 1m
		{5 * time.Second, time.Minute, 0},                          // sync-now or a spec change
	} {
		if got := lateness(tc.gap, tc.interval); got != tc.want {
			t.Errorf("lateness(%v, %v) = %v, want %v", tc.gap, tc.interval, got, tc.want)
		}
	}
}

// The series the alerts and the dashboard are built on (docs/monitoring.md).
var _ = Describe("Metrics for alerts", func() {
	ctx := context.Background()
	var ns, workspaceID string
	BeforeEach(func() {
		ns = newNamespace()
		workspaceID = ownWorkspaceID()
	})

	It("count objects per kind and namespace, show an object as stale only while it is, and forget deleted objects", func() {
		readyAccount(ns, akskData())
		every10s := &metav1.Duration{Duration: 10 * time.Second}
		fresh := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "fresh"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: workspaceID}}
		fresh.Spec.RefreshInterval = every10s
		Expect(k8sClient.Create(ctx, fresh)).To(Succeed())
		// A workspace the cloud does not have (yet): every sync fails.
		laterID := newWorkspaceID()
		late := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "late"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: laterID}}
		late.Spec.RefreshInterval = every10s
		Expect(k8sClient.Create(ctx, late)).To(Succeed())
		Eventually(condition(fresh, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Eventually(condition(late, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotFound))

		perNamespace := map[string]string{"kind": "workspace", "namespace": ns}
		staleness := func(name string) func() (float64, bool) {
			return func() (float64, bool) {
				return gauge("modelarts_operator_stale_object_age_seconds", map[string]string{"kind": "workspace", "namespace": ns, "name": name})
			}
		}
		isStale := func(name string) func() bool {
			return func() bool { _, ok := staleness(name)(); return ok }
		}
		Eventually(gaugeOf("modelarts_operator_objects", perNamespace)).Should(BeNumerically("==", 2))

		By("an object not synced for twice its interval (counted from when the operator first saw it) is stale, and only it")
		Consistently(isStale("late"), 15*time.Second, time.Second).Should(BeFalse())
		Eventually(isStale("late"), 15*time.Second, time.Second).Should(BeTrue())
		age, _ := staleness("late")()
		Expect(age).To(BeNumerically(">", 20))
		Expect(isStale("fresh")()).To(BeFalse())

		By("its first successful sync ends it")
		addWorkspaceCopy(laterID)
		annotate(late, v1alpha1.AnnotationSyncNow, "1")
		Eventually(isStale("late")).Should(BeFalse())
		Eventually(condition(late, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))

		By("deleting the objects deletes their count")
		Expect(k8sClient.Delete(ctx, fresh)).To(Succeed())
		Eventually(gaugeOf("modelarts_operator_objects", perNamespace)).Should(BeNumerically("==", 1))
		Expect(k8sClient.Delete(ctx, late)).To(Succeed())
		Eventually(func() bool { _, ok := gauge("modelarts_operator_objects", perNamespace); return ok }).Should(BeFalse())
	})

	It("show how late objects are when their account's budget is too small, and not before", func() {
		createSecret(ns, "creds", akskData())
		a := simAccount(ns, "acct", "creds")
		a.Spec.RequestsPerSecond, a.Spec.Burst = ptr.To[int32](100), ptr.To[int32](100)
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		late := lateAfter("workspace", 2)
		for i := range 15 {
			ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, fmt.Sprintf("ws-%02d", i)),
				Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: workspaceID}}
			ws.Spec.RefreshInterval = &metav1.Duration{Duration: 10 * time.Second}
			Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		}
		By("with budget to spare, no sync is late")
		Consistently(func() uint64 { return lateAfter("workspace", 2) - late }, 25*time.Second, time.Second).Should(BeZero())

		By("at 1 call/s, the 15 objects at 10s (1.5 calls/s) are refreshed about every 15s: ~4s late")
		edit(a, func() {
			a.Spec.RequestsPerSecond, a.Spec.Burst = ptr.To[int32](1), ptr.To[int32](1)
		})
		Eventually(func() uint64 { return lateAfter("workspace", 2) - late }, 90*time.Second, time.Second).
			Should(BeNumerically(">=", 10), "syncs more than 2s late")
		Expect(k8sClient.DeleteAllOf(ctx, &v1alpha1.Workspace{}, client.InNamespace(ns))).To(Succeed())

		By("the calls still queued behind the 1 call/s limiter drain before the next spec (faults are per API, not per object)")
		Eventually(func() bool {
			n := sim.RequestsFor(cloudsim.APIWorkspace, workspaceID)
			time.Sleep(3 * time.Second)
			return sim.RequestsFor(cloudsim.APIWorkspace, workspaceID) == n
		}, 60*time.Second).Should(BeTrue())
	})

	It("publish each account's budget, readiness and credentials expiry, and delete them with the account", func() {
		createSecret(ns, "creds", passwordData())
		a := simAccount(ns, "acct", "creds")
		a.Spec.RequestsPerSecond = ptr.To[int32](25)
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))

		acct := map[string]string{"account_namespace": ns, "account": "acct"}
		Eventually(gaugeOf("modelarts_operator_account_budget_requests_per_second", acct)).Should(BeNumerically("==", 25))
		Eventually(gaugeOf("modelarts_operator_account_required_requests_per_second", acct)).Should(BeNumerically("==", 0))
		Eventually(gaugeOf("modelarts_operator_account_ready", acct)).Should(BeNumerically("==", 1))
		fetch(a)
		Expect(gaugeOf("modelarts_operator_account_credentials_expiry_timestamp_seconds", acct)()).To(BeNumerically("==", a.Status.TokenExpiresAt.Unix()))

		By("an account without a budget shows the default, and one that is not Ready shows 0")
		Expect(k8sClient.Create(ctx, simAccount(ns, "broken", "missing"))).To(Succeed())
		broken := map[string]string{"account_namespace": ns, "account": "broken"}
		Eventually(gaugeOf("modelarts_operator_account_ready", broken)).Should(BeNumerically("==", 0))
		Expect(gaugeOf("modelarts_operator_account_budget_requests_per_second", broken)()).To(BeNumerically("==", 10))
		_, ok := gauge("modelarts_operator_account_credentials_expiry_timestamp_seconds", broken)
		Expect(ok).To(BeFalse(), "no token, no expiry series")

		By("deleting the account deletes its series")
		Expect(k8sClient.Delete(ctx, a)).To(Succeed())
		Eventually(func() bool {
			for _, name := range []string{"modelarts_operator_account_budget_requests_per_second",
				"modelarts_operator_account_required_requests_per_second", "modelarts_operator_account_ready", "modelarts_operator_account_credentials_expiry_timestamp_seconds"} {
				if _, ok := gauge(name, acct); ok {
					return true
				}
			}
			return false
		}).Should(BeFalse())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(a), a)).NotTo(Succeed())
	})
})

// Routine refreshes fall due on whole seconds, never now, and no further
// than half a second from where the jitter put them counted from the start
// of the current second (a sync late in a burst does not push its next one
// later), on average not at all.
func TestOnSlot(t *testing.T) {
	slotStart := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	var drift time.Duration
	const steps = 1000
	for i := range steps {
		now := slotStart.Add(time.Duration(i%10) * 97 * time.Millisecond) // anywhere in the burst
		d := 9*time.Second + time.Duration(i)*2*time.Millisecond          // 9 s to 11 s: a 10 s interval's jitter
		got := onSlot(now, d)
		due := now.Add(got)
		if due.Nanosecond() != 0 {
			t.Fatalf("onSlot(%v, %v) = %v: due at %v, not on a whole second", now, d, got, due)
		}
		off := due.Sub(slotStart.Add(d))
		if off < -refreshSlot/2 || off > refreshSlot/2 {
			t.Fatalf("onSlot(%v, %v) = %v: %v from the jittered moment", now, d, got, off)
		}
		drift += off
	}
	if mean := drift / steps; mean.Abs() > 10*time.Millisecond {
		t.Errorf("mean shift %v, want about 0: rounding must keep the mean interval", mean)
	}
	for _, d := range []time.Duration{0, time.Millisecond, 100 * time.Millisecond} {
		if got := onSlot(slotStart.Add(900*time.Millisecond), d); got <= 0 {
			t.Errorf("onSlot(%v) = %v, want a moment after now", d, got)
		}
	}
}

func TestRandomSlot(t *testing.T) {
	const interval, draws = 10 * time.Second, 20000
	counts := map[time.Duration]int{}
	for i := range draws {
		now := time.Date(2026, 12, 4, 4, 0, 0, 0, time.UTC).Add(time.Duration(i%1000) * time.Millisecond)
		got := randomSlot(now, interval)
		due := now.Add(got)
		if due.Nanosecond() != 0 || got <= 0 || got > interval {
			t.Fatalf("randomSlot(%v) = %v: due at %v, want a whole second in (now, now+%v]", now, got, due, interval)
		}
		counts[due.Sub(now.Truncate(time.Second))]++
	}
	// Each of the 10 slots expects 2000 draws; 2300 or more (or 1700 or
	// fewer) is a tail far below one in a million. The first slot used to
	// get twice its share.
	if len(counts) != 10 {
		t.Fatalf("slots used: %v, want the 10 whole seconds after now", counts)
	}
	for slot, n := range counts {
		if n <= 1700 || n >= 2300 {
			t.Errorf("slot +%v holds %d of %d draws, want about %d", slot, n, draws, draws/10)
		}
	}
}
