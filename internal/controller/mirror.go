package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// Kind is what one mirrored kind supplies to the shared sync skeleton: its
// single cloud read and the mapping of the result onto status and a Secret.
// D is the fetched cloud data.
type Kind[T v1alpha1.Mirrored, D any] interface {
	// Name is the kind's lower-case name in metrics, logs and controller names.
	Name() string
	// New returns an empty object of the kind.
	New() T
	// DefaultRefreshInterval applies when spec.refreshInterval is unset.
	DefaultRefreshInterval() time.Duration
	// SecretName is the Secret the kind owns for obj, or "" for none.
	SecretName(obj T) string
	// Fetch makes the kind's one read-only cloud call for obj.
	Fetch(ctx context.Context, c *cloudclient.Client, obj T) (D, error)
	// Apply maps data onto obj's status (still holding the previous values, so
	// it can notice changes) and returns the Secret data to own and any events.
	// current is the owned Secret's data now (nil if it does not exist).
	Apply(obj T, data D, current map[string][]byte, now time.Time) Applied
}

// Applied is what a kind's mapping asks the skeleton to do besides the status.
type Applied struct {
	// SecretData is the owned Secret's desired data; nil writes no Secret.
	SecretData map[string][]byte
	// Events are meaningful cloud-side changes (never carrying a secret value).
	Events []Event
	// TemplateValues are top-level template fields besides the Secret's
	// default keys (ServiceAppAuth's apps).
	TemplateValues map[string]any
}

// Event is one Kubernetes event to record on the object.
type Event struct {
	Type, Reason, Message string
}

// syncRecord is what the skeleton remembers of an object between reconciles:
// when it is next due and why it last ran, so that watch events which change
// nothing cost no cloud call.
type syncRecord struct {
	nextSync   time.Time
	generation int64
	syncNow    string
	failures   int
	// awaitingAccount: the last sync found the account unusable, so the
	// object is due as soon as the account is registered.
	awaitingAccount bool
	// uid tells a re-created object of the same name from the old one.
	uid types.UID
	// accountRevision is the account configuration the last sync used: when
	// it changes (fixed credentials, new endpoint, account gone), the object
	// is due at once.
	accountRevision uint64
	// secretDigest is a digest of the owned Secret's data as last written.
	secretDigest string
	// secretConflict: the last sync found the Secret's name taken.
	secretConflict bool
	// seen and lastSuccess (zero until the first success in this process)
	// and interval tell lateness and staleness (metrics.go).
	seen, lastSuccess time.Time
	interval          time.Duration
}

// MirrorReconciler is the one sync skeleton every mirrored kind runs on:
// resolve the account, fetch, map, write status and Secret only when they
// changed, and requeue after the refresh interval with jitter.
type MirrorReconciler[T v1alpha1.Mirrored, D any] struct {
	client.Client
	// APIReader reads past the cache (which holds only labelled Secrets).
	APIReader client.Reader
	Kind      Kind[T, D]
	Accounts  *Accounts
	Recorder  events.EventRecorder
	Heartbeat time.Duration
	Workers   int
	Now       func() time.Time
	// Rollouts rolls opted-in workloads when a sync changes a Secret (nil: none).
	Rollouts *Rollouts
	// NamespaceScoped: the operator runs with --watch-namespaces, without
	// ClusterCloudAccounts (their selectors need cluster-wide reads).
	NamespaceScoped bool

	mu      sync.Mutex
	records map[types.NamespacedName]*syncRecord
}

// Backoff bounds for retryable failures (server errors, timeouts).
const (
	backoffBase           = 2 * time.Second
	accountNotReadyRetry  = 30 * time.Second
	accountRegisterWait   = time.Second
	jitterFraction        = 0.1
	fieldIndexAccountName = ".spec.accountRef.name"
)

func (r *MirrorReconciler[T, D]) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile runs one sync of one object if it is due.
func (r *MirrorReconciler[T, D]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.Kind.New()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, r.finalize(ctx, obj)
	}
	// Before anything is written: a Secret that needs work on deletion is
	// never written without the finalizer that does it.
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	before := obj.DeepCopyObject().(T)
	now := r.now()

	if obj.GetAnnotations()[v1alpha1.AnnotationPaused] == "true" {
		r.forget(req.NamespacedName)
		setCondition(obj, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonPaused,
			"syncing is paused by the "+v1alpha1.AnnotationPaused+" annotation")
		return r.writeStatus(ctx, before, obj, now, false)
	}

	r.pruneSecrets(ctx, obj)
	if err := r.backOutMoved(ctx, obj); err != nil {
		logf.FromContext(ctx).Error(err, "taking merged keys out of the Secret no longer used failed; retrying")
		return ctrl.Result{RequeueAfter: backoffBase}, nil
	}
	// A ClusterCloudAccount that does not select this namespace: no cloud
	// call. Checked on every reconcile (it costs none), and namespace label
	// or selector changes enqueue the objects concerned.
	if msg, allowed, err := r.accountAllowed(ctx, obj); err != nil {
		return ctrl.Result{}, err
	} else if !allowed {
		r.notAllowed(obj, msg)
		r.record(req.NamespacedName, obj, now, accountNotReadyRetry, syncAwaitingAccount, 0)
		result, err := r.writeStatus(ctx, before, obj, now, false)
		if err != nil {
			return ctrl.Result{}, err
		}
		result.RequeueAfter = jitter(accountNotReadyRetry)
		return result, nil
	}
	wait, due := r.due(ctx, req.NamespacedName, obj, now)
	if !due {
		return ctrl.Result{RequeueAfter: wait}, nil
	}

	next, outcome, accountRevision := r.sync(ctx, obj, now)
	succeeded := outcome == syncSucceeded
	r.record(req.NamespacedName, obj, now, next, outcome, accountRevision)
	result, err := r.writeStatus(ctx, before, obj, now, succeeded)
	if err != nil {
		// The retry must sync and write again, not find the object "not
		// due" for a whole interval; it comes after a backoff, so a status
		// write that keeps failing does not make a cloud call every few
		// milliseconds at the workqueue's pace.
		logf.FromContext(ctx).Error(err, "writing status failed; retrying")
		return ctrl.Result{RequeueAfter: r.statusWriteFailed(req.NamespacedName, obj, now, outcome)}, nil
	}
	if succeeded {
		// Only now is the sync complete: the backoff starts afresh.
		r.resetFailures(req.NamespacedName)
	}
	if result.RequeueAfter == 0 {
		result.RequeueAfter = next
	}
	return result, nil
}

