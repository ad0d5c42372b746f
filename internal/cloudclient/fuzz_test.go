package cloudclient

import (
	"testing"
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
		if v, err := decodeRomaApp(b); err == nil && v == nil {
			t.Fatal("nil result without error")
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
	f.Fuzz(func(t *testing.T, b []byte) {
		ce := decodeErrorBody(b)
		e := &Error{API: APIWorkspace, StatusCode: 400, Code: ce.code, Message: ce.message, RequestID: ce.requestID, Reason: classify(400, ce.code)}
		_ = e.Error()
	})
}

func FuzzDecodeIAMToken(f *testing.F) {
	for _, s := range []string{exampleIAMToken, `{"token":{"expires_at":"2015-11-09T01:42:57Z"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if exp, err := decodeIAMToken(b); err == nil && exp.IsZero() && len(b) == 0 {
			t.Fatal("zero expiry from an empty body")
		}
	})
}
