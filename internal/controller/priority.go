package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Priorities in the mirrored kinds' work queues (controller-runtime's
// priority queue): when an account's budget cannot keep up, its workers
// wait on its rate limiter and the ready objects queue up. A routine
// refresh then waits behind new objects, spec changes, sync-now requests
// and retries of failed syncs, which the watch events and failures enqueue
// at the default priority.
const (
	routinePriority = handler.LowPriority
	defaultPriority = 0
)

// prioritized is r with each requeue's priority set: low for the routine
// refresh of an object whose last sync succeeded (and for re-checks of one
// not yet due), the default after a failure (its backoff retry is not to
// starve behind routine refreshes) or an error. A watch event for a queued
// object raises its priority to the default, so a sync-now or a spec
// change jumps the queue.
func (r *MirrorReconciler[T, D]) prioritized() reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
		result, err := r.Reconcile(ctx, req)
		priority := defaultPriority
		if err == nil && result.RequeueAfter > 0 && r.routine(req.NamespacedName) {
			priority = routinePriority
		}
		result.Priority = ptr.To(priority)
		return result, err
	})
}

// routine says whether key's last sync succeeded, so its next one is a
// routine refresh.
func (r *MirrorReconciler[T, D]) routine(key types.NamespacedName) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	return ok && rec.failures == 0 && !rec.awaitingAccount
}