// syncOutcome is how one sync ended.
type syncOutcome int

const (
	syncSucceeded syncOutcome = iota
	syncFailed
	syncAwaitingAccount
)

// sync makes the cloud call and maps the outcome onto obj; it returns when
// the next sync is due, how this one ended, and the revision of the account
// configuration it used (0 for none).
func (r *MirrorReconciler[T, D]) sync(ctx context.Context, obj T, now time.Time) (time.Duration, syncOutcome, uint64) {
	interval := r.refreshInterval(obj)
	log := logf.FromContext(ctx)
	target := targetOf(obj)

	// A template that does not parse is the spec's fault: no cloud call
	// until the spec changes.
	if _, err := parseTemplates(target); err != nil {
		r.fail(obj, v1alpha1.ReasonInvalidSpec, err.Error())
		syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonInvalidSpec).Inc()
		// The account's current revision: only a spec change makes it due again.
		return jitter(interval), syncFailed, r.Accounts.Revision(accountKeyOf(obj))
	}

	c, revision, err := r.accountClient(ctx, obj)
	if err != nil {
		if errors.Is(err, errAccountRegistering) {
			return accountRegisterWait, syncAwaitingAccount, 0
		}
		r.fail(obj, v1alpha1.ReasonAccountNotReady, err.Error())
		syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonAccountNotReady).Inc()
		return min(interval, accountNotReadyRetry), syncAwaitingAccount, 0
	}

	// Check the owned Secret before the cloud call: a Secret controlled by
	// something else is left alone, and costs the cloud nothing.
	secretName := r.Kind.SecretName(obj)
	merge := target.Creation() == v1alpha1.CreationPolicyMerge
	var current *corev1.Secret
	if secretName != "" && merge {
		current, err = r.mergeTarget(ctx, obj, secretName)
		if errors.Is(err, errMergeTargetMissing) {
			r.fail(obj, v1alpha1.ReasonSecretNotFound, fmt.Sprintf(
				"Secret %q does not exist; creationPolicy Merge writes only into an existing Secret", secretName))
			syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonSecretNotFound).Inc()
			return min(interval, accountNotReadyRetry), syncFailed, revision
		}
	} else if secretName != "" {
		current, err = r.ownedSecret(ctx, obj, secretName, r.secretConflictSeen(client.ObjectKeyFromObject(obj)))
		if errors.Is(err, errSecretConflict) {
			r.backOutAfterMerge(ctx, obj, secretName)
		}
	}
	if secretName != "" {
		if errors.Is(err, errSecretConflict) {
			msg := "Secret %q exists and is not controlled by this object; it is left untouched"
			if merge {
				msg = "Secret %q holds keys another object merged into it; it is left untouched"
			}
			return r.secretConflict(obj, fmt.Sprintf(msg, secretName), interval), syncFailed, revision
		}
		if err != nil {
			r.fail(obj, v1alpha1.ReasonCloudError, "cannot read Secret "+secretName)
			log.Error(err, "reading Secret failed", "secret", secretName)
			return r.backoff(obj, interval), syncFailed, revision
		}
	}

	data, err := r.Kind.Fetch(ctx, c, obj)
	if err != nil {
		reason := string(cloudclient.ReasonOf(err))
		r.fail(obj, reason, failureMessage(err))
		syncsTotal.WithLabelValues(r.Kind.Name(), reason).Inc()
		log.V(1).Info("sync failed", "reason", reason, "error", err.Error())
		return r.retryAfter(obj, err, interval), syncFailed, revision
	}

	// Apply maps onto obj; if the Secret cannot be written, obj goes back to
	// what it held, so status never runs ahead of the Secret.
	snapshot := obj.DeepCopyObject().(T)
	var currentData map[string][]byte
	if current != nil {
		currentData = current.Data
	}
	if templated(target) && current != nil {
		currentData = r.currentValues(obj, data, current.Data, now)
	}
	applied := r.Kind.Apply(obj, data, currentData, now)
	if secretName != "" && applied.SecretData != nil {
		desired, err := renderSecretData(target, applied.SecretData, applied.TemplateValues)
		if err != nil {
			restore(obj, snapshot)
			r.fail(obj, v1alpha1.ReasonInvalidSpec, err.Error())
			syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonInvalidSpec).Inc()
			return jitter(interval), syncFailed, revision
		}
		var changed bool
		if merge {
			changed, err = r.writeMerged(ctx, obj, current, desired)
		} else {
			changed, err = r.writeSecret(ctx, obj, secretName, current, desired)
		}
		if err != nil {
			restore(obj, snapshot)
			if keyConflict := (*mergeKeyConflict)(nil); errors.As(err, &keyConflict) {
				r.fail(obj, v1alpha1.ReasonSecretConflict, fmt.Sprintf("Secret %q: %s; it is left untouched", secretName, keyConflict.Error()))
				syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonSecretConflict).Inc()
				return jitter(interval), syncFailed, revision
			}
			if apierrors.IsInvalid(err) {
				// The API server refused the Secret as the template shapes it
				// (e.g. a type's required key is missing): a spec to fix.
				r.fail(obj, v1alpha1.ReasonInvalidSpec, fmt.Sprintf("the API server refused Secret %q as spec.target shapes it (type %q)", secretName, secretType(target)))
				syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonInvalidSpec).Inc()
				return jitter(interval), syncFailed, revision
			}
			if errors.Is(err, errSecretConflict) {
				r.backOutAfterMerge(ctx, obj, secretName)
				return r.secretConflict(obj, fmt.Sprintf(
					"Secret %q exists and is not controlled by this object; it is left untouched", secretName), interval), syncFailed, revision
			}
			r.fail(obj, v1alpha1.ReasonCloudError, "cannot write Secret "+secretName)
			log.Error(err, "writing Secret failed", "secret", secretName)
			return r.backoff(obj, interval), syncFailed, revision
		}
		if merge {
			// Not cached, so not checked between syncs: the next sync restores it.
			r.forgetSecret(client.ObjectKeyFromObject(obj))
		} else {
			r.rememberSecret(client.ObjectKeyFromObject(obj), desired)
		}
		if changed {
			r.Rollouts.SecretChanged(ctx, obj, obj.GetNamespace(), secretName)
		}
	}
	for _, e := range applied.Events {
		r.Recorder.Eventf(obj, nil, e.Type, e.Reason, "Sync", "%s", e.Message)
	}

	setCondition(obj, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSynced, "the cloud's data is mirrored")
	setCondition(obj, v1alpha1.ConditionSynced, metav1.ConditionTrue, v1alpha1.ReasonSynced, "the last cloud read succeeded")
	st := obj.Sync()
	st.ObservedGeneration = obj.GetGeneration()
	st.SyncNowHandled = obj.GetAnnotations()[v1alpha1.AnnotationSyncNow]
	syncsTotal.WithLabelValues(r.Kind.Name(), "success").Inc()
	return onSlot(now, jitter(interval)), syncSucceeded, revision
}

