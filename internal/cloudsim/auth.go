package cloudsim

// Authentication of cloud API calls: X-Auth-Token or an AK/SK signature.

import (
	"net/http"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
)

type authError struct {
	status int
	body   map[string]string
}

func unauthorized(reason string) *authError {
	return &authError{status: http.StatusUnauthorized, body: modelArtsError("APIGW.0301", "Incorrect IAM authentication information: "+reason)}
}

func forbidden(reason string) *authError {
	return &authError{status: http.StatusForbidden, body: modelArtsError("ModelArts.0203", reason)}
}

// authenticate checks X-Auth-Token or the AK/SK signature as the gateway does.
func (s *Server) authenticate(r *http.Request, body []byte, project string) *authError {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		t := s.tokens[tok]
		switch {
		case t == nil:
			return unauthorized("token is invalid")
		case t.revoked:
			return unauthorized("token has been revoked")
		case !now.Before(t.expires):
			return unauthorized("token expired")
		case t.project != project:
			return forbidden("The token is not scoped to the project in the request URL.")
		}
		return nil
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return unauthorized("neither X-Auth-Token nor an AK/SK signature is present")
	}
	a, err := signer.ParseAuthorization(authz)
	if err != nil {
		return unauthorized("the Authorization header is not a valid SDK-HMAC-SHA256 signature")
	}
	var key *AccessKey
	for i := range s.fixture.AccessKeys {
		if s.fixture.AccessKeys[i].AccessKey == a.AccessKey {
			key = &s.fixture.AccessKeys[i]
			break
		}
	}
	if key == nil {
		temp, e := s.tempAccessKey(a.AccessKey, now)
		if e != nil {
			return e
		}
		key = temp
	}
	if key == nil {
		return unauthorized("the access key does not exist")
	}
	date := r.Header.Get(signer.HeaderDate)
	if date == "" {
		return unauthorized("X-Sdk-Date is missing")
	}
	ts, err := time.Parse(signer.DateLayout, date)
	if err != nil {
		return unauthorized("X-Sdk-Date is malformed")
	}
	if d := now.Sub(ts); d > MaxDateSkew || d < -MaxDateSkew {
		return unauthorized("the request has expired: X-Sdk-Date differs from the server time by more than 15 minutes")
	}
	if !contains(a.SignedHeaders, "x-sdk-date") {
		return unauthorized("x-sdk-date is not signed")
	}
	if !signer.Verify(r, body, a, key.SecretKey) {
		return unauthorized("verify aksk signature fail")
	}
	if key.SecurityToken != "" {
		st := r.Header.Get(signer.HeaderSecurityToken)
		switch {
		case st == "":
			return unauthorized("X-Security-Token is required for temporary credentials")
		case st != key.SecurityToken:
			return unauthorized("the security token is invalid")
		case !contains(a.SignedHeaders, "x-security-token"):
			return unauthorized("x-security-token is not signed")
		}
	}
	pid := r.Header.Get(signer.HeaderProjectID)
	switch {
	case pid == "":
		return forbidden("X-Project-Id is required with AK/SK authentication.")
	case !contains(a.SignedHeaders, "x-project-id"):
		return unauthorized("x-project-id is not signed")
	case pid != project:
		return forbidden("X-Project-Id does not match the project in the request URL.")
	case !contains(key.Projects, project):
		return forbidden("The access key is not permitted on this project.")
	}
	return nil
}
