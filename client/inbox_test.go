package client

import "testing"

// Under a sustained flood the router takes full batches; the inbox then reuses its batches
// instead of growing new ones for each.
func TestInboxFloodReusesBatches(t *testing.T) {
	q := newInbox()
	frame := []byte("x")
	flood := func() {
		for range inboxLimit {
			q.put(event{frame: frame}, false)
		}
		q.recycle(q.take())
	}
	flood()
	flood()
	// The one allocation is the channel that wakes producers waiting for room.
	if allocs := testing.AllocsPerRun(20, flood); allocs > 1 {
		t.Fatalf("%v allocations per batch of %d; want at most 1", allocs, inboxLimit)
	}
	// Once the batches are small again, the large ones are let go.
	for range 2 {
		q.put(event{frame: frame}, false)
		q.recycle(q.take())
	}
	q.put(event{frame: frame}, false)
	if b := q.take(); cap(b) > spareSmall {
		t.Fatalf("a batch of cap %d is kept after the flood; want at most %d", cap(b), spareSmall)
	}
}