// currentValues is what a kind's Apply compares the fetched values with when
// the Secret holds rendered templates, not the values themselves: the values
// about to be written if rendering them gives what the Secret holds already
// (nothing changed), otherwise the same keys with no values (changed).
func (r *MirrorReconciler[T, D]) currentValues(obj T, data D, secretData map[string][]byte, now time.Time) map[string][]byte {
	probe := r.Kind.Apply(obj.DeepCopyObject().(T), data, nil, now)
	rendered, err := renderSecretData(targetOf(obj), probe.SecretData, probe.TemplateValues)
	if err == nil && holds(secretData, rendered) {
		return probe.SecretData
	}
	changed := make(map[string][]byte, len(probe.SecretData))
	for k := range probe.SecretData {
		changed[k] = nil
	}
	return changed
}

// holds says whether data has every key of want with the same value (a
// merged Secret also holds keys that are not ours).
func holds(data, want map[string][]byte) bool {
	for k, v := range want {
		if got, ok := data[k]; !ok || !bytes.Equal(got, v) {
			return false
		}
	}
	return true
}

// fail records a failed sync: Synced turns False with reason; mirrored data,
// Secrets and a True Ready (data present) are kept. An event marks the change.
func (r *MirrorReconciler[T, D]) fail(obj T, reason, message string) {
	conds := &obj.Sync().Conditions
	prev := meta.FindStatusCondition(*conds, v1alpha1.ConditionSynced)
	if prev == nil || prev.Reason != reason {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Sync", "%s", message)
	}
	setCondition(obj, v1alpha1.ConditionSynced, metav1.ConditionFalse, reason, message)
	if ready := meta.FindStatusCondition(*conds, v1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		setCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, "no data mirrored yet: "+message)
	}
	obj.Sync().SyncNowHandled = obj.GetAnnotations()[v1alpha1.AnnotationSyncNow]
}

