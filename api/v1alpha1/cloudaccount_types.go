package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CloudName selects the cloud, and so the default endpoints.
// +kubebuilder:validation:Enum=HuaweiCloud;OpenTelekomCloud
type CloudName string

const (
	CloudHuawei        CloudName = "HuaweiCloud"
	CloudOpenTelekom   CloudName = "OpenTelekomCloud"
	AuthMethodAKSK               = "AKSK"
	AuthMethodPassword           = "Password"
	// AuthMethodWorkloadIdentity exchanges a ServiceAccount token at IAM.
	AuthMethodWorkloadIdentity = "WorkloadIdentity"
	// AuthMethodInstanceMetadata signs with the node agency's temporary AK/SK.
	AuthMethodInstanceMetadata = "InstanceMetadata"

	// DefaultMetadataEndpoint is the ECS instance metadata service.
	DefaultMetadataEndpoint = "http://169.254.169.254"
	// DefaultWorkloadIdentityExpirationSeconds is the ServiceAccount token's default lifetime.
	DefaultWorkloadIdentityExpirationSeconds = 3600
)

// Keys of the credentials Secret (the Huawei Terraform provider's names).
const (
	CredentialAccessKey     = "access_key"
	CredentialSecretKey     = "secret_key"
	CredentialSecurityToken = "security_token"
	CredentialUserName      = "user_name"
	CredentialPassword      = "password"
	CredentialDomainName    = "domain_name"
)

// CloudEndpoints overrides the endpoints derived from cloud and region.
type CloudEndpoints struct {
	// IAM endpoint, e.g. https://iam.cn-north-4.myhuaweicloud.com.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#@]+(/[^\s?#]*)?$`
	IAM string `json:"iam,omitempty"`
	// ModelArts endpoint, e.g. https://modelarts.cn-north-4.myhuaweicloud.com.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#@]+(/[^\s?#]*)?$`
	ModelArts string `json:"modelarts,omitempty"`
	// ROMA Connect endpoint, e.g. https://roma.cn-north-4.myhuaweicloud.com.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#@]+(/[^\s?#]*)?$`
	ROMA string `json:"roma,omitempty"`
}

// CloudConnection says where the cloud is and how fast to call it; both
// account kinds share it.
type CloudConnection struct {
	// Cloud picks the default endpoints.
	// +optional
	// +kubebuilder:default=HuaweiCloud
	Cloud CloudName `json:"cloud,omitempty"`

	// Region, e.g. cn-north-4 or eu-de.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`
	Region string `json:"region"`

	// ProjectID is the IAM project the calls are scoped to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	ProjectID string `json:"projectID"`

	// Endpoints override the defaults derived from cloud and region.
	// +optional
	Endpoints *CloudEndpoints `json:"endpoints,omitempty"`

	// CABundle is extra PEM CA certificates trusted for the endpoints.
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	CABundle string `json:"caBundle,omitempty"`

	// AllowInsecureHTTP permits http:// endpoints (simulators, local proxies).
	// +optional
	// +kubebuilder:default=false
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`

	// RequestsPerSecond is the client-side budget for this account's cloud calls.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	RequestsPerSecond *int32 `json:"requestsPerSecond,omitempty"`

	// Burst is how many calls may exceed RequestsPerSecond momentarily.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Burst *int32 `json:"burst,omitempty"`

	// InstanceMetadata takes temporary AK/SK and a security token from the
	// metadata service of the node the operator runs on (its agency).
	// Exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata.
	// +optional
	InstanceMetadata *InstanceMetadata `json:"instanceMetadata,omitempty"`
}

// WorkloadIdentity exchanges a token of a Kubernetes ServiceAccount at IAM
// (POST /v3.0/OS-AUTH/id-token/tokens) for an IAM token.
type WorkloadIdentity struct {
	// ServiceAccountName is the ServiceAccount whose token is exchanged; for
	// a CloudAccount it is in the account's own namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ServiceAccountName string `json:"serviceAccountName"`

	// IdentityProviderID is the IAM identity provider (sent as X-Idp-Id).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	IdentityProviderID string `json:"identityProviderID"`

	// Audience of the requested ServiceAccount token: the identity
	// provider's client ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Audience string `json:"audience"`

	// ExpirationSeconds is the requested ServiceAccount token's lifetime.
	// +optional
	// +kubebuilder:default=3600
	// +kubebuilder:validation:Minimum=600
	// +kubebuilder:validation:Maximum=86400
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
}

// InstanceMetadata selects the node agency's temporary credentials.
type InstanceMetadata struct {
	// Endpoint of the metadata service; default http://169.254.169.254.
	// Override it for tests only.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#@]+(/[^\s?#]*)?$`
	Endpoint string `json:"endpoint,omitempty"`
}

