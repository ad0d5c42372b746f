package cloudclient

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
)

// Config is one cloud account: where to reach it and how to authenticate.
type Config struct {
	Cloud     Cloud // empty means HuaweiCloud
	Region    string
	ProjectID string
	// Endpoints overrides; empty fields fall back to DefaultEndpoints.
	Endpoints Endpoints
	// CABundle holds extra PEM CAs added to the system pool.
	CABundle []byte
	// AllowInsecureHTTP permits http:// endpoints.
	AllowInsecureHTTP bool
	// RequestsPerSecond and Burst are the client-side budget; 0 → 10 rps, burst 20.
	RequestsPerSecond float64
	Burst             int
	// Exactly one of Credentials, WorkloadIdentity, InstanceMetadata is used:
	// WorkloadIdentity when set, else InstanceMetadata when set.
	Credentials      Credentials
	WorkloadIdentity *WorkloadIdentity
	InstanceMetadata *InstanceMetadata
}

// Options are manager-wide settings of a Pool.
type Options struct {
	// HTTPTimeout bounds each HTTP request; default 30s.
	HTTPTimeout time.Duration
	// MaxResponseBytes caps a response body; larger → InvalidResponse. Default 8 MiB.
	MaxResponseBytes int64
	// TokenRenewBefore renews a cached IAM token this long before it expires; default 1h.
	TokenRenewBefore time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Observe, when set, is called once per HTTP request with "success" or a Reason.
	Observe func(api API, outcome string, d time.Duration)
	// Transport is an optional base transport (tests). When nil a default
	// transport is used; CABundle applies to it (and to an *http.Transport given here).
	Transport http.RoundTripper
	// ServiceAccountToken obtains ServiceAccount tokens for workload identity.
	ServiceAccountToken ServiceAccountTokenFunc
}

const (
	defaultHTTPTimeout      = 30 * time.Second
	defaultMaxResponseBytes = 8 << 20
	defaultTokenRenewBefore = time.Hour
	defaultRequestsPerSec   = 10
	defaultBurst            = 20
	// clientIdleTTL is how long a Pool keeps a Client nobody asked for.
	clientIdleTTL = time.Hour
	userAgent     = "modelarts-operator"
)

// DefaultRequestsPerSecond is an account's budget when it sets none.
const DefaultRequestsPerSecond = defaultRequestsPerSec

func (o Options) withDefaults() Options {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = defaultHTTPTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = defaultMaxResponseBytes
	}
	if o.TokenRenewBefore <= 0 {
		o.TokenRenewBefore = defaultTokenRenewBefore
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observe == nil {
		o.Observe = func(API, string, time.Duration) {}
	}
	return o
}

// Pool hands out one Client per distinct Config so that rate limiters and
// connections are per account and reused. It owns one IAM token cache shared
// by all its clients. Clients unused for an hour are dropped on a later call.
type Pool struct {
	opts   Options
	salt   []byte // keys are HMACs with this, never raw credentials
	tokens *tokenCache
	temps  *tempCache
	shared http.RoundTripper // transport for configs without a CABundle

	mu      sync.Mutex
	clients map[string]*Client
}

// NewPool creates a Pool with opts (zero fields take their defaults).
func NewPool(opts Options) *Pool {
	salt := make([]byte, 32)
	_, _ = rand.Read(salt)
	p := &Pool{opts: opts.withDefaults(), salt: salt, tokens: newTokenCache(), temps: newTempCache(), clients: map[string]*Client{}}
	if p.opts.Transport != nil {
		p.shared = p.opts.Transport
	} else {
		p.shared = buildTransport(nil, nil)
	}
	return p
}

// Client returns the Client for cfg, creating and validating it on first
// use. Errors name the CR field at fault and never contain a credential.
func (p *Pool) Client(cfg Config) (*Client, error) {
	key := p.configKey(cfg)
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepLocked(now)
	if c, ok := p.clients[key]; ok {
		c.touch()
		return c, nil
	}
	c, err := p.newClient(cfg)
	if err != nil {
		return nil, err
	}
	c.touch()
	p.clients[key] = c
	return c, nil
}

