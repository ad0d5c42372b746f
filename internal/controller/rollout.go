package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=list;patch

// workloadKinds are the workloads that may opt in to rollouts.
var workloadKinds = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
}

// Rollouts rolls the workloads that opted in (AnnotationReloadSecrets) when
// a sync changed one of their Secrets, as Reloader's annotations strategy
// does: the pod template gets a digest of the Secrets' data, so a workload
// rolls once per change and a digest it already carries changes nothing.
//
// Workloads are listed on demand, metadata only and past the cache: a
// rollout is rare, and caching every Deployment in the cluster for it would
// cost the operator memory all the time.
type Rollouts struct {
	// Client patches the workloads' pod templates.
	Client client.Client
	// Reader lists workloads and reads Secrets from the API server.
	Reader   client.Reader
	Recorder events.EventRecorder
	// RetryBase is the first wait before retrying a failed rollout (default
	// backoffBase); it doubles per attempt, rolloutAttempts in all.
	RetryBase time.Duration
}

// rolloutAttempts bounds the retries of a rollout that failed: the sync that
// changed the Secret will not come back to it (the next one finds no change).
const rolloutAttempts = 5

// SecretChanged rolls every workload in namespace that lists secret. owner
// is the object whose sync changed it (the events' related object). The
// sync itself has succeeded: failures are logged, and retried in the
// background with backoff (a digest already set changes nothing, so a retry
// never rolls a workload twice); the last failure is a Warning event.
func (w *Rollouts) SecretChanged(ctx context.Context, owner client.Object, namespace, secret string) {
	if w == nil {
		return
	}
	w.rollAll(ctx, owner, namespace, secret, 1)
}

func (w *Rollouts) rollAll(ctx context.Context, owner client.Object, namespace, secret string, attempt int) {
	if ctx.Err() != nil {
		return // stopping, or no longer the leader
	}
	log := logf.FromContext(ctx)
	final := attempt >= rolloutAttempts
	failed := false
	defer func() {
		if failed && !final {
			base := w.RetryBase
			if base <= 0 {
				base = backoffBase
			}
			// A copy: the reconcile that passed owner goes on using it.
			owner := owner.DeepCopyObject().(client.Object)
			time.AfterFunc(jitterAfter(base<<(attempt-1)), func() { w.rollAll(ctx, owner, namespace, secret, attempt+1) })
		}
	}()
	for _, gvk := range workloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := w.Reader.List(ctx, list, client.InNamespace(namespace)); err != nil {
			log.Error(err, "listing workloads to roll failed", "kind", gvk.Kind, "secret", secret, "attempt", attempt)
			failed = true
			continue
		}
		for i := range list.Items {
			wl := &list.Items[i]
			names := reloadSecrets(wl.GetAnnotations())
			if !slices.Contains(names, secret) {
				continue
			}
			wl.SetGroupVersionKind(gvk)
			if err := w.roll(ctx, owner, wl, names, secret); err != nil && !apierrors.IsNotFound(err) {
				log.Error(err, "rolling a workload failed", "kind", gvk.Kind, "workload", wl.Name, "secret", secret, "attempt", attempt)
				failed = true
				if final {
					w.Recorder.Eventf(wl, owner, corev1.EventTypeWarning, "RolloutFailed", "Rollout",
						"Secret %q changed but the pod template could not be annotated after %d attempts", secret, attempt)
				}
			}
		}
	}
}

// roll sets the pod template's digest annotation; the API server leaves a
// workload that already carries it untouched, and then nothing is counted.
func (w *Rollouts) roll(ctx context.Context, owner client.Object, wl *metav1.PartialObjectMetadata, names []string, secret string) error {
	d, err := w.digest(ctx, wl.Namespace, names)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, v1alpha1.AnnotationSecretsDigest, d)
	before := wl.ResourceVersion
	if err := w.Client.Patch(ctx, wl, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return err
	}
	if wl.ResourceVersion == before {
		return nil
	}
	kind := wl.GroupVersionKind().Kind
	rolloutsTotal.WithLabelValues(kind).Inc()
	w.Recorder.Eventf(wl, owner, corev1.EventTypeNormal, "RolloutTriggered", "Rollout",
		"Secret %q changed; the pod template's %s annotation was updated to roll the %s", secret, v1alpha1.AnnotationSecretsDigest, kind)
	logf.FromContext(ctx).Info("rolled a workload", "kind", kind, "workload", wl.Name, "secret", secret)
	return nil
}

// digest is a SHA-256 over the named Secrets' data (a missing Secret counts
// as absent), hex-encoded for the annotation.
func (w *Rollouts) digest(ctx context.Context, namespace string, names []string) (string, error) {
	h := sha256.New()
	for _, name := range names {
		var s corev1.Secret
		err := w.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(h, "%d:%s-", len(name), name)
		case err != nil:
			return "", fmt.Errorf("reading Secret %q: %w", name, err)
		default:
			fmt.Fprintf(h, "%d:%s+", len(name), name)
			h.Write([]byte(digest(s.Data)))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// reloadSecrets parses the reload annotation: names, sorted, without blanks
// or repeats.
func reloadSecrets(annotations map[string]string) []string {
	v, ok := annotations[v1alpha1.AnnotationReloadSecrets]
	if !ok {
		return nil
	}
	var names []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
