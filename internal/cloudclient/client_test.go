package cloudclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAPIsAKSK calls every API with AK/SK credentials against a server that
// asserts the exact request and verifies the signature.
func TestAPIsAKSK(t *testing.T) {
	cases := []struct {
		reason string
		path   string
		query  string
		body   string
		call   func(*Client) (any, error)
		want   any
	}{
		{
			reason: "workspace by id, documented example body",
			path:   "/v1/" + testProject + "/workspaces/0", body: exampleWorkspace,
			call: func(c *Client) (any, error) { return c.GetWorkspace(bg, "0") },
			want: &Workspace{
				ID: "**d05d1a553b4e188ea878e7dcb85e**", Name: "test-workspace", Owner: "testUser",
				CreateTime: 1470000020000, UpdateTime: 1470000030000, AuthType: "INTERNAL",
				EnterpriseProjectID: "***b0091-887f-4839-9929-cbc884f1e***", EnterpriseProjectName: "test-eps",
				Status: "NORMAL", Grants: []Grant{{UserID: "***55d2cd53b4x458ea878e7dcb85***", UserName: "test-iam-user"}},
			},
		},
		{
			reason: "authorizations with sort and order, documented example",
			path:   "/v2/" + testProject + "/authorizations", query: "limit=1000&offset=0&order=desc&sort_by=create_time",
			body: exampleAuthorizations,
			call: func(c *Client) (any, error) { return c.ListAuthorizations(bg, "create_time", "desc") },
			want: &AuthorizationList{TotalCount: 1, Items: []Authorization{{
				UserID: "****d80fb058844ae8b82aa66d9fe****", UserName: "iam-user01", Type: "agency",
				Content: "modelarts_agency", CreateTime: 15657747821288,
			}}},
		},
		{
			reason: "authorizations without sort and order omit them from the query",
			path:   "/v2/" + testProject + "/authorizations", query: "limit=1000&offset=0",
			body: `{"total_count":0,"auth":[]}`,
			call: func(c *Client) (any, error) { return c.ListAuthorizations(bg, "", "") },
			want: &AuthorizationList{TotalCount: 0, Items: []Authorization{}},
		},
		{
			reason: "service api-auths with workspace_id",
			path:   "/v1/" + testProject + "/services/svc-1/api-auths", query: "workspace_id=ws-1",
			body: exampleServiceAPIAuths,
			call: func(c *Client) (any, error) { return c.GetServiceAPIAuths(bg, "svc-1", "ws-1") },
			want: &ServiceAPIAuths{EnableAppAuth: true, APIID: "string", Apps: []AuthedApp{{
				AppCodes: []string{"1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a"},
				AppID:    "54d9104db9e7418f9138980da63a857f", AppKey: "151f1f4dfb20445b97326bde3db0c515",
				AppName: "app_for_9332aab245ea4d56871e75d6966aa274", AppRemark: "app for user op_svc_modelarts_container0",
				AppSecret: "0080fa74e6214d0c8d1b2cb01d9d7708", AppType: "APIG", CreatedAt: 1574946998167,
				UpdatedAt: 1574946998167, ProjectID: "string", UserID: "9332aab245ea4d56871e75d6966aa274",
			}}},
		},
		{
			reason: "service api-auths without workspace_id sends no query",
			path:   "/v1/" + testProject + "/services/svc-1/api-auths",
			body:   `{"enable_app_auth":false}`,
			call:   func(c *Client) (any, error) { return c.GetServiceAPIAuths(bg, "svc-1", "") },
			want:   &ServiceAPIAuths{},
		},
		{
			reason: "ROMA app, documented example",
			path:   "/v2/" + testProject + "/instances/inst-1/apps/app-1", body: exampleRomaApp,
			call: func(c *Client) (any, error) { return c.GetRomaApp(bg, "inst-1", "app-1") },
			want: &RomaApp{
				ID: "b2e6b145-4f3f-4a80-aa45-f4b8029f95a3", Name: "AppName", Remark: "example",
				Roles:      []string{"read, access, delete, modify, admin"},
				CreateTime: "2019-12-06T06:49:04.000Z", UpdateTime: "2019-12-06T06:49:04.000Z",
				CreatedUser: RomaUser{"string", "string"}, LastUpdatedUser: RomaUser{"string", "string"},
				Owner: true, Key: "TEI95****f8UM", Favorite: true,
			},
		},
		{
			reason: "dev-environment token",
			path:   "/v1/" + testProject + "/demanager/instances/6fa459ea-ee8a-3ca4-894e-db77e160355e/token",
			body:   exampleDevEnvToken,
			call:   func(c *Client) (any, error) { return c.GetDevEnvToken(bg, "6fa459ea-ee8a-3ca4-894e-db77e160355e") },
			want:   "7211546f57cd432790643bb6612da19d",
		},
		{
			reason: "path parameters are escaped and the escaped path is signed",
			path:   "/v1/" + testProject + "/workspaces/a%2Fb%20c", body: `{"id":"a/b c"}`,
			call: func(c *Client) (any, error) { return c.GetWorkspace(bg, "a/b c") },
			want: &Workspace{ID: "a/b c"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
				verifyAKSK(t, r)
				if r.URL.EscapedPath() != tc.path {
					t.Errorf("path %q, want %q", r.URL.EscapedPath(), tc.path)
				}
				if r.URL.RawQuery != tc.query {
					t.Errorf("query %q, want %q", r.URL.RawQuery, tc.query)
				}
				writeJSON(w, http.StatusOK, tc.body)
			})
			c := mustClient(t, NewPool(Options{}), akskConfig(f.url()))
			if c.Method() != AuthAKSK {
				t.Errorf("Method() = %s", c.Method())
			}
			got, err := tc.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			if f.iamCalls.Load() != 0 {
				t.Errorf("AK/SK made %d IAM calls", f.iamCalls.Load())
			}
			if info, err := c.Token(bg); err != nil || !info.ExpiresAt.IsZero() {
				t.Errorf("AK/SK Token() = %v, %v; want zero, nil", info, err)
			}
		})
	}
}