// sweepLocked drops idle clients and expired tokens.
func (p *Pool) sweepLocked(now time.Time) {
	for k, c := range p.clients {
		if now.Sub(time.Unix(0, c.lastUsed.Load())) > clientIdleTTL {
			delete(p.clients, k)
			if c.ownTransport {
				if t, ok := c.httpc.Transport.(interface{ CloseIdleConnections() }); ok {
					t.CloseIdleConnections()
				}
			}
		}
	}
	p.tokens.sweep(now)
	p.temps.sweep(now)
}

// configKey is an HMAC over every field of cfg.
func (p *Pool) configKey(cfg Config) string {
	mac := hmac.New(sha256.New, p.salt)
	e := cfg.Endpoints
	c := cfg.Credentials
	for _, s := range []string{"config", string(cfg.Cloud), cfg.Region, cfg.ProjectID, e.IAM, e.ModelArts, e.ROMA,
		string(cfg.CABundle), strconv.FormatBool(cfg.AllowInsecureHTTP),
		strconv.FormatUint(math.Float64bits(cfg.RequestsPerSecond), 16), strconv.Itoa(cfg.Burst),
		c.AccessKey, c.SecretKey, c.SecurityToken, c.UserName, c.Password, c.DomainName} {
		writeField(mac, s)
	}
	if wi := cfg.WorkloadIdentity; wi != nil {
		for _, s := range []string{"workload-identity", wi.Namespace, wi.ServiceAccount, wi.Audience,
			strconv.FormatInt(wi.ExpirationSeconds, 10), wi.IdentityProviderID} {
			writeField(mac, s)
		}
	}
	if im := cfg.InstanceMetadata; im != nil {
		writeField(mac, "instance-metadata")
		writeField(mac, im.Endpoint)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// writeField writes s length-prefixed so that field boundaries are unambiguous.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

var (
	regionPattern    = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	projectIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// Client calls one account's cloud APIs. It is safe for concurrent use.
type Client struct {
	opts      Options
	tokens    *tokenCache
	temps     *tempCache
	cloud     Cloud
	region    string
	projectID string
	endpoints Endpoints
	creds     Credentials
	method    AuthMethod
	tokenKey  string
	workload  WorkloadIdentity
	// metadataEndpoint is where temporary credentials come from (InstanceMetadata).
	metadataEndpoint string
	limiter          *rate.Limiter
	httpc            *http.Client
	redact           redactor

	ownTransport bool
	lastUsed     atomic.Int64 // unix nanoseconds by opts.Now

	// throttled holds the cloud's last 429 per API: one object's Retry-After
	// quiets every caller of this account.
	throttled throttles[API]
}

func (p *Pool) newClient(cfg Config) (*Client, error) {
	cloud := cfg.Cloud
	if cloud == "" {
		cloud = HuaweiCloud
	}
	if cloud != HuaweiCloud && cloud != OpenTelekomCloud {
		return nil, fmt.Errorf("cloud: must be %s or %s", HuaweiCloud, OpenTelekomCloud)
	}
	if !regionPattern.MatchString(cfg.Region) {
		return nil, errors.New("region: required, 1-64 letters, digits and '-'")
	}
	if !projectIDPattern.MatchString(cfg.ProjectID) {
		return nil, errors.New("projectID: required, 1-64 letters, digits and '-'")
	}
	rps, burst := cfg.RequestsPerSecond, cfg.Burst
	if math.IsNaN(rps) || math.IsInf(rps, 0) || rps < 0 {
		return nil, errors.New("requestsPerSecond: must be a positive number")
	}
	if burst < 0 {
		return nil, errors.New("burst: must not be negative")
	}
	if rps == 0 {
		rps = defaultRequestsPerSec
	}
	if burst == 0 {
		burst = defaultBurst
	}
	method, err := cfg.method()
	if err != nil {
		return nil, err
	}
	def := DefaultEndpoints(cloud, cfg.Region)
	var eps Endpoints
	for _, s := range []service{serviceIAM, serviceModelArts, serviceROMA} {
		raw := cfg.Endpoints.get(s)
		if raw == "" {
			raw = def.get(s)
		}
		if raw == "" {
			continue
		}
		u, err := normalizeEndpoint(s.field(), raw, cfg.AllowInsecureHTTP)
		if err != nil {
			return nil, err
		}
		switch s {
		case serviceIAM:
			eps.IAM = u
		case serviceModelArts:
			eps.ModelArts = u
		default:
			eps.ROMA = u
		}
	}
	c := &Client{
		opts: p.opts, tokens: p.tokens, temps: p.temps, cloud: cloud, region: cfg.Region, projectID: cfg.ProjectID,
		endpoints: eps, creds: cfg.Credentials, method: method,
		limiter: rate.NewLimiter(rate.Limit(rps), burst),
		redact:  redactor(cfg.Credentials.secrets()),
	}
	switch method {
	case AuthAKSK:
		c.creds.UserName, c.creds.Password, c.creds.DomainName = "", "", ""
	case AuthPassword:
		c.creds.AccessKey, c.creds.SecretKey, c.creds.SecurityToken = "", "", ""
		c.tokenKey = tokenKey(p.salt, "iam-token", eps.IAM, c.creds.DomainName, c.creds.UserName, c.creds.Password, cfg.ProjectID)
	case AuthWorkloadIdentity:
		c.creds = Credentials{}
		c.workload = *cfg.WorkloadIdentity
		w := c.workload
		c.tokenKey = tokenKey(p.salt, "workload-identity", eps.IAM, w.IdentityProviderID, w.Namespace, w.ServiceAccount,
			w.Audience, cfg.ProjectID)
	case AuthInstanceMetadata:
		c.creds = Credentials{}
		raw := cfg.InstanceMetadata.Endpoint
		if raw == "" {
			raw = DefaultMetadataEndpoint
		}
		// The metadata service is link-local and speaks plain HTTP.
		if c.metadataEndpoint, err = normalizeEndpoint("instanceMetadata.endpoint", raw, true); err != nil {
			return nil, err
		}
	}
	transport := p.shared
	if len(cfg.CABundle) > 0 {
		roots, err := certPool(cfg.CABundle)
		if err != nil {
			return nil, err
		}
		if t, ok := p.opts.Transport.(*http.Transport); ok || p.opts.Transport == nil {
			// A transport of its own, trusting the bundle. Other RoundTrippers
			// (test doubles) are used as they are.
			transport = buildTransport(t, &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots})
			c.ownTransport = true
		}
	}
	c.httpc = &http.Client{
		Transport: transport,
		// A redirect would carry X-Auth-Token to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// certPool is the system pool plus every certificate in bundle.
func certPool(bundle []byte) (*x509.CertPool, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	found := 0
	rest := bundle
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("caBundle: certificate %d cannot be parsed", found+1)
		}
		roots.AddCert(cert)
		found++
	}
	if found == 0 {
		return nil, errors.New("caBundle: no PEM certificate found")
	}
	return roots, nil
}

// maxIdleConnsPerHost keeps a connection per concurrent call to a cloud
// host alive: workers per controller times the kinds calling one endpoint.
const maxIdleConnsPerHost = 64

// buildTransport applies tlsCfg (nil: defaults) to a clone of base, or of
// http.DefaultTransport when base is nil.
func buildTransport(base *http.Transport, tlsCfg *tls.Config) *http.Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	// Every worker of every kind calls the same few cloud hosts: with Go's
	// default of 2 idle connections per host, all but two connections were
	// closed after each call and the next one dialled (and, over TLS,
	// handshaken) again.
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, maxIdleConnsPerHost)
	switch {
	case tlsCfg == nil && t.TLSClientConfig == nil:
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	case tlsCfg == nil:
	case t.TLSClientConfig == nil:
		t.TLSClientConfig = tlsCfg
	default:
		t.TLSClientConfig = t.TLSClientConfig.Clone()
		t.TLSClientConfig.RootCAs = tlsCfg.RootCAs
	}
	return t
}

