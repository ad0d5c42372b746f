package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthorizationSetSpec selects how the authorization list is read.
type AuthorizationSetSpec struct {
	MirrorSpec `json:",inline"`

	// SortBy is the sort field: user_name (default) or create_time.
	// +optional
	// +kubebuilder:validation:Enum=user_name;create_time
	SortBy string `json:"sortBy,omitempty"`

	// Order is asc (default) or desc.
	// +optional
	// +kubebuilder:validation:Enum=asc;desc
	Order string `json:"order,omitempty"`
}

// Authorization is one entry of the ModelArts authorization list, without its secret_key.
type Authorization struct {
	// +optional
	UserID string `json:"userID,omitempty"`
	// +optional
	UserName string `json:"userName,omitempty"`
	// +optional
	UserType string `json:"userType,omitempty"`
	// Type is agency or credential.
	// +optional
	Type string `json:"type,omitempty"`
	// Content is the agency name, or the access key ID for a credential.
	// +optional
	Content string `json:"content,omitempty"`
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
}

// AuthorizationSetStatus mirrors GET /v2/{project_id}/authorizations, all pages.
type AuthorizationSetStatus struct {
	SyncStatus `json:",inline"`

	// TotalCount is the number of authorizations the cloud reports, even when
	// Authorizations holds fewer (see the Truncated condition); 0 is shown,
	// unset means not read yet.
	// +optional
	TotalCount *int64 `json:"totalCount,omitempty"`

	// Authorizations, at most the manager's --max-authorizations entries.
	// +optional
	// +listType=atomic
	Authorizations []Authorization `json:"authorizations,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=maauth,categories=modelarts
// +kubebuilder:printcolumn:name="Authorizations",type=integer,JSONPath=`.status.totalCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AuthorizationSet mirrors the ModelArts authorization list into its status.
type AuthorizationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AuthorizationSetSpec   `json:"spec"`
	Status AuthorizationSetStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AuthorizationSetList contains a list of AuthorizationSet.
type AuthorizationSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthorizationSet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AuthorizationSet{}, &AuthorizationSetList{})
}
