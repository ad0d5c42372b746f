package cloudclient

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// The fuzz targets check the decoders never panic and that what they accept
// is consistent. Seeds are the documented example bodies.

func FuzzDecodeWorkspace(f *testing.F) {
	for _, s := range []string{exampleWorkspace, `{}`, `{"create_time":1.5e12}`, `{"grants":[{}]}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := decodeWorkspace(b); err == nil && w == nil {
			t.Fatal("nil workspace without error")
		}
	})
}

func FuzzDecodeAuthorizationPage(f *testing.F) {
	for _, s := range []string{exampleAuthorizations, `{"total_count":1.0,"content":[{"create_time":"1"}]}`, `{"auth":null}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeAuthorizationPage(b)
		if err == nil && (p.items == nil || p.total < 0) {
			t.Fatalf("inconsistent page %+v", p)
		}
	})
}

func FuzzDecodeServiceAPIAuths(f *testing.F) {
	for _, s := range []string{exampleServiceAPIAuths, `{"enable_app_auth":false}`, `{"app_auth_api":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeServiceAPIAuths(b); err == nil && v == nil {
			t.Fatal("nil result without error")
		}
	})
}

func FuzzDecodeRomaApp(f *testing.F) {
	for _, s := range []string{exampleRomaApp, `{"owner":false,"roles":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeRomaApp(b)
		if err != nil {
			return
		}
		if v == nil {
			t.Fatal("nil result without error")
		}
		// Accepted times are mirrored as RFC 3339, so they must parse.
		for _, ts := range []string{v.CreateTime, v.UpdateTime} {
			if _, perr := time.Parse(time.RFC3339Nano, ts); ts != "" && perr != nil {
				t.Fatalf("accepted a time that is not RFC 3339: %q", ts)
			}
		}
	})
}

func FuzzDecodeDevEnvToken(f *testing.F) {
	for _, s := range []string{exampleDevEnvToken, exampleDevEnvNotFound, `{"token":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if tok, err := decodeDevEnvToken(b); err == nil && tok == "" {
			t.Fatal("empty token without error")
		}
	})
}

func FuzzDecodeErrorBody(f *testing.F) {
	for _, s := range []string{exampleDevEnvNotFound, exampleDevEnvNotFound2, exampleRomaError, exampleKeystoneError, `<html>`, ``} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"error_code":"ModelArts.0101","error_msg":"bad key ` + testSK + `","request_id":"` + testPassword + `"}`))
	f.Add([]byte(`{"error":{"code":"401","message":"token tok-DoNotLeak-42 rejected"}}`))
	f.Add([]byte("{\"error_msg\":\"\u0000\u001b[31m" + testSecToken + "\"}"))
	c := &Client{opts: Options{}.withDefaults(), redact: redactor{testAK, testSK, testSecToken, testPassword}}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, status := range []int{400, 401, 429, 500} {
			e := c.httpError(APIWorkspace, status, http.Header{"Retry-After": {"5"}}, b, "tok-DoNotLeak-42")
			text := e.Error()
			for _, secret := range append(secretValues, "tok-DoNotLeak-42") {
				if strings.Contains(text, secret) {
					t.Fatalf("error text carries a secret: %q", text)
				}
			}
			if strings.IndexFunc(text, unicode.IsControl) >= 0 {
				t.Fatalf("control character in error text: %q", text)
			}
			if n := utf8.RuneCountInString(e.Message); n > maxMessageLen+1 {
				t.Fatalf("message of %d runes", n)
			}
			if e.Reason == "" {
				t.Fatal("unclassified error")
			}
		}
	})
}

func FuzzDecodeIAMToken(f *testing.F) {
	for _, s := range []string{exampleIAMToken, `{"token":{"expires_at":"2015-11-09T01:42:57Z"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		times, err := decodeIAMToken(b)
		if err != nil {
			return
		}
		exp := times.ExpiresAt
		if exp.IsZero() || exp.Location() != time.UTC || times.IssuedAt.Location() != time.UTC {
			t.Fatalf("accepted times %+v: not UTC instants", times)
		}
		// What was accepted reads back the same from its canonical form.
		again, err := decodeIAMToken([]byte(`{"token":{"expires_at":"` + exp.Format(time.RFC3339Nano) + `"}}`))
		if err != nil || !again.ExpiresAt.Equal(exp) {
			t.Fatalf("expiry %v does not round-trip: %v %v", exp, again, err)
		}
		// A token is only ever cached with an expiry after the request was sent.
		sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if local, err := times.localExpiry(sent); err == nil && !local.After(sent) {
			t.Fatalf("usable token %+v expires at %v, not after %v", times, local, sent)
		}
	})
}
