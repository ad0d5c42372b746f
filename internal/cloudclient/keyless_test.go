package cloudclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
)

const (
	testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig-DoNotLeak-42"
	testIdP = "cce-oidc-provider"
)

const workspaceBody = `{"id":"0","name":"default","status":"NORMAL"}`

func workloadConfig(url string) Config {
	return Config{
		Cloud: HuaweiCloud, Region: "cn-north-4", ProjectID: testProject,
		Endpoints: endpointsAll(url), AllowInsecureHTTP: true, RequestsPerSecond: 1000, Burst: 1000,
		WorkloadIdentity: &WorkloadIdentity{Namespace: "team-a", ServiceAccount: "modelarts", Audience: "sts.example",
			ExpirationSeconds: 3600, IdentityProviderID: testIdP},
	}
}

// TestWorkloadIdentityExchangesOncePerTokenLifetime: concurrent calls share
// one TokenRequest and one IAM exchange; the request is the documented one.
func TestWorkloadIdentityExchangesOncePerTokenLifetime(t *testing.T) {
	var exchanges, saTokens atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3.0/OS-AUTH/id-token/tokens" {
			exchanges.Add(1)
			body, _ := io.ReadAll(r.Body)
			want := `{"auth":{"id_token":{"id":"` + testJWT + `"},"scope":{"project":{"id":"` + testProject + `"}}}}`
			if r.Method != http.MethodPost || string(body) != want {
				t.Errorf("exchange %s body %s", r.Method, body)
			}
			if got := r.Header.Get("X-Idp-Id"); got != testIdP {
				t.Errorf("X-Idp-Id %q", got)
			}
			w.Header().Set("X-Subject-Token", "fed-token-1")
			writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"token":{"expires_at":%q,"methods":["mapped"]}}`,
				time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)))
			return
		}
		if got := r.Header.Get("X-Auth-Token"); got != "fed-token-1" {
			t.Errorf("X-Auth-Token %q", got)
		}
		writeJSON(w, http.StatusOK, workspaceBody)
	}))
	defer srv.Close()
	p := NewPool(Options{ServiceAccountToken: func(_ context.Context, ns, name, aud string, exp int64) (string, error) {
		saTokens.Add(1)
		if ns != "team-a" || name != "modelarts" || aud != "sts.example" || exp != 3600 {
			t.Errorf("TokenRequest for %s/%s aud %s exp %d", ns, name, aud, exp)
		}
		return testJWT, nil
	}})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mustClient(t, p, workloadConfig(srv.URL))
			if _, err := c.GetWorkspace(bg, "0"); err != nil {
				t.Errorf("GetWorkspace: %v", err)
			}
		}()
	}
	wg.Wait()
	if exchanges.Load() != 1 || saTokens.Load() != 1 {
		t.Fatalf("%d exchanges, %d ServiceAccount tokens; want 1 each", exchanges.Load(), saTokens.Load())
	}
	c := mustClient(t, p, workloadConfig(srv.URL))
	if c.Method() != AuthWorkloadIdentity {
		t.Fatalf("method %s", c.Method())
	}
}

// TestWorkloadIdentityRejectedKeepsJWTOutOfErrors: IAM echoing the JWT in
// its error does not put it in the error text.
func TestWorkloadIdentityRejectedKeepsJWTOutOfErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, `{"error":{"code":401,"message":"bad id token `+testJWT+`","title":"Unauthorized"}}`)
	}))
	defer srv.Close()
	p := NewPool(Options{ServiceAccountToken: func(context.Context, string, string, string, int64) (string, error) {
		return testJWT, nil
	}})
	_, err := mustClient(t, p, workloadConfig(srv.URL)).GetWorkspace(bg, "0")
	if ReasonOf(err) != ReasonUnauthorized {
		t.Fatalf("reason %s (%v)", ReasonOf(err), err)
	}
	checkNoSecrets(t, err, testJWT)
}

// metadataServer simulates the metadata service: credentials live life and
// are replaced rotateBefore their expiry; the API accepts only unexpired ones.
type metadataServer struct {
	t            *testing.T
	clock        *fakeClock
	life         time.Duration
	rotateBefore time.Duration

	mu      sync.Mutex
	current int
	issued  map[string]time.Time // access key → expiry
	fetches int
	expired int // API calls signed with expired credentials
}

func (m *metadataServer) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	switch r.URL.Path {
	case "/meta-data/latest/api/token":
		if r.Method != http.MethodPut || r.Header.Get("X-Metadata-Token-Ttl-Seconds") == "" {
			t := m.t
			t.Errorf("session token request %s without TTL", r.Method)
		}
		io.WriteString(w, "session-1")
	case "/openstack/latest/securitykey":
		if r.Header.Get("X-Metadata-Token") != "session-1" {
			m.t.Errorf("X-Metadata-Token %q", r.Header.Get("X-Metadata-Token"))
		}
		m.fetches++
		ak := fmt.Sprintf("TEMPAK%04d", m.current)
		exp, ok := m.issued[ak]
		if !ok || !now.Before(exp.Add(-m.rotateBefore)) {
			m.current++
			ak = fmt.Sprintf("TEMPAK%04d", m.current)
			exp = now.Add(m.life)
			m.issued[ak] = exp
		}
		b, _ := json.Marshal(map[string]any{"credential": map[string]string{"access": ak, "secret": "sk-" + ak,
			"securitytoken": "st-" + ak, "expires_at": exp.Format(time.RFC3339Nano)}})
		w.Write(b)
	default:
		body, _ := io.ReadAll(r.Body)
		a, err := signer.ParseAuthorization(r.Header.Get("Authorization"))
		if err != nil || !signer.Verify(r, body, a, "sk-"+a.AccessKey) || r.Header.Get("X-Security-Token") != "st-"+a.AccessKey {
			writeJSON(w, http.StatusUnauthorized, `{"error_code":"APIGW.0301","error_msg":"bad signature"}`)
			return
		}
		if exp, ok := m.issued[a.AccessKey]; !ok || !now.Before(exp) {
			m.expired++
			writeJSON(w, http.StatusUnauthorized, `{"error_code":"APIGW.0301","error_msg":"expired"}`)
			return
		}
		writeJSON(w, http.StatusOK, workspaceBody)
	}
}

// TestInstanceMetadataRotation: over many lifetimes of short-lived
// credentials, no request is signed with expired ones and the metadata
// service is asked a few times per lifetime, not per request.
func TestInstanceMetadataRotation(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	m := &metadataServer{t: t, clock: clock, life: time.Hour, rotateBefore: 10 * time.Minute, issued: map[string]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	defer srv.Close()
	p := NewPool(Options{Now: clock.Now})
	cfg := Config{Region: "cn-north-4", ProjectID: testProject, Endpoints: endpointsAll(srv.URL), AllowInsecureHTTP: true,
		RequestsPerSecond: 1000, Burst: 1000, InstanceMetadata: &InstanceMetadata{Endpoint: srv.URL}}
	c := mustClient(t, p, cfg)
	if c.Method() != AuthInstanceMetadata {
		t.Fatalf("method %s", c.Method())
	}
	const steps = 6 * 60 // six hours, a call a minute
	for i := 0; i < steps; i++ {
		if _, err := c.GetWorkspace(bg, "0"); err != nil {
			t.Fatalf("call %d at %s: %v", i, clock.Now(), err)
		}
		clock.Advance(time.Minute)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.expired != 0 {
		t.Errorf("%d requests signed with expired credentials", m.expired)
	}
	if m.current < 6 || m.fetches > 3*m.current {
		t.Errorf("%d credentials issued, %d fetches over 6 hours", m.current, m.fetches)
	}
	info, err := c.Token(bg)
	if err != nil || info.ExpiresAt.IsZero() {
		t.Errorf("Token: %v %v", info, err)
	}
	if strings.Contains(fmt.Sprint(c), "sk-TEMPAK") {
		t.Errorf("client prints a temporary secret")
	}
}

// TestInstanceMetadataOutageNeverUsesExpired: with the metadata service
// down, cached credentials serve until just before expiry, then calls fail
// without being sent.
func TestInstanceMetadataOutageNeverUsesExpired(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	m := &metadataServer{t: t, clock: clock, life: time.Hour, rotateBefore: 10 * time.Minute, issued: map[string]time.Time{}}
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() && !strings.HasPrefix(r.URL.Path, "/v1/") {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		m.serve(w, r)
	}))
	defer srv.Close()
	p := NewPool(Options{Now: clock.Now})
	c := mustClient(t, p, Config{Region: "cn-north-4", ProjectID: testProject, Endpoints: endpointsAll(srv.URL),
		AllowInsecureHTTP: true, RequestsPerSecond: 1000, Burst: 1000, InstanceMetadata: &InstanceMetadata{Endpoint: srv.URL}})
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	clock.Advance(58 * time.Minute) // past renewal, before expiry
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatalf("cached credentials should still serve: %v", err)
	}
	clock.Advance(90 * time.Second) // 30s before expiry: no longer used
	_, err := c.GetWorkspace(bg, "0")
	if err == nil || asError(t, err).API != APIInstanceMetadata {
		t.Fatalf("want a metadata error, got %v", err)
	}
	if m.expired != 0 {
		t.Errorf("%d requests signed with expired credentials", m.expired)
	}
}
