package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// endedWith checks that sub has ended (its channel closed) with an error matching want.
func endedWith[T any](t *testing.T, sub *subscribe.Subscription[T], want error) {
	t.Helper()
	select {
	case <-sub.Done():
	default:
		t.Errorf("%v is still open; want it ended with %v", sub, want)
		return
	}
	if err := sub.Err(); !errors.Is(err, want) {
		t.Errorf("%v ended with %v; want %v", sub, err, want)
	}
}

// refusesEveryCall checks that every call on ch fails with ErrClosed, that every On… gives a
// subscription already ended with it, and that none of it reaches the server.
func refusesEveryCall(t *testing.T, srv *testutil.Server, ch *client.Channel) {
	t.Helper()
	ctx := t.Context()
	synctest.Wait()
	before := len(srv.Received())
	calls := map[string]error{
		"Subscribe":     ch.Subscribe(ctx),
		"Unsubscribe":   ch.Unsubscribe(ctx),
		"Broadcast":     ch.Broadcast(ctx, "e", map[string]int{"n": 1}),
		"BroadcastBin":  ch.BroadcastBinary(ctx, "e", []byte{1}),
		"Send":          ch.Send(ctx, client.Message{Type: "custom", Event: "x"}),
		"Track":         ch.Track(ctx, map[string]string{"u": "a"}),
		"Untrack":       ch.Untrack(ctx),
		"SetAuth":       ch.SetAuth(ctx, "channel-token"),
		"HTTPSend":      ch.HTTPSend(ctx, "e", map[string]int{"n": 1}),
		"PostgresReady": ch.PostgresReady().Err(),
	}
	for name, err := range calls {
		if !errors.Is(err, client.ErrClosed) {
			t.Errorf("%s on %v = %v; want ErrClosed", name, ch, err)
		}
	}
	endedWith(t, ch.OnBroadcast(ctx, "*"), client.ErrClosed)
	endedWith(t, ch.OnSystem(ctx), client.ErrClosed)
	endedWith(t, ch.OnState(ctx), client.ErrClosed)
	endedWith(t, ch.OnPresence(ctx), client.ErrClosed)
	endedWith(t, ch.OnPostgresChanges(ctx, pgchanges.On(pgchanges.All, "public", "t")), client.ErrClosed)
	synctest.Wait()
	if after := srv.Received(); len(after) != before {
		t.Errorf("calls on %v sent %v", ch, after[before:])
	}
	if ch.State() != client.ChannelClosed {
		t.Errorf("State = %v; want closed", ch.State())
	}
}

func pushBroadcast(srv *testutil.Server, topic, event string) {
	for _, sc := range srv.Conns() {
		sc.Push(transport.Message{Topic: "realtime:" + topic, Event: "broadcast",
			Payload: []byte(fmt.Sprintf(`{"event":%q,"payload":{},"type":"broadcast"}`, event))})
	}
}

// A removed channel refuses every call and touches nothing: the channel made afterwards for the
// same topic keeps receiving, and Close ends what was opened on either.
func TestRemovedChannelRefusesEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		old := subscribed(t, c, "room")
		oldMsgs := old.OnBroadcast(t.Context(), "*")
		if err := c.RemoveChannel(t.Context(), old); err != nil {
			t.Fatal(err)
		}
		endedWith(t, oldMsgs, client.ErrClosed)

		fresh := subscribed(t, c, "room")
		if fresh == old {
			t.Fatal("Channel after RemoveChannel returned the removed channel")
		}
		msgs := fresh.OnBroadcast(t.Context(), "*")
		refusesEveryCall(t, srv, old)

		pushBroadcast(srv, "room", "after")
		if m := recv(t, msgs); m.Event != "after" {
			t.Errorf("the new channel got %q", m.Event)
		}
		if err := c.RemoveChannel(t.Context(), old); err != nil {
			t.Errorf("RemoveChannel of a removed channel = %v; want nil", err)
		}
		if got := c.Channels(); len(got) != 1 || got[0] != fresh {
			t.Errorf("Channels = %v; want only the new one", got)
		}
		c.Close()
		endedWith(t, msgs, client.ErrClosed)
		refusesEveryCall(t, srv, fresh)
	})
}

