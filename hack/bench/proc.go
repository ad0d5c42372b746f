package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStats are what /proc says about one process.
type procStats struct {
	cpuSeconds float64 // utime + stime
	rssMiB     float64 // VmRSS
	hwmMiB     float64 // VmHWM: peak RSS since start
}

// clockTicks is USER_HZ; 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is what /proc/<pid>/stat says about one process.
type procStat struct {
	comm       string // the command name
	ppid       int
	cpuSeconds float64 // utime + stime
}

func readStat(pid int) (procStat, error) {
	var st procStat
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name is in parentheses and may hold spaces; the fields
	// after it start at field 3.
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return st, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	st.comm = s[open+1 : closing]
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 13 {
		return st, fmt.Errorf("short /proc/%d/stat", pid)
	}
	st.ppid, _ = strconv.Atoi(fields[1])           // field 4
	utime, _ := strconv.ParseFloat(fields[11], 64) // field 14
	stime, _ := strconv.ParseFloat(fields[12], 64) // field 15
	st.cpuSeconds = (utime + stime) / clockTicks
	return st, nil
}

func readProc(pid int) (procStats, error) {
	var st procStats
	stat, err := readStat(pid)
	if err != nil {
		return st, err
	}
	st.cpuSeconds = stat.cpuSeconds
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			st.rssMiB = kb / 1024
		case "VmHWM":
			st.hwmMiB = kb / 1024
		}
	}
	return st, nil
}

// controlPlaneCPU is the CPU seconds kube-apiserver and etcd (the bench's
// own children, started by envtest) have used so far: the API server's side
// of what the floor and the operator cost.
func controlPlaneCPU() (float64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total float64
	found := map[string]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if (st.comm != "kube-apiserver" && st.comm != "etcd") || st.ppid != os.Getpid() {
			continue
		}
		total += st.cpuSeconds
		found[st.comm] = true
	}
	if !found["kube-apiserver"] || !found["etcd"] {
		return 0, fmt.Errorf("kube-apiserver and etcd not found among the bench's children (found %v)", found)
	}
	return total, nil
}

// stolenCPU is the CPU seconds the hypervisor has given other guests while
// this machine wanted them (the steal column of /proc/stat), summed over its
// CPUs: a phase that lost many ran slower for reasons outside the machine.
func stolenCPU() (float64, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	steal, err := strconv.ParseFloat(fields[8], 64)
	if err != nil {
		return 0, err
	}
	return steal / clockTicks, nil
}

// phaseCPU is what a phase cost the machine, from its start to its end.
type phaseCPU struct {
	controlPlane, bench, stolen float64
}

func readPhaseCPU() (phaseCPU, error) {
	var p phaseCPU
	var err error
	if p.controlPlane, err = controlPlaneCPU(); err != nil {
		return p, err
	}
	self, err := readProc(os.Getpid())
	if err != nil {
		return p, err
	}
	p.bench = self.cpuSeconds
	p.stolen, err = stolenCPU()
	return p, err
}

func (p phaseCPU) sub(q phaseCPU) phaseCPU {
	return phaseCPU{controlPlane: p.controlPlane - q.controlPlane, bench: p.bench - q.bench, stolen: p.stolen - q.stolen}
}
