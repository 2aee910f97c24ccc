package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// session runs rtcat with args against srv, feeding it commands and collecting its lines.
type session struct {
	in    io.WriteCloser
	mu    sync.Mutex
	lines []string
	seen  chan struct{}
	done  chan int
	ready chan struct{}
}

func start(t *testing.T, srv *testutil.Server, args ...string) *session {
	t.Helper()
	o, err := parseFlags(append([]string{"-url", srv.URL(), "-key", "k"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{in: inW, seen: make(chan struct{}, 1), done: make(chan int, 1), ready: make(chan struct{})}
	o.onReady = func() { close(s.ready) }
	go func() {
		s.done <- runWith(context.Background(), o, inR, outW, io.Discard)
		outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.seen <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-s.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("rtcat did not join")
	}
	return s
}

func (s *session) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := io.WriteString(s.in, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
}

// wait waits for a line containing want and returns it.
func (s *session) wait(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for _, l := range s.lines {
			if strings.Contains(l, want) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		select {
		case <-s.seen:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no line with %s; got:\n%s", want, strings.Join(s.lines, "\n"))
		}
	}
}

func (s *session) quit(t *testing.T) {
	t.Helper()
	s.send(t, `{"op":"quit"}`)
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("rtcat did not quit")
	}
	s.in.Close()
}

func TestChatBetweenTwoRtcats(t *testing.T) {
	srv := testutil.NewServer(t)
	srv.Start()
	a := start(t, srv, "-self", "-presence", "-presence-key", "alice", "-track", `{"status":"here"}`,
		"-postgres", "INSERT:public.messages:room_id=eq.42", "-system")
	b := start(t, srv, "-ack", "-broadcast", "hello")

	a.wait(t, `"kind":"connection","state":"open"`)
	a.wait(t, `"kind":"channel","topic":"room:lobby","state":"joined"`)
	a.wait(t, `"kind":"system","topic":"room:lobby","status":"ok","extension":"postgres_changes","message":"Subscribed to PostgreSQL"`)
	a.wait(t, `"kind":"presence","topic":"room:lobby","event":"join","key":"alice"`)

	b.send(t, `{"op":"broadcast","event":"hello","payload":{"n":9007199254740993,"f":1.50}}`)
	b.wait(t, `{"kind":"ack","topic":"room:lobby","event":"hello","status":"ok"}`)
	if got := a.wait(t, `"event":"hello"`); got != `{"kind":"broadcast","topic":"room:lobby","event":"hello","payload":{"n":9007199254740993,"f":1.50}}` {
		t.Errorf("a printed %s", got)
	}
	a.send(t, `{"op":"broadcast","event":"self-note","payload":{}}`)
	a.wait(t, `{"kind":"broadcast","topic":"room:lobby","event":"self-note","payload":{}}`)

	srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "messages",
		Record:  json.RawMessage(`{"id":9007199254740993,"room_id":42,"amount":12345678901234567890.123456789}`),
		Columns: []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "room_id", Type: "int4"}, {Name: "amount", Type: "numeric"}}, CommitTimestamp: "2026-08-21T10:15:30.123Z"})
	got := a.wait(t, `"kind":"postgres_changes"`)
	if !strings.Contains(got, `"record":{"id":9007199254740993,"room_id":42,"amount":12345678901234567890.123456789}`) ||
		!strings.Contains(got, `"commit_timestamp":"2026-08-21T10:15:30.123Z"`) || !strings.Contains(got, `"errors":null`) {
		t.Errorf("postgres line %s", got)
	}

	a.send(t, `{"op":"untrack"}`)
	a.wait(t, `"kind":"presence","topic":"room:lobby","event":"leave","key":"alice"`)
	a.send(t, `{"op":"set_auth","token":"new-user-token"}`)
	a.send(t, `{"op":"nonsense"}`)
	a.wait(t, `"kind":"error","topic":"room:lobby","error":"unknown op`)

	// The server restarts (every socket drops): both come back and keep chatting.
	srv.DropConnections()
	a.wait(t, `"kind":"connection","state":"connecting"`)
	time.Sleep(3 * time.Second)
	b.send(t, `{"op":"broadcast","event":"hello","payload":{"again":true}}`)
	a.wait(t, `"payload":{"again":true}`)

	b.send(t, `{"op":"leave"}`)
	b.wait(t, `"kind":"channel","topic":"room:lobby","state":"closed"`)
	a.quit(t)
	b.quit(t)
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-postgres", "nonsense"},
		{"-postgres", "TRUNCATE:public.t"},
		{"-track", "{not json"},
		{"extra"},
	} {
		if code := run(context.Background(), append([]string{"-url", "ws://127.0.0.1:1/realtime/v1", "-key", "k"}, args...), strings.NewReader(""), io.Discard, io.Discard); code != 2 {
			t.Errorf("rtcat %v exited %d; want 2", args, code)
		}
	}
}

