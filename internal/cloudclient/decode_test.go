package cloudclient

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFlexInt(t *testing.T) {
	cases := []struct {
		reason  string
		in      string
		want    int64
		wantErr bool
	}{
		{"integer", `1470000020000`, 1470000020000, false},
		{"float in exponent form", `1.565774782128e13`, 15657747821280, false},
		{"float with .0", `1.0`, 1, false},
		{"big float millisecond time", `1.5657747821288E13`, 15657747821288, false},
		{"numeric string", `"1574946998167"`, 1574946998167, false},
		{"float string", `"2.5e3"`, 2500, false},
		{"empty string is zero", `""`, 0, false},
		{"null keeps zero", `null`, 0, false},
		{"negative", `-3`, -3, false},
		{"non-integral float rounds", `2.6`, 3, false},
		{"bool refused", `true`, 0, true},
		{"word string refused", `"abc"`, 0, true},
		{"hex string refused", `"0x10"`, 0, true},
		{"NaN string refused", `"NaN"`, 0, true},
		{"out of range refused", `1e300`, 0, true},
		{"object refused", `{}`, 0, true},
		{"array refused", `[1]`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			var v struct {
				N flexInt `json:"n"`
			}
			err := json.Unmarshal([]byte(`{"n":`+tc.in+`}`), &v)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && int64(v.N) != tc.want {
				t.Errorf("got %d, want %d", v.N, tc.want)
			}
		})
	}
}