// failureMessage is a fixed text per reason plus the HTTP status and the
// cloud's error code: never a response body or a credential, and nothing that
// differs between requests (request ids go to the log), so a persistent
// failure does not rewrite status on every retry.
func failureMessage(err error) string {
	var ce *cloudclient.Error
	if !errors.As(err, &ce) {
		return "cloud request failed: no response (timeout or connection error)"
	}
	detail := ""
	if ce.StatusCode != 0 {
		detail = fmt.Sprintf(" (HTTP %d", ce.StatusCode)
		if ce.Code != "" {
			detail += ", " + ce.Code
		}
		detail += ")"
	}
	switch ce.Reason {
	case cloudclient.ReasonNotFound:
		return "the cloud reports that the resource does not exist" + detail
	case cloudclient.ReasonUnauthorized:
		return "the cloud rejected the account's credentials" + detail
	case cloudclient.ReasonForbidden:
		return "the account is not permitted to read this resource" + detail
	case cloudclient.ReasonThrottled:
		return "the cloud throttled the request; retrying after its Retry-After" + detail
	case cloudclient.ReasonInvalidResponse:
		return "the cloud's response could not be decoded" + detail
	case cloudclient.ReasonNotOffered:
		return ce.Message
	default:
		if ce.StatusCode == 0 {
			return "cloud request failed: no response (timeout or connection error)"
		}
		return "cloud request failed" + detail
	}
}

// retryAfter picks the wait after a failed fetch: the cloud's Retry-After
// when throttled, exponential backoff for transient errors, and the refresh
// interval for answers a retry will not change (NotFound, Forbidden…).
func (r *MirrorReconciler[T, D]) retryAfter(obj T, err error, interval time.Duration) time.Duration {
	switch cloudclient.ReasonOf(err) {
	case cloudclient.ReasonThrottled:
		return jitterAfter(max(cloudclient.RetryAfter(err), time.Second))
	case cloudclient.ReasonCloudError, cloudclient.ReasonInvalidResponse:
		return r.backoff(obj, interval)
	default:
		return jitter(interval)
	}
}

// backoff doubles from backoffBase per consecutive failure, capped at interval.
func (r *MirrorReconciler[T, D]) backoff(obj T, interval time.Duration) time.Duration {
	r.mu.Lock()
	failures := 0
	if rec, ok := r.records[client.ObjectKeyFromObject(obj)]; ok {
		failures = rec.failures
	}
	r.mu.Unlock()
	return backoffAfter(failures, interval)
}

// backoffAfter is the wait after a failure that follows failures others:
// backoffBase doubled per earlier failure, capped at interval, with jitter.
func backoffAfter(failures int, interval time.Duration) time.Duration {
	return jitter(min(backoffBase<<min(max(failures, 0), 16), interval))
}

var errAccountRegistering = errors.New("account is Ready but not yet registered")

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// accountAllowed says whether obj may use its account: always for a
// CloudAccount; for a ClusterCloudAccount only if its namespaceSelector
// (empty selects none) matches obj's namespace. A missing account is left to
// accountClient to report.
func (r *MirrorReconciler[T, D]) accountAllowed(ctx context.Context, obj T) (string, bool, error) {
	if !obj.Mirror().AccountRef.IsCluster() {
		return "", true, nil
	}
	if r.NamespaceScoped {
		return "ClusterCloudAccounts are not served: the operator runs confined to namespaces (--watch-namespaces)", false, nil
	}
	var account v1alpha1.ClusterCloudAccount
	if err := r.Get(ctx, accountKeyOf(obj), &account); err != nil {
		return "", apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	name := account.Name
	sel := account.Spec.NamespaceSelector
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return fmt.Sprintf("ClusterCloudAccount %q selects no namespace (its namespaceSelector is empty)", name), false, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return fmt.Sprintf("ClusterCloudAccount %q has an invalid namespaceSelector", name), false, nil
	}
	matches, err := namespaceMatches(ctx, r.Client, selector, obj.GetNamespace())
	if err != nil {
		return "", false, err
	}
	if !matches {
		return fmt.Sprintf("ClusterCloudAccount %q does not select namespace %q", name, obj.GetNamespace()), false, nil
	}
	return "", true, nil
}

// namespaceMatches says whether the namespace's labels (cached metadata
// only) match selector.
func namespaceMatches(ctx context.Context, c client.Reader, selector labels.Selector, name string) (bool, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return false, err
	}
	return selector.Matches(labels.Set(ns.GetLabels())), nil
}

// notAllowed marks obj refused by its ClusterCloudAccount: Ready and Synced
// turn False with reason AccountNotAllowed.
func (r *MirrorReconciler[T, D]) notAllowed(obj T, message string) {
	prev := meta.FindStatusCondition(obj.Sync().Conditions, v1alpha1.ConditionSynced)
	if prev == nil || prev.Reason != v1alpha1.ReasonAccountNotAllowed {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, v1alpha1.ReasonAccountNotAllowed, "Sync", "%s", message)
		syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonAccountNotAllowed).Inc()
	}
	setCondition(obj, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed, message)
	setCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed, message)
	obj.Sync().SyncNowHandled = obj.GetAnnotations()[v1alpha1.AnnotationSyncNow]
}

