// Command wakecost measures what waking from idle costs this machine, the
// cost that dominates the operator's steady state on a VM
// (docs/performance.md, "Steady CPU: wake-ups, not work").
//
//	go run ./hack/wakecost                     # a goroutine woken RATE times a second by a timer
//	go run ./hack/wakecost -http               # an HTTP GET every 1/RATE s to a server answering after 20 ms
//	go run ./hack/wakecost -http -burst 170    # the same calls, sent 170 at a time
//	go run ./hack/wakecost -http -proto h2c    # the same over HTTP/2 (h2c or h2tls)
//
// The CPU time is this process's own (getrusage), so it includes what the
// kernel, and on a VM the hypervisor's timer and halt exits, charge to it.
// The HTTP server runs as a child process, so its CPU is not counted.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

func main() {
	rate := flag.Int("rate", 170, "events per second (170: 10,000 objects at a 1m interval)")
	length := flag.Duration("for", 10*time.Second, "how long to measure")
	useHTTP := flag.Bool("http", false, "make HTTP calls instead of bare timer wake-ups")
	burst := flag.Int("burst", 1, "with -http: calls sent together (every burst/rate seconds)")
	workers := flag.Int("workers", 8, "with -http: calls in flight at most")
	proto := flag.String("proto", "h1", "with -http: h1, h2c or h2tls")
	serve := flag.String("serve", "", "internal: serve on this address (the child process)")
	flag.Parse()
	switch {
	case *serve != "":
		log.Fatal(runServer(*serve, *proto))
	case *useHTTP:
		measureHTTP(*rate, *burst, *workers, *proto, *length)
	default:
		measureTimer(*rate, *length)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(what string, n int, elapsed, cpu time.Duration) {
	fmt.Printf("%d %s in %s: %.3f CPU s, %.1f µs each\n",
		n, what, elapsed.Round(time.Millisecond), cpu.Seconds(), float64(cpu.Microseconds())/float64(n))
}

func measureTimer(rate int, length time.Duration) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for time.Since(start) < length {
		<-tick.C
		n++
	}
	report("wake-ups", n, time.Since(start), cpuTime()-cpu0)
}

// answer is about the size of a workspace's details.
const answer = `{"id":"3e7a1c00000000000000000000000000","name":"default","status":"NORMAL","owner":"testUser","auth_type":"PUBLIC","create_time":1470000000000,"update_time":1470000000000}`

func runServer(addr, proto string) error {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if proto == "h2tls" {
		srv := httptest.NewUnstartedServer(handler)
		srv.Listener, srv.EnableHTTP2 = ln, true
		srv.StartTLS()
		select {}
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(proto == "h2c")
	srv := &http.Server{Handler: handler, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

func measureHTTP(rate, burst, workers int, proto string, length time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	server := exec.Command(os.Args[0], "-serve", addr, "-proto", proto)
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = server.Process.Kill() }()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // as the operator's cloud client
	url := "http://" + addr + "/"
	switch proto {
	case "h2c":
		transport.Protocols = new(http.Protocols)
		transport.Protocols.SetUnencryptedHTTP2(true)
	case "h2tls":
		url = "https://" + addr + "/"
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a local test server's own certificate
	}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	for start := time.Now(); get() != nil; time.Sleep(50 * time.Millisecond) { // wait for the server
		if time.Since(start) > 10*time.Second {
			log.Fatal("the server did not answer")
		}
	}

	calls := make(chan struct{}, rate)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range workers {
		wg.Go(func() {
			for range calls {
				if err := get(); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	tick := time.NewTicker(time.Second * time.Duration(burst) / time.Duration(rate))
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for time.Since(start) < length {
		<-tick.C
		for range burst {
			calls <- struct{}{}
			n++
		}
	}
	close(calls)
	wg.Wait()
	tick.Stop()
	if failed > 0 {
		log.Fatalf("%d of %d calls failed", failed, n)
	}
	report(fmt.Sprintf("%s calls (bursts of %d)", proto, burst), n, time.Since(start), cpuTime()-cpu0)
}
