package signer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// isUnreserved is the set Escape leaves as it is.
func isUnreserved(c byte) bool {
	return ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
		c == '_' || c == '-' || c == '~' || c == '.'
}

// checkEscaped fails unless s holds only unreserved bytes and upper-case %XX.
func checkEscaped(t *testing.T, what, s string, allowed string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c) || strings.IndexByte(allowed, c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				t.Fatalf("%s %q: bad escape at %d", what, s, i)
			}
			i += 2
		default:
			t.Fatalf("%s %q: unescaped byte %q at %d", what, s, c, i)
		}
	}
}

func isUpperHex(c byte) bool { return ('0' <= c && c <= '9') || ('A' <= c && c <= 'F') }

// FuzzEscape: Escape output is canonical and reverses with url.PathUnescape.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "a b", "一", "%2F", "~._-", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		checkEscaped(t, "Escape", out, "")
		back, err := url.PathUnescape(out)
		if err != nil || back != s {
			t.Fatalf("Escape(%q) = %q does not unescape back (%q, %v)", s, out, back, err)
		}
		if Escape(s) != out {
			t.Fatal("Escape is not deterministic")
		}
	})
}

// FuzzCanonicalURI: the canonical URI is escaped, ends with '/', keeps the
// number of segments, and does not depend on how the path was escaped
// (the client's and the gateway's escaping may differ).
func FuzzCanonicalURI(f *testing.F) {
	for _, s := range []string{"/", "", "/v1/abc/workspaces/0", "/v1/a%20b/c", "/a//b/", "/%E4%B8%80", "/bad%zz/x", "/a+b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escapedPath string) {
		out := CanonicalURI(escapedPath)
		if !strings.HasSuffix(out, "/") {
			t.Fatalf("CanonicalURI(%q) = %q does not end with /", escapedPath, out)
		}
		checkEscaped(t, "CanonicalURI", out, "/")
		in := strings.Count(escapedPath, "/")
		got := strings.Count(out, "/")
		if got != in && got != in+1 {
			t.Fatalf("CanonicalURI(%q) = %q changed the segment count", escapedPath, out)
		}
		// Idempotent: canonicalising a canonical URI changes nothing.
		if again := CanonicalURI(out); again != out {
			t.Fatalf("CanonicalURI not idempotent: %q → %q → %q", escapedPath, out, again)
		}
		// A path that unescapes cleanly canonicalises the same as the raw path
		// re-escaped by Go (what the server sees as EscapedPath).
		raw, err := url.PathUnescape(escapedPath)
		if err != nil || strings.Contains(raw, "/") != strings.Contains(escapedPath, "/") || strings.Count(raw, "/") != in {
			return
		}
		u := &url.URL{Path: raw}
		if alt := CanonicalURI(u.EscapedPath()); alt != out {
			t.Fatalf("CanonicalURI differs by escaping: %q → %q, re-escaped %q → %q", escapedPath, out, u.EscapedPath(), alt)
		}
	})
}

// FuzzCanonicalRequest: a request signed by Sign verifies on the receiving
// side after its URL has been written to the wire and parsed again, for any
// path segment, query and header value; and changing the query breaks it.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("workspaces", "limit=10&offset=0", "value", []byte(""))
	f.Add("a b/一", "sort_by=user_name&order=asc&x=%E4%B8%80+", "  padded  ", []byte(`{"a":1}`))
	f.Add("%2F", "a=&b", "", []byte("x"))
	f.Fuzz(func(t *testing.T, segment, rawQuery, headerValue string, body []byte) {
		if strings.ContainsAny(headerValue, "\r\n\x00") || !validHeaderValue(headerValue) {
			return
		}
		u := &url.URL{Scheme: "https", Host: "modelarts.example.com", Path: "/v1/proj/" + segment, RawQuery: rawQuery}
		if _, err := url.ParseQuery(rawQuery); err != nil {
			return
		}
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return
		}
		req.Header.Set(HeaderProjectID, "proj")
		req.Header.Set("X-Extra", headerValue)
		now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		Sign(req, body, "AK", "SK", now)

		// What the server receives: the request line re-parsed, headers as sent.
		received, err := http.NewRequest(http.MethodGet, req.URL.String(), nil)
		if err != nil {
			t.Fatalf("the signed URL %q does not parse: %v", req.URL.String(), err)
		}
		received.Header = req.Header.Clone()
		received.Host = req.URL.Host
		auth, err := ParseAuthorization(req.Header.Get("Authorization"))
		if err != nil {
			t.Fatalf("Sign wrote an unparsable Authorization: %v", err)
		}
		if !Verify(received, body, auth, "SK") {
			t.Fatalf("signature does not verify after the round trip: path %q query %q", req.URL.EscapedPath(), rawQuery)
		}
		if Verify(received, body, auth, "other-SK") {
			t.Fatal("verified with the wrong secret key")
		}
		tampered := received.Clone(received.Context())
		q := tampered.URL.Query()
		q.Add("injected", "1")
		tampered.URL.RawQuery = q.Encode()
		if Verify(tampered, body, auth, "SK") {
			t.Fatal("verified with an added query parameter")
		}
		canonical := CanonicalRequest(received.Method, received.URL.EscapedPath(), received.URL.Query(),
			RequestHeaders(received), auth.SignedHeaders, body)
		if strings.Count(canonical, "\n") != 5+len(auth.SignedHeaders) {
			t.Fatalf("canonical request has an unexpected number of lines:\n%s", canonical)
		}
	})
}

// validHeaderValue is what net/http would send as it is.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
