package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// The example runs out of the box on the embedded server: the connection drops, rows are
// written while the client is away, and the copy ends in sync with the database.
func TestTodoSyncExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, "", "", &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	got := out.String()
	for _, w := range []string{
		"snapshot: 2 todo(s)",
		"live: buy milk",
		"gap: the channel was away; catching up",
		"caught up after a gap:",
		"live again: call the plumber",
		"final: [x] review the tests, [x] buy milk, [ ] call the plumber",
		"in sync with the database: true",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}
