package cloudclient

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// credential is what a credentialCache holds: an IAM token or an agency's
// temporary AK/SK.
type credential interface {
	// renewal is when to fetch a new one; expiry, when it may no longer be used.
	renewal() time.Time
	expiry() time.Time
	// id tells one issued credential from the next (the token, the access key).
	id() string
}

// credentialCache holds one credential per key, shared by all of a Pool's
// clients. Concurrent fetches for one key are coalesced through flight.
type credentialCache[T credential] struct {
	mu     sync.Mutex
	items  map[string]T
	flight singleflight.Group
}

func newCredentialCache[T credential]() credentialCache[T] {
	return credentialCache[T]{items: map[string]T{}}
}

// get returns key's credential, whether or not it is due for renewal.
func (cc *credentialCache[T]) get(key string) (T, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	t, ok := cc.items[key]
	return t, ok
}

// lookup returns key's credential if it is not yet due for renewal at now.
func (cc *credentialCache[T]) lookup(key string, now time.Time) (T, bool) {
	t, ok := cc.get(key)
	return t, ok && now.Before(t.renewal())
}

func (cc *credentialCache[T]) store(key string, t T) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.items[key] = t
}

// invalidate drops key's credential if it is still the one rejected (a
// concurrent caller may already have replaced it).
func (cc *credentialCache[T]) invalidate(key, id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if t, ok := cc.items[key]; ok && t.id() == id {
		delete(cc.items, key)
	}
}

// sweep drops expired credentials.
func (cc *credentialCache[T]) sweep(now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for k, t := range cc.items {
		if !now.Before(t.expiry()) {
			delete(cc.items, k)
		}
	}
}
