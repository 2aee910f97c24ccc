// Package acks provides futures for acknowledged operations: settle-once values that a
// goroutine can select on, wait for under a context, or poll.
//
// A [Future] settles exactly once, with a value or an error; every later attempt to settle it
// is ignored. A [Table] keeps the futures of operations in flight by reference, bounds how many
// there are, settles each with a timeout error when its time runs out, and can settle them all
// at once (when the connection they depended on drops, or on close).
package acks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTooManyPending is returned by [Table.Add] when the table is full.
var ErrTooManyPending = errors.New("realtime: too many acknowledgements pending")

// Future is the eventual result of an operation. It is safe for concurrent use.
type Future[T any] struct {
	done    chan struct{}
	settled atomic.Bool
	val     T
	err     error
}

// Settle settles a future; it reports whether this call did (false when it was settled
// already).
type Settle[T any] func(v T, err error) bool

// New returns a pending future and the function that settles it.
func New[T any]() (*Future[T], Settle[T]) {
	f := &Future[T]{done: make(chan struct{})}
	return f, f.settle
}

// Settled returns a future already settled with v and err.
func Settled[T any](v T, err error) *Future[T] {
	f, settle := New[T]()
	settle(v, err)
	return f
}

func (f *Future[T]) settle(v T, err error) bool {
	if !f.settled.CompareAndSwap(false, true) {
		return false
	}
	f.val, f.err = v, err
	close(f.done)
	return true
}

// Done returns a channel that is closed when the future settles.
func (f *Future[T]) Done() <-chan struct{} { return f.done }

// Err returns nil while the future is pending, and the error it settled with afterwards (nil
// on success), like context.Context.Err.
func (f *Future[T]) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Wait waits until the future settles and returns its value and error. If ctx is done first it
// returns ctx's error; the future stays pending and can be waited on again.
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	default:
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Table tracks the futures of operations in flight, keyed by reference. It is safe for
// concurrent use.
type Table[T any] struct {
	max int

	mu      sync.Mutex
	entries map[string]*entry[T]
}

type entry[T any] struct {
	settle Settle[T]
	timer  *time.Timer
	tag    uint64
}

// NewTable returns a table that holds at most max futures (max <= 0: no bound).
func NewTable[T any](max int) *Table[T] {
	return &Table[T]{max: max, entries: make(map[string]*entry[T])}
}

// Add registers a pending future under ref, with a tag that [Table.SettleTag] can select it by
// (the SDK tags a push with the connection it was sent on; 0 for one not sent yet). After
// timeout (if positive) it settles with the error timeoutErr returns. It fails with
// [ErrTooManyPending] when the table is full. Refs must be unique among the pending futures:
// adding one twice is a programming error and panics.
func (t *Table[T]) Add(ref string, tag uint64, timeout time.Duration, timeoutErr func() error) (*Future[T], error) {
	f, settle := New[T]()
	if err := t.add(ref, tag, timeout, timeoutErr, settle); err != nil {
		return nil, err
	}
	return f, nil
}

func (t *Table[T]) add(ref string, tag uint64, timeout time.Duration, timeoutErr func() error, settle Settle[T]) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.max > 0 && len(t.entries) >= t.max {
		return ErrTooManyPending
	}
	if _, dup := t.entries[ref]; dup {
		panic("acks: duplicate ref " + ref)
	}
	e := &entry[T]{settle: settle, tag: tag}
	if timeout > 0 {
		e.timer = time.AfterFunc(timeout, func() {
			var zero T
			t.Settle(ref, zero, timeoutErr())
		})
	}
	t.entries[ref] = e
	return nil
}

// AddFunc is Add for a caller that wants a callback instead of a future: fn runs once, with the
// reply or the error, on whichever goroutine settles the entry (a reply's, the timeout's, or
// SettleTag's and SettleAll's caller). fn must not block.
func (t *Table[T]) AddFunc(ref string, tag uint64, timeout time.Duration, timeoutErr func() error, fn func(T, error)) error {
	var once atomic.Bool
	return t.add(ref, tag, timeout, timeoutErr, func(v T, err error) bool {
		if !once.CompareAndSwap(false, true) {
			return false
		}
		fn(v, err)
		return true
	})
}

// Settle settles and forgets the future under ref; it reports whether there was one.
func (t *Table[T]) Settle(ref string, v T, err error) bool {
	t.mu.Lock()
	e := t.entries[ref]
	delete(t.entries, ref)
	t.mu.Unlock()
	if e == nil {
		return false
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	return e.settle(v, err)
}

// SettleAll settles and forgets every pending future with err.
func (t *Table[T]) SettleAll(err error) { t.settleWhere(func(*entry[T]) bool { return true }, err) }

// Retag changes the tag of the future under ref; it reports whether there is one.
func (t *Table[T]) Retag(ref string, tag uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[ref]; e != nil {
		e.tag = tag
		return true
	}
	return false
}

// SettleTag settles and forgets every pending future tagged tag with err, and returns how many
// there were.
func (t *Table[T]) SettleTag(tag uint64, err error) int {
	return t.settleWhere(func(e *entry[T]) bool { return e.tag == tag }, err)
}

// settleWhere settles and forgets the pending futures match selects, outside the lock.
func (t *Table[T]) settleWhere(match func(*entry[T]) bool, err error) int {
	t.mu.Lock()
	var hit []*entry[T]
	for ref, e := range t.entries {
		if match(e) {
			hit = append(hit, e)
			delete(t.entries, ref)
		}
	}
	t.mu.Unlock()
	var zero T
	for _, e := range hit {
		if e.timer != nil {
			e.timer.Stop()
		}
		e.settle(zero, err)
	}
	return len(hit)
}

// Len returns the number of pending futures.
func (t *Table[T]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
