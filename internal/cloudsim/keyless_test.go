package cloudsim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer = "https://kubernetes.default.svc"
	testSub    = "system:serviceaccount:team-a:modelarts"
)

// issuerKeys is a signing key and its public JWKS, as an API server has.
func issuerKeys(t *testing.T, kid string) (jose.Signer, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	return signer, jwks
}

func signJWT(t *testing.T, s jose.Signer, c jwt.Claims) string {
	t.Helper()
	raw, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) exchange(t *testing.T, idp, token, project string) resp {
	t.Helper()
	body := `{"auth":{"id_token":{"id":"` + token + `"},"scope":{"project":{"id":"` + project + `"}}}}`
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v3.0/OS-AUTH/id-token/tokens", strings.NewReader(body))
	req.Header.Set("X-Idp-Id", idp)
	return e.do(t, req)
}

func TestIDTokenExchange(t *testing.T) {
	e := newEnv(t)
	signer, jwks := issuerKeys(t, "k1")
	other, _ := issuerKeys(t, "k1")
	e.sim.SetJWKS(func() ([]byte, error) { return jwks, nil })
	e.sim.Update(func(f *Fixture) {
		f.IdentityProviders = []IdentityProvider{{ID: "idp1", Issuer: testIssuer, ClientID: "sts.example",
			Subjects: map[string][]string{testSub: {proj}}}}
	})
	now := time.Now()
	good := jwt.Claims{Issuer: testIssuer, Subject: testSub, Audience: jwt.Audience{"sts.example"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	with := func(edit func(*jwt.Claims)) jwt.Claims { c := good; edit(&c); return c }

	cases := []struct {
		reason, idp, token, project string
		status                      int
	}{
		{"accepted", "idp1", signJWT(t, signer, good), proj, http.StatusCreated},
		{"unknown identity provider", "idp2", signJWT(t, signer, good), proj, http.StatusNotFound},
		{"signed by another key", "idp1", signJWT(t, other, good), proj, http.StatusUnauthorized},
		{"wrong issuer", "idp1", signJWT(t, signer, with(func(c *jwt.Claims) { c.Issuer = "https://evil" })), proj, http.StatusUnauthorized},
		{"wrong audience", "idp1", signJWT(t, signer, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"other"} })), proj, http.StatusUnauthorized},
		{"expired", "idp1", signJWT(t, signer, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), proj, http.StatusUnauthorized},
		{"unmapped subject", "idp1", signJWT(t, signer, with(func(c *jwt.Claims) { c.Subject = "system:serviceaccount:team-b:modelarts" })), proj, http.StatusForbidden},
		{"project not mapped", "idp1", signJWT(t, signer, good), otherProj, http.StatusForbidden},
		{"not a JWT", "idp1", "not-a-jwt", proj, http.StatusUnauthorized},
	}
	for _, c := range cases {
		r := e.exchange(t, c.idp, c.token, c.project)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.reason, r.status, c.status, r.raw)
		}
		if strings.Contains(string(r.raw), c.token) {
			t.Errorf("%s: the answer quotes the token", c.reason)
		}
		if c.status != http.StatusCreated {
			continue
		}
		tok := r.header.Get("X-Subject-Token")
		if got := e.getWithToken(t, "/v1/"+proj+"/workspaces/"+DefaultWorkspaceID, tok); got.status != http.StatusOK {
			t.Errorf("the federated token is refused: %d %s", got.status, got.raw)
		}
	}
	if e.sim.FederatedTokens() != 1 {
		t.Errorf("%d federated tokens issued, want 1", e.sim.FederatedTokens())
	}
}

func TestMetadataCredentialsRotateAndExpire(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e.sim.SetClock(func() time.Time { return now })
	e.sim.SetTempCredentialLifetime(time.Hour, 10*time.Minute)
	fetch := func() map[string]string {
		req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/meta-data/latest/api/token", nil)
		req.Header.Set("X-Metadata-Token-Ttl-Seconds", "21600")
		session := string(e.do(t, req).raw)
		req, _ = http.NewRequest(http.MethodGet, e.ts.URL+"/openstack/latest/securitykey", nil)
		req.Header.Set("X-Metadata-Token", session)
		r := e.do(t, req)
		if r.status != http.StatusOK {
			t.Fatalf("securitykey: %d %s", r.status, r.raw)
		}
		var w struct{ Credential map[string]string }
		_ = json.Unmarshal(r.raw, &w)
		return w.Credential
	}
	call := func(c map[string]string) int {
		o := signOpts{ak: c["access"], sk: c["secret"], securityToken: c["securitytoken"], project: proj, now: now}
		return e.do(t, e.signedRequest(t, "/v1/"+proj+"/workspaces/"+DefaultWorkspaceID, o)).status
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/openstack/latest/securitykey", nil)
	if r := e.do(t, req); r.status != http.StatusUnauthorized {
		t.Errorf("securitykey without a session token: %d", r.status)
	}
	first := fetch()
	if call(first) != http.StatusOK {
		t.Fatal("fresh temporary credentials refused")
	}
	noToken := map[string]string{"access": first["access"], "secret": first["secret"]}
	if call(noToken) != http.StatusUnauthorized {
		t.Error("temporary credentials accepted without X-Security-Token")
	}
	now = now.Add(45 * time.Minute)
	if fetch()["access"] != first["access"] {
		t.Error("rotated before rotateBefore")
	}
	now = now.Add(6 * time.Minute) // 9 minutes before expiry
	second := fetch()
	if second["access"] == first["access"] {
		t.Error("not rotated within rotateBefore")
	}
	if call(first) != http.StatusOK || call(second) != http.StatusOK {
		t.Error("old and new credentials must both work until the old expire")
	}
	now = now.Add(9 * time.Minute)
	if call(first) != http.StatusUnauthorized {
		t.Error("expired temporary credentials accepted")
	}
	if e.sim.ExpiredTempCredentialUses() != 1 {
		t.Errorf("expired uses %d", e.sim.ExpiredTempCredentialUses())
	}
}

func TestJWKSFromURL(t *testing.T) {
	_, jwks := issuerKeys(t, "k1")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openid/v1/jwks" || r.Header.Get("Authorization") != "Bearer reader-token" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	src, err := JWKSFromURL(srv.URL+"/openid/v1/jwks", ca, func() string { return "reader-token" })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := src(); err != nil || string(got) != string(jwks) {
		t.Fatalf("JWKS %q, %v", got, err)
	}
	wrong, _ := JWKSFromURL(srv.URL+"/openid/v1/jwks", ca, func() string { return "other" })
	if _, err := wrong(); err == nil {
		t.Error("a refused fetch must fail")
	}
	untrusted, _ := JWKSFromURL(srv.URL+"/openid/v1/jwks", nil, func() string { return "reader-token" })
	if _, err := untrusted(); err == nil {
		t.Error("an untrusted certificate must fail")
	}
}
