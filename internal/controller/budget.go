package controller

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// budgetSettleDelay coalesces object events into one recount of their
// account: 10,000 objects created at once cost a few recounts, and a status
// write only when the rounded need moves.
const budgetSettleDelay = time.Second

// DemandKind is what the budget controller needs of a mirrored kind: an
// empty object (its type) and the refresh interval that applies when
// spec.refreshInterval is unset.
type DemandKind struct {
	New             func() v1alpha1.Mirrored
	DefaultInterval time.Duration
}

// demandOf describes kind for the budget controller.
func demandOf[T v1alpha1.Mirrored, D any](kind Kind[T, D]) DemandKind {
	return DemandKind{New: func() v1alpha1.Mirrored { return kind.New() }, DefaultInterval: kind.DefaultRefreshInterval()}
}

// AccountBudgetReconciler keeps an account's rate budget visible: the
// requests per minute its objects' refresh intervals need, the budget its
// requestsPerSecond allows, and the RateBudgetExceeded condition. The need
// is counted from the cache (the objects' specs, through the accountRef
// index, without copies), so it is right from the first count after a
// restart; object events are coalesced per account by budgetSettleDelay.
// It writes only these fields, and only when they change; the Ready
// condition is the CloudAccountReconciler's.
type AccountBudgetReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Kinds are the mirrored kinds whose objects count.
	Kinds []DemandKind
	// Cluster selects ClusterCloudAccounts instead of CloudAccounts.
	Cluster bool
}

