package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAppAuthSpec names the ModelArts service whose app authorization is mirrored.
type ServiceAppAuthSpec struct {
	MirrorSpec `json:",inline"`

	// ServiceID is the ModelArts real-time service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	ServiceID string `json:"serviceID"`

	// WorkspaceID scopes the query; the cloud's default is "0".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	WorkspaceID string `json:"workspaceID,omitempty"`

	// SecretName, when set, is a Secret the operator owns holding each authorized
	// app's key, secret and app code.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// Target shapes the Secret: a template for its data, type and metadata,
	// and how it is created and deleted.
	// +optional
	Target *SecretTarget `json:"target,omitempty"`
}

// AuthorizedApp is an app authorized to call the service, without its key, secret or codes.
type AuthorizedApp struct {
	AppID string `json:"appID"`
	// +optional
	AppName string `json:"appName,omitempty"`
	// +optional
	AppRemark string `json:"appRemark,omitempty"`
	// AppType is APIC, APIG or DEDICATE_APIG.
	// +optional
	AppType string `json:"appType,omitempty"`
	// +optional
	BoundedAPICount int64 `json:"boundedAPICount,omitempty"`
	// AppCodeCount is how many app codes the app has (the codes are in the Secret).
	// +optional
	AppCodeCount int32 `json:"appCodeCount,omitempty"`
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// +optional
	ProjectID string `json:"projectID,omitempty"`
	// +optional
	UserID string `json:"userID,omitempty"`
}

// ServiceAppAuthStatus mirrors GET /v1/{project_id}/services/{service_id}/api-auths.
type ServiceAppAuthStatus struct {
	SyncStatus `json:",inline"`

	// EnableAppAuth says whether app authentication is enabled for the service.
	// +optional
	EnableAppAuth *bool `json:"enableAppAuth,omitempty"`
	// APIID is the service's API in the API gateway.
	// +optional
	APIID string `json:"apiID,omitempty"`
	// AppCount is the number of authorized apps; 0 is shown, unset means
	// not read yet.
	// +optional
	AppCount *int32 `json:"appCount,omitempty"`
	// Apps authorized to call the service.
	// +optional
	// +listType=atomic
	Apps []AuthorizedApp `json:"apps,omitempty"`
	// SecretName is the Secret holding the apps' credentials, once written.
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=masaa,categories=modelarts
// +kubebuilder:printcolumn:name="App Auth",type=boolean,JSONPath=`.status.enableAppAuth`
// +kubebuilder:printcolumn:name="Apps",type=integer,JSONPath=`.status.appCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.serviceID`,priority=1
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`,priority=1
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ServiceAppAuth mirrors a ModelArts service's app authorization; app credentials go to a Secret.
type ServiceAppAuth struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ServiceAppAuthSpec   `json:"spec"`
	Status ServiceAppAuthStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ServiceAppAuthList contains a list of ServiceAppAuth.
type ServiceAppAuthList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceAppAuth `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ServiceAppAuth{}, &ServiceAppAuthList{})
}
