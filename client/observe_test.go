package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// Subscribe with a ctx that never ends returns at the first upgrade refused for a reason
// retrying cannot fix, with the typed error; the channel keeps trying and joins once the
// server accepts the socket.
func TestSubscribeReturnsAtARefusedUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(3, 401, `{"error":"The token provided is not a valid JWT"}`)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		start := time.Now()
		err := ch.Subscribe(context.Background())
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Subscribe returned after %v; want within 2s", d)
		}
		var ue *transport.UpgradeError
		if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &ue) || ue.StatusCode != 401 || client.IsTemporary(err) {
			t.Fatalf("Subscribe = %v; want an unauthorized, not temporary error holding the 401", err)
		}
		want := "realtime: unauthorized: cannot connect: websocket upgrade refused: HTTP 401: The token provided is not a valid JWT (status=401, topic=realtime:room)"
		if err.Error() != want {
			t.Errorf("error text\n%s\nwant\n%s", err, want)
		}
		if err := c.Connect(context.Background()); !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("Connect = %v; want the next refusal", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; want joined once the server accepts the socket", ch.State())
		}
	})
}

// After Unsubscribe, a channel whose Subscribe returned at a refused upgrade does not join.
func TestUnsubscribeStopsTheRetriesAfterARefusedUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(2, 403, `{"error":"Realtime was disabled for this tenant"}`)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		if err := ch.Subscribe(context.Background()); !errors.Is(err, client.ErrUnauthorized) {
			t.Fatalf("Subscribe = %v; want unauthorized", err)
		}
		if err := ch.Unsubscribe(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if c.ConnectionState() != client.StateOpen {
			t.Fatalf("socket %v; want open once the server accepts it", c.ConnectionState())
		}
		if n := len(joins(srv, "realtime:room")); n != 0 || ch.State() != client.ChannelClosed {
			t.Errorf("%d joins, state %v after Unsubscribe; want none, closed", n, ch.State())
		}
	})
}

// A refused join returns Subscribe(context.Background()) at once; the channel rejoins with
// backoff until Unsubscribe.
func TestSubscribeReturnsAtARefusedJoinAndRetriesUntilUnsubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.FailJoins("room", 100, "PrivateOnly: This project only allows private channels")
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		start := time.Now()
		err := ch.Subscribe(context.Background())
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Subscribe returned after %v; want within 2s", d)
		}
		if !errors.Is(err, client.ErrUnauthorized) || client.IsTemporary(err) {
			t.Fatalf("Subscribe = %v; want unauthorized, not temporary", err)
		}
		time.Sleep(2500 * time.Millisecond) // rejoins after 1 s and 2 s
		synctest.Wait()
		if n := len(joins(srv, "realtime:room")); n != 3 {
			t.Errorf("%d joins; want 3 (the first and two rejoins)", n)
		}
		if err := ch.Unsubscribe(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(joins(srv, "realtime:room")); n != 3 {
			t.Errorf("%d joins after Unsubscribe; want no more", n)
		}
	})
}

