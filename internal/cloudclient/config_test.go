package cloudclient

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDefaultEndpoints(t *testing.T) {
	cases := []struct {
		reason string
		cloud  Cloud
		region string
		want   Endpoints
	}{
		{"Huawei Cloud region", HuaweiCloud, "cn-north-4", Endpoints{
			IAM: "https://iam.cn-north-4.myhuaweicloud.com", ModelArts: "https://modelarts.cn-north-4.myhuaweicloud.com",
			ROMA: "https://roma.cn-north-4.myhuaweicloud.com"}},
		{"Huawei Cloud ap-southeast-1 ModelArts is on .cn", HuaweiCloud, "ap-southeast-1", Endpoints{
			IAM: "https://iam.ap-southeast-1.myhuaweicloud.com", ModelArts: "https://modelarts.ap-southeast-1.myhuaweicloud.cn",
			ROMA: "https://roma.ap-southeast-1.myhuaweicloud.com"}},
		{"empty cloud means Huawei Cloud", "", "cn-east-3", Endpoints{
			IAM: "https://iam.cn-east-3.myhuaweicloud.com", ModelArts: "https://modelarts.cn-east-3.myhuaweicloud.com",
			ROMA: "https://roma.cn-east-3.myhuaweicloud.com"}},
		{"OTC eu-de has ModelArts, no ROMA", OpenTelekomCloud, "eu-de", Endpoints{
			IAM: "https://iam.eu-de.otc.t-systems.com", ModelArts: "https://modelarts.eu-de.otc.t-systems.com"}},
		{"OTC eu-nl has only IAM", OpenTelekomCloud, "eu-nl", Endpoints{IAM: "https://iam.eu-nl.otc.t-systems.com"}},
		{"unknown cloud has none", Cloud("Other"), "x", Endpoints{}},
		{"empty region has none", HuaweiCloud, "", Endpoints{}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if got := DefaultEndpoints(tc.cloud, tc.region); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCredentialsFromSecret(t *testing.T) {
	cases := []struct {
		reason     string
		data       map[string]string
		want       Credentials
		wantMethod AuthMethod
		wantErr    string
	}{
		{reason: "AK/SK, trimmed of echo's newline",
			data:       map[string]string{"access_key": testAK + "\n", "secret_key": "  " + testSK + "\r\n"},
			want:       Credentials{AccessKey: testAK, SecretKey: testSK},
			wantMethod: AuthAKSK},
		{reason: "AK/SK with security token",
			data:       map[string]string{"access_key": testAK, "secret_key": testSK, "security_token": testSecToken + "\n"},
			want:       Credentials{AccessKey: testAK, SecretKey: testSK, SecurityToken: testSecToken},
			wantMethod: AuthAKSK},
		{reason: "AK/SK wins over password keys",
			data:       map[string]string{"access_key": testAK, "secret_key": testSK, "user_name": testUser},
			want:       Credentials{AccessKey: testAK, SecretKey: testSK, UserName: testUser},
			wantMethod: AuthAKSK},
		{reason: "password",
			data:       map[string]string{"user_name": testUser + "\n", "password": testPassword + "\n", "domain_name": testDomain},
			want:       Credentials{UserName: testUser, Password: testPassword, DomainName: testDomain},
			wantMethod: AuthPassword},
		{reason: "access key without secret key",
			data:    map[string]string{"access_key": testAK, "password": testPassword},
			wantErr: "credentials Secret is missing key(s) secret_key for AK/SK signing"},
		{reason: "secret key without access key",
			data:    map[string]string{"secret_key": testSK},
			wantErr: "credentials Secret is missing key(s) access_key for AK/SK signing"},
		{reason: "whitespace-only access key counts as missing",
			data:    map[string]string{"access_key": " \n", "secret_key": testSK},
			wantErr: "missing key(s) access_key"},
		{reason: "password without domain",
			data:    map[string]string{"user_name": testUser, "password": testPassword},
			wantErr: "credentials Secret is missing key(s) domain_name for IAM password authentication"},
		{reason: "password alone",
			data:    map[string]string{"password": testPassword},
			wantErr: "missing key(s) user_name, domain_name for IAM password authentication"},
		{reason: "nothing",
			data:    map[string]string{"other": testPassword},
			wantErr: "none of the keys access_key and secret_key"},
		{reason: "security token alone",
			data:    map[string]string{"security_token": testSecToken},
			wantErr: "none of the keys"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range tc.data {
				data[k] = []byte(v)
			}
			got, method, err := CredentialsFromSecret(data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				checkNoSecrets(t, err)
				if got != (Credentials{}) {
					t.Errorf("credentials returned with an error")
				}
				return
			}
			if err != nil || got != tc.want || method != tc.wantMethod {
				t.Errorf("got %v %s %v", err, method, got == tc.want)
			}
		})
	}
}

func TestPoolClientValidation(t *testing.T) {
	base := func() Config {
		return Config{Region: "cn-north-4", ProjectID: testProject,
			Credentials: Credentials{AccessKey: testAK, SecretKey: testSK}}
	}
	cases := []struct {
		reason  string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults are valid", func(*Config) {}, ""},
		{"https override", func(c *Config) { c.Endpoints.ModelArts = "https://proxy.example.com:8443/modelarts/" }, ""},
		{"http refused without allowInsecureHTTP", func(c *Config) { c.Endpoints.ModelArts = "http://sim:8080" },
			"endpoints.modelarts: http:// endpoints need allowInsecureHTTP: true"},
		{"http iam refused", func(c *Config) { c.Endpoints.IAM = "http://sim:8080" },
			"endpoints.iam: http:// endpoints need allowInsecureHTTP: true"},
		{"http allowed with allowInsecureHTTP", func(c *Config) { c.Endpoints.ROMA = "http://sim:8080"; c.AllowInsecureHTTP = true }, ""},
		{"relative URL", func(c *Config) { c.Endpoints.ROMA = "roma.example.com" }, "endpoints.roma: must be an absolute URL"},
		{"other scheme", func(c *Config) { c.Endpoints.IAM = "ftp://x" }, "endpoints.iam: scheme must be https"},
		{"unparseable URL", func(c *Config) { c.Endpoints.IAM = "https://[::1" }, "endpoints.iam: not a valid URL"},
		{"user info refused and not echoed", func(c *Config) { c.Endpoints.IAM = "https://u:" + testPassword + "@host" }, "endpoints.iam: must not contain user info"},
		{"query refused", func(c *Config) { c.Endpoints.IAM = "https://host/?x=1" }, "endpoints.iam: must not contain a query"},
		{"bad CA bundle", func(c *Config) { c.CABundle = []byte("not pem") }, "caBundle: no PEM certificate found"},
		{"CA bundle with a broken certificate", func(c *Config) {
			c.CABundle = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})
		}, "caBundle: certificate 1 cannot be parsed"},
		{"missing region", func(c *Config) { c.Region = "" }, "region: required"},
		{"bad project id", func(c *Config) { c.ProjectID = "a/b" }, "projectID:"},
		{"unknown cloud", func(c *Config) { c.Cloud = "AWS" }, "cloud: must be HuaweiCloud or OpenTelekomCloud"},
		{"negative rps", func(c *Config) { c.RequestsPerSecond = -1 }, "requestsPerSecond:"},
		{"negative burst", func(c *Config) { c.Burst = -1 }, "burst:"},
		{"incomplete AK/SK", func(c *Config) { c.Credentials.SecretKey = "" }, "missing key(s) secret_key"},
		{"no credentials", func(c *Config) { c.Credentials = Credentials{} }, "none of the keys"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			c, err := NewPool(Options{}).Client(cfg)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			checkNoSecrets(t, err)
		})
	}
}

