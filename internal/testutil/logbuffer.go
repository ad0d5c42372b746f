// Package testutil holds small helpers the test suites share.
package testutil

import (
	"strings"
	"sync"
)

// LogBuffer collects log output written concurrently (by a manager's or a
// server's logger) so that a test can scan it, e.g. for leaked secrets.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