func TestErrorTemporary(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{client.ErrTimeout, true},
		{client.ErrDisconnected, true},
		{client.ErrRateLimited, true},
		{client.ErrServerError, true},
		{client.ErrClosed, false},
		{client.ErrUnauthorized, false},
		{client.ErrJoinRejected, false},
		{client.ErrSlowConsumer, false},
		{client.ErrInvalidArgument, false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := client.IsTemporary(tt.err); got != tt.want {
			t.Errorf("IsTemporary(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

// A join refused while the project's database starts is temporary; one refused for good is not.
func TestJoinErrorTemporary(t *testing.T) {
	for reason, want := range map[string]bool{
		"InitializingProjectConnection: Realtime is initializing the project connection":        true,
		"RealtimeRestarting: Realtime is restarting, please standby":                            true,
		"TenantNotFound: Tenant with the given ID does not exist":                               false,
		"DatabaseConnectionRateLimitReached: Too many database connections attempts per second": true,
	} {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			srv.FailJoins("room", 1, reason)
			c := newClient(t, srv)
			ch, _ := c.Channel("room")
			err := ch.Subscribe(t.Context())
			var e *client.Error
			if !errors.As(err, &e) || e.Message != reason || e.Temporary() != want {
				t.Errorf("Subscribe = %v; want %q, Temporary %v", err, reason, want)
			}
		})
	}
}

// Stats counts what the client did, exactly.
func TestStatsCountExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithPushBuffer(2))
		if s := c.Stats(); s != (client.Stats{}) {
			t.Errorf("Stats before any I/O = %+v; want zero", s)
		}
		ch, _ := c.Channel("room", client.BroadcastSelf())
		msgs := ch.OnBroadcast(t.Context(), "*")
		slow := ch.OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1), subscribe.WithPendingLimits(1, 1<<20), subscribe.WithOverflow(subscribe.DropNewest))
		if err := ch.Subscribe(t.Context()); err != nil { // 1 frame out, 1 in
			t.Fatal(err)
		}
		for range 5 { // 5 out, 5 echoed in
			if err := ch.Broadcast(t.Context(), "e", map[string]int{"n": 1}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		for range 5 {
			recv(t, msgs)
		}
		// slow holds 1 in its channel and 1 pending: 3 dropped.
		s := c.Stats()
		if s.FramesOut != 6 || s.FramesIn != 6 || s.BytesOut == 0 || s.BytesIn == 0 {
			t.Errorf("frames out %d, in %d; want 6 and 6", s.FramesOut, s.FramesIn)
		}
		if s.Delivered != 5+1 || s.Dropped.Subscriptions != 3 {
			t.Errorf("delivered %d, dropped %d; want 6 (5 + 1 before slow's channel filled), 3", s.Delivered, s.Dropped.Subscriptions)
		}
		if s.SocketsOpen != 1 || s.Channels != (client.ChannelCounts{Joined: 1}) || s.Reconnects != 0 || s.Rejoins != 0 || s.PendingAcks != 0 {
			t.Errorf("stats %+v", s)
		}
		_ = slow

		// The server drops the socket; pushes made meanwhile overflow the push buffer (2).
		srv.DelayJoins(time.Second)
		srv.CloseConnections(1012, "")
		synctest.Wait()
		time.Sleep(time.Second) // reconnect; the rejoin waits for its reply
		synctest.Wait()
		for range 3 {
			if err := ch.Broadcast(t.Context(), "late", map[string]int{"n": 2}); err != nil {
				t.Fatal(err)
			}
		}
		s = c.Stats()
		if s.Reconnects != 1 || s.Rejoins != 1 || s.Dropped.PushBuffer != 1 || s.Channels != (client.ChannelCounts{Joining: 1}) {
			t.Errorf("after a reconnect: %+v; want 1 reconnect, 1 rejoin, 1 push dropped, 1 channel joining", s)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		s = c.Stats()
		if s.FramesOut != 6+1+2 || s.FramesIn != 6+1+2 || s.Channels != (client.ChannelCounts{Joined: 1}) {
			t.Errorf("after the rejoin: frames out %d, in %d, channels %+v; want 9, 9, 1 joined", s.FramesOut, s.FramesIn, s.Channels)
		}
	})
}

// The observer is told of the client's life, in order, off the router's path; Close tells it
// what is queued and waits for it.
func TestObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var mu sync.Mutex
		var got []client.Observation
		c := newClient(t, srv, client.WithObserver(func(o client.Observation) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, o)
		}))
		srv.DelayJoins(300 * time.Millisecond)
		srv.FailJoins("room", 1, "InitializingProjectConnection: Connecting to the project database")
		ch, _ := c.Channel("room")
		if err := ch.Subscribe(t.Context()); err == nil {
			t.Fatal("Subscribe succeeded; want the refusal")
		}
		time.Sleep(2 * time.Second) // rejoin after 1 s, joined after 300 ms
		synctest.Wait()
		srv.CloseConnections(1012, "")
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		time.Sleep(transport.DefaultHeartbeat)
		synctest.Wait()
		c.Close()

		mu.Lock()
		defer mu.Unlock()
		var kinds []string
		for _, o := range got {
			k := string(o.Kind)
			switch o.Kind {
			case client.ObserveConnection:
				k += ":" + o.New.String()
			case client.ObserveJoin:
				k += ":" + o.Latency.String()
				if o.Err != nil {
					k += ":error"
				}
				if o.Rejoin {
					k += ":rejoin"
				}
			case client.ObserveServerError:
				k += ":" + o.Reason
			}
			kinds = append(kinds, k)
		}
		want := []string{
			"connection:connecting", "connection:open",
			"server_error:InitializingProjectConnection: Connecting to the project database", "join:300ms:error",
			"rejoin", "join:300ms:rejoin",
			"connection:connecting", "connection:open", "rejoin", "join:300ms:rejoin", "gap",
			"heartbeat", "connection:closing", "connection:closed",
		}
		if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
			t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
		}
	})
}

// WithRequestHeaders adds headers derived from a ctx to the upgrade request and REST calls.
func TestRequestHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithRequestHeaders(func(ctx context.Context, h http.Header) {
			tp, _ := ctx.Value(key{}).(string)
			if tp == "" {
				tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" // the dial's own
			}
			h.Set("traceparent", tp)
		}))
		ch := subscribed(t, c, "room")
		if got := srv.Conns()[0].Header().Get("traceparent"); got != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
			t.Errorf("upgrade traceparent %q", got)
		}
		ctx := context.WithValue(t.Context(), key{}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		if err := ch.HTTPSend(ctx, "e", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		reqs := srv.HTTPRequests()
		if len(reqs) != 1 || reqs[0].Header.Get("traceparent") != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			t.Errorf("REST requests %+v; want the call's traceparent", reqs)
		}
	})
}