// accountClient returns the account's cloud client and its configuration's
// revision, or an error whose text says why the account cannot be used.
func (r *MirrorReconciler[T, D]) accountClient(ctx context.Context, obj T) (*cloudclient.Client, uint64, error) {
	key := accountKeyOf(obj)
	c, revision, err := r.Accounts.Client(key)
	if err == nil {
		return c, revision, nil
	}
	if !errors.Is(err, ErrAccountNotReady) {
		return nil, 0, fmt.Errorf("CloudAccount %q: %v", key.Name, err)
	}
	kind := accountKind(obj)
	var account client.Object = &v1alpha1.CloudAccount{}
	if kind == v1alpha1.KindClusterCloudAccount {
		account = &v1alpha1.ClusterCloudAccount{}
	}
	if err := r.Get(ctx, key, account); err != nil {
		if apierrors.IsNotFound(err) {
			if key.Namespace == "" {
				return nil, 0, fmt.Errorf("accountRef: ClusterCloudAccount %q not found", key.Name)
			}
			return nil, 0, fmt.Errorf("accountRef: CloudAccount %q not found in namespace %q", key.Name, key.Namespace)
		}
		return nil, 0, fmt.Errorf("%s %q cannot be read", kind, key.Name)
	}
	ready := meta.FindStatusCondition(accountStatus(account).Conditions, v1alpha1.ConditionReady)
	if ready == nil {
		return nil, 0, fmt.Errorf("%s %q has not been checked yet", kind, key.Name)
	}
	if ready.Status == metav1.ConditionTrue {
		// Its controller has not registered it in this process yet (just started).
		return nil, 0, errAccountRegistering
	}
	return nil, 0, fmt.Errorf("%s %q is not Ready (%s): %s", kind, key.Name, ready.Reason, ready.Message)
}

// accountKind is the kind obj's accountRef names (CloudAccount when unset).
func accountKind(obj v1alpha1.Mirrored) string {
	if obj.Mirror().AccountRef.IsCluster() {
		return v1alpha1.KindClusterCloudAccount
	}
	return v1alpha1.KindCloudAccount
}

// accountKeyOf is the registry key of the account obj uses: a CloudAccount
// in obj's own namespace, or a ClusterCloudAccount (empty namespace).
func accountKeyOf(obj v1alpha1.Mirrored) types.NamespacedName {
	if obj.Mirror().AccountRef.IsCluster() {
		return types.NamespacedName{Name: obj.Mirror().AccountRef.Name}
	}
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.Mirror().AccountRef.Name}
}

// accountIndexValues are obj's values in the accountRef index: "kind/name"
// and, for cluster accounts, the bare kind (the objects a namespace label
// change may concern).
func accountIndexValues(obj v1alpha1.Mirrored) []string {
	kind := accountKind(obj)
	values := []string{kind + "/" + obj.Mirror().AccountRef.Name}
	if kind == v1alpha1.KindClusterCloudAccount {
		values = append(values, kind)
	}
	return values
}

// due says whether obj needs a cloud call now, or how long until it does.
func (r *MirrorReconciler[T, D]) due(ctx context.Context, key types.NamespacedName, obj T, now time.Time) (time.Duration, bool) {
	r.mu.Lock()
	rec, ok := r.records[key]
	r.mu.Unlock()
	switch {
	case !ok:
		return r.firstSight(ctx, key, obj, now)
	case rec.uid != obj.GetUID():
		return 0, true
	case rec.generation != obj.GetGeneration():
		return 0, true
	case rec.syncNow != obj.GetAnnotations()[v1alpha1.AnnotationSyncNow]:
		return 0, true
	case !now.Before(rec.nextSync):
		return 0, true
	case rec.awaitingAccount:
		// No cloud call happens until the account is usable, so re-checking is free.
		return 0, true
	case rec.accountRevision != r.Accounts.Revision(accountKeyOf(obj)):
		// The account's configuration changed or it is no longer usable:
		// sync with the new one, or say AccountNotReady (without a call).
		return 0, true
	}
	// An owned Secret that someone deleted, edited or unlabelled is restored now.
	if name := r.Kind.SecretName(obj); name != "" && rec.secretDigest != "" {
		var s corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, &s)
		if apierrors.IsNotFound(err) || (err == nil && digest(s.Data) != rec.secretDigest) {
			return 0, true
		}
	}
	return rec.nextSync.Sub(now), false
}

// recordFor returns key's record, creating it; r.mu must be held.
func (r *MirrorReconciler[T, D]) recordFor(key types.NamespacedName) *syncRecord {
	if r.records == nil {
		r.records = map[types.NamespacedName]*syncRecord{}
	}
	rec, ok := r.records[key]
	if !ok {
		rec = &syncRecord{seen: r.now()}
		r.records[key] = rec
	}
	return rec
}

func (r *MirrorReconciler[T, D]) record(key types.NamespacedName, obj T, now time.Time, next time.Duration, outcome syncOutcome, accountRevision uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recordFor(key)
	rec.nextSync = now.Add(next)
	rec.generation = obj.GetGeneration()
	rec.syncNow = obj.GetAnnotations()[v1alpha1.AnnotationSyncNow]
	rec.uid = obj.GetUID()
	rec.awaitingAccount = outcome == syncAwaitingAccount
	rec.accountRevision = accountRevision
	rec.interval = r.refreshInterval(obj)
	switch outcome {
	case syncFailed:
		rec.failures++
	case syncSucceeded:
		observeSuccess(r.Kind.Name(), rec.lastSuccess, now, rec.interval)
		rec.lastSuccess = now
	}
}

