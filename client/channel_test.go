package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// joinPayload decodes the payload of a phx_join frame.
func joinPayload(t *testing.T, f testutil.Frame) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func joins(srv *testutil.Server, topic string) []testutil.Frame {
	var out []testutil.Frame
	for _, f := range srv.Received() {
		if f.Event == "phx_join" && f.Topic == topic {
			out = append(out, f)
		}
	}
	return out
}

func TestSubscribeSendsTheFullJoinConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		since := time.Date(2026, 8, 21, 10, 0, 0, 123e6, time.UTC)
		ch, err := c.Channel("room:lobby", client.BroadcastSelf(), client.BroadcastAck(), client.PresenceKey("u1"),
			client.Private(), client.Replay(since, 10), client.ReplicationReady())
		if err != nil {
			t.Fatal(err)
		}
		if ch.Topic() != "realtime:room:lobby" {
			t.Errorf("Topic = %q", ch.Topic())
		}
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		js := joins(srv, "realtime:room:lobby")
		if len(js) != 1 {
			t.Fatalf("%d joins; want 1", len(js))
		}
		if js[0].JoinRef == "" || js[0].JoinRef != js[0].Ref {
			t.Errorf("join_ref %q, ref %q; want equal and set", js[0].JoinRef, js[0].Ref)
		}
		want := map[string]any{
			"config": map[string]any{
				"broadcast": map[string]any{"ack": true, "self": true, "replication_ready": true,
					"replay": map[string]any{"since": float64(since.UnixMilli()), "limit": float64(10)}},
				"presence":         map[string]any{"key": "u1", "enabled": false},
				"postgres_changes": []any{},
				"private":          true,
			},
			"access_token": testKey,
		}
		if diff := cmp.Diff(want, joinPayload(t, js[0])); diff != "" {
			t.Errorf("join payload (-want +got):\n%s", diff)
		}
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v", ch.State())
		}
	})
}

func TestChannelRegistry(t *testing.T) {
	srv := testutil.NewServer(t)
	c := newClient(t, srv)
	a, err := c.Channel("room:a", client.BroadcastSelf())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.Channel("realtime:room:a", client.BroadcastSelf()); b != a {
		t.Error("same topic and options gave another channel")
	}
	if _, err := c.Channel("room:a"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("same topic, other options: %v; want invalid_argument", err)
	}
	b, _ := c.Channel("room:b")
	if diff := cmp.Diff([]string{"realtime:room:a", "realtime:room:b"}, topics(c.Channels())); diff != "" {
		t.Errorf("Channels (-want +got):\n%s", diff)
	}
	if err := c.RemoveChannel(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"realtime:room:a"}, topics(c.Channels())); diff != "" {
		t.Errorf("Channels after remove (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		topic string
		opts  []client.ChannelOption
	}{
		{"", nil},
		{"realtime:", nil},
		{"  ", nil},
		{"room", []client.ChannelOption{client.Replay(time.Now(), 5)}},                    // public
		{"room", []client.ChannelOption{client.Private(), client.Replay(time.Time{}, 5)}}, // no since
		{"room", []client.ChannelOption{client.Private(), client.Replay(time.Now(), 26)}},
	} {
		if _, err := c.Channel(tt.topic, tt.opts...); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("Channel(%q) = %v; want invalid_argument", tt.topic, err)
		}
	}
	if len(srv.Received()) != 0 {
		t.Errorf("the server received frames: %v", srv.Received())
	}
}

func topics(cs []*client.Channel) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Topic())
	}
	return out
}

