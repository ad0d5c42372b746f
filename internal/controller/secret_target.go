package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// This file holds what spec.target changes about the Secret the skeleton
// writes: its type and metadata, Merge into someone else's Secret and
// taking the keys back out, and Retain on deletion.

// targetOf is obj's spec.target, nil for kinds without a Secret or unset.
func targetOf(obj v1alpha1.Mirrored) *v1alpha1.SecretTarget {
	if s, ok := obj.(v1alpha1.SecretShaped); ok {
		return s.Target()
	}
	return nil
}

func templated(t *v1alpha1.SecretTarget) bool {
	return t != nil && t.Template != nil && len(t.Template.Data) > 0
}

// secretType is the type the owned Secret must have (Opaque by default).
func secretType(t *v1alpha1.SecretTarget) corev1.SecretType {
	if t != nil && t.Template != nil && t.Template.Type != "" {
		return corev1.SecretType(t.Template.Type)
	}
	return corev1.SecretTypeOpaque
}

// secretMeta is the labels and annotations the owned Secret must carry:
// the template's, plus the managed-by label, which always wins.
func secretMeta(t *v1alpha1.SecretTarget) (labels, annotations map[string]string) {
	labels = map[string]string{}
	if t != nil && t.Template != nil && t.Template.Metadata != nil {
		maps.Copy(labels, t.Template.Metadata.Labels)
		if len(t.Template.Metadata.Annotations) > 0 {
			annotations = maps.Clone(t.Template.Metadata.Annotations)
		}
	}
	labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	return labels, annotations
}

// hasAll says whether have holds every entry of want.
func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// writeSecret creates the owned Secret, or updates it only when its data,
// type, label or templated metadata differ from what is wanted. It says
// whether an existing Secret's data changed (what rolls workloads).
// Templated labels and annotations are added, never removed.
func (r *MirrorReconciler[T, D]) writeSecret(ctx context.Context, obj T, name string, current *corev1.Secret, data map[string][]byte) (bool, error) {
	target := targetOf(obj)
	typ := secretType(target)
	labels, annotations := secretMeta(target)
	if current != nil && current.Type != typ {
		// The type is immutable: replace the Secret (only the one seen), once
		// a dry run shows the API server takes the new one (a type's required
		// keys), so a refused type never leaves the Secret deleted.
		probe := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), GenerateName: "modelarts-type-check-", Labels: labels},
			Type:       typ,
			Data:       data,
		}
		if err := r.Create(ctx, probe, client.DryRunAll); err != nil {
			return false, err
		}
		if err := r.Delete(ctx, current, client.Preconditions{UID: &current.UID, ResourceVersion: &current.ResourceVersion}); err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return !equality.Semantic.DeepEqual(current.Data, data), r.createSecret(ctx, obj, name, typ, labels, annotations, data)
	}
	if current == nil {
		err := r.createSecret(ctx, obj, name, typ, labels, annotations, data)
		if !apierrors.IsAlreadyExists(err) {
			return false, err
		}
		// Not in the cache, yet it exists: someone else's, or ours with the
		// label removed (the update below puts it back).
		current = &corev1.Secret{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, current); err != nil {
			return false, err
		}
		if !controlledBy(current, obj) {
			return false, errSecretConflict
		}
		if current.Type != typ {
			return r.writeSecret(ctx, obj, name, current, data)
		}
	}
	dataChanged := !equality.Semantic.DeepEqual(current.Data, data)
	if !dataChanged && hasAll(current.Labels, labels) && hasAll(current.Annotations, annotations) {
		return false, nil
	}
	s := current.DeepCopy()
	s.Data = data
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	maps.Copy(s.Labels, labels)
	if len(annotations) > 0 && s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	maps.Copy(s.Annotations, annotations)
	return dataChanged, r.Update(ctx, s)
}

func (r *MirrorReconciler[T, D]) createSecret(ctx context.Context, obj T, name string, typ corev1.SecretType,
	labels, annotations map[string]string, data map[string][]byte) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: name, Labels: labels, Annotations: annotations},
		Type:       typ,
		Data:       data,
	}
	if err := ctrl.SetControllerReference(obj, s, r.Scheme()); err != nil {
		return err
	}
	return r.Create(ctx, s)
}

var errMergeTargetMissing = errors.New("the Secret to merge into does not exist")

// mergedBy is how a Secret names the object that merged keys into it.
func (r *MirrorReconciler[T, D]) mergedBy(obj T) string {
	kind := r.Kind.Name()
	if gvk, err := apiutil.GVKForObject(obj, r.Scheme()); err == nil {
		kind = gvk.Kind
	}
	return kind + "/" + obj.GetName()
}

// mergeTarget reads the Secret to merge into from the API server (it is not
// labelled, so not cached): errMergeTargetMissing if it does not exist,
// errSecretConflict if another object merges into it or another object of
// this operator owns it (the two would undo each other's writes forever).
func (r *MirrorReconciler[T, D]) mergeTarget(ctx context.Context, obj T, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil, errMergeTargetMissing
	}
	if err != nil {
		return nil, err
	}
	if by := s.Annotations[v1alpha1.AnnotationMergedBy]; by != "" && by != r.mergedBy(obj) {
		return nil, errSecretConflict
	}
	if s.Labels[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue && !controlledBy(s, obj) {
		return nil, errSecretConflict
	}
	return s, nil
}

func controlledBy(s *corev1.Secret, obj client.Object) bool {
	owner := metav1.GetControllerOf(s)
	return owner != nil && owner.UID == obj.GetUID()
}

// mergeKeyConflict: the Secret to merge into already holds a key this object
// would write and did not merge itself; Merge never overwrites such a key.
type mergeKeyConflict struct{ key string }

