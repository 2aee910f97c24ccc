package client_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
)

// presenceStateFrame returns a presence_state of members members for topic, as a hostile
// server may send it: about 38 bytes a member. The frame is built in a buffer of its exact
// size, so that the test's own copy of its input weighs no more than the input.
func presenceStateFrame(topic string, members int) []byte {
	b := make([]byte, 0, members*38+len(topic)+64)
	b = fmt.Appendf(b, `[null,null,"realtime:%s","presence_state",{`, topic)
	for i := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"u%07d":{"metas":[{"phx_ref":"r%07d"}]}`, i, i)
	}
	return append(b, "}]"...)
}

// presenceDiffFrame returns a presence_diff joining members members, from first on.
func presenceDiffFrame(topic string, first, members int) []byte {
	b := make([]byte, 0, members*40+len(topic)+64)
	b = fmt.Appendf(b, `[null,null,"realtime:%s","presence_diff",{"joins":{`, topic)
	for i := first; i < first+members; i++ {
		if i > first {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"u%08d":{"metas":[{"phx_ref":"r%08d"}]}`, i, i)
	}
	return append(b, `},"leaves":{}}]`...)
}

func broadcastFrame(topic, event, payload string) []byte {
	return fmt.Appendf(nil, `[null,null,"realtime:%s","broadcast",{"type":"broadcast","event":%q,"payload":%s}]`, topic, event, payload)
}

// While a large presence message of one channel is being processed, the other channels'
// broadcasts are delivered, and the channel's own later messages wait for it, in order.
func TestLargePresenceDoesNotHoldOtherChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		started := make(chan struct{}, 8)
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		client.SetPresenceJobHook(c, func() { started <- struct{}{}; <-gate })
		a, _ := c.Channel("a")
		pres := a.OnPresence(t.Context(), subscribe.WithBuffer(10_000), subscribe.WithOverflow(subscribe.Evict))
		aMsgs := a.OnBroadcast(t.Context(), "*")
		if err := a.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		b, _ := c.Channel("b")
		bMsgs := b.OnBroadcast(t.Context(), "*")
		if err := b.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for len(pres.C()) > 0 {
			<-pres.C() // the server's own empty state
		}

		srv.PushRaw(false, presenceStateFrame("a", 5000)) // 190 KB: handled off the router
		srv.PushRaw(false, broadcastFrame("a", "after", `{}`))
		srv.PushRaw(false, broadcastFrame("b", "other", `{}`))
		<-started
		if got := recv(t, bMsgs); got.Event != "other" {
			t.Fatalf("b got %q", got.Event)
		}
		synctest.Wait()
		none(t, aMsgs) // a's broadcast waits for a's presence
		none(t, pres)
		close(gate)
		joins := 0
		for {
			ev := recv(t, pres)
			if _, ok := ev.(presence.Sync); ok {
				break
			}
			joins++
		}
		if joins != 5000 {
			t.Errorf("%d joins before the sync; want 5000", joins)
		}
		if got := recv(t, aMsgs); got.Event != "after" {
			t.Fatalf("a got %q", got.Event)
		}
		if n := a.PresenceState().Len(); n != 5000 {
			t.Errorf("PresenceState has %d members", n)
		}
	})
}

// Beyond a channel's presence limits, the state does not grow; the refusal reaches OnSystem
// as a presence error and the log, and the rest of the message applies.
func TestPresenceLimitsRefuseGrowth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		logger, logs := testutil.NewLogger(nil)
		c := newClient(t, srv, client.WithLogger(logger), client.WithPresenceLimits(1000, 1000))
		ch, _ := c.Channel("limited", client.PresenceLimits(3, 10))
		_ = ch.OnPresence(t.Context())
		sys := ch.OnSystem(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the server's own presence_state after the join comes first
		srv.PushRaw(false, presenceStateFrame("limited", 5))
		got := recv(t, sys)
		for got.Extension != "presence" {
			got = recv(t, sys)
		}
		if !got.IsError() || !strings.Contains(got.Message, "2 member(s) with 2 meta(s) refused over the presence limits (3 members, 10 metas)") {
			t.Errorf("system message %+v", got)
		}
		if n := ch.PresenceState().Len(); n != 3 {
			t.Errorf("PresenceState has %d members; want 3", n)
		}
		if !logs.Contains("presence refused") {
			t.Error("the refusal was not logged")
		}
		// A diff that replaces a member at the limit goes through.
		srv.PushRaw(false, []byte(`[null,null,"realtime:limited","presence_diff",{"joins":{"x":{"metas":[{"phx_ref":"x1"}]}},"leaves":{"u0000000":{"metas":[{"phx_ref":"r0000000"}]}}}]`))
		synctest.Wait()
		if st := ch.PresenceState(); st.Len() != 3 || st.Get("x") == nil {
			t.Errorf("after the swap: %v", st.Keys())
		}
		// The client-wide limits apply to a channel without its own.
		other, _ := c.Channel("wide")
		_ = other.OnPresence(t.Context())
		if err := other.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		srv.PushRaw(false, presenceStateFrame("wide", 1500))
		synctest.Wait()
		if n := other.PresenceState().Len(); n != 1000 {
			t.Errorf("PresenceState has %d members; want the client's limit of 1000", n)
		}
	})
}

