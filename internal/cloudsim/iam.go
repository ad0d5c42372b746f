package cloudsim

// IAM: password tokens (POST /v3/auth/tokens).

import (
	"encoding/json"
	"net/http"
	"time"
)

// SetTokenTTL sets the lifetime of IAM tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		d = DefaultTokenTTL
	}
	s.tokenTTL = d
}

// RevokeTokens makes every token issued so far answer 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// IssuedTokens counts IAM tokens issued (since New or ResetCounters).
func (s *Server) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

func scopedProject(body []byte) string {
	var req tokenRequest
	if json.Unmarshal(body, &req) != nil {
		return ""
	}
	return req.Auth.Scope.Project.ID
}

type tokenRequest struct {
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

// projectScope is the "scope" of IAM token requests.
type projectScope struct {
	Project struct {
		ID string `json:"id"`
	} `json:"project"`
}

func keystoneError(code int, title, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message, "title": title}}
}

const iamTimeLayout = "2006-01-02T15:04:05.000000Z"

func (s *Server) serveToken(w http.ResponseWriter, body []byte) {
	var req tokenRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, keystoneError(400, "Bad Request", "The request body is invalid."))
		return
	}
	id := req.Auth.Identity
	if len(id.Methods) != 1 || id.Methods[0] != "password" {
		writeJSON(w, http.StatusBadRequest, keystoneError(400, "Bad Request", "Only the password method is supported by this simulator."))
		return
	}
	project := req.Auth.Scope.Project.ID
	if project == "" {
		writeJSON(w, http.StatusBadRequest, keystoneError(400, "Bad Request", "A project scope (auth.scope.project.id) is required."))
		return
	}
	u := id.Password.User
	s.mu.Lock()
	defer s.mu.Unlock()
	var user *User
	for i := range s.fixture.Users {
		c := &s.fixture.Users[i]
		if c.UserName == u.Name && c.DomainName == u.Domain.Name && c.Password == u.Password && u.Password != "" {
			user = c
			break
		}
	}
	if user == nil {
		writeJSON(w, http.StatusUnauthorized, keystoneError(401, "Unauthorized", "The username or password is wrong."))
		return
	}
	if !contains(user.Projects, project) {
		writeJSON(w, http.StatusForbidden, keystoneError(403, "Forbidden", "You are not authorized to access the requested project."))
		return
	}
	s.issueToken(w, "MIIsim", "password", issuedToken{user: user.UserName, domain: user.DomainName, project: project},
		map[string]any{"name": user.UserName, "domain": map[string]any{"name": user.DomainName}})
}

// issueToken records a project-scoped IAM token for t (s.mu held) and
// answers as IAM does: the token in X-Subject-Token, its times in the body.
func (s *Server) issueToken(w http.ResponseWriter, prefix, method string, t issuedToken, user map[string]any) {
	now := s.clock().UTC()
	tok := prefix + randomHex(32)
	t.expires = now.Add(s.tokenTTL)
	s.tokens[tok] = &t
	s.issued++
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"expires_at": t.expires.Format(iamTimeLayout),
		"issued_at":  now.Format(iamTimeLayout),
		"methods":    []string{method},
		"project":    map[string]any{"id": t.project, "name": t.project},
		"user":       user,
	}})
}
