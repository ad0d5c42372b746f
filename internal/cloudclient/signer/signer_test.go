package signer

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The official SDK's test vectors: AK "AccessKey", SK "SecretKey", endpoint
// https://example.huaweicloud.com, X-Sdk-Date 20060102T150405Z and an extra
// header TEST_UNDERSCORE that must stay unsigned. The SDK's request carries no
// Host header, so Sign leaves the host unsigned here.
func TestOfficialVectors(t *testing.T) {
	cases := []struct {
		reason, method, target, contentType string
		body                                []byte
		wantCanonical                       string
		wantSignature                       string
	}{
		{
			reason: "GET with a query and no body",
			method: http.MethodGet, target: "/path?limit=1",
			wantCanonical: "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantSignature: "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			reason: "POST with a JSON body; content-type stays unsigned",
			method: http.MethodPost, target: "/path?key=value", contentType: "application/json",
			body:          []byte("{\"Name\":\"test\",\"Id\":1}\n"),
			wantSignature: "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
		},
	}
	date := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "https://example.huaweicloud.com"+tc.target, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header["TEST_UNDERSCORE"] = []string{"value"}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			Sign(req, tc.body, "AccessKey", "SecretKey", date)

			if got := req.Header.Get(HeaderDate); got != "20060102T150405Z" {
				t.Errorf("X-Sdk-Date %q", got)
			}
			want := "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=" + tc.wantSignature
			if got := req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if tc.wantCanonical != "" {
				canonical := CanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.Query(), req.Header, []string{"x-sdk-date"}, tc.body)
				if canonical != tc.wantCanonical {
					t.Errorf("canonical request\n got %q\nwant %q", canonical, tc.wantCanonical)
				}
			}
		})
	}
}

func TestCanonicalQueryVector(t *testing.T) {
	q := url.Values{}
	q.Set("enable", "true")
	q.Set("limit", "1")
	q["multi"] = []string{"3", "1", "2"}
	q.Set("path", "/tmp/123")
	q.Set("test", "一 (&=?!#%.*)")
	want := "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
	if got := CanonicalQuery(q); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	cases := []struct{ reason, in, want string }{
		{"adds the trailing slash", "/v1/p/workspaces/0", "/v1/p/workspaces/0/"},
		{"keeps an existing trailing slash", "/path/", "/path/"},
		{"re-escapes escaped segments upper-case", "/a%2fb/c d", "/a%2Fb/c%20d/"},
		{"root", "", "/"},
	}
	for _, tc := range cases {
		if got := CanonicalURI(tc.in); got != tc.want {
			t.Errorf("%s: CanonicalURI(%q) = %q, want %q", tc.reason, tc.in, got, tc.want)
		}
	}
}

func TestSignThenVerify(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	newReq := func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://modelarts.cn-north-4.myhuaweicloud.com/v2/proj/authorizations?limit=1000&offset=0", nil)
		req.Header.Set(HeaderProjectID, "proj")
		req.Header.Set(HeaderSecurityToken, "tmp-token")
		SetHost(req)
		Sign(req, nil, "AK1", "SK1", now)
		return req
	}
	req := newReq()
	auth, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(auth.SignedHeaders, ";") != "host;x-project-id;x-sdk-date;x-security-token" {
		t.Errorf("signed headers %v", auth.SignedHeaders)
	}
	if !Verify(req, nil, auth, "SK1") {
		t.Fatal("a correctly signed request does not verify")
	}
	cases := []struct {
		reason string
		alter  func(r *http.Request) (string, []byte)
	}{
		{"wrong secret key", func(r *http.Request) (string, []byte) { return "SK2", nil }},
		{"altered path", func(r *http.Request) (string, []byte) { r.URL.Path = "/v2/other/authorizations"; return "SK1", nil }},
		{"altered query", func(r *http.Request) (string, []byte) { r.URL.RawQuery = "limit=1000&offset=1"; return "SK1", nil }},
		{"altered signed header", func(r *http.Request) (string, []byte) { r.Header.Set(HeaderProjectID, "x"); return "SK1", nil }},
		{"altered body", func(r *http.Request) (string, []byte) { return "SK1", []byte("{}") }},
		{"altered host", func(r *http.Request) (string, []byte) { r.Host = "evil.example.com"; return "SK1", nil }},
	}
	for _, tc := range cases {
		r := newReq()
		sk, body := tc.alter(r)
		if Verify(r, body, auth, sk) {
			t.Errorf("%s: verified, want rejected", tc.reason)
		}
	}
}

func TestHostSignedOnlyWhenSet(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	for _, withHost := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodGet, "https://modelarts.eu-de.otc.t-systems.com/v1/p/workspaces/0", nil)
		if withHost {
			SetHost(req)
		}
		Sign(req, nil, "AK1", "SK1", now)
		auth, err := ParseAuthorization(req.Header.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		want := "x-sdk-date"
		if withHost {
			want = "host;x-sdk-date"
		}
		if got := strings.Join(auth.SignedHeaders, ";"); got != want {
			t.Errorf("SetHost %v: signed headers %q, want %q", withHost, got, want)
		}
		// A server sees the Host outside Header; it verifies either way.
		delete(req.Header, HeaderHost)
		if !Verify(req, nil, auth, "SK1") {
			t.Errorf("SetHost %v: does not verify", withHost)
		}
	}
}

func TestParseAuthorizationRejectsOtherSchemes(t *testing.T) {
	for _, v := range []string{"", "Bearer x", "SDK-HMAC-SHA256 Access=a", "SDK-HMAC-SHA256 junk"} {
		if _, err := ParseAuthorization(v); err == nil {
			t.Errorf("ParseAuthorization(%q) accepted", v)
		}
	}
}

func FuzzCanonicalQuery(f *testing.F) {
	f.Add("enable=true&multi=3&multi=1&test=%E4%B8%80%20%28")
	f.Add("a=&b")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		out := CanonicalQuery(q)
		if bytes.ContainsAny([]byte(out), " +") {
			t.Fatalf("unescaped characters in %q", out)
		}
	})
}