// TestAKSKWithoutSecurityToken: no X-Security-Token header when none is configured.
func TestAKSKWithoutSecurityToken(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Security-Token"]; ok {
			t.Errorf("X-Security-Token sent without a security token")
		}
		writeJSON(w, 200, exampleDevEnvToken)
	})
	cfg := akskConfig(f.url())
	cfg.Credentials.SecurityToken = ""
	if _, err := mustClient(t, NewPool(Options{}), cfg).GetDevEnvToken(bg, "i"); err != nil {
		t.Fatal(err)
	}
}

func passwordAPI(t *testing.T, wantToken func(string) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		checkCommonHeaders(t, r)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("password request carries an Authorization header")
		}
		if tok := r.Header.Get("X-Auth-Token"); !wantToken(tok) {
			t.Errorf("X-Auth-Token %q", tok)
		}
		writeJSON(w, 200, exampleWorkspace)
	}
}

// TestPasswordTokenCached: one IAM call serves many requests and two Clients
// of the same credentials.
func TestPasswordTokenCached(t *testing.T) {
	f := newFakeCloud(t, nil)
	f.setAPI(passwordAPI(t, func(s string) bool { return s == "token-1" }))
	p := NewPool(Options{})
	c1 := mustClient(t, p, passwordConfig(f.url()))
	cfg2 := passwordConfig(f.url())
	cfg2.RequestsPerSecond = 500 // another Client, same credentials
	c2 := mustClient(t, p, cfg2)
	if c1 == c2 {
		t.Fatal("different configs share a Client")
	}
	if c1.Method() != AuthPassword {
		t.Errorf("Method() = %s", c1.Method())
	}
	for i := 0; i < 10; i++ {
		for _, c := range []*Client{c1, c2} {
			if _, err := c.GetWorkspace(bg, "0"); err != nil {
				t.Fatal(err)
			}
		}
	}
	info, err := c2.Token(bg)
	if err != nil || info.ExpiresAt.IsZero() {
		t.Fatalf("Token() = %v, %v", info, err)
	}
	if got := f.iamCalls.Load(); got != 1 {
		t.Errorf("IAM calls = %d, want 1", got)
	}
	if got := f.apiCalls.Load(); got != 20 {
		t.Errorf("API calls = %d, want 20", got)
	}
}

// TestPasswordTokenNotSharedAcrossProjects: the cache key includes the project.
func TestPasswordTokenNotSharedAcrossProjects(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, exampleWorkspace) })
	f.iam = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "t")
		writeJSON(w, 201, `{"token":{"expires_at":"`+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+`"}}`)
	}
	p := NewPool(Options{})
	cfg := passwordConfig(f.url())
	mustClient(t, p, cfg).Token(bg)
	cfg.ProjectID = "other-project"
	mustClient(t, p, cfg).Token(bg)
	cfg.Credentials.Password = "another-password"
	mustClient(t, p, cfg).Token(bg)
	if got := f.iamCalls.Load(); got != 3 {
		t.Errorf("IAM calls = %d, want 3", got)
	}
}