func (e *mergeKeyConflict) Error() string {
	return fmt.Sprintf("the Secret already holds key %q, which this object did not write", e.key)
}

// writeMerged writes only data's keys into s, takes out keys it merged
// before and no longer renders, and records which keys are its own. Every
// other key, the owner and the type stay as they are. It says whether the
// Secret's data changed.
func (r *MirrorReconciler[T, D]) writeMerged(ctx context.Context, obj T, s *corev1.Secret, data map[string][]byte) (bool, error) {
	// Keys of a Secret obj controls (left by a switch from Owner) are its own.
	if !controlledBy(s, obj) {
		own := mergedKeys(s)
		for _, k := range sortedKeys(data) {
			if _, exists := s.Data[k]; exists && !slices.Contains(own, k) {
				return false, &mergeKeyConflict{key: k}
			}
		}
	}
	out := s.DeepCopy()
	if out.Data == nil {
		out.Data = map[string][]byte{}
	}
	for _, k := range mergedKeys(s) {
		if _, ok := data[k]; !ok {
			delete(out.Data, k)
		}
	}
	maps.Copy(out.Data, data)
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[v1alpha1.AnnotationMergedBy] = r.mergedBy(obj)
	out.Annotations[v1alpha1.AnnotationMergedKeys] = strings.Join(sortedKeys(data), ",")
	if equality.Semantic.DeepEqual(out, s) {
		return false, nil
	}
	return !equality.Semantic.DeepEqual(out.Data, s.Data), r.Update(ctx, out)
}

func mergedKeys(s *corev1.Secret) []string {
	v := s.Annotations[v1alpha1.AnnotationMergedKeys]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// backOut takes obj's merged keys (unless keepKeys) and its bookkeeping out
// of the Secret name, if obj merged into it; anything else is left alone.
func (r *MirrorReconciler[T, D]) backOut(ctx context.Context, obj T, name string, keepKeys bool) error {
	s := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || s.Annotations[v1alpha1.AnnotationMergedBy] != r.mergedBy(obj) {
		return err
	}
	out := s.DeepCopy()
	if !keepKeys {
		for _, k := range mergedKeys(s) {
			delete(out.Data, k)
		}
	}
	delete(out.Annotations, v1alpha1.AnnotationMergedBy)
	delete(out.Annotations, v1alpha1.AnnotationMergedKeys)
	if err := r.Update(ctx, out); err != nil {
		return err
	}
	if !keepKeys {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "MergedKeysRemoved", "Delete",
			"the keys this object merged into Secret %q were taken out", name)
	}
	return nil
}

// backOutMoved takes merged keys out of a Secret obj no longer merges into
// (secretName changed or removed). status.secretName says where it wrote
// last; only then, and only until the next successful sync, is this a read.
func (r *MirrorReconciler[T, D]) backOutMoved(ctx context.Context, obj T) error {
	shaped, ok := any(obj).(v1alpha1.SecretShaped)
	if !ok {
		return nil
	}
	written := shaped.WrittenSecretName()
	if written == "" || written == r.Kind.SecretName(obj) {
		return nil
	}
	return r.backOut(ctx, obj, written, false)
}

// ensureFinalizer adds the finalizer when deleting obj needs work on its
// Secret (Retain, Merge), and drops it when it no longer does. Objects with
// the default policies never carry it.
func (r *MirrorReconciler[T, D]) ensureFinalizer(ctx context.Context, obj T) error {
	need := targetOf(obj).NeedsFinalizer() && r.Kind.SecretName(obj) != ""
	if need == controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerSecretPolicy) {
		return nil
	}
	base := obj.DeepCopyObject().(T)
	if need {
		controllerutil.AddFinalizer(obj, v1alpha1.FinalizerSecretPolicy)
	} else {
		controllerutil.RemoveFinalizer(obj, v1alpha1.FinalizerSecretPolicy)
	}
	return r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finalize does what the policies ask of a deleted object's Secret, then
// lets the object go: Merge takes the keys out (Retain keeps them), Owner
// with Retain releases the Secret (ownerReference and managed-by label
// removed) so garbage collection keeps it.
func (r *MirrorReconciler[T, D]) finalize(ctx context.Context, obj T) error {
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.FinalizerSecretPolicy) {
		return nil
	}
	target := targetOf(obj)
	retain := target.Deletion() == v1alpha1.DeletionPolicyRetain
	if name := r.Kind.SecretName(obj); name != "" {
		var err error
		if target.Creation() == v1alpha1.CreationPolicyMerge {
			err = r.backOut(ctx, obj, name, retain)
		} else if retain {
			err = r.release(ctx, obj, name)
		}
		if err != nil {
			return fmt.Errorf("applying the Secret's deletion policy: %w", err)
		}
	}
	base := obj.DeepCopyObject().(T)
	controllerutil.RemoveFinalizer(obj, v1alpha1.FinalizerSecretPolicy)
	return client.IgnoreNotFound(r.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
}

// release removes obj's ownerReference and the managed-by label from the
// Secret it controls, so it outlives obj and is no longer the operator's.
func (r *MirrorReconciler[T, D]) release(ctx context.Context, obj T, name string) error {
	s := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != obj.GetUID() {
		return nil
	}
	out := s.DeepCopy()
	out.OwnerReferences = slices.DeleteFunc(out.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == obj.GetUID() })
	delete(out.Labels, v1alpha1.LabelManagedBy)
	if err := r.Update(ctx, out); err != nil {
		return err
	}
	logf.FromContext(ctx).Info("Secret retained after deletion", "secret", name)
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, "SecretRetained", "Delete",
		"Secret %q is kept (deletionPolicy Retain); its ownerReference was removed", name)
	return nil
}
