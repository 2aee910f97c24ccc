package testutil

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// leakWait bounds how long the leak checks wait for goroutines to finish on their own.
const leakWait = 5 * time.Second

// VerifyNone fails t if, when the test and its other cleanups have finished, goroutines other
// than those that existed before it started are still running. Call it first in a test (it
// registers a t.Cleanup, which runs last because cleanups run in reverse order); it must not be
// used in tests that call t.Parallel, since their goroutines would be counted.
//
// The name and behaviour follow go.uber.org/goleak's VerifyNone.
func VerifyNone(t testing.TB) {
	t.Helper()
	before := goroutineIDs()
	t.Cleanup(func() {
		if leaked := waitForLeaks(before); len(leaked) > 0 {
			t.Errorf("testutil: %d goroutine(s) leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
	})
}

// VerifyTestMain runs the tests of a package and then fails the run if any goroutine started by
// them is still running, or if one of the extra checks returns an error (a package can check,
// say, that no log line of the whole suite held a secret). Use it as the whole body of
// TestMain:
//
//	func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M, checks ...func() error) {
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(nil); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "testutil: %d goroutine(s) leaked after the tests:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
		for _, check := range checks {
			if err := check(); err != nil {
				fmt.Fprintf(os.Stderr, "testutil: %v\n", err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// waitForLeaks polls, with a growing pause, until no unexpected goroutine is left or leakWait
// has passed, and returns the stacks of the ones still running.
func waitForLeaks(before map[string]bool) []string {
	deadline := time.Now().Add(leakWait)
	pause := time.Millisecond
	for {
		leaked := unexpectedGoroutines(before)
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(pause)
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
}

// goroutineIDs returns the ids of the goroutines running now.
func goroutineIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, g := range goroutineStacks() {
		ids[goroutineID(g)] = true
	}
	return ids
}

// unexpectedGoroutines lists the stacks of goroutines that are neither in before, nor the
// caller, nor part of the runtime or the testing package.
func unexpectedGoroutines(before map[string]bool) []string {
	var out []string
	stacks := goroutineStacks()
	for i, g := range stacks {
		if i == 0 || before[goroutineID(g)] || expectedGoroutine(g) {
			continue // stacks[0] is the calling goroutine
		}
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// goroutineStacks returns the stacks of all goroutines, the caller's first.
func goroutineStacks() []string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(strings.TrimSpace(string(buf[:n])), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutineID returns "goroutine 123" from a stack's first line.
func goroutineID(stack string) string {
	id, _, _ := strings.Cut(stack, " [")
	return id
}

// expectedGoroutine reports whether a goroutine belongs to the test framework or the runtime:
// its top frame is in package testing (tRunner waiting for subtests, parallel tests waiting for
// their turn, the fuzzing engine) or in the signal-handling helpers of os/signal.
func expectedGoroutine(stack string) bool {
	_, body, _ := strings.Cut(stack, "\n")
	top, _, _ := strings.Cut(body, "\n")
	for _, prefix := range []string{"testing.", "os/signal.", "runtime.ensureSigM", "runtime.goexit"} {
		if strings.HasPrefix(top, prefix) {
			return true
		}
	}
	return false
}
