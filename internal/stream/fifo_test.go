package stream

import "testing"

// The pending queue keeps order across its blocks, reuses an emptied block for its tail while
// it keeps a backlog, and lets go of every block once empty.
func TestFifoOrderAndBlocks(t *testing.T) {
	var q fifo[queued[int]]
	next, want := 0, 0
	for round := range 5 {
		for range 3*blockLen + round {
			q.push(queued[int]{size: int64(next)})
			next++
		}
		for range 2 * blockLen {
			if got := q.pop().size; got != int64(want) {
				t.Fatalf("pop = %d; want %d", got, want)
			}
			want++
		}
		if q.len() != next-want {
			t.Fatalf("len = %d; want %d", q.len(), next-want)
		}
		if q.last().size != int64(next-1) {
			t.Fatalf("last = %d; want %d", q.last().size, next-1)
		}
	}
	for q.len() > 0 {
		if got := q.pop().size; got != int64(want) {
			t.Fatalf("pop = %d; want %d", got, want)
		}
		want++
	}
	if q.head != nil || q.tail != nil || q.spare == nil {
		t.Fatal("an empty queue holds blocks other than its spare")
	}
	q.reset()
	if q.spare != nil {
		t.Fatal("reset kept a block")
	}
}

// A queue that drains as fast as it fills, or that empties and fills again, allocates nothing
// after its first blocks.
func TestFifoSteadyStateAllocs(t *testing.T) {
	var q fifo[queued[[]byte]]
	for range 4 * blockLen {
		q.push(queued[[]byte]{})
	}
	allocs := testing.AllocsPerRun(100, func() {
		for range blockLen {
			q.push(queued[[]byte]{})
			q.pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per %d events; want 0", allocs, blockLen)
	}
	for q.len() > 0 {
		q.pop()
	}
	allocs = testing.AllocsPerRun(100, func() {
		for range blockLen { // the spare block takes them
			q.push(queued[[]byte]{})
		}
		for q.len() > 0 {
			q.pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per %d events after the queue emptied; want 0", allocs, blockLen)
	}
}

// A backlog that comes and goes by several blocks at a time reuses its blocks, and a queue
// keeps at most maxSpare of them once it is empty.
func TestFifoBacklogReusesBlocks(t *testing.T) {
	var q fifo[queued[[]byte]]
	allocs := testing.AllocsPerRun(100, func() {
		for range maxSpare * blockLen {
			q.push(queued[[]byte]{})
		}
		for q.len() > 0 {
			q.pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per backlog of %d blocks; want 0", allocs, maxSpare)
	}
	for range 3 * maxSpare * blockLen {
		q.push(queued[[]byte]{})
	}
	for q.len() > 0 {
		q.pop()
	}
	n := 0
	for b := q.spare; b != nil; b = b.next {
		n++
	}
	if n != maxSpare || q.spares != maxSpare {
		t.Fatalf("an empty queue keeps %d blocks (counted %d); want %d", n, q.spares, maxSpare)
	}
}

// A backlog that swings between a low and a high size, as under flow control, allocates
// nothing after its first swing: the blocks it empties beyond its own spares wait in the group's
// pool, where it (or another queue of the group) finds them again. The pool keeps no more than
// its bound.
func TestFifoSwingingBacklogReusesPooledBlocks(t *testing.T) {
	pool := newBlockPool[queued[[]byte]]()
	q := fifo[queued[[]byte]]{pool: pool}
	const low, high = 10 * blockLen, 200 * blockLen
	for range high {
		q.push(queued[[]byte]{})
	}
	allocs := testing.AllocsPerRun(20, func() {
		for q.len() > low {
			q.pop()
		}
		for q.len() < high {
			q.push(queued[[]byte]{})
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per swing of %d events; want 0", allocs, high-low)
	}
	for q.len() > 0 {
		q.pop()
	}
	if q.spares > maxSpare {
		t.Fatalf("an empty queue keeps %d blocks; want at most %d", q.spares, maxSpare)
	}
	other := fifo[queued[[]byte]]{pool: pool}
	if allocs := testing.AllocsPerRun(1, func() {
		for range 100 * blockLen {
			other.push(queued[[]byte]{})
		}
		for other.len() > 0 {
			other.pop()
		}
	}); allocs != 0 {
		t.Fatalf("another queue of the pool allocated %v times; want 0", allocs)
	}
	small := &blockPool[queued[[]byte]]{max: 3}
	for range 10 {
		small.put(new(block[queued[[]byte]]))
	}
	if small.n != 3 {
		t.Fatalf("the pool keeps %d blocks; want its bound, 3", small.n)
	}
}
