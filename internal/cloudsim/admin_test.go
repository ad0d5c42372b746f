package cloudsim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newAdmin(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	as := httptest.NewServer(e.sim.AdminHandler())
	t.Cleanup(as.Close)
	return as
}

func TestAdminRoundTrips(t *testing.T) {
	cases := []struct {
		reason     string
		method     string
		path       string
		body       string
		wantStatus int
		verify     func(t *testing.T, e *env, raw []byte)
	}{
		{"healthz", "GET", "/admin/healthz", "", 200, nil},
		{"inject a fault", "PUT", "/admin/faults/workspace", `{"status":429,"retry_after":"1s","times":1}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				r := e.getSigned(t, wsPath)
				if r.status != 429 || r.header.Get("Retry-After") != "1" {
					t.Errorf("got %d", r.status)
				}
				if r := e.getSigned(t, wsPath); r.status != 200 {
					t.Errorf("fault not used up: %d", r.status)
				}
			}},
		{"append a fault", "POST", "/admin/faults/devenv_token", `{"malformed":true}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if f := e.sim.Faults()[APIDevEnvToken]; len(f) != 1 || !f[0].Malformed {
					t.Errorf("faults %+v", f)
				}
			}},
		{"fault for an unknown API", "PUT", "/admin/faults/nope", `{"status":500}`, 404, nil},
		{"fault with a bad body", "PUT", "/admin/faults/workspace", `{"latency":"soon"}`, 400, nil},
		{"set latency", "POST", "/admin/latency", `{"latency":"25ms"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if e.sim.Latency() != 25*time.Millisecond {
					t.Errorf("latency %v", e.sim.Latency())
				}
			}},
		{"set workspace status", "PUT", "/admin/workspaces/" + proj + "/" + DefaultWorkspaceID + "/status", `{"status":"DELETING"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if r := e.getSigned(t, wsPath); r.body["status"] != "DELETING" {
					t.Errorf("status %v", r.body["status"])
				}
			}},
		{"status of a missing workspace", "PUT", "/admin/workspaces/" + proj + "/nope/status", `{"status":"DELETING"}`, 404, nil},
		{"rotate a dev-environment token", "POST", "/admin/devenv/" + proj + "/" + DefaultDevEnvInstance + "/rotate", "", 200,
			func(t *testing.T, e *env, raw []byte) {
				var body map[string]string
				_ = json.Unmarshal(raw, &body)
				r := e.getSigned(t, devenvPath)
				if body["token"] == "" || body["token"] == DefaultDevEnvToken || r.body["token"] != body["token"] {
					t.Errorf("admin %s, API %s", raw, r.raw)
				}
			}},
		{"rotate a missing instance", "POST", "/admin/devenv/" + proj + "/nope/rotate", "", 404, nil},
		{"add a service app", "POST", "/admin/services/" + proj + "/" + DefaultServiceID + "/apps",
			`{"app_id":"new-app","app_key":"k","app_secret":"s","app_codes":["c"],"app_type":"APIC"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				r := e.getSigned(t, svcPath)
				apps := r.body["app_auth_api"].(map[string]any)["authed_apps"].([]any)
				last := apps[len(apps)-1].(map[string]any)
				if len(apps) != 2 || last["app_id"] != "new-app" || last["project_id"] != proj {
					t.Errorf("apps %v", apps)
				}
			}},
		{"remove a service app", "DELETE", "/admin/services/" + proj + "/" + DefaultServiceID + "/apps/" + DefaultServiceAppID, "", 200,
			func(t *testing.T, e *env, _ []byte) {
				r := e.getSigned(t, svcPath)
				apps := r.body["app_auth_api"].(map[string]any)["authed_apps"].([]any)
				if len(apps) != 0 {
					t.Errorf("apps %v", apps)
				}
			}},
		{"remove a missing service app", "DELETE", "/admin/services/" + proj + "/" + DefaultServiceID + "/apps/nope", "", 404, nil},
		{"authorization settings", "PUT", "/admin/authorizations/settings", `{"record_offsets":true,"list_field":"content"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if rec, field := e.sim.AuthorizationSettings(); !rec || field != "content" {
					t.Errorf("settings %v %v", rec, field)
				}
			}},
		{"bad list field", "PUT", "/admin/authorizations/settings", `{"list_field":"items"}`, 400, nil},
		{"generate authorizations", "POST", "/admin/authorizations/" + proj + "/generate", `{"count":2500}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if r := e.getSigned(t, authPath+"?limit=1"); num(r.body["total_count"]) != 2500 {
					t.Errorf("total %v", r.body["total_count"])
				}
			}},
		{"revoke tokens", "POST", "/admin/revoke-tokens", "", 200, nil},
		{"token TTL", "PUT", "/admin/token-ttl", `{"ttl":"1m"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				r := e.tokenResp(t, tokenBody(DefaultUserName, DefaultPassword, DefaultDomainName, proj))
				exp, _ := time.Parse(iamTimeLayout, str(r.body["token"].(map[string]any)["expires_at"]))
				if d := time.Until(exp); d > time.Minute || d < 50*time.Second {
					t.Errorf("expires in %v", d)
				}
			}},
		{"clock offset makes signatures stale", "PUT", "/admin/clock", `{"offset":"-20m"}`, 200,
			func(t *testing.T, e *env, _ []byte) {
				if r := e.getSigned(t, wsPath); r.status != 401 {
					t.Errorf("status %d", r.status)
				}
			}},
		{"unknown admin endpoint", "GET", "/admin/nope", "", 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			as := newAdmin(t, e)
			status, raw := postJSON(t, as.Client(), tc.method, as.URL+tc.path, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d %s", status, raw)
			}
			if status != 200 && !strings.Contains(string(raw), `"error"`) {
				t.Errorf("admin error body %s", raw)
			}
			if tc.verify != nil {
				tc.verify(t, e, raw)
			}
		})
	}
}