// Reconcile recounts the account's need and writes it with the budget and
// the condition if they changed.
func (r *AccountBudgetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	account := r.newAccount()
	if err := r.Get(ctx, req.NamespacedName, account); err != nil {
		if apierrors.IsNotFound(err) {
			accountNeed.DeleteLabelValues(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	need, err := r.need(ctx, account)
	if err != nil {
		return ctrl.Result{}, err
	}
	rps := budgetRequestsPerSecond(accountSourceOf(account).conn)
	accountNeed.WithLabelValues(req.Namespace, req.Name).Set(need)

	before := account.DeepCopyObject().(client.Object)
	status := accountStatus(account)
	turned := setBudgetStatus(status, account.GetGeneration(), need, rps)
	if equality.Semantic.DeepEqual(accountStatus(before), status) {
		return ctrl.Result{}, nil
	}
	// An update, as the CloudAccountReconciler's: its resourceVersion makes
	// sure neither undoes what the other wrote in between (a conflict).
	if err := r.Status().Update(ctx, account); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	c := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionRateBudgetExceeded)
	switch {
	case turned && c.Status == metav1.ConditionTrue:
		r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, v1alpha1.ConditionRateBudgetExceeded, "Budget", "%s", c.Message)
	case turned:
		r.Recorder.Eventf(account, nil, corev1.EventTypeNormal, v1alpha1.ReasonWithinBudget, "Budget", "%s", c.Message)
	}
	logf.FromContext(ctx).V(1).Info("account budget updated", "requiredRequestsPerMinute", *status.RequiredRequestsPerMinute,
		"budgetRequestsPerMinute", *status.BudgetRequestsPerMinute)
	return ctrl.Result{}, nil
}

// budgetRequestsPerSecond is the account's limiter rate: requestsPerSecond or the default.
func budgetRequestsPerSecond(conn v1alpha1.CloudConnection) float64 {
	if r := conn.RequestsPerSecond; r != nil {
		return float64(*r)
	}
	return cloudclient.DefaultRequestsPerSecond
}

// needTolerance absorbs float rounding in a sum of many 1/interval terms
// (three objects at 90s need exactly 2 calls/min, not 2.0000000000000004).
const needTolerance = 1e-9

// setBudgetStatus writes need and budget (calls per second) into status, in
// calls per minute, and the RateBudgetExceeded condition; it says whether
// the condition turned (or appeared True). The need is rounded up, so that a
// need above the budget never reads as equal to it; the condition compares
// the unrounded values.
func setBudgetStatus(status *v1alpha1.CloudAccountStatus, generation int64, need, rps float64) (turned bool) {
	perMinute := need * 60
	required := int64(math.Ceil(perMinute - needTolerance*max(perMinute, 1)))
	budget := int64(math.Round(rps * 60))
	status.RequiredRequestsPerMinute = ptr.To(max(required, 0))
	status.BudgetRequestsPerMinute = ptr.To(budget)

	cond := metav1.Condition{Type: v1alpha1.ConditionRateBudgetExceeded, ObservedGeneration: generation}
	if perMinute > rps*60*(1+needTolerance) {
		cond.Status, cond.Reason = metav1.ConditionTrue, v1alpha1.ReasonNeedExceedsBudget
		cond.Message = fmt.Sprintf("the objects' refresh intervals need %d requests/min, more than the budget of %d "+
			"(requestsPerSecond × 60), so they are refreshed later than their refreshInterval: raise spec.requestsPerSecond "+
			"if the cloud's quota allows, or lengthen the objects' refreshInterval", *status.RequiredRequestsPerMinute, budget)
	} else {
		cond.Status, cond.Reason = metav1.ConditionFalse, v1alpha1.ReasonWithinBudget
		cond.Message = fmt.Sprintf("the objects' refresh intervals need %d requests/min, within the budget of %d (requestsPerSecond × 60)",
			*status.RequiredRequestsPerMinute, budget)
	}
	prev := meta.FindStatusCondition(status.Conditions, cond.Type)
	turned = (prev == nil && cond.Status == metav1.ConditionTrue) || (prev != nil && prev.Status != cond.Status)
	meta.SetStatusCondition(&status.Conditions, cond)
	return turned
}

// withBudgetOf returns kept with the budget fields and condition of current:
// the CloudAccountReconciler keeps an older status through a transient
// failure, and must not roll the budget back with it.
func withBudgetOf(kept v1alpha1.CloudAccountStatus, current *v1alpha1.CloudAccountStatus) v1alpha1.CloudAccountStatus {
	kept.RequiredRequestsPerMinute = current.RequiredRequestsPerMinute
	kept.BudgetRequestsPerMinute = current.BudgetRequestsPerMinute
	meta.RemoveStatusCondition(&kept.Conditions, v1alpha1.ConditionRateBudgetExceeded)
	if c := meta.FindStatusCondition(current.Conditions, v1alpha1.ConditionRateBudgetExceeded); c != nil {
		kept.Conditions = append(kept.Conditions, *c)
	}
	return kept
}

// need sums 1/refreshInterval (calls per second) over the account's
// objects that make cloud calls: not paused, not being deleted, and for a
// ClusterCloudAccount in a namespace it selects. The cached objects are
// read in place, not copied.
func (r *AccountBudgetReconciler) need(ctx context.Context, account client.Object) (float64, error) {
	index := v1alpha1.KindCloudAccount + "/" + account.GetName()
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	allowed := func(string) bool { return true }
	if cca, ok := account.(*v1alpha1.ClusterCloudAccount); ok {
		index = v1alpha1.KindClusterCloudAccount + "/" + account.GetName()
		allowed = r.selects(ctx, cca)
	} else {
		opts = append(opts, client.InNamespace(account.GetNamespace()))
	}
	opts = append(opts, client.MatchingFields{fieldIndexAccountName: index})
	var sum float64
	for _, kind := range r.Kinds {
		list, err := newListFor(r.Scheme(), kind.New())
		if err != nil {
			return 0, err
		}
		if err := r.List(ctx, list, opts...); err != nil {
			return 0, err
		}
		err = meta.EachListItem(list, func(item runtime.Object) error {
			o, ok := item.(v1alpha1.Mirrored)
			if !ok || !o.GetDeletionTimestamp().IsZero() || o.GetAnnotations()[v1alpha1.AnnotationPaused] == "true" ||
				!allowed(o.GetNamespace()) {
				return nil
			}
			sum += 1 / refreshIntervalOf(o, kind.DefaultInterval).Seconds()
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return sum, nil
}

// selects returns whether a namespace may use the ClusterCloudAccount, by
// its namespaceSelector (empty or invalid selects none) against the cached
// namespace labels, memoized for one count.
func (r *AccountBudgetReconciler) selects(ctx context.Context, account *v1alpha1.ClusterCloudAccount) func(string) bool {
	sel := account.Spec.NamespaceSelector
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return func(string) bool { return false }
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return func(string) bool { return false }
	}
	seen := map[string]bool{}
	return func(name string) bool {
		if ok, done := seen[name]; done {
			return ok
		}
		ok, err := namespaceMatches(ctx, r.Client, selector, name)
		ok = ok && err == nil
		seen[name] = ok
		return ok
	}
}

func (r *AccountBudgetReconciler) newAccount() client.Object { return newAccountObject(r.Cluster) }

// SetupWithManager recounts an account when it is created or its spec (its
// requestsPerSecond) changes, and, a moment later, when one of its objects
// comes, goes, changes spec (refreshInterval, accountRef), is paused or
// resumed, or (for ClusterCloudAccounts) a namespace's labels change.
func (r *AccountBudgetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	name := "cloudaccount-budget"
	if r.Cluster {
		name = "clustercloudaccount-budget"
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.newAccount(), builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	for _, kind := range r.Kinds {
		b = b.Watches(kind.New(), enqueueAccountLater{cluster: r.Cluster}, builder.WithPredicates(demandChanged()))
	}
	if r.Cluster {
		b = b.WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.allClusterAccounts),
			builder.WithPredicates(predicate.LabelChangedPredicate{}))
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: 1}).Named(name).Complete(r)
}

// allClusterAccounts lists every ClusterCloudAccount: a namespace's labels
// may change which of them count its objects. They are few.
func (r *AccountBudgetReconciler) allClusterAccounts(ctx context.Context, _ client.Object) []ctrl.Request {
	var list v1alpha1.ClusterCloudAccountList
	if err := r.List(ctx, &list); err != nil {
		logf.FromContext(ctx).Error(err, "listing ClusterCloudAccounts failed")
		return nil
	}
	out := make([]ctrl.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
	}
	return out
}

// demandChanged passes the object events that can change an account's need.
func demandChanged() predicate.Predicate {
	paused := func(o client.Object) bool { return o.GetAnnotations()[v1alpha1.AnnotationPaused] == "true" }
	return predicate.Funcs{
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				paused(e.ObjectOld) != paused(e.ObjectNew) ||
				e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}

// enqueueAccountLater enqueues the account an object uses (both, when its
// accountRef changed) after budgetSettleDelay; the queue holds each account
// once, so a burst of events costs one recount.
type enqueueAccountLater struct{ cluster bool }

func (h enqueueAccountLater) add(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	m, ok := o.(v1alpha1.Mirrored)
	if !ok || m.Mirror().AccountRef.IsCluster() != h.cluster {
		return
	}
	q.AddAfter(reconcile.Request{NamespacedName: accountKeyOf(m)}, budgetSettleDelay)
}

func (h enqueueAccountLater) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.add(e.Object, q)
}

func (h enqueueAccountLater) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.add(e.ObjectOld, q)
	h.add(e.ObjectNew, q)
}

func (h enqueueAccountLater) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.add(e.Object, q)
}

func (h enqueueAccountLater) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.add(e.Object, q)
}
