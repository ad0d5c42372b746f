package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DevEnvironmentTokenSpec names the dev-environment instance whose token is kept in a Secret.
type DevEnvironmentTokenSpec struct {
	MirrorSpec `json:",inline"`

	// InstanceID is the dev-environment (DevEnviron) instance.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	InstanceID string `json:"instanceID"`

	// SecretName is the Secret to write; default: the object's name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// SecretKey is the key the token is stored under; default "token". It must be a
	// valid Secret data key: not "." and not starting with "..".
	// +optional
	// +kubebuilder:default=token
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && !self.startsWith('..')",message="secretKey must not be '.' or start with '..' (not a valid Secret key)"
	SecretKey string `json:"secretKey,omitempty"`

	// Target shapes the Secret: a template for its data, type and metadata,
	// and how it is created and deleted.
	// +optional
	Target *SecretTarget `json:"target,omitempty"`
}

// DevEnvironmentTokenStatus reports where the token is and when it last changed.
type DevEnvironmentTokenStatus struct {
	SyncStatus `json:",inline"`

	// SecretName is the Secret holding the token, once written.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// TokenUpdateTime is when the Secret last received a different token.
	// +optional
	TokenUpdateTime *metav1.Time `json:"tokenUpdateTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=matoken,categories=modelarts
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Token Age",type=date,JSONPath=`.status.tokenUpdateTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].reason`
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceID`,priority=1
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DevEnvironmentToken keeps a ModelArts dev-environment instance's token fresh in a Secret.
type DevEnvironmentToken struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DevEnvironmentTokenSpec   `json:"spec"`
	Status DevEnvironmentTokenStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DevEnvironmentTokenList contains a list of DevEnvironmentToken.
type DevEnvironmentTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DevEnvironmentToken `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DevEnvironmentToken{}, &DevEnvironmentTokenList{})
}
