package cloudclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Keyless authentication: no long-lived secret is configured. Workload
// identity exchanges a Kubernetes ServiceAccount token at IAM for an IAM
// token (cached and shared like password tokens); instance metadata yields
// temporary AK/SK plus a security token from the node's agency.

const (
	// AuthWorkloadIdentity sends an IAM token obtained with a ServiceAccount token.
	AuthWorkloadIdentity AuthMethod = "WorkloadIdentity"
	// AuthInstanceMetadata signs with temporary AK/SK from the metadata service.
	AuthInstanceMetadata AuthMethod = "InstanceMetadata"

	// DefaultMetadataEndpoint is the ECS/CCE node metadata service.
	DefaultMetadataEndpoint = "http://169.254.169.254"
	// metadataSessionTTL is the session token lifetime asked of the metadata service.
	metadataSessionTTL = "21600"
	// defaultTempRenewBefore renews temporary AK/SK this long before they
	// expire; the cloud has new ones 10 minutes before.
	defaultTempRenewBefore = 5 * time.Minute
	// maxTempFallbackMargin: when renewal fails, the current temporary
	// credentials are used until at most this long before they expire.
	maxTempFallbackMargin = 30 * time.Second
)

// WorkloadIdentity names the ServiceAccount whose token is exchanged at IAM.
type WorkloadIdentity struct {
	Namespace          string
	ServiceAccount     string
	Audience           string
	ExpirationSeconds  int64
	IdentityProviderID string
}

// InstanceMetadata says where the metadata service is ("" for the default).
type InstanceMetadata struct {
	Endpoint string
}

// ServiceAccountTokenFunc obtains a token of a ServiceAccount for audience
// (the Kubernetes TokenRequest API). An *Error it returns is passed on as it
// is; any other error counts as a transient CloudError.
type ServiceAccountTokenFunc func(ctx context.Context, namespace, name, audience string, expirationSeconds int64) (string, error)

// ---- workload identity ----

// idTokenRequest is the CreateTokenWithIdToken request body.
type idTokenRequest struct {
	Auth struct {
		IDToken struct {
			ID string `json:"id"`
		} `json:"id_token"`
		Scope projectScope `json:"scope"`
	} `json:"auth"`
}

// fetchFederatedToken asks the API server for a ServiceAccount token and
// exchanges it at POST {iam}/v3.0/OS-AUTH/id-token/tokens. The JWT lives
// only for this call.
func (c *Client) fetchFederatedToken(ctx context.Context) (cachedToken, error) {
	base := c.endpoints.IAM
	if base == "" {
		return cachedToken{}, notOfferedError(APIIAMIDToken, serviceIAM, c.cloud, c.region)
	}
	if c.opts.ServiceAccountToken == nil {
		return cachedToken{}, &Error{API: APIServiceAccountToken, Reason: ReasonCloudError,
			Message: "no ServiceAccount token source is configured"}
	}
	wi := c.workload
	jwt, err := c.opts.ServiceAccountToken(ctx, wi.Namespace, wi.ServiceAccount, wi.Audience, wi.ExpirationSeconds)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return cachedToken{}, e
		}
		return cachedToken{}, &Error{API: APIServiceAccountToken, Reason: ReasonCloudError,
			Message: "the ServiceAccount token request failed", Err: err}
	}
	var r idTokenRequest
	r.Auth.IDToken.ID = jwt
	r.Auth.Scope.Project.ID = c.projectID
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return cachedToken{}, &Error{API: APIIAMIDToken, Reason: ReasonCloudError, Message: "cannot encode the IAM token request"}
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	var tok cachedToken
	sent := c.opts.Now()
	err = c.roundTrip(ctx, APIIAMIDToken, http.MethodPost, base+"/v3.0/OS-AUTH/id-token/tokens", body,
		func(req *http.Request) { req.Header.Set("X-Idp-Id", wi.IdentityProviderID) },
		c.acceptIAMToken(sent, &tok), jwt)
	if err != nil {
		return cachedToken{}, err
	}
	return tok, nil
}

// ---- instance metadata ----

// tempCredentials are an agency's temporary AK/SK and security token.
type tempCredentials struct {
	access, secret, securityToken string
	expiresAt                     time.Time
	renewAt                       time.Time
	// lastUseAt is the latest moment they may sign when renewal fails.
	lastUseAt time.Time
}

