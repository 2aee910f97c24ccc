package client_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

// subscribeAll subscribes n channels named prefix-0 … prefix-(n-1) at once and returns them.
func subscribeAll(t *testing.T, c *client.Client, prefix string, n int) []*client.Channel {
	t.Helper()
	chs := make([]*client.Channel, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ch, err := c.Channel(fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			t.Fatal(err)
		}
		chs[i] = ch
		wg.Go(func() { errs[i] = ch.Subscribe(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return chs
}

// topicsPerConn counts the topics each server connection has joined.
func topicsPerConn(srv *testutil.Server) []int {
	var out []int
	for _, sc := range srv.Conns() {
		select {
		case <-sc.Done():
			continue
		default:
		}
		out = append(out, len(sc.Topics()))
	}
	return out
}

// 250 channels on one client end joined on 3 sockets (100 per socket, the server's limit),
// none refused.
func TestPoolSpreadsChannelsOverSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		chs := subscribeAll(t, c, "room", 250)
		for _, ch := range chs {
			if ch.State() != client.ChannelJoined {
				t.Fatalf("%v is %v", ch, ch.State())
			}
		}
		got := topicsPerConn(srv)
		if len(got) != 3 || got[0]+got[1]+got[2] != 250 || got[0] > 100 || got[1] > 100 || got[2] > 100 {
			t.Errorf("topics per socket = %v; want 250 over 3 sockets, at most 100 each", got)
		}
		for _, f := range srv.Received() {
			if f.Event == "phx_join" && f.Ref == "" {
				t.Errorf("join without a ref: %+v", f)
			}
		}
		if c.ConnectionState() != client.StateOpen {
			t.Errorf("ConnectionState = %v", c.ConnectionState())
		}
		// Each socket heartbeats and reconnects on its own; every channel comes back.
		srv.DropConnections()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		for _, ch := range chs {
			if ch.State() != client.ChannelJoined {
				t.Fatalf("%v is %v after the drop", ch, ch.State())
			}
		}
	})
}

// A server configured for 3 channels per socket refuses the 4th join with
// ChannelRateLimitReached: the channel moves to a second socket at once, without a penalty; a
// later network drop brings every channel back within the normal backoff.
func TestPoolMovesARefusedChannelToAnotherSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxChannelsPerClient(3))
		c := newClient(t, srv)
		chs := subscribeAll(t, c, "room", 3)
		fourth, _ := c.Channel("room-4")
		states := fourth.OnState(t.Context())
		start := time.Now()
		if err := fourth.Subscribe(t.Context()); err != nil {
			t.Fatalf("Subscribe(4th) = %v; want it joined on another socket", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the 4th channel took %v to join; a full socket is not a penalty", d)
		}
		if got := topicsPerConn(srv); len(got) != 2 || got[0] != 3 || got[1] != 1 {
			t.Errorf("topics per socket = %v; want [3 1]", got)
		}
		var moved bool
		for len(states.C()) > 0 {
			if sc := recv(t, states); sc.New == client.ChannelJoining && errors.Is(sc.Err, client.ErrRateLimited) {
				moved = true
			}
		}
		if !moved {
			t.Error("no state change said why the channel moved")
		}

		srv.DropConnections()
		start = time.Now()
		for _, ch := range append(chs, fourth) {
			for ch.State() != client.ChannelJoined {
				if !c.WaitForStateChange(t.Context(), c.ConnectionState()) && ch.State() != client.ChannelJoined {
					t.Fatalf("%v is %v", ch, ch.State())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("channels rejoined %v after the drop; want about the 1 s backoff", d)
		}
	})
}

// After ClientJoinRateLimitReached and the server's 1001 close, the client holds off every join
// and reconnect for the hold-off, says so, and then recovers by itself; joins on its other
// sockets are not refused meanwhile.
func TestPoolHoldsOffAfterTheTenantJoinLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ok := subscribed(t, c, "ok")
		srv.FailJoins("limited", 1, "ClientJoinRateLimitReached: Too many joins per second")
		ch, _ := c.Channel("limited")
		err := ch.Subscribe(t.Context())
		var e *client.Error
		if !errors.As(err, &e) || !errors.Is(err, client.ErrRateLimited) || e.Details["retry_in"] == nil {
			t.Fatalf("Subscribe = %v; want rate_limited saying how long the client holds off", err)
		}
		synctest.Wait()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if ok.State() == client.ChannelJoined || ch.State() == client.ChannelJoined {
			t.Errorf("joined within 30 s (%v, %v); the client must hold off", ok.State(), ch.State())
		}
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if ok.State() != client.ChannelJoined || ch.State() != client.ChannelJoined {
			t.Errorf("after the hold-off: %v, %v; want both joined", ok.State(), ch.State())
		}
	})
}

// Many channels subscribed at once are joined at the paced rate: a burst, then the rate.
func TestPoolPacesJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithJoinRate(10, 5))
		start := time.Now()
		subscribeAll(t, c, "room", 25)
		// 5 at once, then 20 at 10 per second.
		if d := time.Since(start); d < 1900*time.Millisecond || d > 2100*time.Millisecond {
			t.Errorf("25 joins took %v; want about 2 s", d)
		}
	})
}

// A socket left with no channel closes after an idle time; the first socket stays.
func TestPoolClosesIdleSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithMaxChannelsPerSocket(2))
		chs := subscribeAll(t, c, "room", 3)
		if got := topicsPerConn(srv); len(got) != 2 {
			t.Fatalf("topics per socket = %v; want 2 sockets", got)
		}
		var second *client.Channel
		var alone string
		for _, sc := range srv.Conns() {
			if ts := sc.Topics(); len(ts) == 1 {
				alone = ts[0]
			}
		}
		for _, ch := range chs {
			if ch.Topic() == alone {
				second = ch
			}
		}
		if err := c.RemoveChannel(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2*client.DefaultHeartbeat + time.Second)
		synctest.Wait()
		if got := topicsPerConn(srv); len(got) != 1 || got[0] != 2 {
			t.Errorf("topics per socket = %v; want the idle socket closed", got)
		}
		if c.ConnectionState() != client.StateOpen {
			t.Errorf("ConnectionState = %v; want open", c.ConnectionState())
		}
	})
}
