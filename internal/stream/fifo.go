package stream

// blockLen is the number of events in one block of a pending queue. A block of the largest
// event type the SDK delivers (a 120-byte value plus its size) is about 4 KiB.
const blockLen = 32

// block is a fixed-size piece of a pending queue.
type block[T any] struct {
	items [blockLen]queued[T]
	next  *block[T]
}

// fifo is a pending queue: a list of fixed-size blocks. Unlike a slice that doubles, it
// never copies what it holds, never holds more than one block beyond its events, and costs
// one allocation per blockLen events; a block that empties while the queue keeps growing is
// reused for its tail. The zero value is an empty queue.
type fifo[T any] struct {
	head, tail *block[T]
	hi, ti     int // the index of the first event in head; the next free index in tail
	n          int
	spare      *block[T] // an emptied block, kept while the queue is not empty
}

// len returns the number of queued events.
func (q *fifo[T]) len() int { return q.n }

// push appends e.
func (q *fifo[T]) push(e queued[T]) {
	if q.tail == nil || q.ti == blockLen {
		b := q.spare
		q.spare = nil
		if b == nil {
			b = new(block[T])
		}
		if q.tail == nil {
			q.head, q.hi = b, 0
		} else {
			q.tail.next = b
		}
		q.tail, q.ti = b, 0
	}
	q.tail.items[q.ti] = e
	q.ti++
	q.n++
}

// pop removes and returns the first event; the queue must not be empty.
func (q *fifo[T]) pop() queued[T] {
	b := q.head
	e := b.items[q.hi]
	b.items[q.hi] = queued[T]{}
	q.hi++
	q.n--
	switch {
	case q.n == 0:
		q.reset()
	case q.hi == blockLen:
		q.head, q.hi = b.next, 0
		b.next = nil
		q.spare = b
	}
	return e
}

// last returns the last event; the queue must not be empty.
func (q *fifo[T]) last() *queued[T] { return &q.tail.items[q.ti-1] }

// reset empties the queue and lets go of its blocks.
func (q *fifo[T]) reset() { *q = fifo[T]{} }