// TestPasswordConcurrentCoalesced: 50 goroutines, one IAM request.
func TestPasswordConcurrentCoalesced(t *testing.T) {
	f := newFakeCloud(t, nil)
	f.iamDelay = 100 * time.Millisecond
	f.setAPI(passwordAPI(t, func(s string) bool { return s == "token-1" }))
	p := NewPool(Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := p.Client(passwordConfig(f.url()))
			if err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				_, err = c.Token(bg)
			} else {
				_, err = c.GetWorkspace(bg, "0")
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.iamCalls.Load(); got != 1 {
		t.Errorf("IAM calls = %d, want 1", got)
	}
}

// TestTokenRenewal: a cached token is renewed TokenRenewBefore ahead of expiry.
func TestTokenRenewal(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeCloud(t, nil)
	f.clock = clock
	var want string
	var mu sync.Mutex
	f.setAPI(passwordAPI(t, func(s string) bool { mu.Lock(); defer mu.Unlock(); return s == want }))
	c := mustClient(t, NewPool(Options{Now: clock.Now, TokenRenewBefore: time.Hour}), passwordConfig(f.url()))
	steps := []struct {
		reason    string
		advance   time.Duration
		wantToken string
		wantCalls int32
	}{
		{"first call obtains a token", 0, "token-1", 1},
		{"22h later the token is still used", 22 * time.Hour, "token-1", 1},
		{"59m before expiry it is renewed", 61 * time.Minute, "token-2", 2},
		{"the new token is cached", time.Hour, "token-2", 2},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		mu.Lock()
		want = s.wantToken
		mu.Unlock()
		if _, err := c.GetWorkspace(bg, "0"); err != nil {
			t.Fatalf("%s: %v", s.reason, err)
		}
		if got := f.iamCalls.Load(); got != s.wantCalls {
			t.Errorf("%s: IAM calls = %d, want %d", s.reason, got, s.wantCalls)
		}
	}
	info, _ := c.Token(bg)
	if wantExp := clock.Now().Add(-time.Hour).Add(24 * time.Hour); !info.ExpiresAt.Equal(wantExp) {
		t.Errorf("ExpiresAt %v, want %v", info.ExpiresAt, wantExp)
	}
}

// TestShortLivedTokenNotRefetchedEveryCall: a token living less than
// TokenRenewBefore is kept for half its life.
func TestShortLivedTokenNotRefetchedEveryCall(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, exampleWorkspace) })
	f.clock, f.tokenLife = clock, 30*time.Minute
	c := mustClient(t, NewPool(Options{Now: clock.Now}), passwordConfig(f.url()))
	for i := 0; i < 5; i++ {
		c.GetWorkspace(bg, "0")
	}
	clock.Advance(16 * time.Minute)
	c.GetWorkspace(bg, "0")
	if got := f.iamCalls.Load(); got != 2 {
		t.Errorf("IAM calls = %d, want 2", got)
	}
}

// TestReauthOn401: a 401 invalidates the token and the request is retried once.
func TestReauthOn401(t *testing.T) {
	cases := []struct {
		reason       string
		rejected     map[string]bool
		wantErr      Reason
		wantIAM      int32
		wantAPICalls int32
	}{
		{"expired token: one re-auth, then success", map[string]bool{"token-1": true}, "", 2, 2},
		{"second 401 is Unauthorized, no further retry", map[string]bool{"token-1": true, "token-2": true}, ReasonUnauthorized, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFakeCloud(t, nil)
			f.setAPI(func(w http.ResponseWriter, r *http.Request) {
				if tc.rejected[r.Header.Get("X-Auth-Token")] {
					writeJSON(w, 401, `{"error_code":"ModelArts.0001","error_msg":"token expired"}`)
					return
				}
				writeJSON(w, 200, exampleWorkspace)
			})
			c := mustClient(t, NewPool(Options{}), passwordConfig(f.url()))
			_, err := c.GetWorkspace(bg, "0")
			if ReasonOf(err) != tc.wantErr {
				t.Errorf("error %v, want reason %q", err, tc.wantErr)
			}
			if tc.wantErr != "" && asError(t, err).API != APIWorkspace {
				t.Errorf("API %s", asError(t, err).API)
			}
			if got := f.iamCalls.Load(); got != tc.wantIAM {
				t.Errorf("IAM calls %d, want %d", got, tc.wantIAM)
			}
			if got := f.apiCalls.Load(); got != tc.wantAPICalls {
				t.Errorf("API calls %d, want %d", got, tc.wantAPICalls)
			}
		})
	}
}

