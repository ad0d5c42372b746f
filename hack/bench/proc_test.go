package main

import (
	"os"
	"testing"
)

func TestReadStat(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.ppid, os.Getppid())
	}
	if st.comm == "" || st.cpuSeconds < 0 {
		t.Errorf("readStat(self) = %+v", st)
	}
	proc, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if proc.cpuSeconds < st.cpuSeconds || proc.rssMiB <= 0 {
		t.Errorf("readProc(self) = %+v after readStat %+v", proc, st)
	}
}
