// Package acks provides futures for acknowledged operations: settle-once values that a
// goroutine can select on, wait for under a context, or poll.
//
// A [Future] settles exactly once, with a value or an error; every later attempt to settle it
// is ignored.
package acks

import (
	"context"
	"sync/atomic"
)

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
