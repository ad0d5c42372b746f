package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkspaceSpec names the ModelArts workspace to mirror.
type WorkspaceSpec struct {
	MirrorSpec `json:",inline"`

	// WorkspaceID is the workspace's ID; "0" is the default workspace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	WorkspaceID string `json:"workspaceID"`
}

// WorkspaceGrant is an IAM user granted access to an INTERNAL workspace.
type WorkspaceGrant struct {
	// +optional
	UserID string `json:"userID,omitempty"`
	// +optional
	UserName string `json:"userName,omitempty"`
}

// WorkspaceStatus mirrors GET /v1/{project_id}/workspaces/{workspace_id}.
type WorkspaceStatus struct {
	SyncStatus `json:",inline"`

	// ID is the workspace ID the cloud reports.
	// +optional
	ID string `json:"id,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	Owner string `json:"owner,omitempty"`
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
	// +optional
	UpdateTime *metav1.Time `json:"updateTime,omitempty"`
	// AuthType is PUBLIC, PRIVATE or INTERNAL.
	// +optional
	AuthType string `json:"authType,omitempty"`
	// +optional
	EnterpriseProjectID string `json:"enterpriseProjectID,omitempty"`
	// +optional
	EnterpriseProjectName string `json:"enterpriseProjectName,omitempty"`
	// State is the cloud's status: CREATE_FAILED, NORMAL, DELETING or DELETE_FAILED.
	// +optional
	State string `json:"state,omitempty"`
	// StateInfo is the cloud's status_info, e.g. why a deletion failed.
	// +optional
	StateInfo string `json:"stateInfo,omitempty"`
	// Grants lists the users of an INTERNAL workspace.
	// +optional
	// +listType=atomic
	Grants []WorkspaceGrant `json:"grants,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=maws,categories=modelarts
// +kubebuilder:printcolumn:name="Workspace",type=string,JSONPath=`.status.name`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Auth Type",type=string,JSONPath=`.status.authType`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.spec.workspaceID`,priority=1
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Workspace mirrors a ModelArts workspace's details into its status.
type Workspace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkspaceSpec   `json:"spec"`
	Status WorkspaceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// WorkspaceList contains a list of Workspace.
type WorkspaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workspace `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Workspace{}, &WorkspaceList{})
}
