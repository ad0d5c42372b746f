// Command cloudsim runs the cloud simulator: the IAM, ModelArts and ROMA
// APIs the operator mirrors on one listener, and the admin API on another.
// See README.md next to this file and the internal/cloudsim package docs.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cloudsim:", err)
		os.Exit(1)
	}
}

type options struct {
	listen, adminListen, fixture, caOut, tlsCert, tlsKey, writeFixture, tlsHosts string
	tls                                                                          bool
	latency                                                                      time.Duration
	// Workload identity: where the ServiceAccount token signing keys come from.
	jwksFile, jwksURL, jwksCAFile, jwksTokenFile string
	// Instance metadata credentials.
	tempLifetime, tempRotateBefore time.Duration
}

// run parses args and serves until ctx ends. ready, when set, gets the
// cloud API base URL and the admin base URL once both listeners are open.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(apiURL, adminURL string)) error {
	var o options
	fs := flag.NewFlagSet("cloudsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address of the cloud APIs (IAM, ModelArts, ROMA)")
	fs.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:8444", "address of the admin API (plain HTTP; empty disables it)")
	fs.StringVar(&o.fixture, "fixture", "", "JSON fixture file (default: the built-in default fixture)")
	fs.BoolVar(&o.tls, "tls", false, "serve the cloud APIs over HTTPS (self-signed CA unless --tls-cert/--tls-key)")
	fs.StringVar(&o.tlsHosts, "tls-hosts", "", "comma-separated extra DNS names/IPs for the self-signed certificate")
	fs.StringVar(&o.caOut, "ca-out", "", "write the self-signed CA certificate (PEM) to this file")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM; implies --tls)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM; implies --tls)")
	fs.DurationVar(&o.latency, "latency", 0, "latency added to every cloud API response")
	fs.StringVar(&o.writeFixture, "write-fixture", "", "write the default fixture as JSON to this path and exit")
	fs.StringVar(&o.jwksFile, "jwks-file", "", "JSON Web Key Set verifying ServiceAccount tokens (kubectl get --raw /openid/v1/jwks)")
	fs.StringVar(&o.jwksURL, "jwks-url", "", "URL of the JSON Web Key Set, e.g. https://<apiserver>/openid/v1/jwks")
	fs.StringVar(&o.jwksCAFile, "jwks-ca-file", "", "extra CA (PEM) trusted for --jwks-url")
	fs.StringVar(&o.jwksTokenFile, "jwks-token-file", "", "file holding a bearer token sent to --jwks-url")
	fs.DurationVar(&o.tempLifetime, "temp-credential-lifetime", cloudsim.DefaultTempCredentialLifetime, "lifetime of the metadata service's temporary credentials")
	fs.DurationVar(&o.tempRotateBefore, "temp-credential-rotate-before", cloudsim.DefaultTempCredentialRotateBefore, "how long before expiry the metadata service hands out new credentials")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	logger := log.New(stderr, "cloudsim ", log.LstdFlags|log.LUTC)

	if o.writeFixture != "" {
		if err := cloudsim.DefaultFixture().Save(o.writeFixture); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote default fixture to", o.writeFixture)
		return nil
	}

	fixture := cloudsim.DefaultFixture()
	if o.fixture != "" {
		f, err := cloudsim.LoadFixture(o.fixture)
		if err != nil {
			return err
		}
		fixture = f
	}
	sim := cloudsim.New(fixture)
	defer sim.Close()
	sim.SetLatency(o.latency)
	sim.SetTempCredentialLifetime(o.tempLifetime, o.tempRotateBefore)
	if err := o.setJWKS(sim); err != nil {
		return err
	}

	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return err
	}

	apiLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		apiLn = tls.NewListener(apiLn, tlsConfig)
		scheme = "https"
	}
	apiURL := scheme + "://" + apiLn.Addr().String()
	servers := []*http.Server{{Handler: logRequests(logger, "api", sim), ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{apiLn}
	adminURL := ""
	if o.adminListen != "" {
		adminLn, err := net.Listen("tcp", o.adminListen)
		if err != nil {
			apiLn.Close()
			return err
		}
		adminURL = "http://" + adminLn.Addr().String()
		servers = append(servers, &http.Server{Handler: logRequests(logger, "admin", sim.AdminHandler()), ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, adminLn)
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := srv.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	logger.Printf("serving cloud APIs on %s (admin API on %s)", apiURL, orNone(adminURL))
	if ready != nil {
		ready(apiURL, adminURL)
	}

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Printf("shutting down")
	case serveErr = <-errc:
	}
	sim.Close() // release hanging requests first
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			srv.Close()
		}
	}
	return serveErr
}

func (o options) tlsConfig() (*tls.Config, error) {
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case o.tlsCert != "":
		if o.caOut != "" {
			return nil, errors.New("--ca-out only applies to the self-signed certificate")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, err
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case o.tls:
		var hosts []string
		for _, h := range strings.Split(o.tlsHosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
		cfg, caPEM, err := cloudsim.SelfSignedTLS(hosts)
		if err != nil {
			return nil, err
		}
		if o.caOut != "" {
			if err := os.WriteFile(o.caOut, caPEM, 0o644); err != nil {
				return nil, err
			}
		}
		return cfg, nil
	case o.caOut != "":
		return nil, errors.New("--ca-out needs --tls")
	}
	return nil, nil
}

func orNone(s string) string {
	if s == "" {
		return "(disabled)"
	}
	return s
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// logRequests logs one line per request: method, path, status, duration.
// Never headers, query strings or bodies (they carry credentials).
func logRequests(logger *log.Logger, name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			if r.Context().Err() != nil {
				status = 499 // client went away (e.g. a Hang fault)
			} else {
				status = http.StatusOK
			}
		}
		logger.Printf("%s %s %s %d %s", name, r.Method, r.URL.Path, status, time.Since(start).Round(time.Millisecond))
	})
}

// setJWKS configures the keys that verify ServiceAccount tokens.
func (o options) setJWKS(sim *cloudsim.Server) error {
	switch {
	case o.jwksFile != "" && o.jwksURL != "":
		return errors.New("--jwks-file and --jwks-url exclude each other")
	case o.jwksFile != "":
		sim.SetJWKS(cloudsim.JWKSFromFile(o.jwksFile))
	case o.jwksURL != "":
		var ca []byte
		var bearer func() string
		var err error
		if o.jwksCAFile != "" {
			if ca, err = os.ReadFile(o.jwksCAFile); err != nil {
				return err
			}
		}
		if o.jwksTokenFile != "" {
			if _, err := os.Stat(o.jwksTokenFile); err != nil {
				return err
			}
			// Read on every fetch: a projected token file is rotated.
			bearer = func() string {
				b, _ := os.ReadFile(o.jwksTokenFile)
				return strings.TrimSpace(string(b))
			}
		}
		src, err := cloudsim.JWKSFromURL(o.jwksURL, ca, bearer)
		if err != nil {
			return err
		}
		sim.SetJWKS(src)
	}
	return nil
}
