package stream

// blockLen is the number of elements in one block of a fifo. A block of the largest event
// type the SDK delivers (a 120-byte value) is about 4 KiB.
const blockLen = 32

// block is a fixed-size piece of a fifo.
type block[E any] struct {
	items [blockLen]E
	next  *block[E]
}

// fifo is a queue of E: a list of fixed-size blocks; the pending queues are made of them.
// Unlike a slice that doubles, it never copies what it holds and never holds more than
// maxSpare blocks beyond its elements. The blocks that empty are kept for reuse, up to
// maxSpare, also once the queue is empty (until reset), so that a queue whose backlog comes and
// goes by a few blocks at a time allocates nothing. The zero value is an empty queue.
type fifo[E any] struct {
	head, tail *block[E]
	hi, ti     int // the index of the first event in head; the next free index in tail
	n          int
	spare      *block[E] // emptied blocks kept for reuse, linked by next
	spares     int       // how many
}

// maxSpare is the most emptied blocks a fifo keeps for reuse.
const maxSpare = 4

// len returns the number of queued events.
func (q *fifo[E]) len() int { return q.n }

// push appends e.
func (q *fifo[E]) push(e E) { *q.slot() = e }

// slot appends a zero element and returns its address, which stays valid until it is popped.
func (q *fifo[E]) slot() *E {
	if q.tail == nil || q.ti == blockLen {
		b := q.spare
		if b != nil {
			q.spare, b.next = b.next, nil
			q.spares--
		} else {
			b = new(block[E])
		}
		if q.tail == nil {
			q.head, q.hi = b, 0
		} else {
			q.tail.next = b
		}
		q.tail, q.ti = b, 0
	}
	e := &q.tail.items[q.ti]
	q.ti++
	q.n++
	return e
}

// pop removes and returns the first event; the queue must not be empty.
func (q *fifo[E]) pop() E {
	b := q.head
	e := b.items[q.hi]
	var zero E
	b.items[q.hi] = zero
	q.hi++
	q.n--
	switch {
	case q.n == 0:
		q.head, q.tail, q.hi, q.ti = nil, nil, 0, 0
		q.keep(b)
	case q.hi == blockLen:
		q.head, q.hi = b.next, 0
		q.keep(b)
	}
	return e
}

// keep keeps the emptied block b for reuse, unless maxSpare are kept already.
func (q *fifo[E]) keep(b *block[E]) {
	b.next = nil
	if q.spares < maxSpare {
		b.next, q.spare = q.spare, b
		q.spares++
	}
}

// last returns the last event; the queue must not be empty.
func (q *fifo[E]) last() *E { return &q.tail.items[q.ti-1] }

// reset empties the queue and lets go of all its blocks.
func (q *fifo[E]) reset() { *q = fifo[E]{} }
