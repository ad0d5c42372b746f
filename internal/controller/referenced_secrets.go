package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// ReferencedSecrets caches exactly the Secrets that CloudAccounts reference,
// each through its own single-object informer (a field selector on its name),
// instead of caching every Secret in the cluster. A change to a watched Secret
// is delivered as a GenericEvent naming each CloudAccount that references it.
type ReferencedSecrets struct {
	clientset kubernetes.Interface
	events    chan event.GenericEvent
	// newObject builds the object that a GenericEvent carries for a referrer.
	newObject func(types.NamespacedName) event.GenericEvent

	mu        sync.Mutex
	ctx       context.Context // the manager's, once started; nil before
	stopped   bool
	watches   map[types.NamespacedName]*secretWatch
	referrers map[types.NamespacedName]types.NamespacedName // referrer → Secret
}

type secretWatch struct {
	informer cache.SharedIndexInformer
	stop     context.CancelFunc
	users    map[types.NamespacedName]struct{}
}

// NewReferencedSecrets returns a watcher whose events name referrers built by newObject.
func NewReferencedSecrets(clientset kubernetes.Interface, newObject func(types.NamespacedName) event.GenericEvent) *ReferencedSecrets {
	return &ReferencedSecrets{
		clientset: clientset,
		events:    make(chan event.GenericEvent, 1024),
		newObject: newObject,
		watches:   map[types.NamespacedName]*secretWatch{},
		referrers: map[types.NamespacedName]types.NamespacedName{},
	}
}

// Events is the channel to feed into a controller's source.Channel.
func (r *ReferencedSecrets) Events() <-chan event.GenericEvent { return r.events }

// Get returns the referenced Secret (nil if it does not exist), starting a watch
// on it for referrer if there is none yet, and dropping referrer's previous one.
func (r *ReferencedSecrets) Get(ctx context.Context, referrer, secret types.NamespacedName) (*corev1.Secret, error) {
	w, err := r.track(referrer, secret)
	if err != nil {
		return nil, err
	}
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), w.informer.HasSynced) {
		return nil, fmt.Errorf("timed out waiting for the watch on Secret %s", secret.Name)
	}
	obj, exists, err := w.informer.GetStore().GetByKey(secret.Namespace + "/" + secret.Name)
	if err != nil || !exists {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

// Start blocks until ctx ends, then stops every watch. Added to the manager as
// a Runnable so no watch outlives it.
func (r *ReferencedSecrets) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for key, w := range r.watches {
		w.stop()
		delete(r.watches, key)
	}
	r.referrers = map[types.NamespacedName]types.NamespacedName{}
	return nil
}

// Forget drops referrer's watch, stopping the informer when no one else uses it.
func (r *ReferencedSecrets) Forget(referrer types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release(referrer)
}

// Watched reports how many Secrets are being watched (for tests and metrics).
func (r *ReferencedSecrets) Watched() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.watches)
}

var errStopped = errors.New("secret watches are stopped")

func (r *ReferencedSecrets) track(referrer, secret types.NamespacedName) (*secretWatch, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, errStopped
	}
	if prev, ok := r.referrers[referrer]; ok && prev != secret {
		r.release(referrer)
	}
	w, ok := r.watches[secret]
	if !ok {
		w = r.start(secret)
		r.watches[secret] = w
	}
	w.users[referrer] = struct{}{}
	r.referrers[referrer] = secret
	return w, nil
}

// release must be called with r.mu held.
func (r *ReferencedSecrets) release(referrer types.NamespacedName) {
	secret, ok := r.referrers[referrer]
	if !ok {
		return
	}
	delete(r.referrers, referrer)
	if w, ok := r.watches[secret]; ok {
		delete(w.users, referrer)
		if len(w.users) == 0 {
			w.stop()
			delete(r.watches, secret)
		}
	}
}

func (r *ReferencedSecrets) start(secret types.NamespacedName) *secretWatch {
	byName := fields.OneTermEqualSelector("metadata.name", secret.Name).String()
	lw := cache.NewFilteredListWatchFromClient(r.clientset.CoreV1().RESTClient(), "secrets", secret.Namespace,
		func(o *metav1.ListOptions) { o.FieldSelector = byName })
	informer := cache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, cache.Indexers{})
	w := &secretWatch{informer: informer, users: map[types.NamespacedName]struct{}{}}
	notify := func(any) { r.notify(secret) }
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	})
	parent := r.ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	w.stop = cancel
	go informer.RunWithContext(ctx)
	return w
}

// notify enqueues every referrer of secret. Sends happen outside the lock and
// in a goroutine so a slow consumer never blocks an informer.
func (r *ReferencedSecrets) notify(secret types.NamespacedName) {
	r.mu.Lock()
	var users []types.NamespacedName
	done := context.Background().Done()
	if r.ctx != nil {
		done = r.ctx.Done()
	}
	if w, ok := r.watches[secret]; ok {
		for u := range w.users {
			users = append(users, u)
		}
	}
	r.mu.Unlock()
	go func() {
		for _, u := range users {
			select {
			case r.events <- r.newObject(u):
			case <-done:
				return
			}
		}
	}()
}
