package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
)

// API names one simulated cloud API (fault injection, counters).
type API string

// The simulated APIs.
const (
	APIIAMToken        API = "iam_token"
	APIWorkspace       API = "workspace"
	APIAuthorizations  API = "authorizations"
	APIServiceAPIAuths API = "service_api_auths"
	APIRomaApp         API = "roma_app"
	APIDevEnvToken     API = "devenv_token"
)

// APIs lists every simulated API.
var APIs = []API{APIIAMToken, APIWorkspace, APIAuthorizations, APIServiceAPIAuths, APIRomaApp, APIDevEnvToken}

func validAPI(a API) bool {
	for _, x := range APIs {
		if x == a {
			return true
		}
	}
	return false
}

const (
	// DefaultTokenTTL is how long IAM tokens live unless SetTokenTTL says otherwise.
	DefaultTokenTTL = 24 * time.Hour
	// MaxDateSkew is how far X-Sdk-Date may be from the server's clock.
	MaxDateSkew = 15 * time.Minute
	// HeaderRequestID is set on every response.
	HeaderRequestID = "X-Request-Id"
)

type issuedToken struct {
	user, domain, project string
	expires               time.Time
	revoked               bool
}

type counter struct {
	total int
	byID  map[string]int
}

// Server is the simulated cloud. Create it with New; it is an http.Handler
// for the cloud APIs, and AdminHandler serves the admin API.
type Server struct {
	mu            sync.Mutex
	fixture       *Fixture
	tokens        map[string]*issuedToken
	issued        int
	tokenTTL      time.Duration
	faults        map[API][]*Fault
	latency       time.Duration
	counters      map[API]*counter
	recordOffsets bool
	listField     string
	clock         func() time.Time

	closeOnce sync.Once
	closed    chan struct{}
}

// New returns a simulator serving a deep copy of f (DefaultFixture when nil).
func New(f *Fixture) *Server {
	if f == nil {
		f = DefaultFixture()
	}
	s := &Server{
		fixture:   f.Clone(),
		tokens:    map[string]*issuedToken{},
		tokenTTL:  DefaultTokenTTL,
		faults:    map[API][]*Fault{},
		counters:  map[API]*counter{},
		listField: "auth",
		clock:     time.Now,
		closed:    make(chan struct{}),
	}
	return s
}

// Close releases every request held by a Hang fault (they answer 503) and
// makes later Hang faults answer at once. Call it before shutting the HTTP
// server down.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// Now is the simulator's clock (time.Now unless SetClock replaced it).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock()
}

// SetClock replaces the clock used for token expiry and X-Sdk-Date checks;
// nil restores time.Now.
func (s *Server) SetClock(clock func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if clock == nil {
		clock = time.Now
	}
	s.clock = clock
}

// SetLatency adds d before every cloud API response.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Latency reports the latency set by SetLatency.
func (s *Server) Latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// Requests counts requests received for api (authenticated or not).
func (s *Server) Requests(api API) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counters[api]; c != nil {
		return c.total
	}
	return 0
}

// RequestsFor counts requests for api on one resource id: workspace id,
// service id, ROMA app id, dev-environment instance id, the project id for
// authorizations and the scoped project id for IAM tokens.
func (s *Server) RequestsFor(api API, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counters[api]; c != nil {
		return c.byID[id]
	}
	return 0
}

// ResetCounters zeroes the request counters and the issued-token count.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[API]*counter{}
	s.issued = 0
}

// RequestCounts is a snapshot of the counters, as the admin API shows them.
type RequestCounts struct {
	Total int            `json:"total"`
	ByID  map[string]int `json:"by_id"`
}

// Counters snapshots every API's counters.
func (s *Server) Counters() map[API]RequestCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[API]RequestCounts{}
	for _, a := range APIs {
		rc := RequestCounts{ByID: map[string]int{}}
		if c := s.counters[a]; c != nil {
			rc.Total = c.total
			for k, v := range c.byID {
				rc.ByID[k] = v
			}
		}
		out[a] = rc
	}
	return out
}

func (s *Server) count(api API, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[api]
	if c == nil {
		c = &counter{byID: map[string]int{}}
		s.counters[api] = c
	}
	c.total++
	if id != "" {
		c.byID[id]++
	}
}

// Update runs fn on the live fixture under the lock.
func (s *Server) Update(fn func(f *Fixture)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.fixture)
	s.fixture.normalize()
}

// Fixture returns a deep copy of the current state.
func (s *Server) Fixture() *Fixture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fixture.Clone()
}

