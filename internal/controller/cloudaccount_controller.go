package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// accountRecheckInterval bounds how long a CloudAccount goes unchecked; its
// Token call is answered from the token cache, so a recheck costs no cloud call.
const (
	accountRecheckInterval = 30 * time.Minute
	tokenRecheckInterval   = 10 * time.Minute
)

// CloudAccountReconciler validates a CloudAccount (or, with Cluster, a
// ClusterCloudAccount) and its credentials, obtains an IAM token or
// temporary credentials where the method has them, and registers usable
// accounts in Accounts (cluster accounts under an empty namespace).
type CloudAccountReconciler struct {
	client.Client
	Accounts *Accounts
	Secrets  *ReferencedSecrets
	// Cluster selects ClusterCloudAccounts instead of CloudAccounts.
	Cluster bool

	mu       sync.Mutex
	failures map[types.NamespacedName]int // consecutive transient failures, for backoff
	// registered is, per account in Accounts, the generation and status of
	// the check that registered it: what a transient failure keeps showing.
	registered map[types.NamespacedName]registration
}

type registration struct {
	generation int64
	status     v1alpha1.CloudAccountStatus
}

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=cloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=cloudaccounts/status,verbs=update
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=clustercloudaccounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=clustercloudaccounts/status,verbs=update
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the account's status from its spec and Secret and writes it only if it changed.
func (r *CloudAccountReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	account := r.newAccount()
	if err := r.Get(ctx, req.NamespacedName, account); err != nil {
		if apierrors.IsNotFound(err) {
			r.Accounts.Delete(req.NamespacedName)
			r.Secrets.Forget(req.NamespacedName)
			forgetAccount(req.NamespacedName)
			r.mu.Lock()
			delete(r.failures, req.NamespacedName) // a re-created account starts its backoff afresh
			delete(r.registered, req.NamespacedName)
			r.mu.Unlock()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := accountStatus(account)
	before := status.DeepCopy()
	check := r.check(ctx, account)

	if kept, ok := r.keptStatus(req.NamespacedName, account.GetGeneration(), check); ok {
		// A transient failure (IAM briefly down) keeps the last good
		// configuration, its cached token and the status that describes
		// them (even if that status's own write had failed); the budget is
		// the AccountBudgetReconciler's and stays as it is now.
		*status = withBudgetOf(kept, status)
	} else {
		setAccountStatus(account.GetGeneration(), status, check)
		r.mu.Lock()
		if check.ready {
			if r.registered == nil {
				r.registered = map[types.NamespacedName]registration{}
			}
			r.registered[req.NamespacedName] = registration{generation: account.GetGeneration(), status: *status.DeepCopy()}
		} else {
			delete(r.registered, req.NamespacedName)
		}
		r.mu.Unlock()
		// Outside r.mu: the registry tells the dependents' controllers.
		if check.ready {
			r.Accounts.Set(req.NamespacedName, check.config)
		} else {
			r.Accounts.Delete(req.NamespacedName)
		}
	}

	observeAccount(req.NamespacedName, accountSourceOf(account).conn, status)
	if !equality.Semantic.DeepEqual(before, status) {
		if err := r.Status().Update(ctx, account); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			// Backed off like a failed check: each retry may ask IAM again.
			logf.FromContext(ctx).Error(err, "writing account status failed; retrying")
			return ctrl.Result{RequeueAfter: r.retryAfter(req.NamespacedName, err)}, nil
		}
		logf.FromContext(ctx).Info("account status updated", "ready", check.ready, "reason", check.reason, "authMethod", check.method)
	}
	if check.retryable != nil {
		logf.FromContext(ctx).V(1).Info("account check failed; retrying", "error", check.retryable.Error())
		return ctrl.Result{RequeueAfter: r.retryAfter(req.NamespacedName, check.retryable)}, nil
	}
	r.mu.Lock()
	delete(r.failures, req.NamespacedName)
	r.mu.Unlock()
	return ctrl.Result{RequeueAfter: r.recheckAfter(check)}, nil
}

// keptStatus is the status to keep through check's transient failure: that
// of the registration serving the current generation, as long as the token
// it reported has not expired. ok is false when the check is to be reported.
func (r *CloudAccountReconciler) keptStatus(key types.NamespacedName, generation int64, check accountCheck) (v1alpha1.CloudAccountStatus, bool) {
	if check.retryable == nil || !r.Accounts.Registered(key) {
		return v1alpha1.CloudAccountStatus{}, false
	}
	r.mu.Lock()
	reg, ok := r.registered[key]
	r.mu.Unlock()
	if !ok || reg.generation != generation {
		return v1alpha1.CloudAccountStatus{}, false // registered for an older spec: report the failure
	}
	if t := reg.status.TokenExpiresAt; t != nil && !time.Now().Before(t.Time) {
		return v1alpha1.CloudAccountStatus{}, false // the token it served with is gone too
	}
	return *reg.status.DeepCopy(), true
}

// setAccountStatus writes check's outcome into an account's status.
func setAccountStatus(generation int64, status *v1alpha1.CloudAccountStatus, check accountCheck) {
	status.ObservedGeneration = generation
	status.AuthMethod = string(check.method)
	status.TokenExpiresAt = nil
	if !check.tokenExpiresAt.IsZero() {
		status.TokenExpiresAt = &metav1.Time{Time: check.tokenExpiresAt.Truncate(time.Second)}
	}
	status.Endpoints = &v1alpha1.ResolvedEndpoints{IAM: check.endpoints.IAM, ModelArts: check.endpoints.ModelArts, ROMA: check.endpoints.ROMA}
	readyStatus := metav1.ConditionFalse
	if check.ready {
		readyStatus = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: readyStatus, Reason: check.reason, Message: check.message,
		ObservedGeneration: generation,
	})
}