// TestAKSK401NotRetried: a bad signature is not retried.
func TestAKSK401NotRetried(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}`)
	})
	_, err := mustClient(t, NewPool(Options{}), akskConfig(f.url())).GetWorkspace(bg, "0")
	if !IsUnauthorized(err) || f.apiCalls.Load() != 1 {
		t.Errorf("err %v, calls %d", err, f.apiCalls.Load())
	}
}

// TestIAMErrors: IAM failures carry API iam_token.
func TestIAMErrors(t *testing.T) {
	cases := []struct {
		reason      string
		status      int
		body        string
		header      string
		wantReason  Reason
		wantMessage string
	}{
		{"Keystone-style 401", 401, exampleKeystoneError, "", ReasonUnauthorized, "The username or password is wrong."},
		{"ModelArts-style 403", 403, `{"error_code":"IAM.0002","error_msg":"forbidden"}`, "", ReasonForbidden, "forbidden"},
		{"201 without X-Subject-Token", 201, exampleIAMToken, "", ReasonInvalidResponse, ""},
		{"201 without expires_at", 201, `{"token":{}}`, "subject-token-value", ReasonInvalidResponse, ""},
		{"IAM 500", 500, `oops`, "", ReasonCloudError, "Internal Server Error"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { t.Error("API called without a token") })
			f.iam = func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("X-Subject-Token", tc.header)
				}
				writeJSON(w, tc.status, tc.body)
			}
			c := mustClient(t, NewPool(Options{}), passwordConfig(f.url()))
			_, err := c.GetWorkspace(bg, "0")
			e := asError(t, err)
			if e.Reason != tc.wantReason || e.API != APIIAMToken {
				t.Errorf("got %s/%s, want %s/iam_token: %v", e.API, e.Reason, tc.wantReason, err)
			}
			if tc.wantMessage != "" && e.Message != tc.wantMessage {
				t.Errorf("message %q, want %q", e.Message, tc.wantMessage)
			}
			checkNoSecrets(t, err, tc.header)
		})
	}
}

// TestErrorClassification covers every row of the error table.
func TestErrorClassification(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		reason      string
		status      int
		body        string
		headers     map[string]string
		wantReason  Reason
		wantCode    string
		wantMessage string
		wantReqID   string
		wantRetry   time.Duration
		wantServer  bool
	}{
		{reason: "404 is NotFound", status: 404, body: `{"error_code":"ModelArts.4104","error_msg":"workspace not found"}`,
			wantReason: ReasonNotFound, wantCode: "ModelArts.4104", wantMessage: "workspace not found"},
		{reason: "400 with ModelArts.6309 (error_msg) is NotFound", status: 400, body: exampleDevEnvNotFound,
			wantReason: ReasonNotFound, wantCode: "ModelArts.6309", wantMessage: "The instance does not exist."},
		{reason: "400 with ModelArts.6309 (error_message) is NotFound", status: 400, body: exampleDevEnvNotFound2,
			wantReason: ReasonNotFound, wantCode: "ModelArts.6309", wantMessage: "The instance does not exist."},
		{reason: "other 400 is CloudError", status: 400, body: `{"error_code":"ModelArts.0101","error_message":"bad request"}`,
			wantReason: ReasonCloudError, wantCode: "ModelArts.0101", wantMessage: "bad request"},
		{reason: "401 is Unauthorized", status: 401, body: `{"error_code":"APIGW.0301","error_msg":"bad signature"}`,
			wantReason: ReasonUnauthorized, wantCode: "APIGW.0301", wantMessage: "bad signature"},
		{reason: "403 with ROMA body and request_id", status: 403, body: exampleRomaError,
			wantReason: ReasonForbidden, wantCode: "ROMA.00000101", wantMessage: "error summary", wantReqID: "13760c1fe8655e61209b75665e9bef43"},
		{reason: "request id from the X-Request-Id header", status: 403, body: `{"error_code":"X","error_msg":"m"}`,
			headers: map[string]string{"X-Request-Id": "hdr-req-1"}, wantReason: ReasonForbidden, wantCode: "X", wantMessage: "m", wantReqID: "hdr-req-1"},
		{reason: "429 with Retry-After seconds", status: 429, body: `{"error_code":"ModelArts.2799","error_msg":"Too many requests"}`,
			headers: map[string]string{"Retry-After": "7"}, wantReason: ReasonThrottled, wantCode: "ModelArts.2799", wantMessage: "Too many requests", wantRetry: 7 * time.Second},
		{reason: "429 with Retry-After HTTP date", status: 429, body: `{}`,
			headers: map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)}, wantReason: ReasonThrottled, wantMessage: "Too Many Requests", wantRetry: 30 * time.Second},
		{reason: "429 without Retry-After defaults to 1s", status: 429, body: ``,
			wantReason: ReasonThrottled, wantMessage: "Too Many Requests", wantRetry: time.Second},
		{reason: "ModelArts.6101 at 500 is Throttled", status: 500, body: `{"error_code":"ModelArts.6101","error_msg":"system busy"}`,
			headers: map[string]string{"Retry-After": "3"}, wantReason: ReasonThrottled, wantCode: "ModelArts.6101", wantMessage: "system busy", wantRetry: 3 * time.Second},
		{reason: "APIG.0308 at 400 is Throttled", status: 400, body: `{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached"}`,
			wantReason: ReasonThrottled, wantCode: "APIG.0308", wantMessage: "The throttling threshold has been reached", wantRetry: time.Second},
		{reason: "ModelArts.2799 at 403 is Throttled", status: 403, body: `{"error_code":"ModelArts.2799","error_msg":"slow down"}`,
			wantReason: ReasonThrottled, wantCode: "ModelArts.2799", wantMessage: "slow down", wantRetry: time.Second},
		{reason: "500 is a server CloudError", status: 500, body: `{"error_code":"ModelArts.0050","error_msg":"internal"}`,
			wantReason: ReasonCloudError, wantCode: "ModelArts.0050", wantMessage: "internal", wantServer: true},
		{reason: "503 with an HTML body is a server CloudError", status: 503, body: `<html>gateway</html>`,
			wantReason: ReasonCloudError, wantMessage: "Service Unavailable", wantServer: true},
		{reason: "409 is CloudError", status: 409, body: `{"error_code":"C","error_msg":"conflict"}`,
			wantReason: ReasonCloudError, wantCode: "C", wantMessage: "conflict"},
		{reason: "redirects are not followed", status: 302, headers: map[string]string{"Location": "http://elsewhere.invalid/"},
			wantReason: ReasonCloudError, wantMessage: "Found"},
		{reason: "200 with invalid JSON", status: 200, body: `{"id":`, wantReason: ReasonInvalidResponse},
		{reason: "200 with a wrong field type", status: 200, body: `{"id":42}`, wantReason: ReasonInvalidResponse},
		{reason: "200 with a string bool", status: 200, body: `{"id":"x","create_time":"abc"}`, wantReason: ReasonInvalidResponse},
		{reason: "200 with a JSON array", status: 200, body: `[]`, wantReason: ReasonInvalidResponse},
		{reason: "200 with null", status: 200, body: `null`, wantReason: ReasonInvalidResponse},
		{reason: "200 with an empty body", status: 200, body: ``, wantReason: ReasonInvalidResponse},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				writeJSON(w, tc.status, tc.body)
			})
			var observed []string
			p := NewPool(Options{Now: func() time.Time { return now }, Observe: func(api API, outcome string, _ time.Duration) {
				observed = append(observed, string(api)+"/"+outcome)
			}})
			_, err := mustClient(t, p, akskConfig(f.url())).GetWorkspace(bg, "0")
			e := asError(t, err)
			if e.Reason != tc.wantReason || ReasonOf(err) != tc.wantReason {
				t.Errorf("reason %s, want %s (%v)", e.Reason, tc.wantReason, err)
			}
			if e.API != APIWorkspace || e.StatusCode != tc.status {
				t.Errorf("API %s status %d", e.API, e.StatusCode)
			}
			if e.Code != tc.wantCode {
				t.Errorf("code %q, want %q", e.Code, tc.wantCode)
			}
			if tc.wantMessage != "" && e.Message != tc.wantMessage {
				t.Errorf("message %q, want %q", e.Message, tc.wantMessage)
			}
			if e.RequestID != tc.wantReqID {
				t.Errorf("request id %q, want %q", e.RequestID, tc.wantReqID)
			}
			if RetryAfter(err) != tc.wantRetry {
				t.Errorf("RetryAfter %v, want %v", RetryAfter(err), tc.wantRetry)
			}
			if IsServerError(err) != tc.wantServer {
				t.Errorf("IsServerError %v", IsServerError(err))
			}
			checks := map[Reason]func(error) bool{
				ReasonNotFound: IsNotFound, ReasonUnauthorized: IsUnauthorized, ReasonForbidden: IsForbidden,
				ReasonThrottled: IsThrottled, ReasonInvalidResponse: IsInvalidResponse, ReasonNotOffered: IsNotOffered,
			}
			for r, is := range checks {
				if is(err) != (r == tc.wantReason) {
					t.Errorf("Is%s = %v", r, is(err))
				}
			}
			for _, part := range []string{string(APIWorkspace), fmt.Sprint(tc.status), tc.wantCode, tc.wantReqID} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Error() %q lacks %q", err.Error(), part)
				}
			}
			if tc.status == 200 && len(tc.body) > 2 && strings.Contains(err.Error(), tc.body) {
				t.Errorf("Error() %q quotes the body", err.Error())
			}
			if want := []string{"workspace/" + string(tc.wantReason)}; !reflect.DeepEqual(observed, want) {
				t.Errorf("observed %v, want %v", observed, want)
			}
		})
	}
}

