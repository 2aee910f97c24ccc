package main

import (
	"bytes"
	"context"
	"encoding/json"
	"expvar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// The program runs out of the box on the embedded server: the bot greets, the message is
// acknowledged, the bot types and answers, /who lists both, and the end is graceful.
func TestChatExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	in := strings.NewReader("hello\n/who\n")
	if err := run(ctx, options{room: "test", user: "alice"}, in, &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	got := out.String()
	for _, w := range []string{
		"joined test as alice; members: alice, bot",
		"[bot] hi alice! say something",
		"[alice] hello ✓",
		"bot is typing…",
		"[bot] you said: HELLO",
		"members: alice, bot",
		"bye",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

// Two users in a room see each other join, type, talk and leave; presence is keyed by user id.
func TestRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		newClient := func() *client.Client {
			rt, err := client.New(srv.URL(), "demo-key", client.WithDialer(srv.Dialer()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rt.Close() })
			return rt
		}
		ctx := t.Context()
		bob, err := Join(ctx, newClient(), "room", "bob")
		if err != nil {
			t.Fatal(err)
		}
		alice, err := Join(ctx, newClient(), "room", "alice")
		if err != nil {
			t.Fatal(err)
		}
		next := func() Event {
			t.Helper()
			select {
			case ev := <-bob.Events():
				return ev
			case <-time.After(time.Minute):
				t.Fatal("no event")
			}
			return Event{}
		}
		if ev := next(); ev.Joined != "alice" {
			t.Fatalf("event %+v; want alice joined", ev)
		}
		_ = alice.Typing(ctx)
		_ = alice.Typing(ctx) // shown once
		if err := alice.Say(ctx, "hi bob"); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.Typing != "alice" {
			t.Fatalf("event %+v; want alice typing", ev)
		}
		if ev := next(); ev.Message == nil || *ev.Message != (Message{User: "alice", Text: "hi bob"}) {
			t.Fatalf("event %+v; want alice's message", ev)
		}
		if m := bob.Members(); strings.Join(m, ",") != "alice,bob" {
			t.Errorf("Members = %v", m)
		}
		if err := alice.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.Left != "alice" {
			t.Fatalf("event %+v; want alice left", ev)
		}
		if err := bob.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// -metrics serves the client's counters as expvar JSON.
func TestMetrics(t *testing.T) {
	srv := testutil.NewServer(t)
	srv.Start()
	rt, err := client.New(srv.URL(), "demo-key")
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop, err := serveMetrics(rt, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	w := httptest.NewRecorder()
	expvar.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/debug/vars", nil))
	rec := w.Body
	var vars struct {
		Realtime client.Stats `json:"realtime"`
	}
	if err := json.Unmarshal(rec.Bytes(), &vars); err != nil {
		t.Fatalf("expvar JSON: %v\n%s", err, rec)
	}
	if vars.Realtime.SocketsOpen != 1 {
		t.Errorf("realtime stats %+v; want one socket open", vars.Realtime)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of run's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
