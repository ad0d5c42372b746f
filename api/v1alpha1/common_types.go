package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations users set on any mirrored object.
const (
	// AnnotationSyncNow forces an immediate sync whenever its value changes.
	AnnotationSyncNow = "modelarts.cloudmirror.io/sync-now"
	// AnnotationPaused set to "true" stops syncing.
	AnnotationPaused = "modelarts.cloudmirror.io/paused"

	// LabelManagedBy marks the Secrets the operator manages.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "modelarts-operator"
)

// Condition types.
const (
	// ConditionReady means the mirrored data (or, for a CloudAccount, usable credentials) is present.
	ConditionReady = "Ready"
	// ConditionSynced means the last cloud call succeeded.
	ConditionSynced = "Synced"
	// ConditionRateBudgetExceeded (accounts) is True while the account's
	// objects need more cloud calls than its requestsPerSecond allows.
	ConditionRateBudgetExceeded = "RateBudgetExceeded"
)

// Condition reasons shared by every kind.
const (
	ReasonSynced          = "Synced"
	ReasonNotFound        = "NotFound"
	ReasonUnauthorized    = "Unauthorized"
	ReasonForbidden       = "Forbidden"
	ReasonThrottled       = "Throttled"
	ReasonCloudError      = "CloudError"
	ReasonInvalidResponse = "InvalidResponse"
	ReasonNotOffered      = "NotOffered"
	ReasonAccountNotReady = "AccountNotReady"
	ReasonPaused          = "Paused"
	ReasonSecretConflict  = "SecretConflict"
	ReasonInvalidSpec     = "InvalidSpec"
	ReasonNoData          = "NoData"

	// CloudAccount reasons.
	ReasonCredentialsValid   = "CredentialsValid"
	ReasonSecretNotFound     = "SecretNotFound"
	ReasonMissingCredentials = "MissingCredentials"
	ReasonInvalidEndpoint    = "InvalidEndpoint"
	ReasonTokenRequestFailed = "TokenRequestFailed"
	ReasonMetadataError      = "MetadataUnavailable"

	// ReasonAccountNotAllowed: the ClusterCloudAccount does not select the object's namespace.
	ReasonAccountNotAllowed = "AccountNotAllowed"

	// RateBudgetExceeded reasons: the need is above, or within, the budget.
	ReasonNeedExceedsBudget = "NeedExceedsBudget"
	ReasonWithinBudget      = "WithinBudget"
)

// LocalObjectReference names an object in the referrer's own namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// Account kinds an accountRef may name.
const (
	KindCloudAccount        = "CloudAccount"
	KindClusterCloudAccount = "ClusterCloudAccount"
)

// AccountReference names a CloudAccount in the referrer's namespace or a
// ClusterCloudAccount.
type AccountReference struct {
	// Kind of the account.
	// +optional
	// +kubebuilder:default=CloudAccount
	// +kubebuilder:validation:Enum=CloudAccount;ClusterCloudAccount
	Kind string `json:"kind,omitempty"`
	// Name of the account.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// IsCluster says whether the reference names a ClusterCloudAccount.
func (r AccountReference) IsCluster() bool { return r.Kind == KindClusterCloudAccount }

// MirrorSpec holds the fields every mirrored kind shares.
type MirrorSpec struct {
	// AccountRef names the account used for the cloud calls: a CloudAccount
	// in the same namespace, or a ClusterCloudAccount that selects it.
	AccountRef AccountReference `json:"accountRef"`

	// RefreshInterval is how often the cloud is read, at least 10s. Each kind has its own default.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="refreshInterval must be at least 10s"
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
}

// SyncStatus holds the status fields every mirrored kind shares.
type SyncStatus struct {
	// Conditions: Ready (mirrored data present) and Synced (last cloud call succeeded).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastSyncTime is a heartbeat of the last sync attempt: it advances when status is
	// written anyway, otherwise once it is older than the manager's --status-heartbeat.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// LastSuccessfulSyncTime is the same heartbeat for successful syncs.
	// +optional
	LastSuccessfulSyncTime *metav1.Time `json:"lastSuccessfulSyncTime,omitempty"`

	// ObservedGeneration is the generation the last successful sync acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// SyncNowHandled is the last value of the sync-now annotation acted on.
	// +optional
	SyncNowHandled string `json:"syncNowHandled,omitempty"`
}

// UserRef is a cloud user as the cloud reports it.
type UserRef struct {
	// +optional
	UserID string `json:"userID,omitempty"`
	// +optional
	UserName string `json:"userName,omitempty"`
}