func (r *MirrorReconciler[T, D]) kindName() string { return r.Kind.Name() }

// eachAge is what the metrics collector reads of the records (recordSource).
func (r *MirrorReconciler[T, D]) eachAge(f func(key types.NamespacedName, age, interval time.Duration)) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, rec := range r.records {
		since := rec.lastSuccess
		if since.IsZero() {
			since = rec.seen
		}
		if rec.interval > 0 { // 0: not synced or scheduled yet
			f(key, now.Sub(since), rec.interval)
		}
	}
}

func (r *MirrorReconciler[T, D]) resetFailures(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.records[key]; ok {
		rec.failures = 0
	}
}

// statusWriteFailed makes key due again after a backoff and counts a
// failure; it returns that backoff.
func (r *MirrorReconciler[T, D]) statusWriteFailed(key types.NamespacedName, obj T, now time.Time, outcome syncOutcome) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		return backoffAfter(0, r.refreshInterval(obj))
	}
	if outcome != syncFailed { // a failed sync was counted already: one round, one failure
		rec.failures++
	}
	wait := backoffAfter(rec.failures-1, r.refreshInterval(obj))
	rec.nextSync = now.Add(wait)
	return wait
}

func (r *MirrorReconciler[T, D]) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.records, key)
	r.mu.Unlock()
}

func (r *MirrorReconciler[T, D]) refreshInterval(obj T) time.Duration {
	return refreshIntervalOf(obj, r.Kind.DefaultRefreshInterval())
}

// refreshIntervalOf is obj's spec.refreshInterval, or def when unset.
func refreshIntervalOf(obj v1alpha1.Mirrored, def time.Duration) time.Duration {
	if ri := obj.Mirror().RefreshInterval; ri != nil && ri.Duration > 0 {
		return ri.Duration
	}
	return def
}

// writeStatus writes obj's status if it differs from before. The sync times
// are a heartbeat: they move when status is written anyway, or once they are
// older than max(Heartbeat, refreshInterval).
func (r *MirrorReconciler[T, D]) writeStatus(ctx context.Context, before, obj T, now time.Time, succeeded bool) (ctrl.Result, error) {
	st := obj.Sync()
	// Only status changes during a reconcile (metadata was written before
	// `before` was taken), so only status is compared: the whole object
	// was 7% of the steady state's CPU.
	changed := !equality.Semantic.DeepEqual(statusOf(before), statusOf(obj))
	beat := max(r.Heartbeat, r.refreshInterval(obj))
	stale := func(t *metav1.Time) bool { return t == nil || now.Sub(t.Time) >= beat }
	stamp := &metav1.Time{Time: now.Truncate(time.Second)}
	paused := obj.GetAnnotations()[v1alpha1.AnnotationPaused] == "true"
	// A stale stamp is at least a heartbeat (≥ 10 s) old, so setting one
	// always moves it.
	stamped := false
	if !paused && (changed || stale(st.LastSyncTime)) {
		st.LastSyncTime, stamped = stamp, true
	}
	if succeeded && (changed || stale(st.LastSuccessfulSyncTime)) {
		st.LastSuccessfulSyncTime, stamped = stamp, true
	}
	if !changed && !stamped {
		return ctrl.Result{}, nil
	}
	// A merge patch of status: the operator owns status, so no optimistic
	// lock is needed and a concurrent spec or label edit causes no conflict.
	return ctrl.Result{}, r.Status().Patch(ctx, obj, client.MergeFrom(before))
}

var errSecretConflict = errors.New("the Secret is controlled by another object")

// secretConflict records that obj's Secret belongs to something else: the
// Secret is no longer ours to restore, and the next sync confirms the
// conflict with the API server before spending a cloud call.
func (r *MirrorReconciler[T, D]) secretConflict(obj T, message string, interval time.Duration) time.Duration {
	key := client.ObjectKeyFromObject(obj)
	r.forgetSecret(key)
	r.mu.Lock()
	r.recordFor(key).secretConflict = true
	r.mu.Unlock()
	r.fail(obj, v1alpha1.ReasonSecretConflict, message)
	syncsTotal.WithLabelValues(r.Kind.Name(), v1alpha1.ReasonSecretConflict).Inc()
	return jitter(interval)
}

// backOutAfterMerge takes obj's keys out of a Secret it no longer owns
// but may have merged into before switching from Merge to Owner.
func (r *MirrorReconciler[T, D]) backOutAfterMerge(ctx context.Context, obj T, secretName string) {
	if err := r.backOut(ctx, obj, secretName, false); err != nil {
		logf.FromContext(ctx).Error(err, "taking merged keys out failed", "secret", secretName)
	}
}

// secretConflictSeen says whether key's last sync found its Secret taken.
func (r *MirrorReconciler[T, D]) secretConflictSeen(key types.NamespacedName) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	return ok && rec.secretConflict
}