// On a private channel of a project with broadcast persistence, an ack line shows the stored
// message's id, and with -replay-auto a receiver that was away gets what it missed.
func TestPersistedBroadcastsAndReplay(t *testing.T) {
	srv := testutil.NewServer(t, testutil.WithBroadcastPersistence())
	srv.Start()
	a := start(t, srv, "-private", "-replay-auto")
	a.wait(t, `"kind":"channel","topic":"room:lobby","state":"joined"`)
	b := start(t, srv, "-private", "-ack")
	b.wait(t, `"kind":"channel","topic":"room:lobby","state":"joined"`)
	b.send(t, `{"op":"broadcast","event":"note","payload":{"n":1}}`)
	if got := b.wait(t, `"kind":"ack"`); !strings.Contains(got, `"status":"ok","id":"`) {
		t.Errorf("ack line %s; want the stored message's id", got)
	}
	a.wait(t, `"payload":{"n":1}`)

	srv.Conns()[0].Drop() // a's socket
	a.wait(t, `"kind":"connection","state":"connecting"`)
	b.send(t, `{"op":"broadcast","event":"note","payload":{"n":2}}`)
	a.wait(t, `"payload":{"n":2}`)
	a.quit(t)
	b.quit(t)
}

// count waits until n lines contain want and returns the lines that do, in order.
func (s *session) count(t *testing.T, want string, n int) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		var got []string
		s.mu.Lock()
		for _, l := range s.lines {
			if strings.Contains(l, want) {
				got = append(got, l)
			}
		}
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.seen:
		case <-deadline:
			t.Fatalf("%d lines with %s; want %d", len(got), want, n)
		}
	}
}

// Broadcasts and the changes of two bindings, interleaved on the wire, are printed in exactly
// that order, every time.
func TestPrintsInWireOrder(t *testing.T) {
	const events = 2000
	for run := range 20 {
		srv := testutil.NewServer(t)
		srv.Start()
		s := start(t, srv, "-postgres", "INSERT:public.items", "-postgres", "*:public.items:room=eq.1")
		s.wait(t, `"kind":"channel","topic":"room:lobby","state":"joined"`)
		conn := srv.Conns()[0]
		r := rand.New(rand.NewPCG(uint64(run), 7))
		var want []string
		for i := range events {
			if r.IntN(2) == 0 {
				conn.Push(transport.Message{Topic: "realtime:room:lobby", Event: "broadcast", UserEvent: "m", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
				want = append(want, fmt.Sprintf(`{"kind":"broadcast","topic":"room:lobby","event":"m","payload":{"i":%d}}`, i))
				continue
			}
			typ, room := []string{"INSERT", "UPDATE"}[r.IntN(2)], 1+r.IntN(2)
			var matched []string
			if typ == "INSERT" {
				matched = append(matched, `"INSERT:public.items"`)
			}
			if room == 1 {
				matched = append(matched, `"*:public.items:room=eq.1"`)
			}
			if len(matched) == 0 {
				continue // the server sends nothing
			}
			srv.InjectChange(testutil.Change{Type: typ, Schema: "public", Table: "items",
				Record:  json.RawMessage(fmt.Sprintf(`{"i":%d,"room":%d}`, i, room)),
				Columns: []pgchanges.Column{{Name: "i", Type: "int8"}, {Name: "room", Type: "int4"}}, PrimaryKey: []string{"i"},
				CommitTimestamp: "2026-08-21T10:15:30.123Z"})
			want = append(want, fmt.Sprintf(`{"kind":"postgres_changes","topic":"room:lobby","type":%q,"schema":"public","table":"items","commit_timestamp":"2026-08-21T10:15:30.123Z","record":{"i":%d,"room":%d},"errors":null,"bindings":[%s]}`,
				typ, i, room, strings.Join(matched, ",")))
		}
		got := s.count(t, `{"i":`, len(want))
		if len(got) != len(want) {
			t.Fatalf("run %d: %d lines; want %d", run, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("run %d: line %d is\n%s\nwant\n%s", run, i, got[i], want[i])
			}
		}
		s.quit(t)
		srv.Close()
	}
}

// With 150 -topic flags against a server that takes 100 channels per socket, rtcat joins all
// 150 (on two sockets), every line names its topic, and a command goes to the channel it names.
func TestManyTopics(t *testing.T) {
	srv := testutil.NewServer(t, testutil.WithMaxChannelsPerClient(100))
	srv.Start()
	var args []string
	for i := range 150 {
		args = append(args, "-topic", fmt.Sprintf("room:%d", i))
	}
	s := start(t, srv, append(args, "-self")...)
	joined := s.count(t, `"state":"joined"`, 150)
	seen := map[string]bool{}
	for _, l := range joined {
		var v struct{ Kind, Topic string }
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.Kind != "channel" || v.Topic == "" {
			t.Fatalf("line %s: want a channel line naming its topic", l)
		}
		seen[v.Topic] = true
	}
	if len(seen) != 150 {
		t.Errorf("%d distinct topics joined; want 150", len(seen))
	}
	s.send(t, `{"op":"broadcast","topic":"room:149","event":"here","payload":{}}`)
	s.wait(t, `{"kind":"broadcast","topic":"room:149","event":"here","payload":{}}`)
	s.send(t, `{"op":"broadcast","topic":"nowhere","event":"x"}`)
	s.wait(t, `no channel \"nowhere\"`)
	s.quit(t)
}
