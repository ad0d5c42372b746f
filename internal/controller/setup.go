package controller

import (
	"time"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"

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
}

// SetupWithManager registers every controller with mgr. It is the one place
// that wires the controllers together, used by cmd/main.go and the tests.
func SetupWithManager(mgr ctrl.Manager, clientset kubernetes.Interface, opts Options) error {
	accounts := NewAccounts(opts.Pool)
	secrets := NewReferencedSecrets(clientset, NewCloudAccountEvent)
	return (&CloudAccountReconciler{Client: mgr.GetClient(), Accounts: accounts, Secrets: secrets}).SetupWithManager(mgr)
}
