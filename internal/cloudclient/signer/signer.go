// Package signer implements Huawei Cloud's AK/SK request signing, algorithm
// SDK-HMAC-SHA256, as the official SDKs sign and the API gateway verifies.
//
// The canonicalisation helpers are exported so that the cloud simulator can
// recompute a signature from the request it received.
package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const (
	// Algorithm is the name in the Authorization header and the string to sign.
	Algorithm = "SDK-HMAC-SHA256"
	// HeaderDate carries the signing time.
	HeaderDate = "X-Sdk-Date"
	// DateLayout is the Go layout of HeaderDate's value (always UTC).
	DateLayout = "20060102T150405Z"
	// HeaderProjectID names the project; it must be set before signing.
	HeaderProjectID = "X-Project-Id"
	// HeaderSecurityToken carries temporary credentials' token; set before signing.
	HeaderSecurityToken = "X-Security-Token"
	// HeaderHost is the Host header's name; Go keeps the Host outside
	// http.Header, so a signer that wants it signed must put it there.
	HeaderHost = "Host"
)

// Sign adds X-Sdk-Date and Authorization to req, signing as the official
// SDK's signer does: every header on req (X-Project-Id and X-Security-Token
// included) except content-type* and names containing '_'. Host is signed
// only if req.Header holds it (see SetHost). body is the exact request body.
func Sign(req *http.Request, body []byte, accessKey, secretKey string, now time.Time) {
	req.Header.Set(HeaderDate, now.UTC().Format(DateLayout))
	signed := SignedHeaderNames(req.Header)
	canonical := CanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.Query(), req.Header, signed, body)
	sig := Signature(secretKey, StringToSign(req.Header.Get(HeaderDate), canonical))
	req.Header.Set("Authorization", AuthorizationValue(accessKey, signed, sig))
}

// SetHost copies the host req is addressed to into req.Header, so that Sign
// covers it and a signature cannot be replayed against another endpoint (the
// official Go SDK does the same before signing). net/http never sends this
// header entry: it writes Host from req.Host or req.URL.Host.
func SetHost(req *http.Request) {
	if host := requestHost(req); host != "" {
		req.Header.Set(HeaderHost, host)
	}
}

func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	if req.URL != nil {
		return req.URL.Host
	}
	return ""
}

// requestHeaders is what a server verifies against: the received headers
// plus the Host the request was addressed to (Go moves it out of Header).
func requestHeaders(req *http.Request) http.Header {
	h := req.Header.Clone()
	if host := requestHost(req); host != "" {
		h.Set(HeaderHost, host)
	}
	return h
}

// RequestHeaders exposes the header set a server should verify against: the
// received headers plus the Host the request was addressed to.
func RequestHeaders(req *http.Request) http.Header { return requestHeaders(req) }

// SignedHeaderNames lists the headers to sign: lower-cased, sorted, without
// content-type* and names containing '_'.
func SignedHeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for name := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "content-type") || strings.Contains(lower, "_") {
			continue
		}
		names = append(names, lower)
	}
	sort.Strings(names)
	return names
}

// CanonicalRequest builds the string whose hash is signed.
func CanonicalRequest(method, escapedPath string, query url.Values, h http.Header, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(CanonicalURI(escapedPath))
	b.WriteByte('\n')
	b.WriteString(CanonicalQuery(query))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(headerValue(h, name)))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(HexSHA256(body))
	return b.String()
}

// headerValue finds a header by lower-case name whatever its stored spelling.
func headerValue(h http.Header, lower string) string {
	if v := h.Get(lower); v != "" {
		return v
	}
	for name, values := range h {
		if strings.ToLower(name) == lower && len(values) > 0 {
			return values[0]
		}
	}
	return ""
}

// CanonicalURI escapes each segment of the (unescaped-then-escaped) path and
// always ends with '/'.
func CanonicalURI(escapedPath string) string {
	segments := strings.Split(escapedPath, "/")
	for i, s := range segments {
		if raw, err := url.PathUnescape(s); err == nil {
			s = raw
		}
		segments[i] = Escape(s)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri
}

// CanonicalQuery sorts keys, and each key's values, and joins escaped k=v with '&'.
func CanonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		values := append([]string(nil), q[k]...)
		sort.Strings(values)
		for _, v := range values {
			parts = append(parts, Escape(k)+"="+Escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// Escape keeps A-Z a-z 0-9 _ - ~ . and percent-encodes every other byte upper-case.
func Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '_' || c == '-' || c == '~' || c == '.' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// StringToSign is Algorithm, the X-Sdk-Date value and the canonical request's hash.
func StringToSign(sdkDate, canonicalRequest string) string {
	return Algorithm + "\n" + sdkDate + "\n" + HexSHA256([]byte(canonicalRequest))
}

// Signature is hex(HMAC-SHA256(secretKey, stringToSign)), with no key derivation.
func Signature(secretKey, stringToSign string) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// HexSHA256 is the lower-case hex SHA-256 of data.
func HexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// AuthorizationValue formats the Authorization header.
func AuthorizationValue(accessKey string, signed []string, signature string) string {
	return fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s", Algorithm, accessKey, strings.Join(signed, ";"), signature)
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string
	Signature     string
}

// ErrMalformedAuthorization means the Authorization header is not SDK-HMAC-SHA256.
var ErrMalformedAuthorization = errors.New("malformed SDK-HMAC-SHA256 Authorization header")

// ParseAuthorization parses an Authorization header value.
func ParseAuthorization(value string) (Authorization, error) {
	rest, ok := strings.CutPrefix(value, Algorithm+" ")
	if !ok {
		return Authorization{}, ErrMalformedAuthorization
	}
	var a Authorization
	for _, part := range strings.Split(rest, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return Authorization{}, ErrMalformedAuthorization
		}
		switch k {
		case "Access":
			a.AccessKey = v
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKey == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return Authorization{}, ErrMalformedAuthorization
	}
	return a, nil
}

// Verify recomputes the signature of a received request (body already read)
// with secretKey and reports whether it matches. It checks what the server
// received, so an altered path, query, signed header or body fails.
func Verify(req *http.Request, body []byte, auth Authorization, secretKey string) bool {
	headers := requestHeaders(req)
	for _, name := range auth.SignedHeaders {
		if name == "" || (headerValue(headers, name) == "" && len(headers.Values(name)) == 0) {
			return false
		}
	}
	canonical := CanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.Query(), headers, auth.SignedHeaders, body)
	want := Signature(secretKey, StringToSign(req.Header.Get(HeaderDate), canonical))
	return hmac.Equal([]byte(want), []byte(auth.Signature))
}
