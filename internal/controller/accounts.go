package controller

import (
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// ErrAccountNotReady means the CloudAccount has no usable configuration yet.
var ErrAccountNotReady = errors.New("account not ready")

// Accounts is the in-memory registry of Ready CloudAccounts. The CloudAccount
// controller fills it after validating an account and its credentials; the
// mirrored kinds take their cloud clients from it, so credentials are read
// from the API server once per account, not once per object.
type Accounts struct {
	pool *cloudclient.Pool

	mu      sync.RWMutex
	configs map[types.NamespacedName]cloudclient.Config
}

// NewAccounts returns an empty registry handing out clients from pool.
func NewAccounts(pool *cloudclient.Pool) *Accounts {
	return &Accounts{pool: pool, configs: map[types.NamespacedName]cloudclient.Config{}}
}

// Pool is the shared client pool.
func (a *Accounts) Pool() *cloudclient.Pool { return a.pool }

// Set records the configuration of a Ready account.
func (a *Accounts) Set(key types.NamespacedName, cfg cloudclient.Config) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configs[key] = cfg
}

// Delete forgets an account that is gone or no longer Ready.
func (a *Accounts) Delete(key types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.configs, key)
}

// Registered says whether the account has a registered configuration.
func (a *Accounts) Registered(key types.NamespacedName) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.configs[key]
	return ok
}

// Client returns the cloud client of a Ready account, or ErrAccountNotReady.
func (a *Accounts) Client(key types.NamespacedName) (*cloudclient.Client, cloudclient.Config, error) {
	a.mu.RLock()
	cfg, ok := a.configs[key]
	a.mu.RUnlock()
	if !ok {
		return nil, cloudclient.Config{}, ErrAccountNotReady
	}
	c, err := a.pool.Client(cfg)
	return c, cfg, err
}