// SetFixture replaces the whole state with a copy of f. Issued tokens stay valid.
func (s *Server) SetFixture(f *Fixture) {
	c := f.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixture = c
}

// SetWorkspaceStatus changes a workspace's status (and update_time).
func (s *Server) SetWorkspaceStatus(projectID, workspaceID, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(projectID, false)
	if p == nil {
		return fmt.Errorf("project %q not found", projectID)
	}
	for i := range p.Workspaces {
		if p.Workspaces[i].ID == workspaceID {
			p.Workspaces[i].Status = status
			p.Workspaces[i].UpdateTime = s.clock().UnixMilli()
			return nil
		}
	}
	return fmt.Errorf("workspace %q not found in project %q", workspaceID, projectID)
}

// RotateDevEnvToken gives a dev-environment instance a new random token and returns it.
func (s *Server) RotateDevEnvToken(projectID, instanceID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(projectID, false)
	if p == nil {
		return "", fmt.Errorf("project %q not found", projectID)
	}
	if _, ok := p.DevEnvInstances[instanceID]; !ok {
		return "", fmt.Errorf("dev-environment instance %q not found in project %q", instanceID, projectID)
	}
	tok := randomHex(16)
	p.DevEnvInstances[instanceID] = DevEnvInstance{Token: tok}
	return tok, nil
}

// AddServiceApp authorizes app on a service, replacing an app of the same
// app_id. The service is created (enable_app_auth true) when missing.
func (s *Server) AddServiceApp(projectID, serviceID string, app AuthedApp) error {
	if app.AppID == "" {
		return fmt.Errorf("app_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(projectID, true)
	svc, ok := p.Services[serviceID]
	if !ok {
		svc = ServiceAPIAuths{EnableAppAuth: true, AppAuthAPI: AppAuthAPI{APIID: randomUUID()}}
	}
	if app.ProjectID == "" {
		app.ProjectID = projectID
	}
	apps := make([]AuthedApp, 0, len(svc.AppAuthAPI.AuthedApps)+1)
	for _, a := range svc.AppAuthAPI.AuthedApps {
		if a.AppID != app.AppID {
			apps = append(apps, a)
		}
	}
	svc.AppAuthAPI.AuthedApps = append(apps, app)
	p.Services[serviceID] = svc
	return nil
}

// RemoveServiceApp withdraws an app's authorization on a service.
func (s *Server) RemoveServiceApp(projectID, serviceID, appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(projectID, false)
	if p == nil {
		return fmt.Errorf("project %q not found", projectID)
	}
	svc, ok := p.Services[serviceID]
	if !ok {
		return fmt.Errorf("service %q not found in project %q", serviceID, projectID)
	}
	apps := make([]AuthedApp, 0, len(svc.AppAuthAPI.AuthedApps))
	for _, a := range svc.AppAuthAPI.AuthedApps {
		if a.AppID != appID {
			apps = append(apps, a)
		}
	}
	if len(apps) == len(svc.AppAuthAPI.AuthedApps) {
		return fmt.Errorf("app %q not authorized on service %q", appID, serviceID)
	}
	svc.AppAuthAPI.AuthedApps = apps
	p.Services[serviceID] = svc
	return nil
}

// SetAuthorizationPaging selects how the authorizations API reads offset:
// false (default, documented) = page index, true = number of records skipped.
func (s *Server) SetAuthorizationPaging(recordOffsets bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordOffsets = recordOffsets
}

// SetAuthorizationListField names the authorizations list field: "auth"
// (default, documented) or "content". Anything else resets to "auth".
func (s *Server) SetAuthorizationListField(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "content" {
		name = "auth"
	}
	s.listField = name
}

// AuthorizationSettings reports the paging mode and list field.
func (s *Server) AuthorizationSettings() (recordOffsets bool, listField string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordOffsets, s.listField
}

// GenerateAuthorizations REPLACES a project's authorizations with n
// synthetic entries (creating the project if needed): even indexes are
// agencies, odd ones credentials with a secret_key. User names are
// gen-user-00000 … and create_time grows with the index (1 s apart), so the
// create_time order equals the user_name order.
func (s *Server) GenerateAuthorizations(projectID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(projectID, true)
	list := make([]Authorization, 0, n)
	const base = int64(1600000000000)
	for i := 0; i < n; i++ {
		a := Authorization{
			UserID:     fmt.Sprintf("%032x", i+1),
			UserName:   fmt.Sprintf("gen-user-%05d", i),
			CreateTime: base + int64(i)*1000,
		}
		if i%2 == 0 {
			a.Type, a.Content = "agency", fmt.Sprintf("modelarts_agency_%05d", i)
		} else {
			a.Type, a.Content, a.SecretKey = "credential", fmt.Sprintf("GENAK%015d", i), fmt.Sprintf("gen-secret-%05d", i)
		}
		list = append(list, a)
	}
	p.Authorizations = list
}

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

// ---- HTTP ----

type route struct {
	api       API
	project   string
	id        string // counter id
	service   string
	instance  string
	app       string
	workspace string
}

// match maps a path onto an API; ok is false for unknown paths.
func match(path string) (route, bool) {
	path = strings.TrimSuffix(path, "/")
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return route{}, false
		}
	}
	switch {
	case len(seg) == 3 && seg[0] == "v3" && seg[1] == "auth" && seg[2] == "tokens":
		return route{api: APIIAMToken}, true
	case len(seg) == 4 && seg[0] == "v1" && seg[2] == "workspaces":
		return route{api: APIWorkspace, project: seg[1], workspace: seg[3], id: seg[3]}, true
	case len(seg) == 3 && seg[0] == "v2" && seg[2] == "authorizations":
		return route{api: APIAuthorizations, project: seg[1], id: seg[1]}, true
	case len(seg) == 5 && seg[0] == "v1" && seg[2] == "services" && seg[4] == "api-auths":
		return route{api: APIServiceAPIAuths, project: seg[1], service: seg[3], id: seg[3]}, true
	case len(seg) == 6 && seg[0] == "v2" && seg[2] == "instances" && seg[4] == "apps":
		return route{api: APIRomaApp, project: seg[1], instance: seg[3], app: seg[5], id: seg[5]}, true
	case len(seg) == 6 && seg[0] == "v1" && seg[2] == "demanager" && seg[3] == "instances" && seg[5] == "token":
		return route{api: APIDevEnvToken, project: seg[1], instance: seg[4], id: seg[4]}, true
	}
	return route{}, false
}