// retryAfter honours the cloud's Retry-After when throttled, and otherwise
// backs off from backoffBase, doubling per consecutive failure up to 5 minutes.
func (r *CloudAccountReconciler) retryAfter(key types.NamespacedName, err error) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[types.NamespacedName]int{}
	}
	n := r.failures[key]
	r.failures[key] = n + 1
	if cloudclient.IsThrottled(err) {
		return jitterAfter(max(cloudclient.RetryAfter(err), time.Second))
	}
	return jitter(min(backoffBase<<min(n, 16), 5*time.Minute))
}

// recheckAfter keeps a password account's token expiry in status current:
// Token is answered from the cache, and renewed there before it expires.
func (r *CloudAccountReconciler) recheckAfter(check accountCheck) time.Duration {
	if check.method == cloudclient.AuthInstanceMetadata {
		// Temporary credentials may live shorter than the token recheck.
		return min(tokenRecheckInterval, max(time.Until(check.tokenExpiresAt)/2, time.Second))
	}
	if !check.tokenExpiresAt.IsZero() {
		return tokenRecheckInterval
	}
	return accountRecheckInterval
}

// accountCheck is the outcome of validating an account.
type accountCheck struct {
	ready          bool
	reason         string
	message        string
	method         cloudclient.AuthMethod
	endpoints      cloudclient.Endpoints
	config         cloudclient.Config
	tokenExpiresAt time.Time
	retryable      error
}