// A channel closed by the server for good (no token can revive it) is removed from the client:
// it refuses every call, and Channel makes a new one that joins.
func TestServerClosedChannelIsGoneForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		states := ch.OnState(t.Context())
		const reason = "You no longer have permission to read from this Channel topic: room"
		if n := srv.ShutChannels("room", reason); n != 1 {
			t.Fatalf("ShutChannels = %d", n)
		}
		synctest.Wait()
		var last client.ChannelStateChange
		for sc := range states.C() {
			last = sc
		}
		if last.New != client.ChannelClosed || !errors.Is(last.Err, client.ErrUnauthorized) {
			t.Errorf("last state change %+v; want closed with the server's reason", last)
		}
		endedWith(t, states, client.ErrUnauthorized)
		refusesEveryCall(t, srv, ch)
		if err := ch.Subscribe(t.Context()); !strings.Contains(err.Error(), reason) {
			t.Errorf("Subscribe on a channel closed by the server = %v; want the server's reason in it", err)
		}
		again := subscribed(t, c, "room")
		if again == ch {
			t.Fatal("Channel returned the channel the server closed")
		}
	})
}

// PostgresReady settles on every way a join can end: leave, removal, close by the server, Close.
func TestPostgresReadyAlwaysSettles(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(t *testing.T, srv *testutil.Server, c *client.Client, ch *client.Channel)
		want error
	}{
		{"unsubscribe", func(t *testing.T, _ *testutil.Server, _ *client.Client, ch *client.Channel) {
			if err := ch.Unsubscribe(t.Context()); err != nil {
				t.Fatal(err)
			}
		}, client.ErrClosed},
		{"remove", func(t *testing.T, _ *testutil.Server, c *client.Client, ch *client.Channel) {
			if err := c.RemoveChannel(t.Context(), ch); err != nil {
				t.Fatal(err)
			}
		}, client.ErrClosed},
		{"server close", func(t *testing.T, srv *testutil.Server, _ *client.Client, _ *client.Channel) {
			srv.ShutChannels("db", "Realtime was unable to connect to the project database")
		}, client.ErrServerError},
		{"client close", func(t *testing.T, _ *testutil.Server, c *client.Client, _ *client.Channel) {
			c.Close()
		}, client.ErrClosed},
		{"socket lost", func(t *testing.T, srv *testutil.Server, _ *client.Client, _ *client.Channel) {
			srv.DropConnections()
		}, client.ErrDisconnected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				srv.SetPostgresReadyDelay(time.Hour)
				c := newClient(t, srv)
				ch, _ := c.Channel("db", client.PostgresChangesWait(false, 0))
				_ = ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.All, "public", "todos"))
				ready := ch.PostgresReady()
				if err := ch.Subscribe(t.Context()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if isSettled(ready) {
					t.Fatalf("ready settled early: %v", ready.Err())
				}
				tt.end(t, srv, c, ch)
				synctest.Wait()
				if !isSettled(ready) {
					t.Fatal("PostgresReady still pending after the join ended")
				}
				if err := ready.Err(); !errors.Is(err, tt.want) {
					t.Errorf("PostgresReady settled with %v; want %v", err, tt.want)
				}
			})
		})
	}
}

func isSettled[T any](f *acks.Future[T]) bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

// Close cancels the ctx of a token callback under way and waits for it to return.
func TestCloseWaitsForTheTokenCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var calls, returned atomic.Int32
		fn := func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				return fakeJWT("first", time.Now().Add(time.Hour)), nil
			}
			<-ctx.Done() // a slow auth server, until the client gives up on it
			time.Sleep(time.Second)
			returned.Add(1)
			return "", ctx.Err()
		}
		c := newClient(t, srv, client.WithAccessToken(fn))
		ch := subscribed(t, c, "room")
		time.Sleep(10 * time.Second) // the first token is no longer fresh
		sc := srv.Conns()[0]
		j := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: j, Ref: j, Topic: "realtime:room", Event: "phx_error", Payload: []byte("{}")})
		time.Sleep(2 * time.Second) // the rejoin asks the callback, which hangs
		synctest.Wait()
		if calls.Load() != 2 || ch.State() == client.ChannelJoined {
			t.Fatalf("%d calls, state %v; want the rejoin waiting for the second call", calls.Load(), ch.State())
		}
		c.Close()
		if returned.Load() != 1 {
			t.Error("Close returned while the token callback was still running")
		}
	})
}

// Shutdown(ctx) bounds the wait for a callback that ignores its ctx.
func TestShutdownBoundsTheWaitForATokenCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		release := make(chan struct{})
		var calls atomic.Int32
		fn := func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				return fakeJWT("first", time.Now().Add(time.Hour)), nil
			}
			<-release // ignores ctx
			return "", errors.New("too late")
		}
		c := newClient(t, srv, client.WithAccessToken(fn))
		ch := subscribed(t, c, "room")
		time.Sleep(10 * time.Second)
		sc := srv.Conns()[0]
		j := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: j, Ref: j, Topic: "realtime:room", Event: "phx_error", Payload: []byte("{}")})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		_ = ch
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := c.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Errorf("Shutdown = %v after %v; want the deadline after 3s", err, time.Since(start))
		}
		close(release)
		c.Close() // waits for the callback now that it returns
	})
}

