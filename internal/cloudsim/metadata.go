package cloudsim

// The ECS instance metadata service of a node with an agency: a session
// token (PUT /meta-data/latest/api/token), then temporary AK/SK and a
// security token (GET /openstack/latest/securitykey). Credentials live
// MetadataCredentialLifetime and are replaced rotateBefore their expiry;
// old ones keep working until they expire, never after.

import (
	"net/http"
	"strconv"
	"time"
)

const (
	// DefaultTempCredentialLifetime is the cloud's: one hour.
	DefaultTempCredentialLifetime = time.Hour
	// DefaultTempCredentialRotateBefore is the cloud's: 10 minutes.
	DefaultTempCredentialRotateBefore = 10 * time.Minute
	maxMetadataSessionTTL             = 6 * time.Hour
)

// Agency is the node agency whose temporary credentials the metadata
// service hands out; they are allowed on Projects.
type Agency struct {
	Projects []string `json:"projects"`
}

type tempKey struct {
	secret, securityToken string
	expires               time.Time
}

// SetTempCredentialLifetime sets the lifetime of temporary credentials
// and how long before expiry new ones are issued. The next securitykey read
// gets new credentials with that lifetime; those issued before stay valid
// until they expire.
func (s *Server) SetTempCredentialLifetime(lifetime, rotateBefore time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lifetime <= 0 {
		lifetime = DefaultTempCredentialLifetime
	}
	s.tempLifetime, s.tempRotateBefore = lifetime, min(max(rotateBefore, 0), lifetime)
	s.currentTemp = ""
}

// TempCredentialsIssued counts temporary credentials issued.
func (s *Server) TempCredentialsIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tempKeys)
}

// ExpiredTempCredentialUses counts requests signed with expired temporary credentials (refused).
func (s *Server) ExpiredTempCredentialUses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiredTempUses
}

func (s *Server) serveMetadataToken(w http.ResponseWriter, r *http.Request) {
	ttl, err := strconv.Atoi(r.Header.Get("X-Metadata-Token-Ttl-Seconds"))
	if err != nil || ttl < 1 || time.Duration(ttl)*time.Second > maxMetadataSessionTTL {
		http.Error(w, "X-Metadata-Token-Ttl-Seconds must be 1-21600", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "meta-" + randomHex(24)
	s.metaSessions[tok] = s.clock().Add(time.Duration(ttl) * time.Second)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(tok))
}

func (s *Server) serveSecurityKey(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if exp, ok := s.metaSessions[r.Header.Get("X-Metadata-Token")]; !ok || !now.Before(exp) {
		http.Error(w, "a valid X-Metadata-Token is required", http.StatusUnauthorized)
		return
	}
	if s.fixture.Agency == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "the server has no agency"})
		return
	}
	cur, ok := s.tempKeys[s.currentTemp]
	if !ok || !now.Before(cur.expires.Add(-s.tempRotateBefore)) {
		s.currentTemp = "TMP" + randomHex(10)
		cur = &tempKey{secret: randomHex(20), securityToken: "sts-" + randomHex(48), expires: now.Add(s.tempLifetime)}
		s.tempKeys[s.currentTemp] = cur
	}
	writeJSON(w, http.StatusOK, map[string]any{"credential": map[string]string{
		"access": s.currentTemp, "secret": cur.secret, "securitytoken": cur.securityToken,
		"expires_at": cur.expires.UTC().Format(time.RFC3339Nano),
	}})
}

// tempAccessKey returns the temporary key ak as an AccessKey of the agency,
// or why it may not sign now; s.mu must be held.
func (s *Server) tempAccessKey(ak string, now time.Time) (*AccessKey, *authError) {
	t, ok := s.tempKeys[ak]
	if !ok || s.fixture.Agency == nil {
		return nil, nil
	}
	if !now.Before(t.expires) {
		s.expiredTempUses++
		return nil, unauthorized("the temporary access key has expired")
	}
	return &AccessKey{AccessKey: ak, SecretKey: t.secret, SecurityToken: t.securityToken, Projects: s.fixture.Agency.Projects}, nil
}
