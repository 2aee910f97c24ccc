package stream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/internal/stream"
)

// flowGroup returns a group with flow control marks of high and high/2 and a stall timeout of
// one second.
func flowGroup(high int64) *stream.Group {
	return &stream.Group{FlowHigh: high, FlowLow: high / 2, FlowStall: time.Second}
}

// A lossless subscription read slower than events come keeps the flow total under the high
// mark (plus the one event let through the gate) and loses nothing: the reader of the socket
// waits at the gate instead.
func TestFlowControlPausesForSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const high, size, n = 64 << 10, 1000, 5000
		g := flowGroup(high)
		sub, feed := stream.New[int](t.Context(), g, "slow", []stream.Option{stream.WithBuffer(8)})
		var got []int
		done := make(chan struct{})
		go func() {
			defer close(done)
			for v := range sub.C() {
				time.Sleep(time.Millisecond)
				got = append(got, v)
				if len(got) == n {
					return
				}
			}
		}()
		var peak int64
		for i := range n {
			if err := g.ReadGate(t.Context()); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, g.FlowPending())
			if !feed.Send(i, size) {
				t.Fatalf("Send(%d) refused: %v", i, sub.Err())
			}
		}
		peak = max(peak, g.FlowPending())
		<-done
		feed.Close(nil)
		if peak > high+size {
			t.Errorf("flow total peaked at %d bytes; want at most %d", peak, high+size)
		}
		if len(got) != n || sub.Err() != nil {
			t.Fatalf("received %d of %d events, Err %v", len(got), n, sub.Err())
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("event %d is %d", i, v)
			}
		}
		pauses, paused, exempted := g.FlowStats()
		if pauses == 0 || paused == 0 || exempted != 0 {
			t.Errorf("FlowStats: %d pauses for %v, %d exempted; want pauses and none exempted", pauses, paused, exempted)
		}
	})
}

// A subscription nobody reads holds the readers for one stall timeout, no more: it is then
// exempted (the gate opens for every later frame, not one frame per timeout), and its own
// limits evict it.
func TestFlowControlExemptsStuckReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const high, size = 64 << 10, 1000
		g := flowGroup(high)
		stuck, stuckFeed := stream.New[int](t.Context(), g, "stuck", []stream.Option{stream.WithBuffer(1), stream.WithPendingLimits(0, 1<<20)})
		other, otherFeed := stream.New[int](t.Context(), g, "other", nil)
		var wg sync.WaitGroup
		wg.Go(func() {
			for range other.C() {
			}
		})
		start := time.Now()
		var waited time.Duration
		for i := 0; stuckFeed.Accepting(); i++ {
			before := time.Now()
			if err := g.ReadGate(t.Context()); err != nil {
				t.Fatal(err)
			}
			waited = max(waited, time.Since(before))
			stuckFeed.Send(i, size)
			otherFeed.Send(i, size)
		}
		if waited < time.Second || waited > 2*time.Second {
			t.Errorf("the longest wait at the gate was %v; want one stall timeout", waited)
		}
		if total := time.Since(start); total > 2*time.Second {
			t.Errorf("the stuck subscription held the readers for %v in all; want one stall timeout", total)
		}
		if err := stuck.Err(); !errors.Is(err, stream.ErrSlowConsumer) {
			t.Errorf("stuck.Err() = %v; want its own limit to evict it", err)
		}
		if _, _, exempted := g.FlowStats(); exempted != 1 {
			t.Errorf("%d subscriptions exempted; want 1", exempted)
		}
		otherFeed.Close(nil)
		wg.Wait()
	})
}

// Subscriptions that drop by policy never pause the readers.
func TestFlowControlIgnoresDroppingPolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := flowGroup(4 << 10)
		for _, p := range []stream.Policy{stream.DropOldest, stream.DropNewest, stream.Conflate} {
			sub, feed := stream.New[int](t.Context(), g, p.String(), []stream.Option{stream.WithBuffer(1), stream.WithOverflow(p)})
			for i := range 1000 {
				if err := g.ReadGate(t.Context()); err != nil {
					t.Fatal(err)
				}
				feed.Send(i, 1000)
			}
			if n := g.FlowPending(); n != 0 {
				t.Errorf("%v: %d bytes count for flow control", p, n)
			}
			sub.Stop()
		}
		if pauses, _, _ := g.FlowStats(); pauses != 0 {
			t.Errorf("%d pauses; want none", pauses)
		}
	})
}

// A held subscription does not pause the readers, and the gate gives up when its ctx ends.
func TestFlowControlHoldAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := flowGroup(4 << 10)
		sub, feed := stream.New[int](t.Context(), g, "held", []stream.Option{stream.WithBuffer(1)})
		feed.Hold()
		for i := range 100 {
			feed.Send(i, 1000)
		}
		if n := g.FlowPending(); n != 0 {
			t.Errorf("a held subscription counts %d bytes for flow control", n)
		}
		feed.Release()
		sub.Stop()

		g2 := flowGroup(4 << 10)
		_, feed2 := stream.New[int](t.Context(), g2, "full", []stream.Option{stream.WithBuffer(1)})
		for i := range 100 {
			feed2.Send(i, 1000)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if err := g2.ReadGate(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadGate = %v; want the ctx's error", err)
		}
		feed2.Close(nil)
	})
}

// With a low mark of 0 the readers go on once the queues are empty, not at the stall timeout.
func TestFlowControlLowMarkZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &stream.Group{FlowHigh: 1, FlowStall: time.Second}
		sub, feed := stream.New[int](t.Context(), g, "tiny", []stream.Option{stream.WithBuffer(1)})
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 100 {
				<-sub.C()
				time.Sleep(time.Millisecond)
			}
		})
		start := time.Now()
		for i := range 100 {
			if err := g.ReadGate(t.Context()); err != nil {
				t.Fatal(err)
			}
			feed.Send(i, 10)
		}
		wg.Wait()
		if d := time.Since(start); d > time.Second {
			t.Errorf("100 events took %v; want the reader's pace", d)
		}
		if _, _, exempted := g.FlowStats(); exempted != 0 {
			t.Errorf("%d exempted; want none", exempted)
		}
		feed.Close(nil)
	})
}