// TestMessageTruncated: messages longer than 200 characters are cut.
func TestMessageTruncated(t *testing.T) {
	long := strings.Repeat("m", 1000)
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"error_code":"E","error_msg":"`+long+`\nsecond line"}`)
	})
	_, err := mustClient(t, NewPool(Options{}), akskConfig(f.url())).GetWorkspace(bg, "0")
	if strings.Contains(err.Error(), strings.Repeat("m", 201)) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Error() not truncated to one line: %d chars", len(err.Error()))
	}
}

// TestNoSecretsInErrors: a cloud echoing credentials or the token in its
// error message does not carry them into Error().
func TestNoSecretsInErrors(t *testing.T) {
	cases := []struct {
		reason string
		cfg    func(string) Config
		echo   []string // what the cloud echoes back: this account's secrets
	}{
		{"AK/SK account", akskConfig, []string{testAK, testSK, testSecToken}},
		{"password account, token echoed", passwordConfig, []string{testPassword, "token-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			echo := strings.Join(tc.echo, " ")
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", tc.echo[0])
				writeJSON(w, 403, `{"error_code":"`+tc.echo[0]+`","error_msg":"echo `+echo+`"}`)
			})
			c := mustClient(t, NewPool(Options{}), tc.cfg(f.url()))
			_, err := c.GetWorkspace(bg, "0")
			if !IsForbidden(err) {
				t.Fatalf("err %v", err)
			}
			checkNoSecrets(t, err, "token-1")
		})
	}
}

// TestBodySizeCap: a body over MaxResponseBytes is InvalidResponse.
func TestBodySizeCap(t *testing.T) {
	cases := []struct {
		reason string
		size   int
		want   Reason
	}{
		{"body exactly at the cap decodes", 1024, ""},
		{"body one byte over the cap is refused", 1025, ReasonInvalidResponse},
		{"huge body is refused", 10 << 20, ReasonInvalidResponse},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
				prefix := `{"id":"0","description":"`
				writeJSON(w, 200, prefix+strings.Repeat("x", tc.size-len(prefix)-2)+`"}`)
			})
			_, err := mustClient(t, NewPool(Options{MaxResponseBytes: 1024}), akskConfig(f.url())).GetWorkspace(bg, "0")
			if ReasonOf(err) != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTimeoutAndTransportErrors: timeouts and refused connections are CloudError.
