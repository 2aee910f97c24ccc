// Package acktable keeps the futures of the SDK's acknowledged operations in flight: a [Table]
// holds them by reference, bounds how many there are, settles each with a timeout error when
// its time runs out, and can settle them all at once (when the connection they depended on
// drops, or on close).
package acktable

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-supabase/realtime/acks"
)

// ErrTooManyPending is returned by [Table.Add] when the table is full.
var ErrTooManyPending = errors.New("realtime: too many acknowledgements pending")

// Table tracks the futures of operations in flight, keyed by reference. It is safe for
// concurrent use.
type Table[T any] struct {
	max int

	mu      sync.Mutex
	entries map[string]*entry[T]
}

type entry[T any] struct {
	settle acks.Settle[T]
	timer  *time.Timer
	tag    uint64
}

// New returns a table that holds at most max futures (max <= 0: no bound).
func New[T any](max int) *Table[T] {
	return &Table[T]{max: max, entries: make(map[string]*entry[T])}
}

// Add registers a pending future under ref, with a tag that [Table.SettleTag] can select it by
// (the SDK tags a push with the connection it was sent on; 0 for one not sent yet). After
// timeout (if positive) it settles with the error timeoutErr returns. It fails with
// [ErrTooManyPending] when the table is full. Refs must be unique among the pending futures:
// adding one twice is a programming error and panics.
func (t *Table[T]) Add(ref string, tag uint64, timeout time.Duration, timeoutErr func() error) (*acks.Future[T], error) {
	f, settle := acks.New[T]()
	if err := t.add(ref, tag, timeout, timeoutErr, settle); err != nil {
		return nil, err
	}
	return f, nil
}

func (t *Table[T]) add(ref string, tag uint64, timeout time.Duration, timeoutErr func() error, settle acks.Settle[T]) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.max > 0 && len(t.entries) >= t.max {
		return ErrTooManyPending
	}
	if _, dup := t.entries[ref]; dup {
		panic("acktable: duplicate ref " + ref)
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
