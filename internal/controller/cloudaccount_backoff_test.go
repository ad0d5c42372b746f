package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// TestCloudAccountBackoff: an account whose check fails transiently is
// retried after 2s, doubling per consecutive failure up to 5 minutes (±10%
// jitter), or after the cloud's Retry-After (plus up to 10%) when IAM
// throttles it.
func TestCloudAccountBackoff(t *testing.T) {
	r := &CloudAccountReconciler{}
	key := types.NamespacedName{Namespace: "ns", Name: "acct"}
	down := &cloudclient.Error{API: cloudclient.APIIAMToken, StatusCode: 503, Reason: cloudclient.ReasonCloudError}
	within := func(got, want time.Duration) bool {
		return got >= want-want/10 && got <= want+want/10
	}
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute} {
		if got := r.retryAfter(key, down); !within(got, want) {
			t.Errorf("failure %d: retry after %s, want %s ±10%%", i+1, got, want)
		}
	}
	throttled := &cloudclient.Error{API: cloudclient.APIIAMToken, StatusCode: 429, Reason: cloudclient.ReasonThrottled, RetryAfter: 42 * time.Second}
	if got := r.retryAfter(key, throttled); got < 42*time.Second || got > 42*time.Second*11/10 {
		t.Errorf("throttled: retry after %s, want the Retry-After 42s plus up to 10%%", got)
	}
	other := types.NamespacedName{Namespace: "ns", Name: "other"}
	if got := r.retryAfter(other, down); !within(got, 2*time.Second) {
		t.Errorf("another account starts its own backoff: %s", got)
	}
}

// TestKeptStatus: a transient check failure keeps the status of the
// registration that still serves, only for the current generation and only
// while the token it reported is valid; anything else is reported.
func TestKeptStatus(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "acct"}
	transient := accountCheck{retryable: &cloudclient.Error{API: cloudclient.APIIAMToken, StatusCode: 500, Reason: cloudclient.ReasonCloudError}}
	good := v1alpha1.CloudAccountStatus{ObservedGeneration: 2, AuthMethod: string(cloudclient.AuthPassword),
		TokenExpiresAt: &metav1.Time{Time: time.Now().Add(time.Hour)}}
	expired := *good.DeepCopy()
	expired.TokenExpiresAt = &metav1.Time{Time: time.Now().Add(-time.Second)}
	cases := []struct {
		reason     string
		registered bool
		reg        *registration
		generation int64
		check      accountCheck
		wantKept   bool
	}{
		{"transient failure, same generation: kept", true, &registration{2, good}, 2, transient, true},
		{"a check that did not fail transiently is reported", true, &registration{2, good}, 2, accountCheck{ready: true}, false},
		{"registered for an older spec: reported", true, &registration{1, good}, 2, transient, false},
		{"its token has expired: reported", true, &registration{2, expired}, 2, transient, false},
		{"not in the registry (new process): reported", false, &registration{2, good}, 2, transient, false},
		{"never registered: reported", true, nil, 2, transient, false},
	}
	for _, tc := range cases {
		r := &CloudAccountReconciler{Accounts: NewAccounts(cloudclient.NewPool(cloudclient.Options{}))}
		if tc.registered {
			r.Accounts.Set(key, cloudclient.Config{Region: "cn-north-4", ProjectID: "p"})
		}
		if tc.reg != nil {
			r.registered = map[types.NamespacedName]registration{key: *tc.reg}
		}
		got, kept := r.keptStatus(key, tc.generation, tc.check)
		if kept != tc.wantKept {
			t.Errorf("%s: kept %v", tc.reason, kept)
		}
		if kept && got.TokenExpiresAt.Time != good.TokenExpiresAt.Time {
			t.Errorf("%s: kept status %+v, want the registration's", tc.reason, got)
		}
	}
}