func TestTimeoutAndTransportErrors(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	_, err := mustClient(t, NewPool(Options{HTTPTimeout: 50 * time.Millisecond}), akskConfig(f.url())).GetWorkspace(bg, "0")
	if ReasonOf(err) != ReasonCloudError || !strings.Contains(err.Error(), "timed out") || IsServerError(err) {
		t.Errorf("timeout: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout does not unwrap to DeadlineExceeded: %v", err)
	}

	dead := newFakeCloud(t, nil)
	dead.srv.Close()
	_, err = mustClient(t, NewPool(Options{}), akskConfig(dead.url())).GetWorkspace(bg, "0")
	if ReasonOf(err) != ReasonCloudError {
		t.Errorf("refused connection: %v", err)
	}
	if ReasonOf(errors.New("plain")) != ReasonCloudError || ReasonOf(nil) != "" {
		t.Error("ReasonOf of a plain error / nil")
	}
}

// TestRateLimitHonoursContext: a depleted budget waits, and gives up with ctx.
func TestRateLimitHonoursContext(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, exampleWorkspace) })
	cfg := akskConfig(f.url())
	cfg.RequestsPerSecond, cfg.Burst = 0.01, 1
	c := mustClient(t, NewPool(Options{}), cfg)
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetWorkspace(ctx, "0")
	if err == nil || time.Since(start) > time.Second {
		t.Errorf("second call: %v after %v", err, time.Since(start))
	}
	if f.apiCalls.Load() != 1 {
		t.Errorf("API calls %d", f.apiCalls.Load())
	}
}

