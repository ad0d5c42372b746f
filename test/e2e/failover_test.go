package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// writers lists the field managers that wrote obj (status included).
func writers(obj client.Object) map[string]bool {
	out := map[string]bool{}
	for _, e := range obj.GetManagedFields() {
		out[e.Manager] = true
	}
	return out
}

// startPair starts two managers with leader election and returns them once
// one leads: the leader first.
func startPair(t *testing.T, nameA, nameB string) (leader, follower *runningManager) {
	t.Helper()
	a := startManager(t, nameA, managerOptions{leaderElection: true})
	b := startManager(t, nameB, managerOptions{leaderElection: true})
	eventually(t, 20*time.Second, "a leader", func() bool { return a.elected() || b.elected() })
	if b.elected() {
		return b, a
	}
	return a, b
}

// TestLeaderElectionFailover runs two managers with leader election: only
// the leader writes anything, and when it stops without releasing the Lease
// (as a crashed process would) the other takes over within the lease time
// and carries on.
func TestLeaderElectionFailover(t *testing.T) {
	const ns, n = "failover", 20
	ctx := context.Background()
	newNamespace(t, ns)
	leader, follower := startPair(t, "manager-a", "manager-b")
	time.Sleep(retryPeriod)
	if follower.elected() {
		t.Fatal("both managers are leaders")
	}
	names := createTokens(t, ns, n)
	eventually(t, 60*time.Second, "all objects Ready", func() bool { return readyTokens(t, ns) == n })

	if got := follower.writes.Load() + follower.events.Load(); got != 0 {
		t.Fatalf("the follower %s made %d writes", follower.name, got)
	}
	if leader.writes.Load() == 0 {
		t.Fatal("the leader made no writes")
	}
	for _, name := range names {
		var tok v1alpha1.DevEnvironmentToken
		var s corev1.Secret
		if err := k8s.Get(ctx, clientKey(ns, name), &tok); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Get(ctx, clientKey(ns, name), &s); err != nil {
			t.Fatal(err)
		}
		for _, obj := range []client.Object{&tok, &s} {
			if w := writers(obj); w[follower.name] || !w[leader.name] {
				t.Fatalf("%T %s written by %v, want only the leader %s", obj, name, w, leader.name)
			}
		}
	}

	// Stop the leader without releasing the Lease.
	stoppedAt := time.Now()
	leader.stop()
	eventually(t, leaseDuration+5*time.Second, "the follower to take over", follower.elected)
	takeover := time.Since(stoppedAt)
	t.Logf("%s took over %s after %s stopped (lease %s, retry %s)", follower.name, takeover.Round(time.Millisecond), leader.name, leaseDuration, retryPeriod)
	if limit := leaseDuration + 2*retryPeriod + time.Second; takeover > limit {
		t.Fatalf("takeover took %s, more than the lease time (%s with slack)", takeover, limit)
	}

	// The new leader serves: a rotated token reaches the Secrets it now writes.
	rotated, err := sim.RotateDevEnvToken(cloudsim.DefaultProjectID, cloudsim.DefaultDevEnvInstance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Update(func(f *cloudsim.Fixture) {
			f.Projects[cloudsim.DefaultProjectID].DevEnvInstances[cloudsim.DefaultDevEnvInstance] = cloudsim.DevEnvInstance{Token: cloudsim.DefaultDevEnvToken}
		})
	})
	for _, name := range names[:5] {
		var tok v1alpha1.DevEnvironmentToken
		if err := k8s.Get(ctx, clientKey(ns, name), &tok); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(tok.DeepCopy())
		tok.Annotations = map[string]string{v1alpha1.AnnotationSyncNow: "failover"}
		if err := k8s.Patch(ctx, &tok, patch); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names[:5] {
		eventually(t, 20*time.Second, fmt.Sprintf("%s's Secret to hold the rotated token", name), func() bool {
			var s corev1.Secret
			return k8s.Get(ctx, clientKey(ns, name), &s) == nil && string(s.Data["token"]) == rotated
		})
		var s corev1.Secret
		if err := k8s.Get(ctx, clientKey(ns, name), &s); err != nil {
			t.Fatal(err)
		}
		if !writers(&s)[follower.name] {
			t.Errorf("Secret %s not written by the new leader: %v", name, writers(&s))
		}
	}
}

// TestLeaderLosesLease cuts the leader off from its Lease while it can still
// reach everything else (a partial partition): it must give up leadership and
// stop within the renew deadline, write nothing after that, and the follower
// takes over once the Lease expires and carries on.
func TestLeaderLosesLease(t *testing.T) {
	const ns, n = "partition", 10
	ctx := context.Background()
	newNamespace(t, ns)
	leader, follower := startPair(t, "manager-p1", "manager-p2")
	names := createTokens(t, ns, n)
	eventually(t, 60*time.Second, "all objects Ready", func() bool { return readyTokens(t, ns) == n })

	cutAt := time.Now()
	leader.leaseCut.Store(true)
	eventually(t, renewDeadline+2*retryPeriod+2*time.Second, "the cut-off leader to stop", leader.exited)
	t.Logf("%s stopped %s after losing its Lease (renew deadline %s): %v", leader.name, time.Since(cutAt).Round(time.Millisecond), renewDeadline, leader.err)
	if leader.err == nil || !strings.Contains(leader.err.Error(), "leader election lost") {
		t.Fatalf("the cut-off leader returned %v, want leader election lost", leader.err)
	}
	time.Sleep(500 * time.Millisecond) // requests already in flight land
	writesAtStop := leader.writes.Load()

	// Work a leader would do at once, asked for while nobody leads: the old
	// one must leave it alone, the new one does it.
	var tok v1alpha1.DevEnvironmentToken
	if err := k8s.Get(ctx, clientKey(ns, names[0]), &tok); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(tok.DeepCopy())
	tok.Annotations = map[string]string{v1alpha1.AnnotationSyncNow: "partition"}
	if err := k8s.Patch(ctx, &tok, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, leaseDuration+5*time.Second, "the follower to take over", follower.elected)
	t.Logf("%s took over %s after the cut", follower.name, time.Since(cutAt).Round(time.Millisecond))
	eventually(t, 20*time.Second, "the new leader to handle the sync-now", func() bool {
		var got v1alpha1.DevEnvironmentToken
		return k8s.Get(ctx, clientKey(ns, names[0]), &got) == nil && got.Status.SyncNowHandled == "partition" && writers(&got)[follower.name]
	})
	if got := leader.writes.Load(); got != writesAtStop {
		t.Fatalf("the old leader wrote %d more times after it stopped", got-writesAtStop)
	}
}
