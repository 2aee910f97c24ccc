package stream_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

func collect[T any](sub *stream.Core[T]) []T {
	var out []T
	for v := range sub.C() {
		out = append(out, v)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// A burst far larger than the channel reaches a consumer that takes 1 ms per event, in order
// and without loss (contract 2), and Send never waits for it.
func TestBurstIsAbsorbedInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g stream.Group
		sub, feed := stream.New[int](t.Context(), &g, "test", nil)
		var got []int
		done := make(chan struct{})
		go func() {
			defer close(done)
			for v := range sub.C() {
				time.Sleep(time.Millisecond)
				got = append(got, v)
			}
		}()
		start := time.Now()
		for i := range 10000 {
			if !feed.Send(i, 8) {
				t.Fatalf("Send(%d) refused", i)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("sending took %v of fake time; Send must never wait", d)
		}
		time.Sleep(11 * time.Second)
		feed.Close(nil)
		<-done
		g.Wait()
		if diff := cmp.Diff(seq(0, 10000), got); diff != "" {
			t.Errorf("received (-want +got):\n%s", diff)
		}
		if sub.Dropped() != 0 || sub.Err() != nil {
			t.Errorf("Dropped = %d, Err = %v; want 0, nil", sub.Dropped(), sub.Err())
		}
	})
}

func TestEvictWhenLimitReached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := testutil.NewLogger(nil)
		g := stream.Group{Logger: logger}
		sub, feed := stream.New[int](t.Context(), &g, "never-read", []stream.Option{
			stream.WithBuffer(2), stream.WithPendingLimits(3, 0)})
		for i := range 5 {
			if !feed.Send(i, 1) {
				t.Fatalf("Send(%d) refused before the limit", i)
			}
		}
		if feed.Send(5, 1) {
			t.Fatal("Send past the limit accepted")
		}
		if feed.Send(6, 1) {
			t.Fatal("Send after eviction accepted")
		}
		err := sub.Err() // set by the Send that overflowed
		var oe *stream.OverflowError
		if !errors.Is(err, stream.ErrSlowConsumer) || !errors.As(err, &oe) || oe.Dropped != 4 {
			t.Fatalf("Err = %v; want an OverflowError with 4 dropped (3 queued + 1)", err)
		}
		// What the channel holds is still readable, then it is closed.
		<-sub.Done()
		if diff := cmp.Diff(seq(0, 2), collect(sub)); diff != "" {
			t.Errorf("received (-want +got):\n%s", diff)
		}
		g.Wait()
		if !logs.Contains("evicted") {
			t.Errorf("no log line for the eviction: %q", logs.Lines())
		}
	})
}

func TestEvictByBytes(t *testing.T) {
	var g stream.Group
	sub, feed := stream.New[string](t.Context(), &g, "bytes", []stream.Option{
		stream.WithBuffer(1), stream.WithPendingLimits(100, 10)})
	feed.Send("a", 100) // into the channel
	feed.Send("b", 6)
	feed.Send("c", 4)
	if feed.Send("d", 1) {
		t.Fatal("Send over the byte limit accepted")
	}
	if !errors.Is(sub.Err(), stream.ErrSlowConsumer) {
		t.Fatalf("Err = %v", sub.Err())
	}
	if diff := cmp.Diff([]string{"a"}, collect(sub)); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	g.Wait()
}

func TestOverflowError(t *testing.T) {
	wrapped := errors.New("wrapped")
	g := stream.Group{OverflowError: func(e *stream.OverflowError) error { return errors.Join(wrapped, e) }}
	sub, feed := stream.New[int](t.Context(), &g, "x", []stream.Option{stream.WithBuffer(1), stream.WithPendingLimits(1, 0)})
	for i := range 3 {
		feed.Send(i, 0)
	}
	if err := sub.Err(); !errors.Is(err, wrapped) || !errors.Is(err, stream.ErrSlowConsumer) {
		t.Errorf("Err = %v; want the group's error", err)
	}
	sub.Stop()
	g.Wait()
}

func TestDropPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy stream.Policy
		want   []int
	}{
		// The channel (2) holds 0 and 1, the drain goroutine holds 2 waiting for room, and
		// the rest of the pending limit (3) is up to the policy.
		{stream.DropNewest, []int{0, 1, 2, 3, 4}},
		{stream.DropOldest, []int{0, 1, 2, 8, 9}},
		{stream.Conflate, []int{0, 1, 2, 9}},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logger, logs := testutil.NewLogger(nil)
				var onDrop uint64
				g := stream.Group{Logger: logger, OnDrop: func(desc string, n uint64) {
					if desc != "p" {
						t.Errorf("OnDrop(%q); want the subscription's description", desc)
					}
					onDrop += n
				}}
				sub, feed := stream.New[int](t.Context(), &g, "p", []stream.Option{
					stream.WithBuffer(2), stream.WithPendingLimits(3, 0), stream.WithOverflow(tt.policy)})
				for i := range 10 {
					if !feed.Send(i, 1) {
						t.Fatalf("Send(%d) refused", i)
					}
					synctest.Wait() // let the drain goroutine take what it can
				}
				if want := uint64(10 - len(tt.want)); sub.Dropped() != want {
					t.Errorf("Dropped = %d; want %d", sub.Dropped(), want)
				}
				var got []int
				for range tt.want {
					got = append(got, <-sub.C())
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("received (-want +got):\n%s", diff)
				}
				synctest.Wait()
				if delivered, dropped := g.Counts(); delivered != uint64(len(tt.want)) || dropped != sub.Dropped() || onDrop != dropped {
					t.Errorf("group counts delivered %d, dropped %d, OnDrop %d; want %d, %d, %d", delivered, dropped, onDrop, len(tt.want), sub.Dropped(), sub.Dropped())
				}
				if sub.Err() != nil {
					t.Errorf("Err = %v; want nil", sub.Err())
				}
				sub.Stop()
				g.Wait()
				if tt.policy != stream.Conflate {
					n := 0
					for _, l := range logs.Lines() {
						if strings.Contains(l, "overflowing") {
							n++
						}
					}
					if n != 1 {
						t.Errorf("%d overflow log lines; want exactly 1 per episode: %q", n, logs.Lines())
					}
				}
			})
		})
	}
}

func TestLifetime(t *testing.T) {
	boom := errors.New("channel closed by the server")
	for _, tt := range []struct {
		name string
		end  func(cancel context.CancelFunc, sub *stream.Core[int], feed *stream.Feed[int])
		want error
	}{
		{"ctx", func(cancel context.CancelFunc, _ *stream.Core[int], _ *stream.Feed[int]) { cancel() }, nil},
		{"stop", func(_ context.CancelFunc, sub *stream.Core[int], _ *stream.Feed[int]) { sub.Stop() }, nil},
		{"source", func(_ context.CancelFunc, _ *stream.Core[int], feed *stream.Feed[int]) {
			feed.Close(boom)
		}, boom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g stream.Group
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				sub, feed := stream.New[int](ctx, &g, "l", []stream.Option{stream.WithBuffer(2)})
				for i := range 5 { // two buffered, three queued
					feed.Send(i, 0)
				}
				tt.end(cancel, sub, feed)
				<-sub.Done()
				// Buffered events stay readable; queued ones are gone.
				if diff := cmp.Diff([]int{0, 1}, collect(sub)); diff != "" {
					t.Errorf("after end (-want +got):\n%s", diff)
				}
				if !errors.Is(sub.Err(), tt.want) || (tt.want == nil && sub.Err() != nil) {
					t.Errorf("Err = %v; want %v", sub.Err(), tt.want)
				}
				if feed.Send(9, 0) || feed.Accepting() {
					t.Error("feed accepts after the end")
				}
				sub.Stop()
				feed.Close(errors.New("later"))
				if !errors.Is(sub.Err(), tt.want) || (tt.want == nil && sub.Err() != nil) {
					t.Errorf("Err changed after a second end: %v", sub.Err())
				}
				g.Wait()
			})
		})
	}
}

func TestDoneContextEndsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var g stream.Group
	sub, _ := stream.New[int](ctx, &g, "x", nil)
	<-sub.Done()
	if sub.Err() != nil {
		t.Errorf("Err = %v", sub.Err())
	}
}

// Send, Stop and reads race freely without panics (run with -race).
func TestConcurrentSendAndStop(t *testing.T) {
	for range 50 {
		var g stream.Group
		sub, feed := stream.New[int](t.Context(), &g, "race", []stream.Option{stream.WithBuffer(1)})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 1000 {
				feed.Send(i, 1)
			}
		})
		wg.Go(func() {
			n := 0
			for range sub.C() {
				if n++; n == 10 {
					sub.Stop()
				}
			}
		})
		wg.Wait()
		g.Wait()
	}
}

// defaultTestTimeout bounds the waits of the tests that do not run on the fake clock.
const defaultTestTimeout = 10 * time.Second

// reentrantHandler is a slog.Handler that, like a user's handler might, reads the subscription
// it reports on; it sends the message of each line it handles to lines.
type reentrantHandler struct {
	sub   atomic.Pointer[stream.Core[int]]
	lines chan string
}

func (h *reentrantHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *reentrantHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *reentrantHandler) WithGroup(string) slog.Handler            { return h }

func (h *reentrantHandler) Handle(_ context.Context, r slog.Record) error {
	sub := h.sub.Load()
	_, _ = sub.Pending(), sub.Dropped()
	h.lines <- r.Message
	return nil
}

// The log lines of an overflow are written after the subscription's lock is released, so a
// handler may call back into it. This runs on the real clock: a goroutine waiting for a mutex
// does not count as durably blocked, so the fake clock would not detect the deadlock.
func TestLogHandlerMayCallBack(t *testing.T) {
	for _, tt := range []struct {
		policy stream.Policy
		want   []string // the log lines, in order
	}{
		{stream.Evict, []string{"realtime: subscription evicted: its reader is too slow"}},
		{stream.DropNewest, []string{
			"realtime: subscription overflowing: dropping events",
			"realtime: subscription caught up",
		}},
		{stream.DropOldest, []string{
			"realtime: subscription overflowing: dropping events",
			"realtime: subscription caught up",
		}},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
			defer cancel()
			h := &reentrantHandler{lines: make(chan string, 10)}
			g := stream.Group{Logger: slog.New(h)}
			sub, feed := stream.New[int](t.Context(), &g, "reentrant", []stream.Option{
				stream.WithBuffer(1), stream.WithPendingLimits(2, 0), stream.WithOverflow(tt.policy)})
			h.sub.Store(sub)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				// 0 fills the channel, 1 and 2 wait behind it (one of them may be held by the
				// drain goroutine), 3 overflows.
				for i := range 4 {
					feed.Send(i, 0)
				}
			}()
			var got []string
			next := func(what string) {
				t.Helper()
				select {
				case l := <-h.lines:
					got = append(got, l)
				case <-ctx.Done():
					t.Fatalf("no %s line within %v (the handler blocked?); lines so far: %q", what, defaultTestTimeout, got)
				}
			}
			next("overflow")
			select {
			case <-sent:
			case <-ctx.Done():
				t.Fatalf("Send blocked while the handler called back into the subscription")
			}
			if tt.policy != stream.Evict {
				for range 3 {
					<-sub.C()
				}
				next("caught up")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log lines (-want +got):\n%s", diff)
			}
			sub.Stop()
			g.Wait()
		})
	}
}

