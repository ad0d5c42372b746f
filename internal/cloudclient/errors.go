package cloudclient

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// API names a cloud API in errors and metrics.
type API string

const (
	APIIAMToken        API = "iam_token"
	APIWorkspace       API = "workspace"
	APIAuthorizations  API = "authorizations"
	APIServiceAPIAuths API = "service_api_auths"
	APIRomaApp         API = "roma_app"
	APIDevEnvToken     API = "devenv_token"
	// APIIAMIDToken exchanges a ServiceAccount token (workload identity).
	APIIAMIDToken API = "iam_id_token"
	// APIInstanceMetadata reads temporary credentials from the metadata service.
	APIInstanceMetadata API = "instance_metadata"
	// APIServiceAccountToken is the Kubernetes TokenRequest (not a cloud call).
	APIServiceAccountToken API = "serviceaccount_token"
)

// Reason classifies a failed call; the values double as condition reasons.
type Reason string

const (
	ReasonNotFound        Reason = "NotFound"
	ReasonUnauthorized    Reason = "Unauthorized"
	ReasonForbidden       Reason = "Forbidden"
	ReasonThrottled       Reason = "Throttled"
	ReasonCloudError      Reason = "CloudError"
	ReasonInvalidResponse Reason = "InvalidResponse"
	ReasonNotOffered      Reason = "NotOffered"
)

// outcomeSuccess is the Observe outcome of a successful request.
const outcomeSuccess = "success"

const (
	maxMessageLen   = 200
	maxCodeLen      = 64
	maxRequestIDLen = 128
	// defaultRetryAfter applies to a throttled answer without a usable Retry-After.
	defaultRetryAfter = time.Second
	// maxRetryAfter caps what a server may ask for.
	maxRetryAfter = time.Hour
)

// Error is every failure this package returns from a cloud call. Its text
// holds the API, the HTTP status, the cloud's error code and message
// (truncated) and the request id; never a credential, token or raw body.
type Error struct {
	API        API
	StatusCode int    // HTTP status; 0 when no response was received
	Code       string // the cloud's error_code
	Message    string
	RequestID  string
	RetryAfter time.Duration // set for ReasonThrottled
	Reason     Reason
	Err        error // underlying transport or decoding error, if any
}

// Error formats e as "api: Reason (HTTP status, code X): message (request id Y)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.API != "" {
		b.WriteString(string(e.API))
		b.WriteString(": ")
	}
	b.WriteString(string(e.Reason))
	if e.StatusCode != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.StatusCode != 0 {
			b.WriteString("HTTP ")
			b.WriteString(strconv.Itoa(e.StatusCode))
		}
		if e.Code != "" {
			if e.StatusCode != 0 {
				b.WriteString(", ")
			}
			b.WriteString("code ")
			b.WriteString(sanitize(e.Code, maxCodeLen))
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(sanitize(e.Message, maxMessageLen))
	}
	// Only transport failures print their cause: decoding errors may quote
	// parts of the response body.
	if e.Err != nil && e.StatusCode == 0 && e.Reason == ReasonCloudError {
		b.WriteString(": ")
		b.WriteString(sanitize(e.Err.Error(), 2*maxMessageLen))
	}
	if e.Reason == ReasonThrottled && e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteString(")")
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(sanitize(e.RequestID, maxRequestIDLen))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying transport or decoding error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf classifies err: "" for nil, the Reason of an *Error in its chain,
// and CloudError for anything else (transport errors, timeouts).
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonCloudError
}

// IsNotFound reports whether the object does not exist in the cloud.
func IsNotFound(err error) bool { return ReasonOf(err) == ReasonNotFound }

// IsUnauthorized reports a rejected token, signature or password.
func IsUnauthorized(err error) bool { return ReasonOf(err) == ReasonUnauthorized }

// IsForbidden reports a call the account may not make.
func IsForbidden(err error) bool { return ReasonOf(err) == ReasonForbidden }

// IsThrottled reports a rate-limited call; see RetryAfter.
func IsThrottled(err error) bool { return ReasonOf(err) == ReasonThrottled }

// IsInvalidResponse reports an answer that could not be understood.
func IsInvalidResponse(err error) bool { return ReasonOf(err) == ReasonInvalidResponse }

// IsNotOffered reports a service without an endpoint for the cloud and region.
func IsNotOffered(err error) bool { return ReasonOf(err) == ReasonNotOffered }

// IsServerError reports an HTTP 5xx answer.
func IsServerError(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonCloudError && e.StatusCode >= 500 && e.StatusCode <= 599
}

// RetryAfter is how long the cloud asked to wait after a throttled call; 0
// for other errors.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// throttleCodes are error codes meaning "slow down" whatever the HTTP status.
var throttleCodes = map[string]bool{
	"ModelArts.2799": true, // TooManyRequests
	"ModelArts.6101": true, // system busy
	"APIG.0308":      true, // API gateway throttling
}

// notFoundCode is the old DevEnviron API's "instance does not exist" (HTTP 400).
const notFoundCode = "ModelArts.6309"

// classify maps an HTTP error status and the cloud's error code to a Reason.
func classify(status int, code string) Reason {
	switch {
	case throttleCodes[code]:
		return ReasonThrottled
	case code == notFoundCode && status >= 400 && status <= 499:
		return ReasonNotFound
	case status == http.StatusNotFound:
		return ReasonNotFound
	case status == http.StatusUnauthorized:
		return ReasonUnauthorized
	case status == http.StatusForbidden:
		return ReasonForbidden
	case status == http.StatusTooManyRequests:
		return ReasonThrottled
	default:
		return ReasonCloudError
	}
}

// parseRetryAfter reads a Retry-After value (delay seconds or an HTTP date).
// Absent or unparseable → defaultRetryAfter; the result is capped at
// maxRetryAfter and never negative.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultRetryAfter
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return defaultRetryAfter
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return defaultRetryAfter
	}
	if d < 0 {
		d = 0
	}
	if d > maxRetryAfter {
		d = maxRetryAfter
	}
	return d
}

// sanitize makes s a single printable line of at most max runes.
func sanitize(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return s
}

// redactor removes known secret values from text before it enters an Error.
type redactor []string

// minRedactLen avoids blanking out common short substrings.
const minRedactLen = 4

func (r redactor) apply(s string) string {
	for _, secret := range r {
		if len(secret) >= minRedactLen && strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

// notOfferedError is returned without a network call when a service has no endpoint.
func notOfferedError(api API, s service, cloud Cloud, region string) *Error {
	return &Error{
		API:    api,
		Reason: ReasonNotOffered,
		Message: fmt.Sprintf("%s is not offered by %s in region %s; set %s to use one",
			s.displayName(), cloud, region, s.field()),
	}
}
