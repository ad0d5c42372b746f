package cloudsim

// IAM federation: POST /v3.0/OS-AUTH/id-token/tokens exchanges an OpenID
// Connect ID token (a Kubernetes ServiceAccount token) for a scoped IAM
// token, as IAM does for an identity provider of protocol OpenID Connect.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// IdentityProvider is an IAM identity provider of protocol OpenID Connect:
// tokens signed by the configured JWKS with this issuer and audience (the
// provider's client ID) are accepted for the subjects it maps.
type IdentityProvider struct {
	ID       string `json:"id"`
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// Subjects maps a token's sub (system:serviceaccount:<ns>:<name>) to the
	// projects it may be scoped to; unlisted subjects are refused.
	Subjects map[string][]string `json:"subjects"`
}

// JWKSSource returns the JSON Web Key Set that signs ID tokens (the API
// server's /openid/v1/jwks, or a file).
type JWKSSource func() ([]byte, error)

// SetJWKS sets where the ID-token signing keys come from; nil refuses every
// ID token. The source is read on every exchange, so rotated keys count.
func (s *Server) SetJWKS(src JWKSSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = src
}

// FederatedTokens counts IAM tokens issued for ID tokens.
func (s *Server) FederatedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.federated
}

// FederatedTokensFor counts IAM tokens issued for ID tokens of subject
// (system:serviceaccount:<ns>:<name>), since New.
func (s *Server) FederatedTokensFor(subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.federatedBySubject[subject]
}

type idTokenRequest struct {
	Auth struct {
		IDToken struct {
			ID string `json:"id"`
		} `json:"id_token"`
		Scope projectScope `json:"scope"`
	} `json:"auth"`
}

// idTokenAlgorithms are the signature algorithms Kubernetes issuers use.
var idTokenAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384, jose.ES512, jose.PS256}

func (s *Server) serveIDToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var req idTokenRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Auth.IDToken.ID == "" {
		writeJSON(w, http.StatusBadRequest, keystoneError(400, "Bad Request", "The request body is invalid."))
		return
	}
	project := req.Auth.Scope.Project.ID
	if project == "" {
		writeJSON(w, http.StatusBadRequest, keystoneError(400, "Bad Request", "A project scope (auth.scope.project.id) is required."))
		return
	}
	idpID := r.Header.Get("X-Idp-Id")
	s.mu.Lock()
	var idp *IdentityProvider
	for i := range s.fixture.IdentityProviders {
		if s.fixture.IdentityProviders[i].ID == idpID {
			p := s.fixture.IdentityProviders[i]
			idp = &p
		}
	}
	src, now := s.jwks, s.clock()
	s.mu.Unlock()
	if idp == nil {
		writeJSON(w, http.StatusNotFound, keystoneError(404, "Not Found", "The identity provider in X-Idp-Id does not exist."))
		return
	}
	subject, err := verifyIDToken(req.Auth.IDToken.ID, src, idp, now)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, keystoneError(401, "Unauthorized", "The ID token is invalid: "+err.Error()))
		return
	}
	if !contains(idp.Subjects[subject], project) {
		writeJSON(w, http.StatusForbidden, keystoneError(403, "Forbidden", "No mapping rule allows this subject on the requested project."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.federated++
	if s.federatedBySubject == nil {
		s.federatedBySubject = map[string]int{}
	}
	s.federatedBySubject[subject]++
	s.issueToken(w, "MIIfed", "mapped", issuedToken{user: subject, domain: "federated:" + idp.ID, project: project},
		map[string]any{"name": subject, "OS-FEDERATION": map[string]any{"identity_provider": map[string]any{"id": idp.ID}}})
}

// verifyIDToken checks the JWT's signature against the JWKS, then its
// issuer, audience and validity period, and returns its subject. Error
// texts never quote the token.
func verifyIDToken(raw string, src JWKSSource, idp *IdentityProvider, now time.Time) (string, error) {
	if src == nil {
		return "", errors.New("no signing keys are configured")
	}
	tok, err := jwt.ParseSigned(raw, idTokenAlgorithms)
	if err != nil {
		return "", errors.New("not a signed JWT")
	}
	data, err := src()
	if err != nil {
		return "", errors.New("the signing keys cannot be read")
	}
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(data, &keys); err != nil {
		return "", errors.New("the signing keys cannot be parsed")
	}
	// go-jose skips the issuer check for an empty expected issuer: an
	// identity provider must name one, as IAM's does.
	if idp.Issuer == "" || idp.ClientID == "" {
		return "", errors.New("the identity provider has no issuer or client ID")
	}
	var claims jwt.Claims
	if err := tok.Claims(&keys, &claims); err != nil {
		return "", errors.New("signature verification failed")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: idp.Issuer, AnyAudience: jwt.Audience{idp.ClientID}, Time: now}, 0); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return "", errors.New("the token has expired")
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return "", errors.New("wrong issuer")
		case errors.Is(err, jwt.ErrInvalidAudience):
			return "", errors.New("wrong audience")
		default:
			return "", errors.New("the token is not valid now")
		}
	}
	if claims.Expiry == nil {
		return "", errors.New("the token has no expiry")
	}
	if claims.Subject == "" {
		return "", errors.New("the token has no subject")
	}
	return claims.Subject, nil
}

// JWKSFromFile reads the key set from path on every use.
func JWKSFromFile(path string) JWKSSource {
	return func() ([]byte, error) { return os.ReadFile(path) }
}

// JWKSFromURL fetches the key set from url (e.g. the API server's
// https://…/openid/v1/jwks), trusting caPEM in addition to the system roots
// and sending bearer() (if set and not empty) as Authorization; it is called
// on every fetch, so a rotated token file is followed.
func JWKSFromURL(url string, caPEM []byte, bearer func() string) (JWKSSource, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("jwks: no PEM certificate in the CA file")
		}
		tlsCfg.RootCAs = roots
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return func() ([]byte, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if bearer != nil {
			if b := bearer(); b != "" {
				req.Header.Set("Authorization", "Bearer "+b)
			}
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("jwks: %s answered %d", url, resp.StatusCode)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}, nil
}