// TestHTTPEndpointRefused: the default test setup needs AllowInsecureHTTP.
func TestHTTPEndpointRefused(t *testing.T) {
	cfg := akskConfig("http://127.0.0.1:1")
	cfg.AllowInsecureHTTP = false
	if _, err := NewPool(Options{}).Client(cfg); err == nil || !strings.Contains(err.Error(), "allowInsecureHTTP: true") {
		t.Errorf("err %v", err)
	}
}

func TestPoolReuseAndEviction(t *testing.T) {
	clock := newFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := NewPool(Options{Now: clock.Now})
	cfg := akskConfig("http://sim.invalid")
	c1 := mustClient(t, p, cfg)
	if c2 := mustClient(t, p, cfg); c2 != c1 {
		t.Error("same config, different Client")
	}
	other := cfg
	other.Credentials.SecretKey = "another-secret"
	if c3 := mustClient(t, p, other); c3 == c1 {
		t.Error("different secret key, same Client")
	}
	for k := range p.clients {
		for _, s := range secretValues {
			if strings.Contains(k, s) {
				t.Errorf("pool key holds a credential")
			}
		}
	}
	clock.Advance(59 * time.Minute)
	if mustClient(t, p, cfg) != c1 {
		t.Error("Client dropped before an hour of idleness")
	}
	clock.Advance(61 * time.Minute)
	mustClient(t, p, other) // a later call sweeps
	p.mu.Lock()
	n := len(p.clients)
	p.mu.Unlock()
	if n != 1 {
		t.Errorf("%d clients after sweep, want 1", n)
	}
	if mustClient(t, p, cfg) == c1 {
		t.Error("idle Client not dropped")
	}
}

// TestCABundle: a TLS server is trusted through CABundle only.
func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, exampleWorkspace)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cases := []struct {
		reason    string
		bundle    []byte
		transport http.RoundTripper
		wantErr   bool
	}{
		{"without the CA the server is not trusted", nil, nil, true},
		{"with the CA bundle it is", ca, nil, false},
		{"the CA bundle also applies to a base *http.Transport", ca, &http.Transport{TLSClientConfig: &tls.Config{}}, false},
		{"a base *http.Transport without TLS config gets one", ca, &http.Transport{}, false},
		{"other RoundTrippers are used as they are", ca, roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return http.DefaultTransport.RoundTrip(r)
		}), true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			cfg := akskConfig(srv.URL)
			cfg.AllowInsecureHTTP = false
			cfg.CABundle = tc.bundle
			c := mustClient(t, NewPool(Options{Transport: tc.transport}), cfg)
			_, err := c.GetWorkspace(bg, "0")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && ReasonOf(err) != ReasonCloudError {
				t.Errorf("TLS failure reason %s", ReasonOf(err))
			}
		})
	}
}
