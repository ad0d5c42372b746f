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
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// secretWatcher watches the operator's Secrets in a namespace for the whole
// test and records each time one that held data is deleted or emptied (a key
// gone or blank).
type secretWatcher struct {
	mu         sync.Mutex
	had        map[string]bool
	keys       map[string]int // non-empty keys each Secret held at the most
	violations []string
}

func watchSecrets(t *testing.T, ns string) *secretWatcher {
	t.Helper()
	cs, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &secretWatcher{had: map[string]bool{}, keys: map[string]int{}}
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
		if s == nil || (!w.had[s.Name] && s.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue) {
			return // not (yet) one of the operator's Secrets
		}
		filled := 0
		for _, v := range s.Data {
			if len(v) > 0 {
				filled++
			}
		}
		switch {
		case deleted && w.had[s.Name]:
			w.violations = append(w.violations, fmt.Sprintf("%s: deleted at %s", s.Name, time.Now().Format(time.StampMilli)))
		case filled < w.keys[s.Name]:
			w.violations = append(w.violations, fmt.Sprintf("%s: %d of %d keys left at %s", s.Name, filled, w.keys[s.Name], time.Now().Format(time.StampMilli)))
		case filled > 0:
			w.had[s.Name] = true
			w.keys[s.Name] = filled
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
// DevEnvironmentTokens (and ServiceAppAuths and RomaApps with Secrets of
// their own) and starts a new one: every object converges, and no Secret
// that held data is ever deleted or emptied.
func TestRestartMidConvergence(t *testing.T) {
	const ns, n, others = "restart", 500, 20
	newNamespace(t, ns)
	w := watchSecrets(t, ns)
	// Slow the cloud a little so the first manager is stopped mid-way.
	sim.SetLatency(40 * time.Millisecond)
	t.Cleanup(func() { sim.SetLatency(0) })
	createTokens(t, ns, n)
	appSecrets := createAppObjects(t, ns, others)
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
	eventually(t, 30*time.Second, "every ServiceAppAuth and RomaApp Ready with its Secret", func() bool {
		return readyAppObjects(t, ns) == 2*others
	})
	for _, name := range appSecrets {
		var s corev1.Secret
		if err := k8s.Get(context.Background(), clientKey(ns, name), &s); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if len(s.Data["app_key"]) == 0 {
			t.Errorf("%s: no app_key", name)
		}
	}
	// The watch must have seen every Secret with data (else it proves
	// nothing), and no loss.
	eventually(t, 10*time.Second, "the watch to see every Secret holding data", func() bool { return w.seen() == n+2*others })
	w.check(t)
}

// createAppObjects creates n ServiceAppAuths and n RomaApps, each with a
// Secret of its own, and returns those Secrets' names.
func createAppObjects(t *testing.T, ns string, n int) []string {
	t.Helper()
	account := v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: "acct"}}
	var secrets []string
	for i := range n {
		saa := &v1alpha1.ServiceAppAuth{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("svc-%02d", i)},
			Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: account, ServiceID: cloudsim.DefaultServiceID, SecretName: fmt.Sprintf("svc-%02d-apps", i)}}
		roma := &v1alpha1.RomaApp{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("roma-%02d", i)},
			Spec: v1alpha1.RomaAppSpec{MirrorSpec: account, InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID,
				SecretName: fmt.Sprintf("roma-%02d-key", i)}}
		for _, o := range []client.Object{saa, roma} {
			if err := k8s.Create(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
		secrets = append(secrets, saa.Spec.SecretName, roma.Spec.SecretName)
	}
	return secrets
}

// readyAppObjects counts the Ready and Synced ServiceAppAuths and RomaApps in ns.
func readyAppObjects(t *testing.T, ns string) int {
	t.Helper()
	var saas v1alpha1.ServiceAppAuthList
	var romas v1alpha1.RomaAppList
	for _, l := range []client.ObjectList{&saas, &romas} {
		if err := k8s.List(context.Background(), l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, o := range saas.Items {
		if readyAndSynced(o.Status.Conditions) {
			n++
		}
	}
	for _, o := range romas.Items {
		if readyAndSynced(o.Status.Conditions) {
			n++
		}
	}
	return n
}

// seen is how many Secrets the watch has seen holding the token.
func (w *secretWatcher) seen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.had)
}