func (r *CloudAccountReconciler) check(ctx context.Context, account client.Object) accountCheck {
	src := accountSourceOf(account)
	cfg := connectionConfig(src.conn)
	out := accountCheck{endpoints: resolvedEndpoints(cfg)}
	if src.secret == nil {
		// A keyless account watches no Secret (any more).
		r.Secrets.Forget(client.ObjectKeyFromObject(account))
	}

	switch {
	case src.workload != nil:
		cfg.WorkloadIdentity = src.workload
		out.method = cloudclient.AuthWorkloadIdentity
	case src.conn.InstanceMetadata != nil:
		cfg.InstanceMetadata = &cloudclient.InstanceMetadata{Endpoint: src.conn.InstanceMetadata.Endpoint}
		out.method = cloudclient.AuthInstanceMetadata
	case src.secret != nil:
		secretRef := *src.secret
		secret, err := r.Secrets.Get(ctx, client.ObjectKeyFromObject(account), secretRef)
		if err != nil {
			out.reason, out.message, out.retryable = v1alpha1.ReasonCloudError, "cannot read the credentials Secret", err
			return out
		}
		if secret == nil {
			out.reason = v1alpha1.ReasonSecretNotFound
			out.message = fmt.Sprintf("credentialsSecretRef: Secret %q not found in namespace %q", secretRef.Name, secretRef.Namespace)
			return out
		}
		creds, method, err := cloudclient.CredentialsFromSecret(secret.Data)
		if err != nil {
			// The error names the missing keys, never a value.
			out.reason, out.message = v1alpha1.ReasonMissingCredentials, fmt.Sprintf("credentialsSecretRef %q: %v", secretRef.Name, err)
			return out
		}
		out.method = method
		cfg.Credentials = creds
	default:
		// Refused at admission; an object stored before the rule stays here.
		out.reason, out.message = v1alpha1.ReasonMissingCredentials,
			"exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata must be set"
		return out
	}

	c, err := r.Accounts.Pool().Client(cfg)
	if err != nil {
		out.reason, out.message = v1alpha1.ReasonInvalidEndpoint, err.Error()
		return out
	}
	out.config = cfg

	if out.method == cloudclient.AuthAKSK {
		out.message = "AK/SK credentials present; requests are signed with SDK-HMAC-SHA256"
		out.ready, out.reason = true, v1alpha1.ReasonCredentialsValid
		return out
	}
	// Answered from the shared cache: one IAM exchange (or metadata read)
	// per lifetime, whatever the number of checks and dependents.
	token, err := c.Token(ctx)
	if err != nil {
		reason := cloudclient.ReasonOf(err)
		out.reason, out.message = string(reason), credentialFailure(out.method, err)
		if reason == cloudclient.ReasonCloudError || reason == cloudclient.ReasonThrottled || reason == cloudclient.ReasonInvalidResponse {
			out.retryable = err
		}
		var ce *cloudclient.Error
		if errors.As(err, &ce) {
			switch ce.API {
			case cloudclient.APIServiceAccountToken:
				// The operator cannot watch ServiceAccounts (it may only
				// create their tokens): a missing one is retried with backoff.
				out.reason, out.retryable = v1alpha1.ReasonTokenRequestFailed, err
			case cloudclient.APIInstanceMetadata:
				out.reason = v1alpha1.ReasonMetadataError
			}
		}
		return out
	}
	out.tokenExpiresAt = token.ExpiresAt
	switch out.method {
	case cloudclient.AuthWorkloadIdentity:
		out.message = "IAM token obtained with the ServiceAccount's token; it is shared by every object using this account"
	case cloudclient.AuthInstanceMetadata:
		out.message = "temporary credentials obtained from the instance metadata service; they are renewed before they expire"
	default:
		out.message = "IAM password token obtained; it is shared by every object using this account"
	}
	out.ready, out.reason = true, v1alpha1.ReasonCredentialsValid
	return out
}

// credentialFailure is a fixed text per method plus the failure's summary.
func credentialFailure(method cloudclient.AuthMethod, err error) string {
	var ce *cloudclient.Error
	if errors.As(err, &ce) {
		switch ce.API {
		case cloudclient.APIServiceAccountToken:
			return "the ServiceAccount token request failed: " + ce.Message
		case cloudclient.APIInstanceMetadata:
			return "the instance metadata service did not provide credentials: " + failureMessage(err)
		}
	}
	if method == cloudclient.AuthWorkloadIdentity {
		return "IAM rejected or did not answer the ServiceAccount token exchange: " + failureMessage(err)
	}
	return "IAM token request failed: " + failureMessage(err)
}

// resolvedEndpoints is what the client will use: overrides, else the defaults.
func resolvedEndpoints(cfg cloudclient.Config) cloudclient.Endpoints {
	e := cloudclient.DefaultEndpoints(cfg.Cloud, cfg.Region)
	if cfg.Endpoints.IAM != "" {
		e.IAM = cfg.Endpoints.IAM
	}
	if cfg.Endpoints.ModelArts != "" {
		e.ModelArts = cfg.Endpoints.ModelArts
	}
	if cfg.Endpoints.ROMA != "" {
		e.ROMA = cfg.Endpoints.ROMA
	}
	return e
}

