package stream

import (
	"sync"
	"unsafe"
)

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
// goes by a few blocks at a time allocates nothing; beyond maxSpare they go to the group's
// pool, if the queue has one, where every queue of the group finds them again. The zero value
// is an empty queue without a pool.
type fifo[E any] struct {
	head, tail *block[E]
	hi, ti     int // the index of the first event in head; the next free index in tail
	n          int
	spare      *block[E] // emptied blocks kept for reuse, linked by next
	spares     int       // how many
	pool       *blockPool[E]
}

// maxSpare is the most emptied blocks a fifo keeps for reuse. One spares a queue that swings
// around a block boundary the pool's lock; more would be kept by every subscription of a
// large fan-out (at four, a thousand subscriptions of broadcasts could keep 3.5 MB).
const maxSpare = 1

// len returns the number of queued events.
func (q *fifo[E]) len() int { return q.n }

// push appends e.
func (q *fifo[E]) push(e E) { *q.slot() = e }

// slot appends a zero element and returns its address, which stays valid until it is popped.
func (q *fifo[E]) slot() *E {
	if q.tail == nil || q.ti == blockLen {
		b := q.spare
		switch {
		case b != nil:
			q.spare, b.next = b.next, nil
			q.spares--
		case q.pool != nil:
			b = q.pool.get()
		default:
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

// keep keeps the emptied block b for reuse, or gives it to the pool when maxSpare are kept
// already.
func (q *fifo[E]) keep(b *block[E]) {
	switch {
	case q.spares < maxSpare:
		b.next, q.spare = q.spare, b
		q.spares++
	case q.pool != nil:
		q.pool.put(b)
	default:
		b.next = nil
	}
}

// last returns the last event; the queue must not be empty.
func (q *fifo[E]) last() *E { return &q.tail.items[q.ti-1] }

// reset empties the queue and lets go of all its blocks; it keeps its pool.
func (q *fifo[E]) reset() { *q = fifo[E]{pool: q.pool} }

// poolBytes bounds the memory of the blocks a pool keeps: as much as flow control lets the
// queues of a client swing by, so that a backlog that swings between the low and the high mark
// allocates nothing after its first swing.
const poolBytes = 1 << 20

// blockPool keeps the blocks the fifos of one group emptied beyond their own spares, for all of
// them to reuse, up to poolBytes. A fifo takes and gives blocks under its subscription's lock,
// and the fifos of a group are under different locks: the pool has a lock of its own.
type blockPool[E any] struct {
	mu     sync.Mutex
	free   *block[E]
	n, max int
}

func newBlockPool[E any]() *blockPool[E] {
	return &blockPool[E]{max: max(poolBytes/int(unsafe.Sizeof(block[E]{})), 1)}
}

// get returns a pooled block, or a new one.
func (p *blockPool[E]) get() *block[E] {
	p.mu.Lock()
	b := p.free
	if b != nil {
		p.free, b.next = b.next, nil
		p.n--
	}
	p.mu.Unlock()
	if b == nil {
		b = new(block[E])
	}
	return b
}

// put keeps the empty block b, unless the pool is full.
func (p *blockPool[E]) put(b *block[E]) {
	p.mu.Lock()
	if p.n < p.max {
		b.next, p.free = p.free, b
		p.n++
	} else {
		b.next = nil
	}
	p.mu.Unlock()
}

// poolKey is the key of the pool of blocks of E in a group's pools.
type poolKey[E any] struct{}

// poolOf returns g's pool of blocks of E (nil without a group).
func poolOf[E any](g *Group) *blockPool[E] {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pools == nil {
		g.pools = make(map[any]any)
	}
	p, ok := g.pools[poolKey[E]{}].(*blockPool[E])
	if !ok {
		p = newBlockPool[E]()
		g.pools[poolKey[E]{}] = p
	}
	return p
}
