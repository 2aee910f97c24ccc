package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// The example runs out of the box on the embedded server and ends with the right state.
func TestPresenceExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, "", "", "room:test", &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	want := []string{
		"join  alice [online]",
		"join  bob   [online]",
		"join  alice [away]",
		"leave alice [online]",
		"leave bob   [online]",
		"final: alice is away",
	}
	got := out.String()
	for _, w := range want {
		if !bytes.Contains([]byte(got), []byte(w)) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}