// connectionConfig maps the connection part of a spec to a client configuration.
func connectionConfig(spec v1alpha1.CloudConnection) cloudclient.Config {
	cfg := cloudclient.Config{
		Cloud:             cloudclient.Cloud(spec.Cloud),
		Region:            spec.Region,
		ProjectID:         spec.ProjectID,
		CABundle:          []byte(spec.CABundle),
		AllowInsecureHTTP: spec.AllowInsecureHTTP,
	}
	if cfg.Cloud == "" {
		cfg.Cloud = cloudclient.HuaweiCloud
	}
	if spec.Endpoints != nil {
		cfg.Endpoints = cloudclient.Endpoints{IAM: spec.Endpoints.IAM, ModelArts: spec.Endpoints.ModelArts, ROMA: spec.Endpoints.ROMA}
	}
	if spec.RequestsPerSecond != nil {
		cfg.RequestsPerSecond = float64(*spec.RequestsPerSecond)
	}
	if spec.Burst != nil {
		cfg.Burst = int(*spec.Burst)
	}
	return cfg
}

// accountSource is what an account of either kind says about its credentials,
// with every namespace resolved.
type accountSource struct {
	conn     v1alpha1.CloudConnection
	secret   *types.NamespacedName
	workload *cloudclient.WorkloadIdentity
}

// accountSourceOf reads a CloudAccount or ClusterCloudAccount. A
// CloudAccount's references are always in its own namespace: its spec has
// no field to name another.
func accountSourceOf(obj client.Object) accountSource {
	workload := func(w v1alpha1.WorkloadIdentity, ns string) *cloudclient.WorkloadIdentity {
		exp := int64(v1alpha1.DefaultWorkloadIdentityExpirationSeconds)
		if w.ExpirationSeconds != nil {
			exp = *w.ExpirationSeconds
		}
		return &cloudclient.WorkloadIdentity{Namespace: ns, ServiceAccount: w.ServiceAccountName, Audience: w.Audience,
			ExpirationSeconds: exp, IdentityProviderID: w.IdentityProviderID}
	}
	var src accountSource
	switch a := obj.(type) {
	case *v1alpha1.CloudAccount:
		src.conn = a.Spec.CloudConnection
		if ref := a.Spec.CredentialsSecretRef; ref != nil {
			src.secret = &types.NamespacedName{Namespace: a.Namespace, Name: ref.Name}
		}
		if w := a.Spec.WorkloadIdentity; w != nil {
			src.workload = workload(*w, a.Namespace)
		}
	case *v1alpha1.ClusterCloudAccount:
		src.conn = a.Spec.CloudConnection
		if ref := a.Spec.CredentialsSecretRef; ref != nil {
			src.secret = &types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		}
		if w := a.Spec.WorkloadIdentity; w != nil {
			src.workload = workload(w.WorkloadIdentity, w.ServiceAccountNamespace)
		}
	}
	return src
}

// accountStatus is the status of a CloudAccount or ClusterCloudAccount.
func accountStatus(obj client.Object) *v1alpha1.CloudAccountStatus {
	switch a := obj.(type) {
	case *v1alpha1.CloudAccount:
		return &a.Status
	case *v1alpha1.ClusterCloudAccount:
		return &a.Status
	}
	return &v1alpha1.CloudAccountStatus{}
}

func (r *CloudAccountReconciler) newAccount() client.Object { return newAccountObject(r.Cluster) }

// newAccountObject is an empty ClusterCloudAccount (cluster) or CloudAccount.
func newAccountObject(cluster bool) client.Object {
	if cluster {
		return &v1alpha1.ClusterCloudAccount{}
	}
	return &v1alpha1.CloudAccount{}
}

// SetupWithManager registers the controller; Secret changes arrive from ReferencedSecrets.
func (r *CloudAccountReconciler) SetupWithManager(mgr ctrl.Manager) error {
	name := "cloudaccount"
	if r.Cluster {
		name = "clustercloudaccount"
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newAccount(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.Secrets.Events(), &handler.EnqueueRequestForObject{})).
		// Two workers: one account waiting on a slow IAM does not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named(name).
		Complete(r)
}

// NewClusterCloudAccountEvent builds the GenericEvent that re-checks a ClusterCloudAccount.
func NewClusterCloudAccountEvent(key types.NamespacedName) event.GenericEvent {
	return event.GenericEvent{Object: &v1alpha1.ClusterCloudAccount{ObjectMeta: metav1.ObjectMeta{Name: key.Name}}}
}

// NewCloudAccountEvent builds the GenericEvent that re-checks a CloudAccount.
func NewCloudAccountEvent(key types.NamespacedName) event.GenericEvent {
	return event.GenericEvent{Object: &v1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
}
