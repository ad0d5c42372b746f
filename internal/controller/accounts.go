package controller

import (
	"errors"
	"reflect"
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
	// revisions change whenever an account's registered configuration does
	// (credentials, endpoints, project…), from one counter so that a
	// re-registered account never repeats an old revision.
	revisions map[types.NamespacedName]uint64
	counter   uint64
	listeners map[int]func(types.NamespacedName)
	nextID    int
}

// NewAccounts returns an empty registry handing out clients from pool.
func NewAccounts(pool *cloudclient.Pool) *Accounts {
	return &Accounts{pool: pool, configs: map[types.NamespacedName]cloudclient.Config{},
		revisions: map[types.NamespacedName]uint64{}, listeners: map[int]func(types.NamespacedName){}}
}

// Pool is the shared client pool.
func (a *Accounts) Pool() *cloudclient.Pool { return a.pool }

// Set records the configuration of a Ready account. When what it reads or
// how it signs differs from the registered one (a fixed Secret, a new
// endpoint), the revision moves and the listeners hear of it: the account's
// status may not change at all, so no CloudAccount event would tell
// dependents to sync with it. A new rate limit alone applies from the next
// call on, without a sync of every dependent.
func (a *Accounts) Set(key types.NamespacedName, cfg cloudclient.Config) {
	a.mu.Lock()
	old, had := a.configs[key]
	changed := !had || !reflect.DeepEqual(withoutRateLimit(old), withoutRateLimit(cfg))
	a.configs[key] = cfg
	if changed {
		a.counter++
		a.revisions[key] = a.counter
	}
	listeners := a.snapshotListeners(changed)
	a.mu.Unlock()
	for _, l := range listeners {
		l(key)
	}
}

func withoutRateLimit(cfg cloudclient.Config) cloudclient.Config {
	cfg.RequestsPerSecond, cfg.Burst = 0, 0
	return cfg
}

// Delete forgets an account that is gone or no longer Ready; listeners hear
// of it, since a deleted account's watch event may have come before this.
func (a *Accounts) Delete(key types.NamespacedName) {
	a.mu.Lock()
	_, had := a.configs[key]
	delete(a.configs, key)
	delete(a.revisions, key)
	listeners := a.snapshotListeners(had)
	a.mu.Unlock()
	for _, l := range listeners {
		l(key)
	}
}

// snapshotListeners copies the listeners if notify; a.mu must be held.
func (a *Accounts) snapshotListeners(notify bool) []func(types.NamespacedName) {
	if !notify {
		return nil
	}
	out := make([]func(types.NamespacedName), 0, len(a.listeners))
	for _, l := range a.listeners {
		out = append(out, l)
	}
	return out
}

// Revision identifies the account's registered configuration; 0 when none.
func (a *Accounts) Revision(key types.NamespacedName) uint64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.revisions[key]
}

// Listen calls f (outside the registry's lock, and quickly) with the key of
// every account whose configuration is registered, changes or is deleted,
// until the returned function is called.
func (a *Accounts) Listen(f func(types.NamespacedName)) (stop func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.nextID
	a.nextID++
	a.listeners[id] = f
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.listeners, id)
	}
}

// Registered says whether the account has a registered configuration.
func (a *Accounts) Registered(key types.NamespacedName) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.configs[key]
	return ok
}

// Client returns the cloud client of a Ready account and the revision of the
// configuration it was made from, or ErrAccountNotReady.
func (a *Accounts) Client(key types.NamespacedName) (*cloudclient.Client, uint64, error) {
	a.mu.RLock()
	cfg, ok := a.configs[key]
	revision := a.revisions[key]
	a.mu.RUnlock()
	if !ok {
		return nil, 0, ErrAccountNotReady
	}
	c, err := a.pool.Client(cfg)
	return c, revision, err
}