func TestAdminRevokeTokens(t *testing.T) {
	e := newEnv(t)
	as := newAdmin(t, e)
	tok := e.token(t)
	if r := e.getWithToken(t, wsPath, tok); r.status != 200 {
		t.Fatalf("before revoke: %d", r.status)
	}
	if status, raw := postJSON(t, as.Client(), "POST", as.URL+"/admin/revoke-tokens", ""); status != 200 {
		t.Fatalf("revoke %d %s", status, raw)
	}
	if r := e.getWithToken(t, wsPath, tok); r.status != 401 || r.body["error_code"] != "APIGW.0301" {
		t.Fatalf("after revoke: %d %s", r.status, r.raw)
	}
}

func TestAdminFixtureRoundTrip(t *testing.T) {
	e := newEnv(t)
	as := newAdmin(t, e)
	res, err := as.Client().Get(as.URL + "/admin/fixture")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	f, err := ParseFixture(raw)
	if err != nil {
		t.Fatal(err)
	}
	f.Projects[proj].Workspaces[0].Name = "renamed"
	f.Projects[proj].DevEnvInstances["extra"] = DevEnvInstance{Token: "t2"}
	data, _ := f.Marshal()
	if status, raw := postJSON(t, as.Client(), "PUT", as.URL+"/admin/fixture", string(data)); status != 200 {
		t.Fatalf("put %d %s", status, raw)
	}
	if r := e.getSigned(t, wsPath); r.body["name"] != "renamed" {
		t.Errorf("workspace %s", r.raw)
	}
	if r := e.getSigned(t, "/v1/"+proj+"/demanager/instances/extra/token"); r.body["token"] != "t2" {
		t.Errorf("devenv %s", r.raw)
	}
	if status, _ := postJSON(t, as.Client(), "PUT", as.URL+"/admin/fixture", `{"nope":1}`); status != 400 {
		t.Errorf("bad fixture accepted: %d", status)
	}
}

