package cloudsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	type check func(t *testing.T, r resp, elapsed time.Duration)
	cases := []struct {
		reason string
		api    API
		path   string
		fault  Fault
		check  check
	}{
		{
			reason: "throttling with Retry-After rounded up to whole seconds",
			api:    APIWorkspace, path: wsPath,
			fault: Fault{Status: 429, Code: "ModelArts.2799", Message: "Too many requests", RetryAfter: 1500 * time.Millisecond},
			check: func(t *testing.T, r resp, _ time.Duration) {
				if r.status != 429 || r.body["error_code"] != "ModelArts.2799" || r.body["error_msg"] != "Too many requests" {
					t.Errorf("got %d %s", r.status, r.raw)
				}
				if r.header.Get("Retry-After") != "2" {
					t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
				}
			},
		},
		{
			reason: "status without code gets a default code and message",
			api:    APIDevEnvToken, path: devenvPath,
			fault: Fault{Status: 503},
			check: func(t *testing.T, r resp, _ time.Duration) {
				if r.status != 503 || r.body["error_code"] != "ModelArts.6101" || str(r.body["error_msg"]) == "" {
					t.Errorf("got %d %s", r.status, r.raw)
				}
			},
		},
		{
			reason: "ROMA error faults carry error_details and request_id",
			api:    APIRomaApp, path: romaPath,
			fault: Fault{Status: 500, Code: "ROMA.00000001", Message: "boom"},
			check: func(t *testing.T, r resp, _ time.Duration) {
				if r.status != 500 || r.body["error_code"] != "ROMA.00000001" || r.body["error_details"] != "boom" ||
					r.body["request_id"] != r.header.Get(HeaderRequestID) {
					t.Errorf("got %d %s", r.status, r.raw)
				}
			},
		},
		{
			reason: "latency alone is a slow success",
			api:    APIAuthorizations, path: authPath,
			fault: Fault{Latency: 150 * time.Millisecond},
			check: func(t *testing.T, r resp, elapsed time.Duration) {
				if r.status != 200 || num(r.body["total_count"]) != 2 {
					t.Errorf("got %d %s", r.status, r.raw)
				}
				if elapsed < 150*time.Millisecond {
					t.Errorf("answered after %v", elapsed)
				}
			},
		},
		{
			reason: "malformed answers 200 with invalid JSON",
			api:    APIServiceAPIAuths, path: svcPath,
			fault: Fault{Malformed: true},
			check: func(t *testing.T, r resp, _ time.Duration) {
				if r.status != 200 || json.Valid(r.raw) {
					t.Errorf("got %d %s", r.status, r.raw)
				}
			},
		},
		{
			reason: "wrong types answer 200 with valid JSON that does not decode into the documented types",
			api:    APIWorkspace, path: wsPath,
			fault: Fault{WrongTypes: true},
			check: func(t *testing.T, r resp, _ time.Duration) {
				if r.status != 200 || !json.Valid(r.raw) {
					t.Fatalf("got %d %s", r.status, r.raw)
				}
				var ws Workspace
				if err := json.Unmarshal(r.raw, &ws); err == nil {
					t.Errorf("decoded without error: %s", r.raw)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			e.sim.InjectFault(tc.api, tc.fault)
			start := time.Now()
			r := e.getSigned(t, tc.path)
			tc.check(t, r, time.Since(start))
		})
	}
}

func TestWrongTypesEveryAPI(t *testing.T) {
	targets := map[API]any{
		APIWorkspace: &Workspace{}, APIServiceAPIAuths: &ServiceAPIAuths{}, APIRomaApp: &RomaApp{}, APIDevEnvToken: &DevEnvInstance{},
		APIAuthorizations: &struct {
			TotalCount int             `json:"total_count"`
			Auth       []Authorization `json:"auth"`
		}{},
		APIIAMToken: &struct {
			Token struct {
				ExpiresAt string `json:"expires_at"`
			} `json:"token"`
		}{},
	}
	for api, target := range targets {
		t.Run(string(api), func(t *testing.T) {
			body := wrongTypeBodies[api]
			if !json.Valid([]byte(body)) {
				t.Fatalf("invalid JSON %s", body)
			}
			if err := json.Unmarshal([]byte(body), target); err == nil {
				t.Errorf("wrong-types body for %s decodes cleanly", api)
			}
		})
	}
}

