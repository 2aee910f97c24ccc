package testutil

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logs records the lines a *slog.Logger writes, as text, so that tests can check what was
// logged (an overflow reported, a secret never printed).
type Logs struct {
	mu    sync.Mutex
	lines []string
	tb    testing.TB
}

// NewLogger returns a logger that records every line at debug level and above, and the record.
// With a non-nil tb the lines are also passed to tb.Log, so they show up with -v and on
// failure.
func NewLogger(tb testing.TB) (*slog.Logger, *Logs) {
	l := &Logs{tb: tb}
	return slog.New(&logHandler{logs: l, attrs: nil}), l
}

// Lines returns the recorded lines.
func (l *Logs) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Contains reports whether a recorded line contains substr.
func (l *Logs) Contains(substr string) bool {
	for _, line := range l.Lines() {
		if strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

func (l *Logs) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	tb := l.tb
	l.mu.Unlock()
	if tb != nil {
		tb.Log(line)
	}
}

type logHandler struct {
	logs  *Logs
	attrs []slog.Attr
	group string
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var buf bytes.Buffer
	th := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	var hh slog.Handler = th.WithAttrs(h.attrs)
	if h.group != "" {
		hh = hh.WithGroup(h.group)
	}
	if err := hh.Handle(context.Background(), r); err != nil {
		return err
	}
	h.logs.add(strings.TrimSpace(buf.String()))
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{logs: h.logs, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), group: h.group}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{logs: h.logs, attrs: h.attrs, group: name}
}