func (c *Client) touch() { c.lastUsed.Store(c.opts.Now().UnixNano()) }

// Method is how the Client authenticates.
func (c *Client) Method() AuthMethod { return c.method }

// Endpoints are the endpoints the Client calls (overrides applied, "" for
// services not offered).
func (c *Client) Endpoints() Endpoints { return c.endpoints }

// usesToken says whether requests carry an IAM token (X-Auth-Token).
func (c *Client) usesToken() bool {
	return c.method == AuthPassword || c.method == AuthWorkloadIdentity
}

// Token returns the expiry of the cached IAM token (password, workload
// identity) or temporary credentials (instance metadata), obtaining them if
// needed. AK/SK clients return TokenInfo{} without a network call.
func (c *Client) Token(ctx context.Context) (TokenInfo, error) {
	if c.method == AuthInstanceMetadata {
		c.touch()
		t, err := c.temporaryCredentials(ctx)
		if err != nil {
			return TokenInfo{}, err
		}
		return TokenInfo{ExpiresAt: t.expiresAt}, nil
	}
	if !c.usesToken() {
		return TokenInfo{}, nil
	}
	c.touch()
	t, err := c.token(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{ExpiresAt: t.expiresAt}, nil
}

// call GETs path (already escaped) with query from svc's endpoint and hands a
// 2xx body to decode. In password mode a 401 invalidates the token and the
// request is retried once with a new one.
func (c *Client) call(ctx context.Context, api API, svc service, path string, query url.Values, decode func([]byte) error) error {
	base := c.endpoints.get(svc)
	if base == "" {
		return notOfferedError(api, svc, c.cloud, c.region)
	}
	c.touch()
	target := base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	if err := c.throttled.answer(api, c.opts.Now()); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var tok cachedToken
		if c.usesToken() {
			var err error
			if tok, err = c.token(ctx); err != nil {
				return err
			}
		}
		if err := c.limiter.Wait(ctx); err != nil {
			return &Error{API: api, Reason: ReasonCloudError, Message: "waiting for the client-side rate limit", Err: err}
		}
		// Temporary credentials are taken after the wait, so that they are
		// not past their last use when the request is signed.
		var temp tempCredentials
		if c.method == AuthInstanceMetadata {
			var err error
			if temp, err = c.temporaryCredentials(ctx); err != nil {
				return err
			}
		}
		err := c.roundTrip(ctx, api, http.MethodGet, target, nil,
			func(req *http.Request) { c.authorize(req, tok.value, temp) },
			func(_ http.Header, body []byte) error { return decode(body) }, tok.value, temp.access, temp.secret, temp.securityToken)
		var e *Error
		if attempt == 0 && errors.As(err, &e) && e.StatusCode == http.StatusUnauthorized {
			switch {
			case c.usesToken():
				c.tokens.invalidate(c.tokenKey, tok.value)
				continue
			case c.method == AuthInstanceMetadata:
				c.temps.invalidate(c.metadataEndpoint, temp.access)
				continue
			}
		}
		c.throttled.observe(api, err, c.opts.Now())
		return err
	}
}

