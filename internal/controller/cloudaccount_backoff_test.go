package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

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
