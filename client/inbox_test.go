package client

import (
	"testing"
	"testing/synctest"
)

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

// The inbox is bounded by bytes too: a reader waits while the frames queued take inboxBytes,
// commands never wait, and a frame larger than the bound gets into an empty inbox.
func TestInboxBoundedByBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newInbox()
		frame := make([]byte, inboxBytes/4)
		for range 4 {
			q.put(event{frame: frame}, true)
		}
		done := make(chan struct{})
		go func() {
			q.put(event{frame: frame}, true)
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("a reader put a frame past the byte bound")
		default:
		}
		if !q.put(event{fn: func() {}}, false) {
			t.Fatal("a command was refused")
		}
		if n := len(q.take()); n != 5 {
			t.Fatalf("took %d events; want the 4 frames and the command", n)
		}
		<-done
		q.take()
		big := make([]byte, 2*inboxBytes)
		q.put(event{frame: big}, true) // alone: gets in
		behind := make(chan struct{})
		go func() {
			q.put(event{frame: frame}, true)
			close(behind)
		}()
		synctest.Wait()
		if got := q.take(); len(got) != 1 {
			t.Fatalf("took %d events; want the large frame alone", len(got))
		}
		<-behind
		q.close()
	})
}