// ownedSecret returns the named Secret (nil if the cache has no such
// Secret), or errSecretConflict if obj does not control it. The cache holds
// only operator-labelled Secrets; an unlabelled Secret of that name is
// someone else's, or ours with the label removed. On the happy path a miss is
// not confirmed with the API server (that GET would cost every new object a
// request): the create that follows fails if the name is taken, and
// writeSecret looks then. confirmMiss (the last sync found the Secret taken)
// asks the API server first, so a conflict costs the cloud nothing.
func (r *MirrorReconciler[T, D]) ownedSecret(ctx context.Context, obj T, name string, confirmMiss bool) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}
	s := &corev1.Secret{}
	err := r.Get(ctx, key, s)
	if apierrors.IsNotFound(err) && confirmMiss {
		err = r.APIReader.Get(ctx, key, s)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !controlledBy(s, obj) {
		return nil, errSecretConflict
	}
	return s, nil
}

// fieldIndexSecretController indexes the cached (operator-labelled) Secrets
// by the UID of the object that controls them.
const fieldIndexSecretController = ".metadata.ownerReferences.controller.uid"

func secretControllerUID(o client.Object) []string {
	if ref := metav1.GetControllerOf(o); ref != nil {
		return []string{string(ref.UID)}
	}
	return nil
}

// pruneSecrets deletes the Secrets obj controls under a name it no longer
// uses (secretName changed or removed), so no copy of the values lingers
// until obj is deleted. After a rename the old Secret goes only once the new
// one is written. It needs no cloud call and runs on every reconcile, which
// each change of an owned Secret triggers: a Secret the cache had not seen
// yet, or one changed since (a failed precondition), is pruned at the next.
func (r *MirrorReconciler[T, D]) pruneSecrets(ctx context.Context, obj T) {
	// Read in place (no deep copy on every reconcile): nothing here
	// modifies the cached Secrets.
	var owned corev1.SecretList
	if err := r.List(ctx, &owned, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy,
		client.MatchingFields{fieldIndexSecretController: string(obj.GetUID())}); err != nil {
		logf.FromContext(ctx).Error(err, "listing the object's Secrets failed")
		return
	}
	want := r.Kind.SecretName(obj)
	var stale []*corev1.Secret
	// A Secret merged into is not ours: it counts as written once status says so.
	merged := targetOf(obj).Creation() == v1alpha1.CreationPolicyMerge
	shaped, ok := any(obj).(v1alpha1.SecretShaped)
	wantWritten := want == "" || (merged && ok && shaped.WrittenSecretName() == want)
	for i := range owned.Items {
		s := &owned.Items[i]
		switch {
		case s.Name == want:
			wantWritten = true
		case s.DeletionTimestamp.IsZero():
			stale = append(stale, s)
		}
	}
	if !wantWritten {
		return
	}
	for _, s := range stale {
		// Preconditions: a Secret someone re-owned or edited since the cache
		// saw it is looked at again, not deleted blindly.
		err := r.Delete(ctx, s, client.Preconditions{UID: &s.UID, ResourceVersion: &s.ResourceVersion})
		switch {
		case err == nil:
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "StaleSecretDeleted", "Delete",
				"Secret %q is no longer used and was deleted", s.Name)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		default:
			logf.FromContext(ctx).Error(err, "deleting a Secret no longer used failed", "secret", s.Name)
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "StaleSecretNotDeleted", "Delete",
				"Secret %q is no longer used but could not be deleted; retrying", s.Name)
		}
	}
}

// rememberSecret keeps a digest of the data last written, so that due() can
// tell when someone edited, emptied or deleted the Secret and restore it.
func (r *MirrorReconciler[T, D]) rememberSecret(key types.NamespacedName, data map[string][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recordFor(key)
	rec.secretDigest = digest(data)
	rec.secretConflict = false
}

// forgetSecret drops the digest once the Secret is no longer ours to restore.
func (r *MirrorReconciler[T, D]) forgetSecret(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.records[key]; ok {
		rec.secretDigest = ""
	}
}

// digest is a SHA-256 over the sorted keys and values; it stays in memory.
func digest(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(data[k]))
		h.Write(data[k])
	}
	return string(h.Sum(nil))
}

// statusOf is obj's Status field (every kind's object is a pointer to a
// struct with one).
func statusOf(obj v1alpha1.Mirrored) any {
	return reflect.ValueOf(obj).Elem().FieldByName("Status").Interface()
}

// restore sets *dst to *src; T is always a pointer to a struct.
func restore[T any](dst, src T) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

func setCondition(obj v1alpha1.Mirrored, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&obj.Sync().Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: obj.GetGeneration(),
	})
}

// jitter spreads d by ±10% so many objects do not fire together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - jitterFraction + 2*jitterFraction*rand.Float64()))
}

// refreshSlot is the grid routine refreshes fall due on. Objects due within
// the same second are synced in one burst, so the process wakes once for
// them rather than once per object: on a VM a wake-up from idle costs about
// 0.1 ms of CPU, as much as a sync's own work (docs/performance.md).
const refreshSlot = time.Second

// onSlot returns the wait until d after the start of now's slot, rounded to
// the nearest slot boundary (never now or before). Counting from the slot's
// start, not from now, keeps the time a burst takes from adding to every
// interval; rounding to the nearest keeps the mean interval.
func onSlot(now time.Time, d time.Duration) time.Duration {
	due := now.Truncate(refreshSlot).Add(d).Round(refreshSlot)
	if !due.After(now) {
		due = due.Add(refreshSlot)
	}
	return due.Sub(now)
}

