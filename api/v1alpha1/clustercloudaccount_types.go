package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretReference names a Secret in a given namespace.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
	// Namespace of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
}

// ClusterWorkloadIdentity is WorkloadIdentity with the ServiceAccount's
// namespace, which a cluster-scoped account has to name.
type ClusterWorkloadIdentity struct {
	WorkloadIdentity `json:",inline"`
	// ServiceAccountNamespace is the ServiceAccount's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ServiceAccountNamespace string `json:"serviceAccountNamespace"`
}

// ClusterCloudAccountSpec is a CloudAccountSpec whose references name their
// namespaces, plus the namespaces allowed to use the account.
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.iam) || !self.endpoints.iam.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.iam"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.modelarts) || !self.endpoints.modelarts.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.modelarts"
// +kubebuilder:validation:XValidation:rule="self.allowInsecureHTTP || !has(self.endpoints) || !has(self.endpoints.roma) || !self.endpoints.roma.startsWith('http://')",message="http:// endpoints require allowInsecureHTTP: true",fieldPath=".endpoints.roma"
// +kubebuilder:validation:XValidation:rule="!has(self.burst) || has(self.requestsPerSecond)",message="burst requires requestsPerSecond",fieldPath=".burst"
// +kubebuilder:validation:XValidation:rule="[has(self.credentialsSecretRef), has(self.workloadIdentity), has(self.instanceMetadata)].filter(x, x).size() == 1",message="exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata must be set"
type ClusterCloudAccountSpec struct {
	CloudConnection `json:",inline"`

	// CredentialsSecretRef names the credentials Secret and its namespace.
	// +optional
	CredentialsSecretRef *SecretReference `json:"credentialsSecretRef,omitempty"`

	// WorkloadIdentity exchanges a token of the named ServiceAccount at IAM.
	// +optional
	WorkloadIdentity *ClusterWorkloadIdentity `json:"workloadIdentity,omitempty"`

	// NamespaceSelector selects the namespaces whose objects may use this
	// account. Empty (or absent) selects none.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mcacct,categories=modelarts
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

// ClusterCloudAccount is a cloud account that objects in the namespaces its
// namespaceSelector selects may use (accountRef.kind: ClusterCloudAccount).
type ClusterCloudAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterCloudAccountSpec `json:"spec"`
	Status CloudAccountStatus      `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterCloudAccountList contains a list of ClusterCloudAccount.
type ClusterCloudAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterCloudAccount `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterCloudAccount{}, &ClusterCloudAccountList{})
}
