package controller

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// Options are the manager-wide settings the controllers share.
type Options struct {
	// Pool builds and caches cloud clients (and their IAM tokens).
	Pool *cloudclient.Pool
	// StatusHeartbeat is how old lastSyncTime may grow before an unchanged status is written.
	StatusHeartbeat time.Duration
	// MaxConcurrentReconciles is the number of workers per controller.
	MaxConcurrentReconciles int
	// MaxAuthorizations bounds the entries an AuthorizationSet's status holds.
	MaxAuthorizations int
	// WatchNamespaces confines the operator to these namespaces (empty: all).
	// ClusterCloudAccounts need the cluster-wide mode and are not served then.
	WatchNamespaces []string
}

// SetupWithManager registers every controller with mgr. It is the one place
// that wires the controllers together, used by cmd/main.go and the tests.
func SetupWithManager(mgr ctrl.Manager, clientset kubernetes.Interface, opts Options) error {
	accounts := NewAccounts(opts.Pool)
	secrets := NewReferencedSecrets(clientset, NewCloudAccountEvent)
	if err := mgr.Add(secrets); err != nil {
		return err
	}
	if err := (&CloudAccountReconciler{Client: mgr.GetClient(), Accounts: accounts, Secrets: secrets}).SetupWithManager(mgr); err != nil {
		return err
	}
	clusterWide := len(opts.WatchNamespaces) == 0
	if clusterWide {
		clusterSecrets := NewReferencedSecrets(clientset, NewClusterCloudAccountEvent)
		if err := mgr.Add(clusterSecrets); err != nil {
			return err
		}
		if err := (&CloudAccountReconciler{Client: mgr.GetClient(), Accounts: accounts, Secrets: clusterSecrets, Cluster: true}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	recorder := mgr.GetEventRecorder("modelarts-operator")
	ctx := context.Background()
	// One index for every kind: which Secrets an object controls.
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Secret{}, fieldIndexSecretController, secretControllerUID); err != nil {
		return err
	}
	maxAuths := opts.MaxAuthorizations
	if maxAuths == 0 {
		maxAuths = DefaultMaxAuthorizations
	}
	authorizationSets := authorizationSetKind{maxEntries: maxAuths}
	if err := errors.Join(
		setupMirror(ctx, mgr, workspaceKind{}, accounts, recorder, opts),
		setupMirror(ctx, mgr, authorizationSets, accounts, recorder, opts),
		setupMirror(ctx, mgr, serviceAppAuthKind{}, accounts, recorder, opts),
		setupMirror(ctx, mgr, romaAppKind{}, accounts, recorder, opts),
		setupMirror(ctx, mgr, devEnvTokenKind{}, accounts, recorder, opts),
	); err != nil {
		return err
	}
	// After the mirrors: their accountRef index is what the budget counts by.
	kinds := []DemandKind{demandOf(workspaceKind{}), demandOf(authorizationSets), demandOf(serviceAppAuthKind{}),
		demandOf(romaAppKind{}), demandOf(devEnvTokenKind{})}
	if err := (&AccountBudgetReconciler{Client: mgr.GetClient(), Recorder: recorder, Kinds: kinds}).SetupWithManager(mgr); err != nil {
		return err
	}
	if clusterWide {
		return (&AccountBudgetReconciler{Client: mgr.GetClient(), Recorder: recorder, Kinds: kinds, Cluster: true}).SetupWithManager(mgr)
	}
	return nil
}

func setupMirror[T v1alpha1.Mirrored, D any](ctx context.Context, mgr ctrl.Manager, kind Kind[T, D],
	accounts *Accounts, recorder events.EventRecorder, opts Options) error {
	r := &MirrorReconciler[T, D]{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Kind: kind, Accounts: accounts, Recorder: recorder,
		Heartbeat: opts.StatusHeartbeat, Workers: opts.MaxConcurrentReconciles,
		Rollouts:        &Rollouts{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: recorder},
		NamespaceScoped: len(opts.WatchNamespaces) > 0,
	}
	return r.SetupWithManager(ctx, mgr)
}

// CacheOptions is the manager cache the controllers expect: of Secrets, only
// the ones the operator writes (labelled managed-by) are cached, so unrelated
// Secrets cost no memory; credentials Secrets are watched one by one
// (ReferencedSecrets). With watchNamespaces, every namespaced cache and watch
// is confined to them.
func CacheOptions(watchNamespaces ...string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})},
		},
		// The operator never reads managed fields; they are about a third of
		// a cached object's memory and of every deep copy.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(watchNamespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watchNamespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
