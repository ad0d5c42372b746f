package v1alpha1

// Annotations on workloads and Secrets for shaped Secrets and rollouts.
const (
	// AnnotationReloadSecrets on a Deployment, StatefulSet or DaemonSet lists
	// Secrets ("a,b") whose change by a sync rolls the workload.
	AnnotationReloadSecrets = "modelarts.cloudmirror.io/reload-secrets"
	// AnnotationSecretsDigest is set on the workload's pod template to a digest
	// of the listed Secrets' data; changing it starts a rolling restart.
	AnnotationSecretsDigest = "modelarts.cloudmirror.io/secrets-digest"
	// AnnotationMergedBy on a Secret says which object ("Kind/name") merged
	// keys into it (creationPolicy Merge).
	AnnotationMergedBy = "modelarts.cloudmirror.io/merged-by"
	// AnnotationMergedKeys lists the keys that object merged ("a,b"), so it
	// can take exactly those back out.
	AnnotationMergedKeys = "modelarts.cloudmirror.io/merged-keys"

	// FinalizerSecretPolicy holds an object whose Secret needs work on
	// deletion (deletionPolicy Retain, or creationPolicy Merge).
	FinalizerSecretPolicy = "modelarts.cloudmirror.io/secret-policy"
)

// CreationPolicy says how the operator writes its Secret.
// +kubebuilder:validation:Enum=Owner;Merge
type CreationPolicy string

const (
	// CreationPolicyOwner: the object owns the Secret (created, updated, and by
	// default deleted with the object).
	CreationPolicyOwner CreationPolicy = "Owner"
	// CreationPolicyMerge: only the object's keys are written into an existing
	// Secret that something else owns.
	CreationPolicyMerge CreationPolicy = "Merge"
)

// DeletionPolicy says what happens to the Secret when the object is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete: the Secret (or, with Merge, the merged keys) goes with the object.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain: the Secret (or the merged keys) stays; the ownerReference is removed.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// SecretTarget shapes the Secret an object writes.
// +kubebuilder:validation:XValidation:rule="!has(self.creationPolicy) || self.creationPolicy != 'Merge' || !has(self.template) || (!has(self.template.type) && !has(self.template.metadata))",message="template.type and template.metadata apply only with creationPolicy Owner: Merge writes data keys only"
type SecretTarget struct {
	// Template shapes the Secret's data, type and metadata.
	// +optional
	Template *SecretTemplate `json:"template,omitempty"`

	// CreationPolicy is Owner (default: the object owns the Secret) or Merge
	// (only the object's keys, into an existing Secret owned by something else).
	// +optional
	CreationPolicy CreationPolicy `json:"creationPolicy,omitempty"`

	// DeletionPolicy is Delete (default: the Secret, or the merged keys, go
	// with the object) or Retain (they stay; the ownerReference is removed).
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// SecretTemplate shapes the Secret.
type SecretTemplate struct {
	// Type of the Secret; default Opaque.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9/]+$`
	Type string `json:"type,omitempty"`

	// Metadata puts labels and annotations on the Secret.
	// +optional
	Metadata *SecretTemplateMetadata `json:"metadata,omitempty"`

	// Data maps each Secret key to a Go text/template with sprig functions,
	// rendered over the values the Secret would hold without a template. When
	// set, it defines the Secret's whole data.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 253 && k.matches('^[-._a-zA-Z0-9]+$') && k != '.' && !k.startsWith('..'))",message="template.data keys must be valid Secret keys: letters, digits, '-', '_', '.', not '.' and not starting with '..'"
	Data map[string]string `json:"data,omitempty"`
}

// SecretTemplateMetadata is put on the Secret.
type SecretTemplateMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Creation is the effective creation policy (Owner when unset).
func (t *SecretTarget) Creation() CreationPolicy {
	if t == nil || t.CreationPolicy == "" {
		return CreationPolicyOwner
	}
	return t.CreationPolicy
}

// Deletion is the effective deletion policy (Delete when unset).
func (t *SecretTarget) Deletion() DeletionPolicy {
	if t == nil || t.DeletionPolicy == "" {
		return DeletionPolicyDelete
	}
	return t.DeletionPolicy
}

// NeedsFinalizer says whether deleting the object needs work on its Secret
// beyond garbage collection: Retain removes the ownerReference, Merge takes
// its keys out (or, with Retain, just its bookkeeping annotations).
func (t *SecretTarget) NeedsFinalizer() bool {
	return t.Creation() == CreationPolicyMerge || t.Deletion() == DeletionPolicyRetain
}

// SecretShaped is implemented by the kinds that write a Secret.
// +kubebuilder:object:generate=false
type SecretShaped interface {
	Mirrored
	// Target returns spec.target (nil when unset).
	Target() *SecretTarget
	// WrittenSecretName returns status.secretName: the Secret last written.
	WrittenSecretName() string
}

func (o *ServiceAppAuth) Target() *SecretTarget          { return o.Spec.Target }
func (o *ServiceAppAuth) WrittenSecretName() string      { return o.Status.SecretName }
func (o *RomaApp) Target() *SecretTarget                 { return o.Spec.Target }
func (o *RomaApp) WrittenSecretName() string             { return o.Status.SecretName }
func (o *DevEnvironmentToken) Target() *SecretTarget     { return o.Spec.Target }
func (o *DevEnvironmentToken) WrittenSecretName() string { return o.Status.SecretName }

var (
	_ SecretShaped = &ServiceAppAuth{}
	_ SecretShaped = &RomaApp{}
	_ SecretShaped = &DevEnvironmentToken{}
)