func TestJoinRejectedKeepsTheReasonAndRejoins(t *testing.T) {
	for _, tt := range []struct {
		reason string
		code   error
	}{
		{"Unauthorized: You do not have permissions to read from this Channel topic: room", client.ErrUnauthorized},
		{"TopicNameRequired: You must provide a topic name", client.ErrJoinRejected},
		{"DatabaseConnectionRateLimitReached: Too many database connections attempts per second", client.ErrRateLimited},
	} {
		t.Run(strings.SplitN(tt.reason, ":", 2)[0], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				srv.FailJoins("room", 1, tt.reason)
				c := newClient(t, srv)
				ch, _ := c.Channel("room")
				states := ch.OnState(t.Context())
				err := ch.Subscribe(t.Context())
				var e *client.Error
				if !errors.As(err, &e) || e.Message != tt.reason || !errors.Is(err, tt.code) {
					t.Fatalf("Subscribe = %v; want %v with the exact reason", err, tt.code)
				}
				if ch.State() != client.ChannelErrored {
					t.Errorf("State = %v; want errored", ch.State())
				}
				// The channel retries on its own (1 s here; 70 s ±15% after a tenant-wide limit).
				time.Sleep(90 * time.Second)
				synctest.Wait()
				if ch.State() != client.ChannelJoined {
					t.Fatalf("State after the rejoin delay = %v; want joined", ch.State())
				}
				js := joins(srv, "realtime:room")
				if len(js) != 2 || js[0].JoinRef == js[1].JoinRef {
					t.Errorf("joins %v; want two with fresh join_refs", js)
				}
				var seen []string
				for len(states.C()) > 0 {
					seen = append(seen, recv(t, states).New.String())
				}
				if diff := cmp.Diff([]string{"joining", "errored", "joining", "joined"}, seen); diff != "" {
					t.Errorf("states (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestJoinTimeoutLeavesAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.DelayJoins(15 * time.Second)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		start := time.Now()
		err := ch.Subscribe(t.Context())
		if !errors.Is(err, client.ErrTimeout) {
			t.Fatalf("Subscribe = %v; want ErrTimeout", err)
		}
		if d := time.Since(start); d != client.DefaultTimeout {
			t.Errorf("timed out after %v; want %v", d, client.DefaultTimeout)
		}
		srv.DelayJoins(0)
		time.Sleep(time.Minute)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; want joined after the retry", ch.State())
		}
		var leaves int
		for _, f := range srv.Received() {
			if f.Event == "phx_leave" {
				leaves++
			}
		}
		if leaves == 0 {
			t.Error("no phx_leave after the join timed out")
		}
	})
}

// Contract 5: after a reconnect every channel rejoins with a fresh join_ref, and its
// subscriptions stay open.
func TestRejoinAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		b := newClient(t, srv)
		ch := subscribed(t, a, "room")
		other := subscribed(t, a, "other")
		msgs := ch.OnBroadcast(t.Context(), "*")
		states := ch.OnState(t.Context())
		sender := subscribed(t, b, "room")
		first := srv.Conns()[0].JoinRef("room")

		srv.Conns()[0].Drop() // a's socket
		synctest.Wait()
		if ch.State() != client.ChannelErrored || other.State() != client.ChannelErrored {
			t.Fatalf("states after the drop: %v, %v; want errored", ch.State(), other.State())
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if ch.State() != client.ChannelJoined || other.State() != client.ChannelJoined {
			t.Fatalf("states after reconnect: %v, %v; want joined", ch.State(), other.State())
		}
		var again string
		for _, sc := range srv.Conns() {
			if j := sc.JoinRef("room"); j != "" && sc.ID() != 2 {
				again = j
			}
		}
		if again == "" || again == first {
			t.Errorf("join_ref after reconnect %q, before %q; want a fresh one", again, first)
		}
		if err := sender.Broadcast(t.Context(), "after", map[string]int{"x": 1}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, msgs); m.Event != "after" {
			t.Errorf("got %+v", m)
		}
		var seen []string
		for len(states.C()) > 0 {
			sc := recv(t, states)
			seen = append(seen, sc.New.String())
			if sc.New == client.ChannelErrored && !errors.Is(sc.Err, client.ErrDisconnected) {
				t.Errorf("errored because of %v; want a disconnected error", sc.Err)
			}
		}
		if diff := cmp.Diff([]string{"errored", "joining", "joined"}, seen); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
	})
}

func TestPhxErrorRejoinsAndStaleFramesAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		msgs := ch.OnBroadcast(t.Context(), "*")
		sc := srv.Conns()[0]
		old := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: old, Ref: old, Topic: "realtime:room", Event: "phx_error", Payload: []byte("{}")})
		synctest.Wait()
		if ch.State() != client.ChannelErrored {
			t.Fatalf("State after phx_error = %v", ch.State())
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("State after the rejoin delay = %v", ch.State())
		}
		// Frames of the earlier join are dropped: a stale broadcast, a stale phx_close.
		sc.Push(transport.Message{JoinRef: old, Topic: "realtime:room", Event: "broadcast", UserEvent: "stale", Data: []byte("{}")})
		sc.Push(transport.Message{JoinRef: old, Ref: old, Topic: "realtime:room", Event: "phx_close", Payload: []byte("{}")})
		sc.Push(transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "fanout", Data: []byte("{}")})
		if m := recv(t, msgs); m.Event != "fanout" {
			t.Errorf("got %q; want only the fan-out broadcast", m.Event)
		}
		synctest.Wait()
		none(t, msgs)
		if ch.State() != client.ChannelJoined {
			t.Errorf("a stale phx_close closed the channel: %v", ch.State())
		}
	})
}