// CloudAccountSpec says where and how to reach the cloud.
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.iam) || !self.endpoints.iam.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.iam"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.modelarts) || !self.endpoints.modelarts.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.modelarts"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.roma) || !self.endpoints.roma.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.roma"
// +kubebuilder:validation:XValidation:rule="!has(self.burst) || has(self.requestsPerSecond)",message="burst requires requestsPerSecond",fieldPath=".burst"
// +kubebuilder:validation:XValidation:rule="[has(self.credentialsSecretRef), has(self.workloadIdentity), has(self.instanceMetadata)].filter(x, x).size() == 1",message="exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata must be set"
type CloudAccountSpec struct {
	CloudConnection `json:",inline"`

	// CredentialsSecretRef names a Secret in the same namespace holding either
	// access_key + secret_key (+ security_token) for AK/SK signing, or
	// user_name + password + domain_name for IAM password tokens.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`

	// WorkloadIdentity exchanges a token of a ServiceAccount in the
	// account's namespace at IAM; no long-lived key is stored.
	// +optional
	WorkloadIdentity *WorkloadIdentity `json:"workloadIdentity,omitempty"`
}

// ResolvedEndpoints are the endpoints in use after defaults and overrides.
type ResolvedEndpoints struct {
	// +optional
	IAM string `json:"iam,omitempty"`
	// +optional
	ModelArts string `json:"modelarts,omitempty"`
	// +optional
	ROMA string `json:"roma,omitempty"`
}

// CloudAccountStatus reports whether the account can be used.
type CloudAccountStatus struct {
	// AuthMethod is AKSK or Password (decided by the credentials Secret's
	// keys), WorkloadIdentity or InstanceMetadata.
	// +optional
	AuthMethod string `json:"authMethod,omitempty"`

	// TokenExpiresAt is when the cached IAM token (Password, WorkloadIdentity)
	// or temporary AK/SK (InstanceMetadata) expires,
	// on the operator's clock: the token's lifetime (expires_at - issued_at)
	// counted from when it was requested, so clock skew against IAM does not
	// matter; it may read slightly earlier than IAM's expires_at.
	// +optional
	TokenExpiresAt *metav1.Time `json:"tokenExpiresAt,omitempty"`

	// Endpoints in use.
	// +optional
	Endpoints *ResolvedEndpoints `json:"endpoints,omitempty"`

	// RequiredRequestsPerMinute is what the account's objects need: the sum
	// of 60s / refreshInterval over the objects that use it (paused objects,
	// objects being deleted and objects of namespaces a ClusterCloudAccount
	// does not select make no calls and are not counted), rounded up.
	// +optional
	RequiredRequestsPerMinute *int64 `json:"requiredRequestsPerMinute,omitempty"`

	// BudgetRequestsPerMinute is what the account's client-side limiter
	// allows: requestsPerSecond (or its default) × 60.
	// +optional
	BudgetRequestsPerMinute *int64 `json:"budgetRequestsPerMinute,omitempty"`

	// Conditions: Ready means the credentials are complete (and, for
	// Password, a token was obtained); RateBudgetExceeded is True while the
	// objects need more calls than the budget allows.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=macct,categories=modelarts
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.spec.cloud`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Method",type=string,JSONPath=`.status.authMethod`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Token Expires",type=string,JSONPath=`.status.tokenExpiresAt`,priority=1
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.projectID`,priority=1
// +kubebuilder:printcolumn:name="Need/min",type=integer,JSONPath=`.status.requiredRequestsPerMinute`,priority=1
// +kubebuilder:printcolumn:name="Budget/min",type=integer,JSONPath=`.status.budgetRequestsPerMinute`,priority=1
// +kubebuilder:printcolumn:name="Over Budget",type=string,JSONPath=`.status.conditions[?(@.type=="RateBudgetExceeded")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CloudAccount says where and how to reach Huawei Cloud or Open Telekom Cloud.
type CloudAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CloudAccountSpec   `json:"spec"`
	Status CloudAccountStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CloudAccountList contains a list of CloudAccount.
type CloudAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CloudAccount `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CloudAccount{}, &CloudAccountList{})
}