// TestNotOffered: a service without an endpoint fails without a network call.
func TestNotOffered(t *testing.T) {
	cases := []struct {
		reason string
		cfg    Config
		call   func(*Client) error
		want   string
	}{
		{"OTC has no ROMA Connect", Config{Cloud: OpenTelekomCloud, Region: "eu-de"},
			func(c *Client) error { _, err := c.GetRomaApp(bg, "i", "a"); return err },
			"ROMA Connect is not offered by OpenTelekomCloud in region eu-de; set endpoints.roma to use one"},
		{"OTC ModelArts only in eu-de", Config{Cloud: OpenTelekomCloud, Region: "eu-nl"},
			func(c *Client) error { _, err := c.GetWorkspace(bg, "0"); return err },
			"ModelArts is not offered by OpenTelekomCloud in region eu-nl; set endpoints.modelarts to use one"},
		{"OTC ModelArts outside eu-de, authorizations", Config{Cloud: OpenTelekomCloud, Region: "eu-nl"},
			func(c *Client) error { _, err := c.ListAuthorizations(bg, "", ""); return err },
			"set endpoints.modelarts"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			calls := 0
			tc.cfg.ProjectID = testProject
			tc.cfg.Credentials = Credentials{AccessKey: testAK, SecretKey: testSK}
			p := NewPool(Options{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				calls++
				return nil, errors.New("no network expected")
			}), Observe: func(API, string, time.Duration) { calls++ }})
			err := tc.call(mustClient(t, p, tc.cfg))
			if !IsNotOffered(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want NotOffered %q", err, tc.want)
			}
			if calls != 0 {
				t.Errorf("%d network calls", calls)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestObserve: one report per HTTP request, including IAM and the 401 retry.
func TestObserve(t *testing.T) {
	f := newFakeCloud(t, nil)
	first := true
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		if first {
			first = false
			writeJSON(w, 401, `{}`)
			return
		}
		writeJSON(w, 200, exampleWorkspace)
	})
	var got []string
	p := NewPool(Options{Observe: func(api API, outcome string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration")
		}
		got = append(got, string(api)+"/"+outcome)
	}})
	if _, err := mustClient(t, p, passwordConfig(f.url())).GetWorkspace(bg, "0"); err != nil {
		t.Fatal(err)
	}
	want := []string{"iam_token/success", "workspace/Unauthorized", "iam_token/success", "workspace/success"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// TestEmptyIDsRejected: empty path parameters never reach the network.
func TestEmptyIDsRejected(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { t.Error("network call") })
	c := mustClient(t, NewPool(Options{}), akskConfig(f.url()))
	for _, err := range []error{
		func() error { _, err := c.GetWorkspace(bg, ""); return err }(),
		func() error { _, err := c.GetServiceAPIAuths(bg, "", "ws"); return err }(),
		func() error { _, err := c.GetRomaApp(bg, "i", ""); return err }(),
		func() error { _, err := c.GetDevEnvToken(bg, ""); return err }(),
	} {
		if err == nil {
			t.Error("empty id accepted")
		}
	}
}

// TestThrottleQuietsTheAccount: after a 429 with Retry-After, every caller of
// the account gets the same Throttled answer, with the Retry-After that
// remains, and no request reaches the cloud until it has elapsed; other APIs
// are not affected.
func TestThrottleQuietsTheAccount(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	var throttle atomic.Bool
	throttle.Store(true)
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/workspaces/") && throttle.Load() {
			w.Header().Set("Retry-After", "10")
			writeJSON(w, 429, `{"error_code":"ModelArts.2799","error_msg":"Too many requests"}`)
			return
		}
		if strings.Contains(r.URL.Path, "/workspaces/") {
			writeJSON(w, 200, `{"id":"w1","name":"ws","status":"NORMAL"}`)
			return
		}
		writeJSON(w, 200, `{"token":"tok"}`)
	})
	c := mustClient(t, NewPool(Options{Now: clock.Now}), akskConfig(f.url()))

	_, err := c.GetWorkspace(bg, "w1")
	var first *Error
	if !errors.As(err, &first) || first.Reason != ReasonThrottled || first.RetryAfter != 10*time.Second {
		t.Fatalf("first call: %v", err)
	}
	throttle.Store(false) // the cloud would answer now, but Retry-After has not elapsed
	clock.Advance(4 * time.Second)
	_, err = c.GetWorkspace(bg, "w1")
	var again *Error
	if !errors.As(err, &again) || again.Reason != ReasonThrottled || again.StatusCode != 429 || again.Code != "ModelArts.2799" {
		t.Fatalf("second call: %v", err)
	}
	if again.RetryAfter != 6*time.Second {
		t.Errorf("remaining Retry-After %s, want 6s", again.RetryAfter)
	}
	if n := f.apiCalls.Load(); n != 1 {
		t.Errorf("%d requests reached the cloud during Retry-After, want 1", n)
	}
	if _, err := c.GetDevEnvToken(bg, "i1"); err != nil {
		t.Errorf("another API is not throttled: %v", err)
	}

	clock.Advance(6 * time.Second)
	if _, err := c.GetWorkspace(bg, "w1"); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
	if n := f.apiCalls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// TestTokenExpiredOnIssue: a token whose expires_at has already passed is
