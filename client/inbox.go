package client

import "sync"

// inboxLimit and inboxBytes bound the router's inbox, in events and in the bytes of the frames
// they carry: past either, the readers wait (backpressure on the socket) while commands and
// timers still get in. A frame larger than inboxBytes gets in alone, into an empty inbox. As the
// router takes the whole inbox at once, the frames read but not yet routed take at most twice
// inboxBytes (or one large frame and the inbox behind it).
const (
	inboxLimit = 4096
	inboxBytes = 256 << 10
)

// inbox is the router's queue of events. Producers append under a mutex and wake the router only
// when the queue goes from empty to non-empty; the router takes the whole queue at once. Under
// load this costs one wake-up per batch instead of one per message.
type inbox struct {
	mu      sync.Mutex
	items   []event
	bytes   int // the bytes of the frames in items
	waiting int // producers waiting for room
	spare   []event
	room    chan struct{} // closed and replaced when the router takes the queue while producers wait
	wake    chan struct{} // capacity 1: the queue became non-empty
	closed  bool
}

func newInbox() *inbox {
	return &inbox{room: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// put queues ev and reports whether it was queued (false once the router has stopped). With
// wait, it waits for room while the queue is full (the reader does; commands and timers never
// wait, so the router's own work can always get in).
func (q *inbox) put(ev event, wait bool) bool {
	size := ev.bytes()
	q.mu.Lock()
	for wait && !q.closed && len(q.items) > 0 && (len(q.items) >= inboxLimit || q.bytes+size > inboxBytes) {
		room := q.room
		q.waiting++
		q.mu.Unlock()
		<-room
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, ev)
	q.bytes += size
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
	q.bytes = 0
	if q.waiting > 0 {
		q.waiting = 0
		close(q.room)
		q.room = make(chan struct{})
	}
	return batch
}

// bytes returns the size of the frame ev carries, if any.
func (ev *event) bytes() int {
	switch {
	case ev.frame != nil:
		return len(ev.frame)
	case ev.msg != nil:
		return len(ev.msg.Payload)
	}
	return 0
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
