package controller

import (
	"regexp"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// epochMillis converts the cloud's epoch-millisecond timestamps; 0 is unset.
// Seconds precision: metav1.Time serialises RFC 3339 without fractions, and a
// value that survives the round trip keeps steady-state syncs write-free.
func epochMillis(ms int64) *metav1.Time {
	if ms <= 0 {
		return nil
	}
	return &metav1.Time{Time: time.UnixMilli(ms).UTC().Truncate(time.Second)}
}

// rfc3339 parses the cloud's RFC 3339 timestamps (ROMA); the decoder has
// already refused unparsable ones, so "" is the only unset value.
func rfc3339(s string) *metav1.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	return &metav1.Time{Time: t.UTC().Truncate(time.Second)}
}

var invalidSecretKeyChars = regexp.MustCompile(`[^-._a-zA-Z0-9]`)

// secretKeyPart makes a cloud ID usable inside a Secret data key.
func secretKeyPart(s string) string {
	return invalidSecretKeyChars.ReplaceAllString(s, "_")
}