// refused as InvalidResponse rather than cached, which would send every
// later call back to IAM.
func TestTokenExpiredOnIssue(t *testing.T) {
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	f.tokenLife = -time.Minute
	c := mustClient(t, NewPool(Options{}), passwordConfig(f.url()))
	_, err := c.Token(bg)
	if !IsInvalidResponse(err) {
		t.Fatalf("err %v, want InvalidResponse", err)
	}
	if _, err := c.GetWorkspace(bg, "0"); !IsInvalidResponse(err) {
		t.Errorf("a call without a usable token: %v", err)
	}
	if n := f.apiCalls.Load(); n != 0 {
		t.Errorf("%d API calls without a usable token", n)
	}
}

// TestTokenLifetimeIgnoresClockSkew: with issued_at, a token lives its
// lifetime on this machine's clock from when it was requested, whether IAM's
// clock is hours behind (the old reading would be already expired) or ahead
// (the old reading would outlive the real token).
func TestTokenLifetimeIgnoresClockSkew(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name     string
		skew     time.Duration // IAM's clock minus ours
		lifetime time.Duration
	}{
		{"IAM 3h behind, 1h tokens", -3 * time.Hour, time.Hour},
		{"IAM 3h ahead, 24h tokens", 3 * time.Hour, 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
			f.iam = func(w http.ResponseWriter, r *http.Request) {
				issued := clock.Now().Add(tc.skew)
				w.Header().Set("X-Subject-Token", "skewed-token")
				writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"token":{"issued_at":%q,"expires_at":%q}}`,
					issued.Format(time.RFC3339Nano), issued.Add(tc.lifetime).Format(time.RFC3339Nano)))
			}
			c := mustClient(t, NewPool(Options{Now: clock.Now}), passwordConfig(f.url()))
			info, err := c.Token(bg)
			if err != nil {
				t.Fatalf("token refused: %v", err)
			}
			if want := clock.Now().Add(tc.lifetime); !info.ExpiresAt.Equal(want) {
				t.Errorf("expires at %v on our clock, want %v", info.ExpiresAt, want)
			}
		})
	}
}

// TestIAMThrottleRemembered: after IAM answers 429 with Retry-After, token
// requests get that answer without reaching IAM until it has elapsed, also
// from another client (another account object) with the same credentials.
func TestIAMThrottleRemembered(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	f.clock = clock
	f.iam = func(w http.ResponseWriter, r *http.Request) {
		if f.iamCalls.Load() == 1 {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, `{"error":{"code":429,"message":"Too Many Requests","title":"Too Many Requests"}}`)
			return
		}
		w.Header().Set("X-Subject-Token", "fresh-token")
		writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"token":{"expires_at":%q}}`, clock.Now().Add(24*time.Hour).Format(time.RFC3339Nano)))
	}
	pool := NewPool(Options{Now: clock.Now})
	c := mustClient(t, pool, passwordConfig(f.url()))
	if _, err := c.Token(bg); !IsThrottled(err) {
		t.Fatalf("first request: %v", err)
	}
	slower := passwordConfig(f.url())
	slower.RequestsPerSecond = 5
	if other := mustClient(t, pool, slower); other == c {
		t.Fatal("want a second client")
	} else if _, err := other.Token(bg); !IsThrottled(err) {
		t.Fatalf("another client with the same credentials: %v", err)
	}
	clock.Advance(10 * time.Second)
	_, err := c.GetWorkspace(bg, "0")
	if !IsThrottled(err) || RetryAfter(err) != 20*time.Second {
		t.Fatalf("during Retry-After: %v (retry after %s)", err, RetryAfter(err))
	}
	if n := f.iamCalls.Load(); n != 1 {
		t.Errorf("%d IAM requests during Retry-After, want 1", n)
	}
	clock.Advance(20 * time.Second)
	if _, err := c.GetWorkspace(bg, "0"); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
	if n := f.iamCalls.Load(); n != 2 {
		t.Errorf("%d IAM requests, want 2", n)
	}
}