// ServeHTTP serves the simulated cloud APIs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := randomHex(16)
	w.Header().Set(HeaderRequestID, reqID)
	rt, ok := match(r.URL.Path)
	wantMethod := http.MethodGet
	if rt.api == APIIAMToken {
		wantMethod = http.MethodPost
	}
	if !ok || r.Method != wantMethod {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error_code": "APIGW.0101",
			"error_msg":  "The API does not exist or has not been published in the environment",
			"request_id": reqID,
		})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, modelArtsError("APIGW.0201", "Request body could not be read"))
		return
	}
	if rt.api == APIIAMToken {
		rt.id = scopedProject(body)
	}
	s.count(rt.api, rt.id)

	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if !s.sleep(r, latency) {
		return
	}
	if done := s.applyFault(w, r, rt, reqID); done {
		return
	}
	if rt.api == APIIAMToken {
		s.serveToken(w, body)
		return
	}
	if e := s.authenticate(r, body, rt.project); e != nil {
		if e.status == http.StatusUnauthorized {
			e.body["request_id"] = reqID
		}
		writeJSON(w, e.status, e.body)
		return
	}
	switch rt.api {
	case APIWorkspace:
		s.serveWorkspace(w, rt)
	case APIAuthorizations:
		s.serveAuthorizations(w, r, rt)
	case APIServiceAPIAuths:
		s.serveServiceAPIAuths(w, r, rt)
	case APIRomaApp:
		s.serveRomaApp(w, rt, reqID)
	case APIDevEnvToken:
		s.serveDevEnvToken(w, rt)
	}
}

// sleep waits d; false when the client went away or the simulator closed.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return true
	}
}

func scopedProject(body []byte) string {
	var req tokenRequest
	if json.Unmarshal(body, &req) != nil {
		return ""
	}
	return req.Auth.Scope.Project.ID
}

