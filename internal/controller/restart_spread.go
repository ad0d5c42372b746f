package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// firstSight says when an object this process holds no record of is due:
// after a restart (or a leader handover), every object is seen for the first
// time at once. One whose last sync succeeded for its current spec and
// sync-now request, and whose Secret is intact, need not be read from the
// cloud at once: it becomes due at a random point within its refresh
// interval. A restart thus spreads its cloud calls over one interval instead
// of sending them all in the first seconds. New, changed and failed objects
// are due now.
//
// The status heartbeat keeps its bound: as without a restart, it is written
// by the first sync after it falls due, so at most one interval late. Making
// the first sync due at the heartbeat instead piled most objects into the
// restart's first seconds whenever their heartbeats fell due together (all
// objects created at once reach it at once).
func (r *MirrorReconciler[T, D]) firstSight(ctx context.Context, key types.NamespacedName, obj T, now time.Time) (time.Duration, bool) {
	st := obj.Sync()
	if !meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReady) ||
		!meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionSynced) ||
		st.ObservedGeneration != obj.GetGeneration() ||
		st.SyncNowHandled != obj.GetAnnotations()[v1alpha1.AnnotationSyncNow] ||
		st.LastSuccessfulSyncTime == nil {
		return 0, true
	}
	revision := r.Accounts.Revision(accountKeyOf(obj))
	if revision == 0 {
		// The account is not registered: while its controller is still
		// checking a Ready account (just started), look again shortly
		// rather than sync every object the moment it registers; otherwise
		// the sync says why the account cannot be used.
		if _, _, err := r.accountClient(ctx, obj); errors.Is(err, errAccountRegistering) {
			return jitterAfter(accountRegisterWait), false
		}
		return 0, true
	}
	secretDigest, intact := r.intactSecret(ctx, obj)
	if !intact {
		return 0, true
	}

	interval := r.refreshInterval(obj)
	wait := randomSlot(now, interval)
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recordFor(key)
	*rec = syncRecord{nextSync: now.Add(wait), generation: obj.GetGeneration(), uid: obj.GetUID(),
		syncNow: st.SyncNowHandled, accountRevision: revision, secretDigest: secretDigest,
		seen: now, interval: interval}
	return wait, false
}

// intactSecret says whether obj's owned Secret (if the kind has one) is in
// the cache, controlled by obj and not empty, and returns its data's digest
// so that later edits are noticed as if this process had written it. A
// Secret merged into is not cached, so such objects are synced at once.
func (r *MirrorReconciler[T, D]) intactSecret(ctx context.Context, obj T) (string, bool) {
	name := r.Kind.SecretName(obj)
	if name == "" {
		return "", true
	}
	if targetOf(obj).Creation() == v1alpha1.CreationPolicyMerge {
		return "", false
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, &s); err != nil {
		return "", false
	}
	if !controlledBy(&s, obj) || len(s.Data) == 0 || s.Type != secretType(targetOf(obj)) {
		return "", false
	}
	return digest(s.Data), true
}

// randomSlot picks one of the whole-second slots (see onSlot) in
// (now, now+interval] at random, each as likely as the others. Rounding a
// random wait with onSlot instead would give the first slot twice its share,
// since waits that round to now or before move to it: 326 calls in the
// restart's first second against a steady 200/s.
func randomSlot(now time.Time, interval time.Duration) time.Duration {
	slots := max(int64(interval/refreshSlot), 1)
	due := now.Truncate(refreshSlot).Add(time.Duration(1+rand.Int64N(slots)) * refreshSlot)
	return due.Sub(now)
}