// A system error followed by phx_close ends the channel: no rejoin, subscriptions end with
// the server's message.
// A channel the server closes for the tenant's message rate is not over: it rejoins alone,
// once the server's rolling average can have fallen (70 s ±15%), and its subscriptions stay
// open meanwhile. Other channels are not held.
func TestServerCloseForTheTenantsRateRejoinsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		other := subscribed(t, c, "other")
		msgs := ch.OnBroadcast(t.Context(), "*")
		sys := ch.OnSystem(t.Context())
		srv.ShutChannels("room", "Too many messages per second")
		s := recv(t, sys)
		if s.Message != "Too many messages per second" || !s.IsError() || s.Channel != "room" {
			t.Errorf("system = %+v", s)
		}
		synctest.Wait()
		if ch.State() != client.ChannelErrored {
			t.Fatalf("State = %v; want errored", ch.State())
		}
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if n := len(joins(srv, "realtime:room")); n != 1 {
			t.Errorf("%d joins after 50 s; the channel must wait for the server's rate to fall", n)
		}
		if other.State() != client.ChannelJoined {
			t.Errorf("the other channel is %v; want joined", other.State())
		}
		time.Sleep(40 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined || len(joins(srv, "realtime:room")) != 2 {
			t.Fatalf("State = %v after 90 s; want joined again", ch.State())
		}
		pushBroadcast(srv, "room", "back")
		if m := recv(t, msgs); m.Event != "back" {
			t.Errorf("got %q", m.Event)
		}
	})
}

func TestUnsubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		b := newClient(t, srv)
		ch := subscribed(t, a, "room")
		msgs := ch.OnBroadcast(t.Context(), "*")
		sender := subscribed(t, b, "room")
		if err := ch.Unsubscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if ch.State() != client.ChannelClosed {
			t.Errorf("State = %v", ch.State())
		}
		if _, err := srv.Expect(t.Context(), "room", "phx_leave"); err != nil {
			t.Fatal(err)
		}
		_ = sender.Broadcast(t.Context(), "while-away", map[string]int{})
		synctest.Wait()
		none(t, msgs)
		// The subscription survived; a new Subscribe rejoins.
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		_ = sender.Broadcast(t.Context(), "back", map[string]int{})
		if m := recv(t, msgs); m.Event != "back" {
			t.Errorf("got %q", m.Event)
		}
		// Unsubscribing a closed channel is a no-op.
		_ = ch.Unsubscribe(t.Context())
		if err := ch.Unsubscribe(t.Context()); err != nil {
			t.Errorf("second Unsubscribe = %v", err)
		}
		// A push on a channel that is not subscribed fails clearly.
		if err := ch.Broadcast(t.Context(), "x", map[string]int{}); !errors.Is(err, client.ErrClosed) {
			t.Errorf("Broadcast on an unsubscribed channel = %v; want ErrClosed", err)
		}
	})
}

// Contract 7: Subscribe's ctx bounds the wait only; the channel still joins.
func TestSubscribeCtxBoundsOnlyTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.DelayJoins(3 * time.Second)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := ch.Subscribe(ctx); !errors.Is(err, client.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Subscribe = %v; want a timeout wrapping DeadlineExceeded", err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; want joined in the background", ch.State())
		}
		if c.ConnectionState() != client.StateOpen {
			t.Errorf("the cancelled ctx touched the socket: %v", c.ConnectionState())
		}
	})
}

// Subscribe while the server refuses the socket says why when ctx ends.
func TestSubscribeReportsTheConnectionError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(100, 401, `{"error":"Token has expired"}`)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err := ch.Subscribe(ctx)
		var ue *transport.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != 401 || !strings.Contains(err.Error(), "Token has expired") {
			t.Errorf("Subscribe = %v; want the upgrade error", err)
		}
	})
}

func TestConnectionStateSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		states := c.OnConnectionState(t.Context())
		if c.ConnectionState() != client.StateClosed {
			t.Errorf("initial state %v", c.ConnectionState())
		}
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.CloseConnections(1012, "")
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var seen []string
		var cause error
		for len(states.C()) > 0 {
			sc := recv(t, states)
			seen = append(seen, sc.Old.String()+">"+sc.New.String())
			if sc.Err != nil {
				cause = sc.Err
			}
		}
		want := []string{"closed>connecting", "connecting>open", "open>connecting", "connecting>open"}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		var ce *transport.CloseError
		if !errors.Is(cause, client.ErrDisconnected) || !errors.As(cause, &ce) || ce.Code != 1012 {
			t.Errorf("cause = %v; want disconnected with close code 1012", cause)
		}
	})
}

// Subscribe while a leave is in flight joins again once the leave has completed.
func TestSubscribeDuringLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		srv.DelayLeaves(time.Second)
		left := make(chan error, 1)
		go func() { left <- ch.Unsubscribe(t.Context()) }()
		synctest.Wait()
		if ch.State() != client.ChannelLeaving {
			t.Fatalf("State = %v; want leaving", ch.State())
		}
		err := ch.Subscribe(t.Context())
		if err != nil {
			t.Fatalf("Subscribe during a leave = %v", err)
		}
		if e := <-left; e != nil {
			t.Errorf("Unsubscribe = %v", e)
		}
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; want joined", ch.State())
		}
	})
}
