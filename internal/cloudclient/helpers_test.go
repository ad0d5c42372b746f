package cloudclient

import (
	"context"
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

// Credential values that must never show up in an error text.
const (
	testAK       = "AKTESTACCESSKEY0001"
	testSK       = "SKsecretValue-DoNotLeak-42"
	testSecToken = "SECURITYtoken-DoNotLeak-42"
	testUser     = "iam-user01"
	testPassword = "Pa55word-DoNotLeak-42"
	testDomain   = "example-domain"
	testProject  = "0123456789abcdef0123456789abcdef"
)

var secretValues = []string{testAK, testSK, testSecToken, testPassword}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeCloud serves IAM at /v3/auth/tokens and hands everything else to api.
type fakeCloud struct {
	t        *testing.T
	srv      *httptest.Server
	iamCalls atomic.Int32
	apiCalls atomic.Int32
	// tokenLife is how long issued tokens live, from clock (or real time).
	tokenLife time.Duration
	clock     *fakeClock
	iamDelay  time.Duration
	iam       http.HandlerFunc // optional replacement of the IAM handler

	mu  sync.Mutex
	api http.HandlerFunc
}

func newFakeCloud(t *testing.T, api http.HandlerFunc) *fakeCloud {
	t.Helper()
	f := &fakeCloud{t: t, api: api, tokenLife: 24 * time.Hour}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloud) setAPI(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.api = h
}

func (f *fakeCloud) now() time.Time {
	if f.clock != nil {
		return f.clock.Now()
	}
	return time.Now()
}

func (f *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v3/auth/tokens" {
		n := f.iamCalls.Add(1)
		if f.iamDelay > 0 {
			time.Sleep(f.iamDelay)
		}
		if f.iam != nil {
			f.iam(w, r)
			return
		}
		f.checkIAMRequest(r)
		w.Header().Set("X-Subject-Token", fmt.Sprintf("token-%d", n))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		exp := f.now().Add(f.tokenLife).UTC().Format("2006-01-02T15:04:05.000000Z")
		fmt.Fprintf(w, `{"token":{"expires_at":%q,"methods":["password"],"catalog":[]}}`, exp)
		return
	}
	f.apiCalls.Add(1)
	f.mu.Lock()
	h := f.api
	f.mu.Unlock()
	h(w, r)
}

func (f *fakeCloud) checkIAMRequest(r *http.Request) {
	t := f.t
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost {
		t.Errorf("IAM method %s, want POST", r.Method)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json;charset=utf8" {
		t.Errorf("IAM Content-Type %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != "modelarts-operator" {
		t.Errorf("IAM User-Agent %q", got)
	}
	if r.URL.RawQuery != "" {
		t.Errorf("IAM query %q, want none", r.URL.RawQuery)
	}
	want := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + testUser +
		`","password":"` + testPassword + `","domain":{"name":"` + testDomain + `"}}}},"scope":{"project":{"id":"` + testProject + `"}}}}`
	if string(body) != want {
		t.Errorf("IAM body\n got %s\nwant %s", body, want)
	}
}

func (f *fakeCloud) url() string { return f.srv.URL }

// endpointsAll points every service at url.
func endpointsAll(url string) Endpoints { return Endpoints{IAM: url, ModelArts: url, ROMA: url} }

func akskConfig(url string) Config {
	return Config{
		Cloud: HuaweiCloud, Region: "cn-north-4", ProjectID: testProject,
		Endpoints: endpointsAll(url), AllowInsecureHTTP: true, RequestsPerSecond: 1000, Burst: 1000,
		Credentials: Credentials{AccessKey: testAK, SecretKey: testSK, SecurityToken: testSecToken},
	}
}

func passwordConfig(url string) Config {
	return Config{
		Cloud: HuaweiCloud, Region: "cn-north-4", ProjectID: testProject,
		Endpoints: endpointsAll(url), AllowInsecureHTTP: true, RequestsPerSecond: 1000, Burst: 1000,
		Credentials: Credentials{UserName: testUser, Password: testPassword, DomainName: testDomain},
	}
}

func mustClient(t *testing.T, p *Pool, cfg Config) *Client {
	t.Helper()
	c, err := p.Client(cfg)
	if err != nil {
		t.Fatalf("Pool.Client: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// verifyAKSK checks a received request's common headers and its signature.
func verifyAKSK(t *testing.T, r *http.Request) {
	t.Helper()
	body, _ := io.ReadAll(r.Body)
	auth, err := signer.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Errorf("Authorization header: %v", err)
		return
	}
	if auth.AccessKey != testAK {
		t.Errorf("signed with access key %q", auth.AccessKey)
	}
	for _, h := range []string{"host", "x-project-id", "x-sdk-date", "x-security-token"} {
		if !strings.Contains(";"+strings.Join(auth.SignedHeaders, ";")+";", ";"+h+";") {
			t.Errorf("header %s not signed: %v", h, auth.SignedHeaders)
		}
	}
	if !signer.Verify(r, body, auth, testSK) {
		t.Errorf("signature does not verify for %s %s", r.Method, r.URL)
	}
	if r.Header.Get("X-Auth-Token") != "" {
		t.Errorf("AK/SK request carries X-Auth-Token")
	}
	checkCommonHeaders(t, r)
	if got := r.Header.Get("X-Security-Token"); got != testSecToken {
		t.Errorf("X-Security-Token %q", got)
	}
}

func checkCommonHeaders(t *testing.T, r *http.Request) {
	t.Helper()
	if r.Method != http.MethodGet {
		t.Errorf("method %s, want GET", r.Method)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != "modelarts-operator" {
		t.Errorf("User-Agent %q", got)
	}
	if got := r.Header.Get("X-Project-Id"); got != testProject {
		t.Errorf("X-Project-Id %q", got)
	}
}

// checkNoSecrets fails if err's text holds a credential or token value.
func checkNoSecrets(t *testing.T, err error, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range append(append([]string{}, secretValues...), extra...) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error text %q contains secret value %q", msg, s)
		}
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	return e
}

var bg = context.Background()