// jitterAfter adds up to 10% to d: objects throttled together are told the
// same moment, and must not all call again at that moment.
func jitterAfter(d time.Duration) time.Duration {
	return d + time.Duration(float64(d)*jitterFraction*rand.Float64())
}

// SetupWithManager watches the kind, its owned Secrets, and its accounts.
func (r *MirrorReconciler[T, D]) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := publishRecords(mgr, r); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, r.Kind.New(), fieldIndexAccountName, func(o client.Object) []string {
		return accountIndexValues(o.(T))
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted()))).
		Owns(&corev1.Secret{}, builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&v1alpha1.CloudAccount{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(accountReadinessChanged{}))
	if !r.NamespaceScoped {
		b = b.Watches(&v1alpha1.ClusterCloudAccount{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(predicate.Or[client.Object](accountReadinessChanged{}, predicate.GenerationChangedPredicate{}))).
			// Namespace labels decide which objects may use a ClusterCloudAccount;
			// only their metadata is cached.
			WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceDependents),
				builder.WithPredicates(predicate.LabelChangedPredicate{}))
	}
	return b.WatchesRawSource(source.Func(r.accountConfigChanges)).
		// The priority queue serves new objects, spec changes and sync-now
		// before routine refreshes (priority.go).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1), UsePriorityQueue: ptr.To(true)}).
		Named(r.Kind.Name()).
		Complete(r.prioritized())
}

// accountConfigChanges enqueues the dependents of an account whose
// registered configuration changes while its status stays the same (a fixed
// Secret on an AK/SK account is still just CredentialsValid).
func (r *MirrorReconciler[T, D]) accountConfigChanges(ctx context.Context, q workqueue.TypedRateLimitingInterface[ctrl.Request]) error {
	stop := r.Accounts.Listen(func(key types.NamespacedName) {
		if ctx.Err() != nil {
			return // stopping: a notice taken just before stop() is not worth a log line
		}
		var account client.Object = &v1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		if key.Namespace == "" {
			account = &v1alpha1.ClusterCloudAccount{ObjectMeta: metav1.ObjectMeta{Name: key.Name}}
		}
		for _, req := range r.dependents(ctx, account) {
			q.Add(req)
		}
	})
	go func() {
		<-ctx.Done()
		stop()
	}()
	return nil
}

// dependents lists the objects of this kind that use account (a
// CloudAccount or ClusterCloudAccount), through the accountRef index.
func (r *MirrorReconciler[T, D]) dependents(ctx context.Context, account client.Object) []ctrl.Request {
	if _, ok := account.(*v1alpha1.ClusterCloudAccount); ok {
		return r.listDependents(ctx, v1alpha1.KindClusterCloudAccount+"/"+account.GetName())
	}
	return r.listDependents(ctx, v1alpha1.KindCloudAccount+"/"+account.GetName(), client.InNamespace(account.GetNamespace()))
}

// namespaceDependents lists the objects in ns that use a ClusterCloudAccount.
func (r *MirrorReconciler[T, D]) namespaceDependents(ctx context.Context, ns client.Object) []ctrl.Request {
	return r.listDependents(ctx, v1alpha1.KindClusterCloudAccount, client.InNamespace(ns.GetName()))
}

func (r *MirrorReconciler[T, D]) listDependents(ctx context.Context, indexValue string, opts ...client.ListOption) []ctrl.Request {
	list, err := newListFor(r.Scheme(), r.Kind.New())
	if err != nil {
		return nil
	}
	if err := r.List(ctx, list, append(opts, client.MatchingFields{fieldIndexAccountName: indexValue})...); err != nil {
		logf.FromContext(ctx).Error(err, "listing objects of account", "account", indexValue)
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	requests := make([]ctrl.Request, 0, len(items))
	for _, item := range items {
		o := item.(client.Object)
		requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o)})
	}
	return requests
}

// newListFor returns an empty list of obj's kind.
func newListFor(scheme *runtime.Scheme, obj client.Object) (client.ObjectList, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	list, err := scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err != nil {
		return nil, err
	}
	return list.(client.ObjectList), nil
}

// accountReadinessChanged passes CloudAccount events that can change whether
// dependents may sync, or why not: creation, deletion, and a change of the
// Ready condition's status or reason.
type accountReadinessChanged struct {
	predicate.Funcs
}

func (accountReadinessChanged) Update(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return false
	}
	summary := func(a client.Object) string {
		if c := meta.FindStatusCondition(accountStatus(a).Conditions, v1alpha1.ConditionReady); c != nil {
			return string(c.Status) + "/" + c.Reason
		}
		return ""
	}
	return summary(e.ObjectOld) != summary(e.ObjectNew)
}

func (accountReadinessChanged) Create(event.CreateEvent) bool   { return true }
func (accountReadinessChanged) Delete(event.DeleteEvent) bool   { return true }
func (accountReadinessChanged) Generic(event.GenericEvent) bool { return false }

// deletionStarted passes the update that marks an object for deletion, so
// the finalizer's work runs at once.
func deletionStarted() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}