func (t tempCredentials) renewal() time.Time { return t.renewAt }
func (t tempCredentials) expiry() time.Time  { return t.expiresAt }
func (t tempCredentials) id() string         { return t.access }

// tempCache holds the temporary credentials per metadata endpoint, shared
// by a Pool's clients.
type tempCache struct {
	credentialCache[tempCredentials]
}

func newTempCache() *tempCache {
	return &tempCache{credentialCache: newCredentialCache[tempCredentials]()}
}

// fallback returns the cached credentials if they may still sign at now.
func (tc *tempCache) fallback(key string, now time.Time) (tempCredentials, bool) {
	t, ok := tc.get(key)
	return t, ok && now.Before(t.lastUseAt)
}

// temporaryCredentials returns credentials that may sign now, fetching new
// ones when the cached ones are due for renewal. Expired credentials are
// never returned.
func (c *Client) temporaryCredentials(ctx context.Context) (tempCredentials, error) {
	key := c.metadataEndpoint
	if t, ok := c.temps.lookup(key, c.opts.Now()); ok {
		return t, nil
	}
	ch := c.temps.flight.DoChan(key, func() (any, error) {
		if t, ok := c.temps.lookup(key, c.opts.Now()); ok {
			return t, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.HTTPTimeout)
		defer cancel()
		t, err := c.fetchTemporaryCredentials(fctx)
		if err != nil {
			if t, ok := c.temps.fallback(key, c.opts.Now()); ok {
				return t, nil
			}
			return nil, err
		}
		c.temps.store(key, t)
		return t, nil
	})
	select {
	case <-ctx.Done():
		return tempCredentials{}, &Error{API: APIInstanceMetadata, Reason: ReasonCloudError,
			Message: "gave up waiting for temporary credentials", Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return tempCredentials{}, r.Err
		}
		return r.Val.(tempCredentials), nil
	}
}

// fetchTemporaryCredentials gets a session token (PUT
// /meta-data/latest/api/token; older services answer 404/405 and are asked
// without one), then GET /openstack/latest/securitykey.
func (c *Client) fetchTemporaryCredentials(ctx context.Context) (tempCredentials, error) {
	base := c.metadataEndpoint
	var session string
	err := c.roundTrip(ctx, APIInstanceMetadata, http.MethodPut, base+"/meta-data/latest/api/token", nil,
		func(req *http.Request) { req.Header.Set("X-Metadata-Token-Ttl-Seconds", metadataSessionTTL) },
		func(_ http.Header, body []byte) error {
			session = strings.TrimSpace(string(body))
			if session == "" {
				return errNoToken
			}
			return nil
		})
	// A metadata service without session tokens (404/405) is read without one.
	if err != nil && !sessionTokensUnsupported(err) {
		return tempCredentials{}, err
	}
	var t tempCredentials
	sent := c.opts.Now()
	err = c.roundTrip(ctx, APIInstanceMetadata, http.MethodGet, base+"/openstack/latest/securitykey", nil,
		func(req *http.Request) {
			if session != "" {
				req.Header.Set("X-Metadata-Token", session)
			}
		},
		func(_ http.Header, body []byte) error {
			var w struct {
				Credential struct {
					Access        string `json:"access"`
					Secret        string `json:"secret"`
					SecurityToken string `json:"securitytoken"`
					ExpiresAt     string `json:"expires_at"`
				} `json:"credential"`
			}
			if err := decodeObject(body, &w); err != nil {
				return err
			}
			cr := w.Credential
			if cr.Access == "" || cr.Secret == "" || cr.SecurityToken == "" {
				return errNoToken
			}
			exp, ok := parseIAMTime(cr.ExpiresAt)
			if !ok {
				return errNoExpiry
			}
			if !exp.After(sent) {
				return errExpiredOnIssue
			}
			life := exp.Sub(sent)
			t = tempCredentials{access: cr.Access, secret: cr.Secret, securityToken: cr.SecurityToken, expiresAt: exp,
				renewAt: renewAt(sent, exp, defaultTempRenewBefore), lastUseAt: exp.Add(-min(maxTempFallbackMargin, life/4))}
			return nil
		}, session)
	if err != nil {
		return tempCredentials{}, err
	}
	return t, nil
}

// sessionTokensUnsupported: the metadata service answered the session-token
// request with 404 or 405, so it serves credentials without one.
func sessionTokensUnsupported(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusMethodNotAllowed)
}