func TestDecodeTolerance(t *testing.T) {
	cases := []struct {
		reason  string
		decode  func([]byte) (any, error)
		body    string
		check   func(any) bool
		wantErr bool
	}{
		{"workspace: unknown fields ignored, float times",
			func(b []byte) (any, error) { return decodeWorkspace(b) },
			`{"id":"0","new_field":{"x":[1,2]},"create_time":1.47000002e12,"update_time":"1470000030000"}`,
			func(v any) bool {
				w := v.(*Workspace)
				return w.ID == "0" && w.CreateTime == 1470000020000 && w.UpdateTime == 1470000030000
			}, false},
		{"workspace: grants null",
			func(b []byte) (any, error) { return decodeWorkspace(b) }, `{"id":"0","grants":null}`,
			func(v any) bool { return v.(*Workspace).Grants == nil }, false},
		{"authorizations under content, float total",
			func(b []byte) (any, error) { return decodeAuthorizationPage(b) },
			`{"total_count":2.0,"content":[{"user_id":"a","create_time":1.0},{"user_id":"b","secret_key":"sk"}]}`,
			func(v any) bool {
				p := v.(authorizationPage)
				return p.total == 2 && p.totalPresent && len(p.items) == 2 && p.items[0].CreateTime == 1 && p.items[1].SecretKey == "sk"
			}, false},
		{"authorizations: auth preferred over content",
			func(b []byte) (any, error) { return decodeAuthorizationPage(b) },
			`{"auth":[{"user_id":"a"}],"content":[{"user_id":"b"}]}`,
			func(v any) bool { p := v.(authorizationPage); return !p.totalPresent && p.items[0].UserID == "a" }, false},
		{"authorizations: an empty auth next to a filled content reads content",
			func(b []byte) (any, error) { return decodeAuthorizationPage(b) },
			`{"auth":[],"content":[{"user_id":"b"}]}`,
			func(v any) bool { p := v.(authorizationPage); return len(p.items) == 1 && p.items[0].UserID == "b" }, false},
		{"authorizations: negative total refused",
			func(b []byte) (any, error) { return decodeAuthorizationPage(b) }, `{"total_count":-1,"auth":[]}`, nil, true},
		{"authorizations: string entry content refused",
			func(b []byte) (any, error) { return decodeAuthorizationPage(b) }, `{"auth":"x"}`, nil, true},
		{"service api-auths: bool as string refused",
			func(b []byte) (any, error) { return decodeServiceAPIAuths(b) }, `{"enable_app_auth":"true"}`, nil, true},
		{"service api-auths: bool as number refused",
			func(b []byte) (any, error) { return decodeServiceAPIAuths(b) }, `{"enable_app_auth":1}`, nil, true},
		{"service api-auths: counts as floats",
			func(b []byte) (any, error) { return decodeServiceAPIAuths(b) },
			`{"app_auth_api":{"authed_apps":[{"bounded_api_count":3.0,"created_at":1.574946998167e12}]}}`,
			func(v any) bool {
				a := v.(*ServiceAPIAuths).Apps[0]
				return a.BoundedAPICount == 3 && a.CreatedAt == 1574946998167
			}, false},
		{"roma app: owner as string refused",
			func(b []byte) (any, error) { return decodeRomaApp(b) }, `{"owner":"yes"}`, nil, true},
		{"roma app: roles must be strings",
			func(b []byte) (any, error) { return decodeRomaApp(b) }, `{"roles":[1]}`, nil, true},
		{"roma app: a time that is not RFC 3339 refused",
			func(b []byte) (any, error) { return decodeRomaApp(b) }, `{"create_time":"06/12/2019 06:49"}`, nil, true},
		{"roma app: RFC 3339 times with fractions accepted",
			func(b []byte) (any, error) { return decodeRomaApp(b) },
			`{"create_time":"2019-12-06T06:49:04.000Z","update_time":"2019-12-06T06:49:04Z"}`,
			func(v any) bool { return v.(*RomaApp).CreateTime == "2019-12-06T06:49:04.000Z" }, false},
		{"devenv token missing",
			func(b []byte) (any, error) { return decodeDevEnvToken(b) }, `{}`, nil, true},
		{"devenv token not a string",
			func(b []byte) (any, error) { return decodeDevEnvToken(b) }, `{"token":1}`, nil, true},
		{"IAM expiry documented format",
			func(b []byte) (any, error) { return decodeIAMToken(b) }, exampleIAMToken,
			func(v any) bool {
				return v.(iamTokenTimes).ExpiresAt.Equal(time.Date(2015, 11, 9, 1, 42, 57, 527363000, time.UTC))
			}, false},
		{"IAM expiry without zone is UTC",
			func(b []byte) (any, error) { return decodeIAMToken(b) }, `{"token":{"expires_at":"2015-11-09T01:42:57.527363"}}`,
			func(v any) bool {
				return v.(iamTokenTimes).ExpiresAt.Equal(time.Date(2015, 11, 9, 1, 42, 57, 527363000, time.UTC))
			}, false},
		{"IAM issued_at read when present",
			func(b []byte) (any, error) { return decodeIAMToken(b) },
			`{"token":{"issued_at":"2015-11-08T01:42:57.527363Z","expires_at":"2015-11-09T01:42:57.527363Z"}}`,
			func(v any) bool {
				t := v.(iamTokenTimes)
				return t.ExpiresAt.Sub(t.IssuedAt) == 24*time.Hour
			}, false},
		{"IAM issued_at garbage ignored",
			func(b []byte) (any, error) { return decodeIAMToken(b) }, `{"token":{"issued_at":"x","expires_at":"2015-11-09T01:42:57Z"}}`,
			func(v any) bool { return v.(iamTokenTimes).IssuedAt.IsZero() }, false},
		{"IAM expiry garbage refused",
			func(b []byte) (any, error) { return decodeIAMToken(b) }, `{"token":{"expires_at":"tomorrow"}}`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			v, err := tc.decode([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !tc.check(v) {
				t.Errorf("decoded %#v", v)
			}
		})
	}
}

func TestDecodeErrorBody(t *testing.T) {
	cases := []struct {
		reason string
		body   string
		want   cloudError
	}{
		{"error_msg", exampleDevEnvNotFound, cloudError{"ModelArts.6309", "The instance does not exist.", ""}},
		{"error_message", exampleDevEnvNotFound2, cloudError{"ModelArts.6309", "The instance does not exist.", ""}},
		{"ROMA with request_id", exampleRomaError, cloudError{"ROMA.00000101", "error summary", "13760c1fe8655e61209b75665e9bef43"}},
		{"Keystone", exampleKeystoneError, cloudError{"", "The username or password is wrong.", ""}},
		{"Keystone title only", `{"error":{"code":403,"title":"Forbidden"}}`, cloudError{"", "Forbidden", ""}},
		{"numeric error_code", `{"error_code":401,"error_msg":"x"}`, cloudError{"401", "x", ""}},
		{"error as a string", `{"error":"bad things"}`, cloudError{"", "bad things", ""}},
		{"HTML", `<html><body>502</body></html>`, cloudError{}},
		{"empty", ``, cloudError{}},
		{"object-valued fields ignored", `{"error_code":{"a":1},"error_msg":[1]}`, cloudError{}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if got := decodeErrorBody([]byte(tc.body)); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		reason string
		in     string
		want   time.Duration
	}{
		{"absent", "", time.Second},
		{"seconds", "12", 12 * time.Second},
		{"zero", "0", 0},
		{"HTTP date", now.Add(90 * time.Second).Format(http1123), 90 * time.Second},
		{"date in the past", now.Add(-time.Minute).Format(http1123), 0},
		{"garbage", "soon", time.Second},
		{"negative", "-5", time.Second},
		{"capped", "999999999", time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestErrorString(t *testing.T) {
	cases := []struct {
		reason string
		err    *Error
		want   string
	}{
		{"full", &Error{API: APIDevEnvToken, StatusCode: 400, Code: "ModelArts.6309", Message: "The instance does not exist.", RequestID: "r1", Reason: ReasonNotFound},
			"devenv_token: NotFound (HTTP 400, code ModelArts.6309): The instance does not exist. (request id r1)"},
		{"throttled", &Error{API: APIWorkspace, StatusCode: 429, Message: "Too Many Requests", Reason: ReasonThrottled, RetryAfter: 2 * time.Second},
			"workspace: Throttled (HTTP 429): Too Many Requests (retry after 2s)"},
		{"not offered", notOfferedError(APIRomaApp, serviceROMA, OpenTelekomCloud, "eu-de"),
			"roma_app: NotOffered: ROMA Connect is not offered by OpenTelekomCloud in region eu-de; set endpoints.roma to use one"},
		{"long message truncated", &Error{API: APIWorkspace, StatusCode: 500, Message: strings.Repeat("é", 300), Reason: ReasonCloudError},
			"workspace: CloudError (HTTP 500): " + strings.Repeat("é", 200) + "…"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
