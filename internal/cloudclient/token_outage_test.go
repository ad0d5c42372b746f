package cloudclient

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestCachedTokenOutlivesIAMOutage: while IAM is down, a cached token that is
// due for renewal but not expired keeps serving requests (renewal is retried
// at most every tokenRetryAfterFailure, not per request); once it expires,
// calls fail with CloudError without sending the expired token; when IAM is
// back, a new token is fetched.
func TestCachedTokenOutlivesIAMOutage(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	var down atomic.Bool
	var sent atomic.Value
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		sent.Store(r.Header.Get("X-Auth-Token"))
		writeJSON(w, 200, exampleWorkspace)
	})
	f.clock = clock
	var issued atomic.Int32
	f.iam = func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			writeJSON(w, 503, `{"error":{"code":"IAM.503","message":"unavailable","title":"x"}}`)
			return
		}
		w.Header().Set("X-Subject-Token", fmt.Sprintf("token-%d", issued.Add(1)))
		exp := clock.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z")
		writeJSON(w, 201, fmt.Sprintf(`{"token":{"expires_at":%q,"methods":["password"],"catalog":[]}}`, exp))
	}
	c := mustClient(t, NewPool(Options{Now: clock.Now, TokenRenewBefore: time.Hour}), passwordConfig(f.url()))

	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	down.Store(true)

	clock.Advance(23*time.Hour + 30*time.Minute) // renewal due, token valid for 30 more minutes
	for i := 0; i < 5; i++ {
		if _, err := c.GetWorkspace(bg, "0"); err != nil {
			t.Fatalf("call %d with IAM down and a valid cached token: %v", i, err)
		}
		if got := sent.Load(); got != "token-1" {
			t.Fatalf("sent token %v, want token-1", got)
		}
	}
	if info, err := c.Token(bg); err != nil || info.ExpiresAt.IsZero() {
		t.Fatalf("Token() with IAM down = %v, %v; want the cached token's expiry", info, err)
	}
	if got := f.iamCalls.Load(); got != 2 {
		t.Errorf("IAM calls during the outage = %d, want 2 (one failed renewal, then a pause)", got)
	}
	clock.Advance(tokenRetryAfterFailure)
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	if got := f.iamCalls.Load(); got != 3 {
		t.Errorf("IAM calls after the pause = %d, want 3", got)
	}

	clock.Advance(31 * time.Minute) // expired
	apiBefore := f.apiCalls.Load()
	_, err := c.GetWorkspace(bg, "0")
	if ReasonOf(err) != ReasonCloudError {
		t.Fatalf("after expiry with IAM down: %v, want CloudError", err)
	}
	if f.apiCalls.Load() != apiBefore {
		t.Error("an expired token was sent")
	}

	down.Store(false)
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatalf("IAM back: %v", err)
	}
	if got := sent.Load(); got != "token-2" {
		t.Errorf("sent %v, want the new token-2", got)
	}
}

// TestRejectedRenewalIsReported: IAM refusing the credentials (401)
// is not an outage; the error is returned as it is.
func TestRejectedRenewalIsReported(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, exampleWorkspace) })
	f.clock = clock
	var refuse atomic.Bool
	f.iam = func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			writeJSON(w, 401, `{"error":{"code":"IAM.0001","message":"bad password","title":"x"}}`)
			return
		}
		w.Header().Set("X-Subject-Token", "token-1")
		exp := clock.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z")
		writeJSON(w, 201, fmt.Sprintf(`{"token":{"expires_at":%q,"methods":["password"],"catalog":[]}}`, exp))
	}
	c := mustClient(t, NewPool(Options{Now: clock.Now}), passwordConfig(f.url()))
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	clock.Advance(23*time.Hour + 30*time.Minute)
	if _, err := c.GetWorkspace(bg, "0"); ReasonOf(err) != ReasonUnauthorized {
		t.Fatalf("renewal refused: %v, want Unauthorized", err)
	}
}