// ---- IAM ----

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
		Scope struct {
			Project struct {
				ID string `json:"id"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
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
	now := s.clock().UTC()
	tok := "MIIsim" + randomHex(32)
	exp := now.Add(s.tokenTTL)
	s.tokens[tok] = &issuedToken{user: user.UserName, domain: user.DomainName, project: project, expires: exp}
	s.issued++
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"expires_at": exp.Format(iamTimeLayout),
		"issued_at":  now.Format(iamTimeLayout),
		"methods":    []string{"password"},
		"project":    map[string]any{"id": project, "name": project},
		"user":       map[string]any{"name": user.UserName, "domain": map[string]any{"name": user.DomainName}},
	}})
}

// ---- authentication of cloud API calls ----

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

// ---- resource handlers ----

func modelArtsError(code, msg string) map[string]string {
	return map[string]string{"error_code": code, "error_msg": msg}
}

func (s *Server) serveWorkspace(w http.ResponseWriter, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.fixture.project(rt.project, false); p != nil {
		for _, ws := range p.Workspaces {
			if ws.ID == rt.workspace {
				if ws.Grants == nil {
					ws.Grants = []Grant{}
				}
				writeJSON(w, http.StatusOK, ws)
				return
			}
		}
	}
	writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.4302", "The workspace does not exist."))
}

func (s *Server) serveAuthorizations(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "user_name"
	}
	order := q.Get("order")
	if order == "" {
		order = "asc"
	}
	bad := func(msg string) { writeJSON(w, http.StatusBadRequest, modelArtsError("ModelArts.0101", msg)) }
	if sortBy != "user_name" && sortBy != "create_time" {
		bad("Invalid parameter sort_by: must be user_name or create_time.")
		return
	}
	if order != "asc" && order != "desc" {
		bad("Invalid parameter order: must be asc or desc.")
		return
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("Invalid parameter limit: must be an integer from 1 to 1000.")
			return
		}
		limit = n
	}
	offset := 0
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad("Invalid parameter offset: must be a non-negative integer.")
			return
		}
		offset = n
	}
	s.mu.Lock()
	var all []Authorization
	if p := s.fixture.project(rt.project, false); p != nil {
		all = append(all, p.Authorizations...)
	}
	recordOffsets, field := s.recordOffsets, s.listField
	s.mu.Unlock()

	less := func(a, b Authorization) bool {
		if sortBy == "create_time" && a.CreateTime != b.CreateTime {
			return a.CreateTime < b.CreateTime
		}
		if a.UserName != b.UserName {
			return a.UserName < b.UserName
		}
		if a.CreateTime != b.CreateTime {
			return a.CreateTime < b.CreateTime
		}
		return a.Content < b.Content
	}
	sort.SliceStable(all, func(i, j int) bool {
		if order == "desc" {
			return less(all[j], all[i])
		}
		return less(all[i], all[j])
	})
	start := offset
	if !recordOffsets {
		start = offset * limit
		if offset != 0 && start/offset != limit { // overflow
			start = len(all)
		}
	}
	page := []Authorization{}
	if start < len(all) {
		end := min(start+limit, len(all))
		page = all[start:end]
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), field: page})
}

func (s *Server) serveServiceAPIAuths(w http.ResponseWriter, r *http.Request, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(rt.project, false)
	if wsID := r.URL.Query().Get("workspace_id"); wsID != "" && wsID != "0" {
		found := false
		if p != nil {
			for _, ws := range p.Workspaces {
				found = found || ws.ID == wsID
			}
		}
		if !found {
			writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.4302", "The workspace does not exist."))
			return
		}
	}
	if p != nil {
		if svc, ok := p.Services[rt.service]; ok {
			if svc.AppAuthAPI.AuthedApps == nil {
				svc.AppAuthAPI.AuthedApps = []AuthedApp{}
			}
			for i := range svc.AppAuthAPI.AuthedApps {
				if svc.AppAuthAPI.AuthedApps[i].AppCodes == nil {
					svc.AppAuthAPI.AuthedApps[i].AppCodes = []string{}
				}
			}
			writeJSON(w, http.StatusOK, svc)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.3502", "The service does not exist."))
}

func (s *Server) serveRomaApp(w http.ResponseWriter, rt route, reqID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	romaErr := func(msg string) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error_code": "ROMA.00000001", "error_msg": msg,
			"error_details": msg, "request_id": reqID,
		})
	}
	p := s.fixture.project(rt.project, false)
	if p == nil {
		romaErr("The instance does not exist.")
		return
	}
	inst, ok := p.RomaInstances[rt.instance]
	if !ok {
		romaErr("The instance does not exist.")
		return
	}
	for _, app := range inst.Apps {
		if app.ID == rt.app {
			if app.Roles == nil {
				app.Roles = []string{}
			}
			writeJSON(w, http.StatusOK, app)
			return
		}
	}
	romaErr("The app does not exist.")
}

func (s *Server) serveDevEnvToken(w http.ResponseWriter, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.fixture.project(rt.project, false); p != nil {
		if inst, ok := p.DevEnvInstances[rt.instance]; ok {
			writeJSON(w, http.StatusOK, map[string]string{"token": inst.Token})
			return
		}
	}
	writeJSON(w, http.StatusBadRequest, modelArtsError("ModelArts.6309", "The instance does not exist."))
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error_code":"ModelArts.0010","error_msg":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
