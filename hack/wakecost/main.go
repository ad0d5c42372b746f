// Command wakecost measures what one wake-up from idle costs this machine:
// a goroutine woken by a timer RATE times a second, doing nothing else. The
// CPU time per wake-up is the process's own (getrusage), so it includes what
// the kernel, and on a VM the hypervisor's timer and halt exits, charge to it.
// docs/performance.md explains why the operator's steady state depends on it.
//
//	go run ./hack/wakecost [-rate 170] [-for 10s]
package main

import (
	"flag"
	"fmt"
	"syscall"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	rate := flag.Int("rate", 170, "wake-ups per second (170: 10,000 objects at a 1m interval)")
	length := flag.Duration("for", 10*time.Second, "how long to measure")
	flag.Parse()
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for time.Since(start) < *length {
		<-tick.C
		n++
	}
	cpu := cpuTime() - cpu0
	fmt.Printf("%d wake-ups in %s: %.3f CPU s, %.1f µs per wake-up\n",
		n, time.Since(start).Round(time.Millisecond), cpu.Seconds(), float64(cpu.Microseconds())/float64(n))
}
