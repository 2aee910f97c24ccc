package client

import "sync"

// inboxLimit bounds the router's inbox: past it, the reader waits (backpressure on the socket)
// while commands and timers still get in.
const inboxLimit = 4096

// inbox is the router's queue of events. Producers append under a mutex and wake the router only
// when the queue goes from empty to non-empty; the router takes the whole queue at once. Under
// load this costs one wake-up per batch instead of one per message.
type inbox struct {
	mu     sync.Mutex
	items  []event
	spare  []event
	room   chan struct{} // closed and replaced when the router takes a full queue
	wake   chan struct{} // capacity 1: the queue became non-empty
	closed bool
}

func newInbox() *inbox {
	return &inbox{room: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// put queues ev and reports whether it was queued (false once the router has stopped). With
// wait, it waits for room while the queue is full (the reader does; commands and timers never
// wait, so the router's own work can always get in).
func (q *inbox) put(ev event, wait bool) bool {
	q.mu.Lock()
	for wait && len(q.items) >= inboxLimit && !q.closed {
		room := q.room
		q.mu.Unlock()
		<-room
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, ev)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// take returns everything queued; the router hands the slice back with recycle.
func (q *inbox) take() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.items
	q.items = q.spare[:0]
	q.spare = nil
	if len(batch) >= inboxLimit {
		close(q.room)
		q.room = make(chan struct{})
	}
	return batch
}

// spareSmall is the capacity of a batch that is always kept for reuse. A larger one (up to
// the inbox's limit, under sustained load) is kept only while the batches stay large, so that
// a flood reuses its two batches instead of growing new ones, and a burst does not pin its
// memory afterwards.
const spareSmall = 256

// recycle gives a processed batch back for reuse.
func (q *inbox) recycle(batch []event) {
	n := len(batch)
	clear(batch)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spare == nil && (cap(batch) <= spareSmall || n >= cap(batch)/4) {
		q.spare = batch[:0]
	}
}

// close refuses further events and releases waiting producers.
func (q *inbox) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.room)
	}
}
