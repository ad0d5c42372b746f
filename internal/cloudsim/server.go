package cloudsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
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
	// APIIAMIDToken is the workload identity exchange (id-token/tokens).
	APIIAMIDToken API = "iam_id_token"
	// APIMetadata is the instance metadata service (session token and securitykey).
	APIMetadata API = "instance_metadata"
)

// ResourceAPIs are the cloud APIs the mirrored kinds read.
var ResourceAPIs = []API{APIWorkspace, APIAuthorizations, APIServiceAPIAuths, APIRomaApp, APIDevEnvToken}

// APIs lists every simulated API.
var APIs = []API{APIIAMToken, APIWorkspace, APIAuthorizations, APIServiceAPIAuths, APIRomaApp, APIDevEnvToken,
	APIIAMIDToken, APIMetadata}

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

	jwks               JWKSSource
	federated          int
	federatedBySubject map[string]int

	metaSessions     map[string]time.Time
	tempKeys         map[string]*tempKey
	currentTemp      string
	tempLifetime     time.Duration
	tempRotateBefore time.Duration
	expiredTempUses  int

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

		metaSessions:     map[string]time.Time{},
		tempKeys:         map[string]*tempKey{},
		tempLifetime:     DefaultTempCredentialLifetime,
		tempRotateBefore: DefaultTempCredentialRotateBefore,
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
	s.federated = 0
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

type route struct {
	api       API
	method    string // "" for GET
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
		return route{api: APIIAMToken, method: http.MethodPost}, true
	case len(seg) == 4 && seg[0] == "v3.0" && seg[1] == "OS-AUTH" && seg[2] == "id-token" && seg[3] == "tokens":
		return route{api: APIIAMIDToken, method: http.MethodPost}, true
	case path == "/meta-data/latest/api/token":
		return route{api: APIMetadata, method: http.MethodPut, id: "token"}, true
	case path == "/openstack/latest/securitykey":
		return route{api: APIMetadata, id: "securitykey"}, true
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
	wantMethod := rt.method
	if wantMethod == "" {
		wantMethod = http.MethodGet
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
	if rt.api == APIIAMToken || rt.api == APIIAMIDToken {
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
	switch {
	case rt.api == APIIAMToken:
		s.serveToken(w, body)
		return
	case rt.api == APIIAMIDToken:
		s.serveIDToken(w, r, body)
		return
	case rt.api == APIMetadata && rt.method == http.MethodPut:
		s.serveMetadataToken(w, r)
		return
	case rt.api == APIMetadata:
		s.serveSecurityKey(w, r)
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
