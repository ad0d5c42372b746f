package lazylog

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func newZap(buf *bytes.Buffer) logr.Logger {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", NameKey: "logger", LevelKey: "level",
		CallerKey: "caller", EncodeLevel: zapcore.LowercaseLevelEncoder, EncodeCaller: zapcore.ShortCallerEncoder})
	core := zapcore.NewCore(enc, zapcore.AddSync(buf), zapcore.DebugLevel)
	return zapr.NewLogger(zap.New(core, zap.AddCaller()))
}

// The lazy logger writes exactly the lines the eager one writes, caller
// included.
func TestSameLinesAsEager(t *testing.T) {
	var eager, lazy bytes.Buffer
	for _, c := range []struct {
		buf *bytes.Buffer
		log logr.Logger
	}{{&eager, newZap(&eager)}, {&lazy, New(newZap(&lazy))}} {
		l := c.log.WithName("controller").WithValues("kind", "Workspace").WithName("ws").WithValues("namespace", "ns", "name", "a")
		l.Info("synced", "calls", 1) // the caller must be this line in both
		l.V(1).Info("debug line")
		l.V(5).Info("not enabled")
		l.Error(errors.New("boom"), "failed", "reason", "CloudError")
		c.log.Info("plain")
	}
	if eager.String() != lazy.String() {
		t.Fatalf("lines differ\neager:\n%s\nlazy:\n%s", eager.String(), lazy.String())
	}
	if !strings.Contains(lazy.String(), `"caller":"lazylog/lazylog_test.go:`) || strings.Count(lazy.String(), "\n") != 4 {
		t.Fatalf("unexpected output:\n%s", lazy.String())
	}
}

// countingSink counts how often its values are encoded.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (c countingSink) WithValues(kvs ...any) logr.LogSink {
	*c.withValues++
	return countingSink{c.LogSink.WithValues(kvs...), c.withValues}
}

// A reconcile's logger that writes nothing never encodes its values.
func TestNothingEncodedUntilALineIsWritten(t *testing.T) {
	var buf bytes.Buffer
	n := 0
	l := New(logr.New(countingSink{newZap(&buf).GetSink(), &n}))
	for range 100 {
		_ = l.WithValues("controller", "workspace", "namespace", "ns", "name", "a").WithValues("reconcileID", "x")
	}
	if n != 0 {
		t.Fatalf("values encoded %d times with nothing logged", n)
	}
	l.WithValues("k", "v").Info("written")
	if n != 1 {
		t.Fatalf("values encoded %d times for one line, want 1", n)
	}
}

func BenchmarkReconcileLogger(b *testing.B) {
	var buf bytes.Buffer
	for _, c := range []struct {
		name string
		log  logr.Logger
	}{{"eager", newZap(&buf)}, {"lazy", New(newZap(&buf))}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				l := c.log.WithValues("controller", "workspace", "controllerGroup", "modelarts.cloudmirror.io",
					"controllerKind", "Workspace", "Workspace", "ns/a", "namespace", "ns", "name", "a").WithValues("reconcileID", "0f9c")
				l.V(1).Info("not written")
			}
		})
	}
}