// authorize adds X-Project-Id and the token or the AK/SK signature.
func (c *Client) authorize(req *http.Request, token string, temp tempCredentials) {
	req.Header.Set(signer.HeaderProjectID, c.projectID)
	switch c.method {
	case AuthAKSK:
		if c.creds.SecurityToken != "" {
			req.Header.Set(signer.HeaderSecurityToken, c.creds.SecurityToken)
		}
		signer.SetHost(req)
		signer.Sign(req, nil, c.creds.AccessKey, c.creds.SecretKey, c.opts.Now())
	case AuthInstanceMetadata:
		req.Header.Set(signer.HeaderSecurityToken, temp.securityToken)
		signer.SetHost(req)
		signer.Sign(req, nil, temp.access, temp.secret, c.opts.Now())
	case AuthPassword, AuthWorkloadIdentity:
		req.Header.Set("X-Auth-Token", token)
	}
}

// roundTrip sends one HTTP request, reads at most MaxResponseBytes of the
// answer, decodes a 2xx body with decode and classifies anything else. It
// reports the outcome to Observe exactly once.
func (c *Client) roundTrip(ctx context.Context, api API, method, target string, body []byte,
	auth func(*http.Request), decode func(http.Header, []byte) error, secrets ...string) error {
	rctx, cancel := context.WithTimeout(ctx, c.opts.HTTPTimeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, target, reader)
	if err != nil {
		return &Error{API: api, Reason: ReasonCloudError, Message: "cannot build the request", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf8")
	}
	if auth != nil {
		auth(req)
	}
	start := time.Now()
	e := c.exchange(ctx, rctx, api, req, decode, secrets)
	outcome := outcomeSuccess
	if e != nil {
		outcome = string(e.Reason)
	}
	c.opts.Observe(api, outcome, time.Since(start))
	if e == nil {
		return nil
	}
	return e
}

func (c *Client) exchange(ctx, rctx context.Context, api API, req *http.Request, decode func(http.Header, []byte) error, secrets []string) *Error {
	resp, err := c.httpc.Do(req)
	if err != nil {
		return c.transportError(ctx, rctx, api, "request failed", err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	resp.Body.Close()
	if err != nil {
		return c.transportError(ctx, rctx, api, "reading the response failed", err)
	}
	tooLarge := int64(len(data)) > c.opts.MaxResponseBytes
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		reqID := sanitize(c.redact.apply(resp.Header.Get("X-Request-Id")), maxRequestIDLen)
		if tooLarge {
			return &Error{API: api, StatusCode: resp.StatusCode, Reason: ReasonInvalidResponse, RequestID: reqID,
				Message: fmt.Sprintf("response body exceeds %d bytes", c.opts.MaxResponseBytes)}
		}
		if err := decode(resp.Header, data); err != nil {
			return &Error{API: api, StatusCode: resp.StatusCode, Reason: ReasonInvalidResponse, RequestID: reqID,
				Message: "response body does not match the documented format", Err: err}
		}
		return nil
	}
	return c.httpError(api, resp.StatusCode, resp.Header, data, secrets...)
}

func (c *Client) transportError(ctx, rctx context.Context, api API, msg string, err error) *Error {
	if ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		msg = fmt.Sprintf("request timed out after %s", c.opts.HTTPTimeout)
	}
	return &Error{API: api, Reason: ReasonCloudError, Message: msg, Err: err}
}

// httpError turns a non-2xx answer into an *Error. The body is only decoded,
// never quoted; secrets the client knows are removed from the cloud's text.
func (c *Client) httpError(api API, status int, h http.Header, body []byte, secrets ...string) *Error {
	ce := decodeErrorBody(body)
	r := append(redactor(secrets), c.redact...)
	clean := func(s string, max int) string { return sanitize(r.apply(s), max) }
	e := &Error{
		API:        api,
		StatusCode: status,
		Code:       clean(ce.code, maxCodeLen),
		Message:    clean(ce.message, maxMessageLen),
		RequestID:  clean(ce.requestID, maxRequestIDLen),
	}
	if e.RequestID == "" {
		e.RequestID = clean(h.Get("X-Request-Id"), maxRequestIDLen)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	e.Reason = classify(status, ce.code)
	if e.Reason == ReasonThrottled {
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), c.opts.Now())
	}
	return e
}
