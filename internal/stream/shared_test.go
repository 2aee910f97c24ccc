package stream

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
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

// SendRun delivers the events of its mask exactly as one SendShared per event would, whatever
// the overflow policy: the same events arrive, in the same order, with the same drops, and an
// evicted subscription refuses the rest of the run.
func TestSendRunIsSendSharedPerEvent(t *testing.T) {
	for _, policy := range []Policy{Evict, DropOldest, DropNewest, Conflate} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g Group
				var log Log[sharedEvent]
				opts := []Option{WithBuffer(2), WithOverflow(policy), WithPendingLimits(3, 0)}
				one, fOne := New[sharedEvent](context.Background(), &g, "one", opts)
				run, fRun := New[sharedEvent](context.Background(), &g, "run", opts)
				masks := []uint64{0b1011, 0b0110, 0b1111, 0b0001}
				okOne, okRun := true, true
				for r, mask := range masks {
					evs := make([]Shared[sharedEvent], 4)
					sizes := make([]int, 4)
					for i := range evs {
						evs[i] = log.Share(sharedEvent{N: 10*r + i})
						sizes[i] = 1
					}
					for i := range evs {
						if mask&(1<<i) != 0 && okOne {
							okOne = fOne.SendShared(&evs[i], sizes[i])
						}
					}
					if okRun {
						okRun = fRun.SendRun(evs, sizes, mask)
					}
					synctest.Wait()
					if okOne != okRun {
						t.Fatalf("run %d: SendShared reports %v, SendRun %v", r, okOne, okRun)
					}
				}
				a, b := available(one), available(run)
				if !slices.Equal(a, b) {
					t.Errorf("SendShared delivered %v; SendRun %v", a, b)
				}
				if one.Dropped() != run.Dropped() || (one.Err() == nil) != (run.Err() == nil) {
					t.Errorf("dropped %d and %d, errors %v and %v", one.Dropped(), run.Dropped(), one.Err(), run.Err())
				}
				if policy == Evict && okRun {
					t.Error("the subscription was not evicted")
				}
				fOne.Close(nil)
				fRun.Close(nil)
				g.Wait()
			})
		})
	}
}

// available reads what the subscription delivers until it has nothing more for now.
func available(s *Core[sharedEvent]) []int {
	var out []int
	for {
		select {
		case v, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, v.N)
		default:
			synctest.Wait()
			if len(s.C()) == 0 {
				return out
			}
		}
	}
}

// The drain goroutine moves a backlog into the channel several events at a time, shared copies
// and the subscription's own alike, in order, while the reader takes them.
func TestDrainMixedBacklogInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		var log Log[sharedEvent]
		s, f := New[sharedEvent](context.Background(), &g, "s", []Option{WithBuffer(8)})
		const n = 500
		for i := range n {
			if i%7 == 3 {
				f.Send(sharedEvent{N: i}, 1)
			} else {
				e := log.Share(sharedEvent{N: i})
				f.SendShared(&e, 1)
			}
			if i%50 == 0 {
				synctest.Wait() // let the drain take what fits
			}
		}
		for i := range n {
			if v := <-s.C(); v.N != i {
				t.Fatalf("got %d; want %d", v.N, i)
			}
			if i%13 == 0 {
				synctest.Wait()
			}
		}
		if s.Pending() != 0 || s.Dropped() != 0 {
			t.Errorf("Pending %d, Dropped %d after reading everything", s.Pending(), s.Dropped())
		}
		f.Close(nil)
		g.Wait()
	})
}
