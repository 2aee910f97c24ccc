package stream

import (
	"context"
	"testing"
)

type sharedEvent struct {
	N    int
	Tags []string
}

// Subscriptions that queue the same event share one copy of it, made once; each reader still
// gets its own value from its channel, in order, and changing it does not change what the others
// receive.
func TestSendSharedQueuesOneCopy(t *testing.T) {
	var g Group
	var log Log[sharedEvent]
	a, fa := New[sharedEvent](context.Background(), &g, "a", []Option{WithBuffer(1)})
	b, fb := New[sharedEvent](context.Background(), &g, "b", []Option{WithBuffer(1)})
	c, fc := New[sharedEvent](context.Background(), &g, "c", []Option{WithBuffer(1), WithOverflow(Conflate)})
	const n = 5
	for i := range n {
		e := log.Share(sharedEvent{N: i})
		for _, f := range []*Feed[sharedEvent]{fa, fb, fc} {
			if !f.SendShared(&e, 1) {
				t.Fatal("SendShared refused")
			}
		}
		if i > 0 && e.p == nil {
			t.Fatalf("event %d: no shared copy although it was queued", i)
		}
	}
	for i := range n {
		v := <-a.C()
		if v.N != i {
			t.Fatalf("a got %d; want %d", v.N, i)
		}
		v.N = -1 // the reader's own copy
	}
	for i := range n {
		if v := <-b.C(); v.N != i {
			t.Fatalf("b got %d; want %d", v.N, i)
		}
	}
	conflated(t, c, n-1)
	for _, f := range []*Feed[sharedEvent]{fa, fb, fc} {
		f.Close(nil)
	}
	g.Wait()
}

// Events sent by value and shared ones interleave in order in one queue, and a conflated
// queue replaces either kind with either kind.
func TestSendAndSendSharedInterleave(t *testing.T) {
	for _, policy := range []Policy{Evict, Conflate} {
		var g Group
		var log Log[sharedEvent]
		s, f := New[sharedEvent](context.Background(), &g, "s", []Option{WithBuffer(1), WithOverflow(policy)})
		var sent []int
		for i := range 9 {
			if i%2 == 0 {
				f.Send(sharedEvent{N: i}, 1)
			} else {
				e := log.Share(sharedEvent{N: i})
				f.SendShared(&e, 1)
			}
			sent = append(sent, i)
		}
		if policy == Conflate {
			conflated(t, s, 8)
		} else {
			for _, w := range sent {
				if v := <-s.C(); v.N != w {
					t.Fatalf("%v: got %d; want %d", policy, v.N, w)
				}
			}
		}
		f.Close(nil)
		g.Wait()
		if s.vals.len() != 0 || s.queue.len() != 0 {
			t.Fatalf("%v: queue not empty after close", policy)
		}
	}
}

// conflated reads a conflating subscription that was sent 0…last behind a one-slot buffer: it
// has the first (buffered), perhaps one that its drain goroutine held, and the latest.
func conflated(t *testing.T, s *Core[sharedEvent], last int) {
	t.Helper()
	prev := -1
	for k := 0; prev != last; k++ {
		v := <-s.C()
		if v.N <= prev || k > 2 || k == 0 && v.N != 0 {
			t.Fatalf("conflated read %d: got %d after %d; want 0, perhaps one more, then %d", k, v.N, prev, last)
		}
		prev = v.N
	}
}

// The default buffer holds DefaultBuffer small events, or DefaultBufferBytes of large ones (at
// least minDefaultBuffer); WithBuffer overrides it.
func TestDefaultBufferBytes(t *testing.T) {
	var g Group
	small, fs := New[int](context.Background(), &g, "small", nil)
	large, fl := New[[120]byte](context.Background(), &g, "large", nil)
	huge, fh := New[[32 << 10]byte](context.Background(), &g, "huge", nil)
	set, fw := New[[120]byte](context.Background(), &g, "set", []Option{WithBuffer(256)})
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"int", cap(small.C()), DefaultBuffer},
		{"[120]byte", cap(large.C()), DefaultBufferBytes / 120},
		{"[32K]byte", cap(huge.C()), minDefaultBuffer},
		{"WithBuffer(256)", cap(set.C()), 256},
	} {
		if c.got != c.want {
			t.Errorf("%s: buffer %d; want %d", c.name, c.got, c.want)
		}
	}
	fs.Close(nil)
	fl.Close(nil)
	fh.Close(nil)
	fw.Close(nil)
}