// Events sent after Hold wait until Release, behind the ones sent before, which keep flowing;
// held events count against the pending limits.
func TestHoldAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g stream.Group
		sub, feed := stream.New[int](t.Context(), &g, "test", []stream.Option{stream.WithBuffer(2)})
		for i := range 5 { // 2 in the channel, 3 queued
			feed.Send(i, 8)
		}
		feed.Hold()
		for i := 5; i < 10; i++ {
			feed.Send(i, 8)
		}
		var got []int
		for range 5 {
			got = append(got, <-sub.C())
		}
		synctest.Wait()
		select {
		case v := <-sub.C():
			t.Fatalf("got %d while held", v)
		default:
		}
		if n := sub.Pending(); n != 5 {
			t.Errorf("Pending = %d while held; want 5", n)
		}
		feed.Hold() // a second Hold changes nothing
		feed.Release()
		feed.Send(10, 8)
		for range 6 {
			got = append(got, <-sub.C())
		}
		feed.Close(nil)
		if diff := cmp.Diff(seq(0, 11), got); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
		g.Wait()
	})
}

// Holding with an empty queue keeps even the first event out of the channel; past the limits
// the subscription is evicted as usual.
func TestHoldRespectsLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g stream.Group
		sub, feed := stream.New[int](t.Context(), &g, "test", []stream.Option{stream.WithPendingLimits(3, 0)})
		feed.Hold()
		for i := range 3 {
			if !feed.Send(i, 8) {
				t.Fatalf("Send(%d) refused", i)
			}
		}
		synctest.Wait()
		if len(sub.C()) != 0 {
			t.Fatal("a held event reached the channel")
		}
		if feed.Send(3, 8) {
			t.Fatal("Send past the limits while held was accepted")
		}
		<-sub.Done()
		if !errors.Is(sub.Err(), stream.ErrSlowConsumer) {
			t.Errorf("Err = %v; want slow consumer", sub.Err())
		}
		g.Wait()
	})
}

// Past the group's budget, the subscription with the most pending bytes is evicted first,
// whatever its policy; the others keep their backlog, and a reader that keeps up is untouched.
func TestGroupBudgetEvictsHeaviest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &stream.Group{Budget: 10_000}
		defer g.Wait()
		opts := []stream.Option{stream.WithBuffer(1), stream.WithOverflow(stream.DropOldest)}
		light, lf := stream.New[int](nil, g, "light", opts)
		heavy, hf := stream.New[int](nil, g, "heavy", opts)
		fast, ff := stream.New[int](nil, g, "fast", opts)
		defer light.Stop()
		defer heavy.Stop()
		defer fast.Stop()
		for i := range 20 {
			lf.Send(i, 100) // 2,000 bytes at most
			ff.Send(i, 1000)
			<-fast.C()
		}
		for i := range 8 {
			hf.Send(i, 1000) // 7,000 bytes pending: within the budget
		}
		if heavy.Err() != nil || g.Pending() > 10_000 {
			t.Fatalf("evicted within the budget: %v, %d pending", heavy.Err(), g.Pending())
		}
		if !hf.Send(8, 1000) || !hf.Send(9, 1000) { // the second takes the total past 10,000
			t.Fatal("Send refused before the eviction")
		}
		synctest.Wait()
		if err := heavy.Err(); !errors.Is(err, stream.ErrSlowConsumer) || !strings.Contains(err.Error(), "budget") {
			t.Fatalf("heavy.Err() = %v; want a slow consumer evicted over the budget", err)
		}
		if light.Err() != nil || fast.Err() != nil {
			t.Errorf("others evicted: %v, %v", light.Err(), fast.Err())
		}
		// light's 20 events: one in its channel, one held by its drain goroutine, 18 queued.
		if got := g.Pending(); got != 1800 {
			t.Errorf("group holds %d pending bytes; want light's 1,800", got)
		}
		if hf.Send(10, 1) {
			t.Error("the evicted subscription still takes events")
		}
		// The light one drains; the group's count follows.
		for range 20 {
			<-light.C()
		}
		synctest.Wait()
		if got := g.Pending(); got != 0 {
			t.Errorf("group holds %d pending bytes after the drain; want 0", got)
		}
	})
}
