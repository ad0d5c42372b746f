package cloudsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
)

const (
	proj      = DefaultProjectID
	otherProj = "0123456789abcdef0123456789abcdef"
)

type env struct {
	sim *Server
	ts  *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := New(DefaultFixture())
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		ts.Close()
	})
	return &env{sim: sim, ts: ts}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (e *env) do(t *testing.T, req *http.Request) resp {
	t.Helper()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func tokenBody(user, password, domain, project string) string {
	b, _ := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": domain}}}},
		"scope": map[string]any{"project": map[string]any{"id": project}},
	}})
	return string(b)
}

func (e *env) tokenResp(t *testing.T, body string) resp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v3/auth/tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	return e.do(t, req)
}

func (e *env) token(t *testing.T) string {
	t.Helper()
	r := e.tokenResp(t, tokenBody(DefaultUserName, DefaultPassword, DefaultDomainName, proj))
	if r.status != http.StatusCreated {
		t.Fatalf("token: status %d body %s", r.status, r.raw)
	}
	return r.header.Get("X-Subject-Token")
}

func (e *env) getWithToken(t *testing.T, path, tok string) resp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if tok != "" {
		req.Header.Set("X-Auth-Token", tok)
	}
	return e.do(t, req)
}

type signOpts struct {
	ak, sk, project, securityToken string
	now                            time.Time
}

func defaultSign() signOpts {
	return signOpts{ak: DefaultAccessKey, sk: DefaultSecretKey, project: proj, now: time.Now()}
}

func (e *env) signedRequest(t *testing.T, path string, o signOpts) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.project != "" {
		req.Header.Set(signer.HeaderProjectID, o.project)
	}
	if o.securityToken != "" {
		req.Header.Set(signer.HeaderSecurityToken, o.securityToken)
	}
	signer.Sign(req, nil, o.ak, o.sk, o.now)
	return req
}

func (e *env) getSigned(t *testing.T, path string) resp {
	t.Helper()
	return e.do(t, e.signedRequest(t, path, defaultSign()))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func postJSON(t *testing.T, client *http.Client, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, url, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}
