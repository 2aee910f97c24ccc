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

// The example runs out of the box on the embedded server, with exact values.
func TestDBChangesExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, "", "", 42, &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	got := out.String()
	for _, w := range []string{
		`INSERT id=9007199254740993 room=42 body="hello" amount=12345678901234567890.123456789 at 2026-08-21T10:15:30Z`,
		`UPDATE id=9007199254740993 room=42 body="hello, edited"`,
		`DELETE id=9007199254740993`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "another room") {
		t.Errorf("the filtered-out insert was printed:\n%s", got)
	}
}