// Names that are not valid UTF-8 from the server are refused and logged, never delivered, and
// never panic.
func TestInvalidUTF8FromServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		logger, logs := testutil.NewLogger(nil)
		c := newClient(t, srv, client.WithLogger(logger))
		ch, _ := c.Channel("utf")
		_ = ch.OnPresence(t.Context())
		sys := ch.OnSystem(t.Context())
		msgs := ch.OnBroadcast(t.Context(), "*")
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.PushRaw(false, []byte("[null,null,\"realtime:utf\",\"presence_state\",{\"ok\":{\"metas\":[{\"phx_ref\":\"1\"}]},\"bad\xff\":{\"metas\":[{\"phx_ref\":\"2\"}]}}]"))
		srv.PushRaw(false, broadcastFrame("utf", "e\xff", `{}`))
		srv.PushRaw(false, []byte("[null,null,\"realtime:utf\xfe\",\"broadcast\",{\"type\":\"broadcast\",\"event\":\"e\",\"payload\":{}}]"))
		srv.PushRaw(true, []byte("\x04\x0b\x02\x00\x01realtime:utfe\xff{}"))
		srv.PushRaw(false, broadcastFrame("utf", "fine", `{}`))
		if got := recv(t, msgs); got.Event != "fine" {
			t.Errorf("got broadcast %q; want only the valid one", got.Event)
		}
		got := recv(t, sys)
		for got.Extension != "presence" {
			got = recv(t, sys)
		}
		if !strings.Contains(got.Message, "1 member(s) refused for a key that is not valid UTF-8") {
			t.Errorf("system message %q", got.Message)
		}
		if keys := ch.PresenceState().Keys(); len(keys) != 1 || keys[0] != "ok" {
			t.Errorf("presence keys %q", keys)
		}
		if !logs.Contains("not valid UTF-8") {
			t.Error("the malformed frames were not logged")
		}
		if _, err := c.Channel("bad\xff"); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("Channel with a topic that is not UTF-8: %v", err)
		}
	})
}

// WithReadLimit is passed to the socket: a larger frame closes it with 1009, and the client
// reconnects and rejoins.
func TestWithReadLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithReadLimit(4096))
		states := c.OnConnectionState(t.Context(), subscribe.WithBuffer(64))
		ch := subscribed(t, c, "big")
		msgs := ch.OnBroadcast(t.Context(), "*")
		chStates := ch.OnState(t.Context(), subscribe.WithBuffer(64))
		srv.PushRaw(false, broadcastFrame("big", "huge", `"`+strings.Repeat("x", 8192)+`"`))
		for {
			sc := recv(t, states)
			if sc.Err != nil {
				if !strings.Contains(sc.Err.Error(), "1009") {
					t.Errorf("state change error %v; want close code 1009", sc.Err)
				}
				break
			}
		}
		for recv(t, chStates).New != client.ChannelJoined {
		}
		srv.PushRaw(false, broadcastFrame("big", "small", `{}`))
		if got := recv(t, msgs); got.Event != "small" {
			t.Errorf("after the reconnect got %q", got.Event)
		}
		if _, err := client.New(srv.URL(), testKey, client.WithReadLimit(0)); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("WithReadLimit(0): %v", err)
		}
	})
}

// Past the client's pending budget, the subscription holding the most pending bytes is
// evicted with ErrSlowConsumer; the others keep their backlog.
func TestPendingBudgetEvictsHeaviest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithPendingBudget(1<<20))
		light := subscribed(t, c, "light").OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1))
		heavy := subscribed(t, c, "heavy").OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1))
		payload := `"` + strings.Repeat("x", 10_000) + `"`
		for range 20 {
			srv.PushRaw(false, broadcastFrame("light", "e", payload)) // 200 KB
		}
		for range 90 {
			srv.PushRaw(false, broadcastFrame("heavy", "e", payload)) // 900 KB: past 1 MiB together
		}
		synctest.Wait()
		for range heavy.C() {
		}
		if err := heavy.Err(); !errors.Is(err, client.ErrSlowConsumer) || !strings.Contains(err.Error(), "budget") {
			t.Errorf("heavy.Err() = %v; want a slow consumer over the budget", err)
		}
		n := 0
		for n < 20 {
			recv(t, light)
			n++
		}
		if light.Err() != nil {
			t.Errorf("light.Err() = %v", light.Err())
		}
	})
}

// hostileScale says how large the hostile inputs of TestHostileServerBounded are: the sizes
// measured against a hostile server by default scaled down by 5 so that the test takes
// seconds, full size with REALTIME_HOSTILE_FULL=1. The scaled inputs still go far past the
// presence limits, where the cost of the presence state stops growing with the input (what is
// beyond them is only scanned). The cost of reading and holding the frames themselves does
// grow with them; the frame gate keeps three frames of 48 MB in a row from being worked on at
// once (at full size, within the frame budget one at a time; scaled down, together).
func hostileScale() int {
	if os.Getenv("REALTIME_HOSTILE_FULL") != "" {
		return 1
	}
	return 5
}