func TestHangReturnsWhenClientCancels(t *testing.T) {
	cases := []struct {
		reason string
		api    API
		path   string
	}{
		{"hang on a ModelArts API", APIWorkspace, wsPath},
		{"hang on IAM", APIIAMToken, "/v3/auth/tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			e.sim.InjectFault(tc.api, Fault{Hang: true, Times: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			method := http.MethodGet
			if tc.api == APIIAMToken {
				method = http.MethodPost
			}
			req, _ := http.NewRequestWithContext(ctx, method, e.ts.URL+tc.path, nil)
			start := time.Now()
			_, err := e.ts.Client().Do(req)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want a client timeout, got %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			// Times: 1 is used up, the next request is served.
			if tc.api == APIWorkspace {
				if r := e.getSigned(t, tc.path); r.status != 200 {
					t.Errorf("after the hang: %d %s", r.status, r.raw)
				}
			}
		})
	}

	t.Run("Close releases a hanging request", func(t *testing.T) {
		e := newEnv(t)
		e.sim.InjectFault(APIWorkspace, Fault{Hang: true})
		done := make(chan int, 1)
		go func() {
			res, err := e.ts.Client().Do(e.signedRequest(t, wsPath, defaultSign()))
			if err != nil {
				done <- -1
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		time.Sleep(100 * time.Millisecond)
		e.sim.Close()
		select {
		case code := <-done:
			if code != http.StatusServiceUnavailable {
				t.Errorf("status %d", code)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("hanging request not released by Close")
		}
	})
}

func TestFaultTimesAndSequences(t *testing.T) {
	cases := []struct {
		reason string
		setup  func(s *Server)
		want   []int // statuses of consecutive workspace requests
	}{
		{"Times 2 applies to exactly two requests", func(s *Server) { s.InjectFault(APIWorkspace, Fault{Status: 500, Times: 2}) },
			[]int{500, 500, 200, 200}},
		{"Times 0 lasts until cleared", func(s *Server) { s.InjectFault(APIWorkspace, Fault{Status: 502}) },
			[]int{502, 502, 502, 502}},
		{"InjectFault replaces the previous fault", func(s *Server) {
			s.InjectFault(APIWorkspace, Fault{Status: 500})
			s.InjectFault(APIWorkspace, Fault{Status: 429, Times: 1})
		}, []int{429, 200}},
		{"AppendFault queues faults in order", func(s *Server) {
			s.InjectFault(APIWorkspace, Fault{Status: 429, Times: 2})
			s.AppendFault(APIWorkspace, Fault{Status: 503, Times: 1})
		}, []int{429, 429, 503, 200}},
		{"a fault on another API leaves this one alone", func(s *Server) { s.InjectFault(APIRomaApp, Fault{Status: 500}) },
			[]int{200, 200}},
		{"ClearFaults removes every fault", func(s *Server) {
			s.InjectFault(APIWorkspace, Fault{Status: 500})
			s.ClearFaults()
		}, []int{200}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e.sim)
			for i, want := range tc.want {
				if r := e.getSigned(t, wsPath); r.status != want {
					t.Errorf("request %d: status %d want %d (%s)", i, r.status, want, r.raw)
				}
			}
		})
	}
}

func TestFaultOnIAM(t *testing.T) {
	e := newEnv(t)
	e.sim.InjectFault(APIIAMToken, Fault{Status: 429, RetryAfter: time.Second, Times: 1})
	r := e.tokenResp(t, tokenBody(DefaultUserName, DefaultPassword, DefaultDomainName, proj))
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.header.Get("X-Subject-Token") != "" {
		t.Fatalf("got %d %v %s", r.status, r.header, r.raw)
	}
	var keystone struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.raw, &keystone); err != nil || keystone.Error.Code != 429 || keystone.Error.Message == "" {
		t.Errorf("IAM fault body is not Keystone's error form: %s", r.raw)
	}
	if e.token(t) == "" || e.sim.IssuedTokens() != 1 {
		t.Errorf("IssuedTokens %d", e.sim.IssuedTokens())
	}
}

func TestFaultOldMessageField(t *testing.T) {
	e := newEnv(t)
	e.sim.InjectFault(APIDevEnvToken, Fault{Status: 400, Code: "ModelArts.6309", Message: "The instance does not exist.", OldMessageField: true})
	r := e.getSigned(t, devenvPath)
	var body map[string]string
	if err := json.Unmarshal(r.raw, &body); err != nil || r.status != 400 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	if body["error_message"] != "The instance does not exist." || body["error_code"] != "ModelArts.6309" || body["error_msg"] != "" {
		t.Errorf("body %v, want the old error_message spelling", body)
	}
}

func TestSetLatency(t *testing.T) {
	e := newEnv(t)
	e.sim.SetLatency(100 * time.Millisecond)
	start := time.Now()
	if r := e.getSigned(t, devenvPath); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
}

func TestFaultJSON(t *testing.T) {
	cases := []struct {
		reason string
		in     string
		want   Fault
	}{
		{"duration strings", `{"status":429,"retry_after":"2s","latency":"150ms","times":3}`,
			Fault{Status: 429, RetryAfter: 2 * time.Second, Latency: 150 * time.Millisecond, Times: 3}},
		{"durations as seconds", `{"retry_after":1.5,"hang":true}`, Fault{RetryAfter: 1500 * time.Millisecond, Hang: true}},
		{"flags", `{"malformed":true,"wrong_types":true,"code":"X","message":"m"}`, Fault{Malformed: true, WrongTypes: true, Code: "X", Message: "m"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			var f Fault
			if err := json.Unmarshal([]byte(tc.in), &f); err != nil {
				t.Fatal(err)
			}
			if f != tc.want {
				t.Errorf("got %+v want %+v", f, tc.want)
			}
			data, _ := json.Marshal(f)
			var back Fault
			if err := json.Unmarshal(data, &back); err != nil || back != f {
				t.Errorf("round trip %s -> %+v (%v)", data, back, err)
			}
		})
	}
	var f Fault
	if err := json.Unmarshal([]byte(`{"latency":"soon"}`), &f); err == nil {
		t.Error("bad duration accepted")
	}
}
