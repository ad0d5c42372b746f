package cloudclient

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent calls to one cloud host reuse their connections: a second
// round of as many concurrent calls as the first dials nothing new (Go's
// default kept only 2 idle connections per host and re-dialled the rest).
func TestConcurrentCallsReuseConnections(t *testing.T) {
	const concurrent = 16
	var dialled atomic.Int32
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release // hold every call open, so each needs its own connection
		writeJSON(w, http.StatusOK, `{"id":"0","name":"default","status":"NORMAL"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := mustClient(t, NewPool(Options{HTTPTimeout: 10 * time.Second}), akskConfig(srv.URL))

	round := func() {
		t.Helper()
		arrived.Add(concurrent)
		release = make(chan struct{})
		errs := make(chan error, concurrent)
		for range concurrent {
			go func() { _, err := c.GetWorkspace(bg, "0"); errs <- err }()
		}
		arrived.Wait()
		close(release)
		for range concurrent {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	round()
	if got := dialled.Load(); got != concurrent {
		t.Fatalf("first round dialled %d connections, want %d", got, concurrent)
	}
	round()
	if got := dialled.Load(); got != concurrent {
		t.Errorf("second round dialled %d new connections, want 0 (idle ones reused)", got-concurrent)
	}
}
