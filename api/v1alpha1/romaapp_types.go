package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RomaAppSpec names the ROMA Connect app to mirror.
type RomaAppSpec struct {
	MirrorSpec `json:",inline"`

	// InstanceID is the ROMA Connect instance.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	InstanceID string `json:"instanceID"`

	// AppID is the app within the instance.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	AppID string `json:"appID"`

	// SecretName, when set, is a Secret the operator owns holding the app's key under app_key.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// Target shapes the Secret: a template for its data, type and metadata,
	// and how it is created and deleted.
	// +optional
	Target *SecretTarget `json:"target,omitempty"`
}

// RomaAppStatus mirrors GET /v2/{project_id}/instances/{instance_id}/apps/{app_id}, without the key.
type RomaAppStatus struct {
	SyncStatus `json:",inline"`

	// +optional
	ID string `json:"id,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Remark string `json:"remark,omitempty"`
	// Roles: read, access, delete, modify, admin.
	// +optional
	// +listType=atomic
	Roles []string `json:"roles,omitempty"`
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
	// +optional
	UpdateTime *metav1.Time `json:"updateTime,omitempty"`
	// +optional
	CreatedUser *UserRef `json:"createdUser,omitempty"`
	// +optional
	LastUpdatedUser *UserRef `json:"lastUpdatedUser,omitempty"`
	// Owner says whether the account owns the app.
	// +optional
	Owner *bool `json:"owner,omitempty"`
	// +optional
	Favorite *bool `json:"favorite,omitempty"`
	// SecretName is the Secret holding the app's key, once written.
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=maroma,categories=modelarts
// +kubebuilder:printcolumn:name="App",type=string,JSONPath=`.status.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceID`,priority=1
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`,priority=1
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// RomaApp mirrors a ROMA Connect app's details; its key goes to a Secret.
type RomaApp struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RomaAppSpec   `json:"spec"`
	Status RomaAppStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RomaAppList contains a list of RomaApp.
type RomaAppList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RomaApp `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RomaApp{}, &RomaAppList{})
}
