package cloudclient

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// cachedToken is an IAM token and when to stop using it.
type cachedToken struct {
	value     string
	expiresAt time.Time
	renewAt   time.Time
}

func (t cachedToken) renewal() time.Time { return t.renewAt }
func (t cachedToken) expiry() time.Time  { return t.expiresAt }
func (t cachedToken) id() string         { return t.value }

// tokenCache holds one IAM token per (IAM endpoint, domain, user,
// password hash, project), or per workload identity, shared by all of a
// Pool's clients.
type tokenCache struct {
	credentialCache[cachedToken]
	// throttled holds IAM's last 429 per key, for every client sharing it.
	throttled throttles[string]
}

func newTokenCache() *tokenCache {
	return &tokenCache{credentialCache: newCredentialCache[cachedToken]()}
}

// tokenKey derives the cache key. It is an HMAC with the pool's random salt,
// so neither the password nor a plain hash of it is kept.
func tokenKey(salt []byte, parts ...string) string {
	mac := hmac.New(sha256.New, salt)
	for _, part := range parts {
		writeField(mac, part)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// tokenRetryAfterFailure is how long a cached token that could not be
// renewed (IAM down) is used before renewal is tried again.
const tokenRetryAfterFailure = 30 * time.Second

// extend keeps key's token in use after a transient renewal failure (err)
// while it has not expired: its renewal is postponed by
// tokenRetryAfterFailure, never past its expiry.
func (tc *tokenCache) extend(key string, now time.Time, err error) (cachedToken, bool) {
	switch ReasonOf(err) {
	case ReasonCloudError, ReasonThrottled, ReasonInvalidResponse:
	default:
		return cachedToken{}, false
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, ok := tc.items[key]
	if !ok || !now.Before(t.expiresAt) {
		return cachedToken{}, false
	}
	t.renewAt = now.Add(tokenRetryAfterFailure)
	if t.renewAt.After(t.expiresAt) {
		t.renewAt = t.expiresAt
	}
	tc.items[key] = t
	return t, true
}

// renewAt is when a token obtained at now and expiring at expiresAt should
// be replaced: renewBefore ahead of expiry, but not before half its lifetime
// so that a short-lived token is not fetched anew for every request.
func renewAt(now, expiresAt time.Time, renewBefore time.Duration) time.Time {
	at := expiresAt.Add(-renewBefore)
	if half := now.Add(expiresAt.Sub(now) / 2); at.Before(half) {
		at = half
	}
	return at
}

// token returns a valid IAM token for c's credentials, fetching one if the
// cache has none (or only one due for renewal). Concurrent callers share one
// IAM request.
func (c *Client) token(ctx context.Context) (cachedToken, error) {
	if t, ok := c.tokens.lookup(c.tokenKey, c.opts.Now()); ok {
		return t, nil
	}
	ch := c.tokens.flight.DoChan(c.tokenKey, func() (any, error) {
		if t, ok := c.tokens.lookup(c.tokenKey, c.opts.Now()); ok {
			return t, nil
		}
		// While IAM's Retry-After runs, its last answer stands in for a request.
		err := c.tokens.throttled.answer(c.tokenKey, c.opts.Now())
		var t cachedToken
		if err == nil {
			// The fetch outlives a caller that gives up: others may be waiting.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.HTTPTimeout)
			defer cancel()
			t, err = c.fetchToken(fctx)
			c.tokens.throttled.observe(c.tokenKey, err, c.opts.Now())
		}
		if err != nil {
			// IAM down: a cached token that is due for renewal but not
			// expired keeps serving; renewal is retried after a pause.
			if t, ok := c.tokens.extend(c.tokenKey, c.opts.Now(), err); ok {
				return t, nil
			}
			return nil, err
		}
		c.tokens.store(c.tokenKey, t)
		return t, nil
	})
	select {
	case <-ctx.Done():
		return cachedToken{}, &Error{API: APIIAMToken, Reason: ReasonCloudError, Message: "gave up waiting for an IAM token", Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return cachedToken{}, r.Err
		}
		return r.Val.(cachedToken), nil
	}
}

// acceptIAMToken reads IAM's answer to a token request (password or ID
// token): the token in X-Subject-Token, its times in the body, into tok.
// sent is when the request left, for the operator's clock.
func (c *Client) acceptIAMToken(sent time.Time, tok *cachedToken) func(http.Header, []byte) error {
	return func(h http.Header, resp []byte) error {
		value := h.Get("X-Subject-Token")
		if value == "" {
			return errNoToken
		}
		times, err := decodeIAMToken(resp)
		if err != nil {
			return err
		}
		// Caching a token that is already expired would send every call back to IAM.
		exp, err := times.localExpiry(sent)
		if err != nil {
			return err
		}
		*tok = cachedToken{value: value, expiresAt: exp, renewAt: renewAt(sent, exp, c.opts.TokenRenewBefore)}
		return nil
	}
}

// iamTokenRequest is the documented password-token request body.
type iamTokenRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope projectScope `json:"scope"`
	} `json:"auth"`
}

// projectScope is the "scope" of IAM token requests (password and ID token).
type projectScope struct {
	Project struct {
		ID string `json:"id"`
	} `json:"project"`
}

func (c *Client) tokenRequestBody() ([]byte, error) {
	var r iamTokenRequest
	r.Auth.Identity.Methods = []string{"password"}
	r.Auth.Identity.Password.User.Name = c.creds.UserName
	r.Auth.Identity.Password.User.Password = c.creds.Password
	r.Auth.Identity.Password.User.Domain.Name = c.creds.DomainName
	r.Auth.Scope.Project.ID = c.projectID
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// fetchToken performs POST {iam}/v3/auth/tokens, or the workload identity exchange.
func (c *Client) fetchToken(ctx context.Context) (cachedToken, error) {
	if c.method == AuthWorkloadIdentity {
		return c.fetchFederatedToken(ctx)
	}
	base := c.endpoints.IAM
	if base == "" {
		return cachedToken{}, notOfferedError(APIIAMToken, serviceIAM, c.cloud, c.region)
	}
	body, err := c.tokenRequestBody()
	if err != nil {
		return cachedToken{}, &Error{API: APIIAMToken, Reason: ReasonCloudError, Message: "cannot encode the IAM token request"}
	}
	var tok cachedToken
	sent := c.opts.Now()
	err = c.roundTrip(ctx, APIIAMToken, http.MethodPost, base+"/v3/auth/tokens", body, nil, c.acceptIAMToken(sent, &tok), "")
	if err != nil {
		return cachedToken{}, err
	}
	return tok, nil
}
