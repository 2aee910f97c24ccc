package client_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
)

// flood pushes n broadcasts of about size bytes to topic from a goroutine of its own (the fake
// server's push waits while the client does not read), and returns a wait for its end.
func flood(srv *testutil.Server, topic string, n, size int) (wait func()) {
	payload := `"` + strings.Repeat("x", size) + `"`
	var wg sync.WaitGroup
	wg.Go(func() {
		for range n {
			srv.PushRaw(false, broadcastFrame(topic, "e", payload))
		}
	})
	return wg.Wait
}

// A lossless subscription read slower than the server sends holds the client's pending bytes
// near the flow control mark instead of the whole flood: the client stops reading its socket
// meanwhile. Nothing is lost, and a read slower than the heartbeat interval is no reason to
// reconnect.
func TestFlowControlSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const high, n, size = 256 << 10, 30_000, 1000 // 30 MB, read in 30 s of fake time
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithFlowControl(high))
		ch := subscribed(t, c, "flood")
		msgs := ch.OnBroadcast(t.Context(), "*", subscribe.WithBuffer(8), subscribe.WithPendingLimits(1<<24, 1<<34))
		wait := flood(srv, "flood", n, size)
		var peak int64
		for i := range n {
			recv(t, msgs)
			time.Sleep(time.Millisecond)
			if i%100 == 0 {
				peak = max(peak, c.Stats().PendingBytes)
			}
		}
		wait()
		st := c.Stats()
		// What the readers took before they paused still reaches the subscription: the
		// router's inbox and the batch it works on, at most 256 KiB each.
		if limit := int64(high + 512<<10 + 2*size); peak > limit {
			t.Errorf("pending bytes peaked at %d; want at most %d", peak, limit)
		}
		if st.Flow.Pauses == 0 || st.Flow.Paused < time.Second || st.Flow.Exempted != 0 {
			t.Errorf("Stats().Flow = %+v; want pauses, none exempted", st.Flow)
		}
		if st.Reconnects != 0 || st.Dropped.Subscriptions != 0 || msgs.Err() != nil {
			t.Errorf("reconnects %d, dropped %d, Err %v; want none", st.Reconnects, st.Dropped.Subscriptions, msgs.Err())
		}
		if st.HeartbeatRTT == 0 {
			t.Error("no heartbeat answered during the slow read")
		}
	})
}

// A subscription nobody reads holds the socket for one stall timeout: then the other channels
// flow again (not one frame per timeout), and the subscription's own limits evict it.
func TestFlowControlStuckSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const high = 256 << 10
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithFlowControl(high))
		stuck := subscribed(t, c, "stuck").OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1), subscribe.WithPendingLimits(0, 2<<20))
		live := subscribed(t, c, "live").OnBroadcast(t.Context(), "*")
		start := time.Now()
		wait := flood(srv, "stuck", 1000, 1000) // 1 MB: past the mark
		wait()
		srv.PushRaw(false, broadcastFrame("live", "ping", `{}`))
		recv(t, live)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("the other channel's broadcast came after %v; want about one stall timeout", d)
		}
		// The stuck subscription no longer slows the socket: its limit evicts it.
		wait = flood(srv, "stuck", 2000, 1000)
		wait()
		srv.PushRaw(false, broadcastFrame("live", "ping", `{}`))
		recv(t, live)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("the flood went on for %v; want a single stall timeout in all", d)
		}
		synctest.Wait()
		for range stuck.C() {
		}
		if err := stuck.Err(); !errors.Is(err, client.ErrSlowConsumer) {
			t.Errorf("stuck.Err() = %v; want ErrSlowConsumer", err)
		}
		if st := c.Stats(); st.Flow.Exempted != 1 || st.Flow.Pauses == 0 {
			t.Errorf("Stats().Flow = %+v; want one exempted", st.Flow)
		}
	})
}

// Subscriptions that chose to drop never slow the socket.
func TestFlowControlDropOldestNeverPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithFlowControl(64<<10))
		drop := subscribed(t, c, "drop").OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1), subscribe.WithOverflow(subscribe.DropOldest), subscribe.WithPendingLimits(0, 1<<20))
		live := subscribed(t, c, "live").OnBroadcast(t.Context(), "*")
		flood(srv, "drop", 3000, 1000)()
		srv.PushRaw(false, broadcastFrame("live", "ping", `{}`))
		recv(t, live)
		st := c.Stats()
		if st.Flow.Pauses != 0 {
			t.Errorf("Stats().Flow = %+v; want no pause", st.Flow)
		}
		if st.Dropped.Subscriptions == 0 || drop.Err() != nil {
			t.Errorf("dropped %d, Err %v; want drops by the policy", st.Dropped.Subscriptions, drop.Err())
		}
	})
}

// WithFlowControl(0) turns flow control off: a stuck lossless subscription grows its queue.
func TestFlowControlOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithFlowControl(0))
		_ = subscribed(t, c, "stuck").OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1))
		flood(srv, "stuck", 2000, 1000)()
		synctest.Wait()
		if st := c.Stats(); st.Flow.Pauses != 0 || st.PendingBytes < 1<<20 {
			t.Errorf("Stats: flow %+v, pending %d; want no pause and the flood queued", st.Flow, st.PendingBytes)
		}
	})
}
