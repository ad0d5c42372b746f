package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// secretWatcher watches every Secret in a namespace for the whole test and
// records each time one that held a token is deleted or loses it.
type secretWatcher struct {
	mu         sync.Mutex
	had        map[string]bool
	violations []string
}

func watchSecrets(t *testing.T, ns, key string) *secretWatcher {
	t.Helper()
	cs, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &secretWatcher{had: map[string]bool{}}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Secrets(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Secrets(ns).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, cache.Indexers{})
	see := func(obj any, deleted bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		s, ok := obj.(*corev1.Secret)
		if !ok {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				s, _ = tomb.Obj.(*corev1.Secret)
			}
		}
		if s == nil {
			return
		}
		has := len(s.Data[key]) > 0
		switch {
		case deleted && w.had[s.Name]:
			w.violations = append(w.violations, fmt.Sprintf("%s: deleted at %s", s.Name, time.Now().Format(time.StampMilli)))
		case !has && w.had[s.Name]:
			w.violations = append(w.violations, fmt.Sprintf("%s: emptied at %s", s.Name, time.Now().Format(time.StampMilli)))
		case has:
			w.had[s.Name] = true
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { see(o, false) },
		UpdateFunc: func(_, o any) { see(o, false) },
		DeleteFunc: func(o any) { see(o, true) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("Secret watch did not sync")
	}
	return w
}

func (w *secretWatcher) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) > 0 {
		t.Fatalf("%d Secrets went missing or empty:\n%v", len(w.violations), w.violations)
	}
}

// TestRestartMidConvergence stops the manager while it is converging 500
// objects and starts a new one: every object converges, and no Secret that
// held a token is ever deleted or emptied.
func TestRestartMidConvergence(t *testing.T) {
	const ns, n = "restart", 500
	newNamespace(t, ns)
	w := watchSecrets(t, ns, "token")
	// Slow the cloud a little so the first manager is stopped mid-way.
	sim.SetLatency(40 * time.Millisecond)
	t.Cleanup(func() { sim.SetLatency(0) })
	createTokens(t, ns, n)
	start := time.Now()

	// The first manager does not release its Lease, as after a crash: the
	// second waits for it to expire.
	first := startManager(t, "manager-restart-1", managerOptions{leaderElection: true})
	eventually(t, 60*time.Second, "the first manager to write 100 Secrets", func() bool { return managedSecrets(t, ns) >= 100 })
	first.stop()
	atStop := readyTokens(t, ns)
	secretsAtStop := managedSecrets(t, ns)
	t.Logf("first manager stopped after %s with %d/%d objects Ready and %d Secrets", time.Since(start).Round(time.Millisecond), atStop, n, secretsAtStop)
	if atStop >= n || secretsAtStop >= n {
		t.Fatalf("the first manager converged everything before it was stopped; the test proves nothing")
	}

	restarted := time.Now()
	startManager(t, "manager-restart-2", managerOptions{leaderElection: true, releaseOnStop: true})
	eventually(t, 90*time.Second, fmt.Sprintf("all %d objects Ready after the restart", n), func() bool { return readyTokens(t, ns) == n })
	eventually(t, 10*time.Second, "every Secret to hold the token", func() bool { return managedSecrets(t, ns) == n })
	t.Logf("second manager converged the rest in %s", time.Since(restarted).Round(time.Millisecond))

	var list v1alpha1.DevEnvironmentTokenList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Items {
		if o.Namespace != ns {
			continue
		}
		if o.Status.SecretName != o.Name || o.Status.ObservedGeneration != o.Generation {
			t.Errorf("%s: secretName %q, observedGeneration %d/%d", o.Name, o.Status.SecretName, o.Status.ObservedGeneration, o.Generation)
		}
		var s corev1.Secret
		if err := k8s.Get(context.Background(), clientKey(ns, o.Name), &s); err != nil {
			t.Errorf("%s: %v", o.Name, err)
		} else if string(s.Data["token"]) != cloudsim.DefaultDevEnvToken {
			t.Errorf("%s: Secret holds the wrong token", o.Name)
		}
	}
	// The watch must have seen every Secret with its token (else it proves
	// nothing), and no loss.
	eventually(t, 10*time.Second, "the watch to see every Secret holding the token", func() bool { return w.seen() == n })
	w.check(t)
}

// seen is how many Secrets the watch has seen holding the token.
func (w *secretWatcher) seen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.had)
}
