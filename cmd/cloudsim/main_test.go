package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient/signer"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

type running struct {
	apiURL, adminURL string
	logs             *testutil.LogBuffer
	stop             func() error
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testutil.LogBuffer{}
	readyc := make(chan [2]string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, args...),
			logs, logs, func(api, admin string) { readyc <- [2]string{api, admin} })
	}()
	select {
	case urls := <-readyc:
		r := &running{apiURL: urls[0], adminURL: urls[1], logs: logs}
		var once sync.Once
		var stopErr error
		r.stop = func() error {
			once.Do(func() {
				cancel()
				select {
				case stopErr = <-errc:
				case <-time.After(15 * time.Second):
					t.Error("run did not return after cancel")
				}
			})
			return stopErr
		}
		t.Cleanup(func() { _ = r.stop() })
		return r
	case err := <-errc:
		cancel()
		t.Fatalf("run: %v (logs %s)", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("not ready")
	}
	return nil
}

func signedGet(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set(signer.HeaderProjectID, cloudsim.DefaultProjectID)
	signer.Sign(req, nil, cloudsim.DefaultAccessKey, cloudsim.DefaultSecretKey, time.Now())
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestRunModes(t *testing.T) {
	dir := t.TempDir()
	fixturePath := filepath.Join(dir, "fixture.json")
	f := cloudsim.DefaultFixture()
	f.Projects[cloudsim.DefaultProjectID].Workspaces[1].Status = "DELETING"
	if err := f.Save(fixturePath); err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.pem")
	cases := []struct {
		reason string
		args   []string
		client func(t *testing.T) *http.Client
		scheme string
	}{
		{"plain HTTP with the default fixture", nil, func(*testing.T) *http.Client { return http.DefaultClient }, "http://"},
		{"custom fixture file", []string{"--fixture", fixturePath}, func(*testing.T) *http.Client { return http.DefaultClient }, "http://"},
		{"self-signed TLS trusted through --ca-out", []string{"--tls", "--ca-out", caPath, "--tls-hosts", "cloudsim.test"},
			func(t *testing.T) *http.Client {
				pem, err := os.ReadFile(caPath)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					t.Fatal("bad CA PEM")
				}
				return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			}, "https://"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			r := start(t, tc.args...)
			if !strings.HasPrefix(r.apiURL, tc.scheme) {
				t.Fatalf("api URL %s", r.apiURL)
			}
			client := tc.client(t)
			res := signedGet(t, client, r.apiURL+"/v1/"+cloudsim.DefaultProjectID+"/workspaces/0")
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			adm, err := http.Get(r.adminURL + "/admin/healthz")
			if err != nil || adm.StatusCode != 200 {
				t.Fatalf("admin: %v", err)
			}
			adm.Body.Close()
			if err := r.stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			logs := r.logs.String()
			if !strings.Contains(logs, "GET /v1/"+cloudsim.DefaultProjectID+"/workspaces/0 200") {
				t.Errorf("no request line in logs:\n%s", logs)
			}
			for _, secret := range []string{cloudsim.DefaultSecretKey, cloudsim.DefaultAccessKey, "Authorization", "X-Sdk-Date"} {
				if strings.Contains(logs, secret) {
					t.Errorf("logs contain %q", secret)
				}
			}
		})
	}
}

func TestShutdownReleasesHangingRequests(t *testing.T) {
	r := start(t)
	req, _ := http.NewRequest(http.MethodPut, r.adminURL+"/admin/faults/workspace", strings.NewReader(`{"hang":true}`))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("inject: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodGet, r.apiURL+"/v1/"+cloudsim.DefaultProjectID+"/workspaces/0", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("hanging request not released")
	}
}

func TestFlagErrors(t *testing.T) {
	cases := []struct {
		reason string
		args   []string
	}{
		{"--ca-out without --tls", []string{"--ca-out", "x.pem"}},
		{"--tls-cert without --tls-key", []string{"--tls-cert", "c.pem"}},
		{"missing fixture file", []string{"--fixture", "/nonexistent/fixture.json"}},
		{"unknown flag", []string{"--nope"}},
		{"stray argument", []string{"extra"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"--listen", "127.0.0.1:0", "--admin-listen", ""}, tc.args...)
			if err := run(context.Background(), args, &out, &out, nil); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestWriteFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--write-fixture", path}, &out, &out, nil); err != nil {
		t.Fatal(err)
	}
	got, err := cloudsim.LoadFixture(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cloudsim.DefaultFixture().Clone()) {
		t.Error("written fixture differs from the default")
	}
	example, err := os.ReadFile("fixture.example.json")
	if err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(path)
	if !bytes.Equal(example, written) {
		t.Error("fixture.example.json is stale: go run ./cmd/cloudsim --write-fixture cmd/cloudsim/fixture.example.json")
	}
}