func TestCounters(t *testing.T) {
	e := newEnv(t)
	as := newAdmin(t, e)
	tok := e.token(t)
	e.getWithToken(t, wsPath, tok)
	e.getWithToken(t, wsPath, "forged") // unauthenticated requests count too
	e.getSigned(t, "/v1/"+proj+"/workspaces/0")
	e.getSigned(t, authPath)
	e.getSigned(t, svcPath)
	e.getSigned(t, romaPath)
	e.getSigned(t, devenvPath)
	e.getSigned(t, "/v1/"+proj+"/demanager/instances/missing/token")
	e.sim.InjectFault(APIRomaApp, Fault{Status: 500, Times: 1})
	e.getSigned(t, romaPath) // faulted requests count too

	cases := []struct {
		reason string
		api    API
		id     string
		want   int
	}{
		{"IAM tokens by total", APIIAMToken, "", 1},
		{"IAM tokens by scoped project", APIIAMToken, proj, 1},
		{"workspaces in total, authenticated or not", APIWorkspace, "", 3},
		{"one workspace id", APIWorkspace, DefaultWorkspaceID, 2},
		{"default workspace id", APIWorkspace, "0", 1},
		{"authorizations per project", APIAuthorizations, proj, 1},
		{"service per service id", APIServiceAPIAuths, DefaultServiceID, 1},
		{"ROMA per app id, incl. a faulted request", APIRomaApp, DefaultRomaAppID, 2},
		{"dev-environment per instance", APIDevEnvToken, DefaultDevEnvInstance, 1},
		{"dev-environment missing instance", APIDevEnvToken, "missing", 1},
		{"dev-environment total", APIDevEnvToken, "", 2},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			got := e.sim.Requests(tc.api)
			if tc.id != "" {
				got = e.sim.RequestsFor(tc.api, tc.id)
			}
			if got != tc.want {
				t.Errorf("got %d want %d", got, tc.want)
			}
		})
	}
	if e.sim.IssuedTokens() != 1 {
		t.Errorf("IssuedTokens %d", e.sim.IssuedTokens())
	}

	res, err := as.Client().Get(as.URL + "/admin/requests")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		APIs         map[API]RequestCounts `json:"apis"`
		IssuedTokens int                   `json:"issued_tokens"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if body.APIs[APIWorkspace].Total != 3 || body.APIs[APIWorkspace].ByID[DefaultWorkspaceID] != 2 || body.IssuedTokens != 1 {
		t.Errorf("admin requests %+v", body)
	}
	if status, _ := postJSON(t, as.Client(), "POST", as.URL+"/admin/reset-counters", ""); status != 200 {
		t.Fatal("reset")
	}
	for _, a := range APIs {
		if e.sim.Requests(a) != 0 {
			t.Errorf("%s not reset", a)
		}
	}
	if e.sim.IssuedTokens() != 0 || e.sim.RequestsFor(APIWorkspace, DefaultWorkspaceID) != 0 {
		t.Error("reset incomplete")
	}
}

func TestMutators(t *testing.T) {
	cases := []struct {
		reason  string
		run     func(s *Server) error
		wantErr bool
	}{
		{"SetWorkspaceStatus on a missing project", func(s *Server) error { return s.SetWorkspaceStatus(otherProj, "0", "NORMAL") }, true},
		{"RotateDevEnvToken on a missing instance", func(s *Server) error { _, err := s.RotateDevEnvToken(proj, "nope"); return err }, true},
		{"AddServiceApp without app_id", func(s *Server) error { return s.AddServiceApp(proj, DefaultServiceID, AuthedApp{}) }, true},
		{"AddServiceApp creates a missing service", func(s *Server) error {
			if err := s.AddServiceApp(proj, "new-svc", AuthedApp{AppID: "a"}); err != nil {
				return err
			}
			if len(s.Fixture().Projects[proj].Services["new-svc"].AppAuthAPI.AuthedApps) != 1 {
				t.Error("service not created")
			}
			return nil
		}, false},
		{"AddServiceApp replaces an app with the same id", func(s *Server) error {
			if err := s.AddServiceApp(proj, DefaultServiceID, AuthedApp{AppID: DefaultServiceAppID, AppName: "n2"}); err != nil {
				return err
			}
			apps := s.Fixture().Projects[proj].Services[DefaultServiceID].AppAuthAPI.AuthedApps
			if len(apps) != 1 || apps[0].AppName != "n2" {
				t.Errorf("apps %+v", apps)
			}
			return nil
		}, false},
		{"RemoveServiceApp on a missing service", func(s *Server) error { return s.RemoveServiceApp(proj, "nope", "a") }, true},
		{"Update changes state under the lock", func(s *Server) error {
			s.Update(func(f *Fixture) { f.Projects[otherProj] = &Project{} })
			if s.Fixture().Projects[otherProj].Services == nil {
				t.Error("Update result not normalized")
			}
			return nil
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			s := New(nil)
			if err := tc.run(s); (err != nil) != tc.wantErr {
				t.Errorf("err %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestSelfSignedTLS(t *testing.T) {
	cases := []struct {
		reason string
		hosts  []string
		dial   string // host name to verify against
		wantOK bool
	}{
		{"localhost is always included", nil, "localhost", true},
		{"extra DNS name", []string{"cloudsim.default.svc"}, "cloudsim.default.svc", true},
		{"extra IP", []string{"10.1.2.3"}, "10.1.2.3", true},
		{"other names are refused", nil, "example.com", false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			cfg, caPEM, err := SelfSignedTLS(tc.hosts)
			if err != nil {
				t.Fatal(err)
			}
			sim := New(nil)
			ts := httptest.NewUnstartedServer(sim)
			ts.TLS = cfg
			ts.StartTLS()
			defer ts.Close()
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(caPEM) {
				t.Fatal("CA PEM not parseable")
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: tc.dial}}}
			res, err := client.Get(ts.URL + "/v1/" + proj + "/workspaces/0")
			if (err == nil) != tc.wantOK {
				t.Fatalf("err %v, wantOK %v", err, tc.wantOK)
			}
			if err == nil {
				res.Body.Close()
				if res.StatusCode != 401 { // reached the simulator, unauthenticated
					t.Errorf("status %d", res.StatusCode)
				}
			}
		})
	}
}