// heapPeak samples the heap in use (live and garbage not yet collected, as MemStats.HeapAlloc)
// until stop is called, and returns the peak. It reads runtime/metrics, which does not stop
// the world as ReadMemStats does.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// Against a hostile server, each input costs at most 256 MiB of heap at its peak, and a
// broadcast on another channel gets through while it is processed. This test measures wall
// time and memory, so it runs outside the fake clock; it never sleeps.
func TestHostileServerBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	scale := hostileScale()
	started := make(chan struct{}, 16)
	const budget = 256 << 20
	srv := testutil.NewServer(t)
	c := newClient(t, srv)
	client.SetPresenceJobHook(c, func() {
		select {
		case started <- struct{}{}:
		default:
		}
	})
	ctx := t.Context()
	a, _ := c.Channel("hostile")
	_ = a.OnPresence(ctx)
	if err := a.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	b := subscribed(t, c, "other")
	bMsgs := b.OnBroadcast(ctx, "*")

	// latency pushes a broadcast on the other channel once the hostile input is being
	// processed and returns how long it took to arrive. (A broadcast sent behind the hostile
	// frames waits besides for the socket to carry them: tens of ms for tens of MB.)
	latency := func() time.Duration {
		start := time.Now()
		srv.PushRaw(false, broadcastFrame("other", "ping", `{}`))
		select {
		case <-bMsgs.C():
		case <-time.After(time.Minute):
			t.Fatal("the broadcast on the other channel never came")
		}
		return time.Since(start)
	}
	waitState := func(members int) {
		deadline := time.Now().Add(time.Minute)
		for a.PresenceState().Len() != members {
			if time.Now().After(deadline) {
				t.Fatalf("presence state stuck at %d members; want %d", a.PresenceState().Len(), members)
			}
			runtime.Gosched()
		}
	}
	// Each case's frames are made one at a time, as they are sent: the heap measured holds the
	// test's copy of the frame being sent (as a server holds what it writes), not the whole
	// input at once, so that it measures the client.
	n := 1_000_000 / scale
	cases := []struct {
		name    string
		frames  []func() []byte
		members int // the state after them
	}{
		{"presence_state of 1,000,000 members", []func() []byte{
			func() []byte { return presenceStateFrame("hostile", n) },
		}, min(n, client.DefaultPresenceMaxMembers)},
		{"three presence_diffs of 1,000,000 members", []func() []byte{
			func() []byte { return presenceDiffFrame("hostile", 0, n) },
			func() []byte { return presenceDiffFrame("hostile", n, n) },
			func() []byte { return presenceDiffFrame("hostile", 2*n, n) },
		}, client.DefaultPresenceMaxMembers},
	}
	for _, tc := range cases {
		frames := tc.frames
		size := 0
		runtime.GC()
		for len(started) > 0 {
			<-started
		}
		stop := heapPeak()
		start := time.Now()
		// Each frame is made once the one before is being processed (a server's frames wait in
		// its own memory, not the client's), and the broadcast follows the last.
		for _, frame := range frames {
			f := frame()
			size += len(f)
			srv.PushRaw(false, f)
			f = nil
			select {
			case <-started:
			case <-time.After(time.Minute):
				t.Fatal("the presence message was not handled off the router")
			}
		}
		frames = nil
		lat := latency()
		waitState(tc.members)
		took := time.Since(start)
		peak := stop()
		t.Logf("%s (%d bytes, scale 1/%d): peak heap %d MiB, other channel's broadcast after %v, done after %v",
			tc.name, size, scale, peak>>20, lat.Round(time.Millisecond), took.Round(time.Millisecond))
		if peak > budget {
			t.Errorf("%s: peak heap %d MiB; want at most 256 MiB", tc.name, peak>>20)
		}
		if lat > latencyBound {
			t.Errorf("%s: the other channel's broadcast took %v; want at most %v", tc.name, lat, latencyBound)
		}
	}

	// One frame at the read limit.
	runtime.GC()
	stop := heapPeak()
	big := make([]byte, 0, 64_000_000/scale)
	big = append(big, `[null,null,"realtime:other","broadcast",{"type":"broadcast","event":"big","payload":"`...)
	for len(big) < cap(big)-3 {
		big = append(big, 'x')
	}
	big = append(big, `"}]`...)
	srv.PushRaw(false, big)
	big = nil
	if got := recv(t, bMsgs); got.Event != "big" {
		t.Fatalf("got %q", got.Event)
	}
	peak := stop()
	t.Logf("one frame of %d bytes: peak heap %d MiB", 64_000_000/scale, peak>>20)
	if peak > budget {
		t.Errorf("one large frame: peak heap %d MiB; want at most 256 MiB", peak>>20)
	}
}
