package controller

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// TestAccountsRevisionAndListeners: the revision moves exactly when the
// registered configuration changes (other than its rate limit), never repeats after a re-registration,
// and listeners hear of every change and deletion, not of a same-config Set.
func TestAccountsRevisionAndListeners(t *testing.T) {
	a := NewAccounts(cloudclient.NewPool(cloudclient.Options{}))
	key := types.NamespacedName{Namespace: "ns", Name: "acct"}
	var heard []types.NamespacedName
	stop := a.Listen(func(k types.NamespacedName) { heard = append(heard, k) })

	cfg := cloudclient.Config{Region: "cn-north-4", ProjectID: "p", Credentials: cloudclient.Credentials{AccessKey: "ak", SecretKey: "sk"}}
	if a.Revision(key) != 0 {
		t.Fatal("an unregistered account has revision 0")
	}
	a.Set(key, cfg)
	r1 := a.Revision(key)
	a.Set(key, cfg)
	if a.Revision(key) != r1 {
		t.Error("the same configuration again moved the revision")
	}
	limited := cfg
	limited.RequestsPerSecond, limited.Burst = 2, 4
	a.Set(key, limited)
	if a.Revision(key) != r1 {
		t.Error("a new rate limit alone moved the revision")
	}
	if _, rev, err := a.Client(key); err != nil || rev != r1 {
		t.Errorf("Client: revision %d, %v; want %d", rev, err, r1)
	}
	fixed := cfg
	fixed.Credentials.SecretKey = "sk2"
	a.Set(key, fixed)
	r2 := a.Revision(key)
	if r2 == r1 || r2 == 0 {
		t.Errorf("a changed Secret key kept revision %d", r2)
	}
	a.Delete(key)
	if a.Revision(key) != 0 {
		t.Error("a deleted account keeps a revision")
	}
	a.Delete(key) // not registered: nothing to hear
	a.Set(key, fixed)
	if r3 := a.Revision(key); r3 == r1 || r3 == r2 || r3 == 0 {
		t.Errorf("re-registration repeated an old revision: %d (had %d, %d)", r3, r1, r2)
	}
	if want := []types.NamespacedName{key, key, key, key}; !reflect.DeepEqual(heard, want) {
		t.Errorf("heard %v, want register, change, delete, re-register", heard)
	}
	stop()
	a.Delete(key)
	if len(heard) != 4 {
		t.Error("a stopped listener still hears")
	}
}