// An error from the token callback never carries a token, in its text or in its causes.
func TestSetAuthErrorIsRedacted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		secret := fakeJWT("leaky", time.Now().Add(time.Hour))
		fn := func(ctx context.Context) (string, error) {
			return "", fmt.Errorf("refresh refused for token %s (api key %s)", secret, testKey)
		}
		c := newClient(t, srv, client.WithAccessToken(fn))
		err := c.SetAuth(t.Context(), "")
		if err == nil {
			t.Fatal("SetAuth succeeded with a failing callback")
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), secret) || leakedSecret(e.Error()) != "" {
				t.Errorf("SetAuth error (or a cause) holds a token: %v", e)
			}
		}
		if !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("SetAuth = %v; want unauthorized", err)
		}
	})
}

// A Subscribe whose ctx ends leaves no waiter behind it.
func TestTimedOutSubscribeLeavesNoWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.DelayJoins(time.Hour)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		for range 3 {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			if err := ch.Subscribe(ctx); !errors.Is(err, client.ErrTimeout) {
				t.Errorf("Subscribe = %v; want a timeout", err)
			}
			cancel()
		}
		synctest.Wait()
		if n := client.SubscribeWaiters(ch); n != 0 {
			t.Errorf("%d Subscribe waiters queued after their ctx ended; want 0", n)
		}
	})
}

// stallConn is a connection whose writes block while its gate is shut, like a peer that stopped
// reading.
type stallConn struct {
	net.Conn
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (s *stallConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
	return s.Conn.Write(p)
}

func (s *stallConn) shut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

func (s *stallConn) open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// BroadcastWithAck never blocks, even when the socket's queue is full: it returns its future at
// once, and the future settles.
func TestBroadcastWithAckNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var mu sync.Mutex
		var conns []*stallConn
		d := *srv.Dialer()
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := srv.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			sc := &stallConn{Conn: nc}
			mu.Lock()
			conns = append(conns, sc)
			mu.Unlock()
			return sc, nil
		}
		c := newClient(t, srv, client.WithDialer(&d), client.WithHeartbeat(time.Hour))
		ch := subscribed(t, c, "room", client.BroadcastAck())
		mu.Lock()
		stalled := conns[0]
		mu.Unlock()
		stalled.shut()

		const n = 5000 // more than the socket's queue holds (4096)
		futs := make(chan *acks.Future[client.Reply], n)
		done := make(chan error, 1)
		go func() {
			for i := range n {
				f, err := ch.BroadcastWithAck("e", map[string]int{"i": i})
				if err != nil {
					done <- err
					return
				}
				futs <- f
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("BroadcastWithAck = %v", err)
			}
		case <-time.After(time.Second):
			t.Fatalf("BroadcastWithAck blocked after %d calls with the socket's queue full", len(futs))
		}
		time.Sleep(client.DefaultTimeout + time.Second)
		close(futs)
		for f := range futs {
			if !isSettled(f) {
				t.Fatal("a future is still pending after the push timeout")
			}
		}
		stalled.open()
	})
}

// Joins sent at different times each time out the push timeout after they were sent, however
// many joins are in flight and whichever were answered.
func TestJoinsTimeOutEachOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		const timeout = 2 * time.Second // before the writes stuck behind the unanswered join time out
		c := newClient(t, srv, client.WithTimeout(timeout))
		subscribed(t, c, "answered")
		srv.DelayJoins(time.Hour)
		var wg sync.WaitGroup
		for i, wait := range []time.Duration{0, 500 * time.Millisecond, time.Second, time.Second} {
			wg.Go(func() {
				time.Sleep(wait)
				ch, _ := c.Channel(fmt.Sprintf("room-%d", i))
				start := time.Now()
				err := ch.Subscribe(t.Context())
				if !errors.Is(err, client.ErrTimeout) {
					t.Errorf("room-%d: Subscribe = %v; want ErrTimeout", i, err)
				}
				if d := time.Since(start); d != timeout {
					t.Errorf("room-%d timed out after %v; want %v", i, d, timeout)
				}
			})
		}
		wg.Wait()
	})
}

// A channel that only joins costs one small allocation for its handle and its router state;
// what features, leaves, pushes and backoff need comes on first use.
func TestChannelStateStaysSmall(t *testing.T) {
	if got := client.ChannelSize() + client.ChanStateSize(); got > 192 {
		t.Errorf("Channel (%d B) and its router state (%d B) take %d B; want at most 192", client.ChannelSize(), client.ChanStateSize(), got)
	}
}
