// Package subscribe provides [Subscription], the typed Go channel a user holds for a stream of
// events, and the options that tune it.
//
// # Delivery
//
// The SDK's router never blocks on a subscriber. It tries the subscription's buffered Go
// channel; when that is full, the event goes to a bounded pending queue behind it (by default
// 65,536 events or 64 MiB, whichever comes first) that absorbs bursts without loss and in
// order, drained into the channel by a goroutine that runs only while there is a backlog. Past
// the queue's limits the subscription's [Policy] applies:
//
//   - [Evict] (the default): the channel closes at once and Err returns an error wrapping
//     [ErrSlowConsumer] with the number of events dropped (the queued backlog and the event
//     that overflowed); events already in the channel's buffer stay readable. Loud, never
//     silent, and the memory of the backlog is freed.
//   - [DropOldest] and [DropNewest]: the oldest queued or the new event is dropped, counted in
//     Dropped, and logged once per overflow episode (an episode ends when the backlog clears).
//   - [Conflate]: the newest event replaces the one waiting, so a slow reader sees the latest
//     state; replaced events count as dropped. Presence subscriptions use it.
//
// A client's subscriptions with the Evict policy are lossless in a further way: while their
// pending queues hold more than the client's flow control mark, the client stops reading its
// sockets, so that the server slows down, before their limits are reached (see "Slow
// subscribers" in package client).
//
// # Lifetime
//
// The channel from C is closed when the subscription ends: its ctx is done, Stop is called,
// its source ends (the SDK closes it with a cause) or it is evicted. Err then says why; it is
// nil when the user ended it (ctx or Stop). Events still in the channel's buffer stay readable
// after the close, so `for ev := range sub.C()` drains them and ends.
package subscribe

import (
	"github.com/go-supabase/realtime/internal/stream"
)

// Default limits of a subscription: a channel buffer of 256 events, or, for events larger
// than 8 bytes, of as many as fit in 2 KiB and at least 16 (17 broadcasts, for instance: the
// buffer is allocated whole with the subscription, and beyond it the pending queue takes
// events as they come), and a pending queue of at most 65,536 events or 64 MiB.
const (
	DefaultBuffer        = stream.DefaultBuffer
	DefaultBufferBytes   = stream.DefaultBufferBytes
	DefaultPendingEvents = stream.DefaultPendingEvents
	DefaultPendingBytes  = stream.DefaultPendingBytes
)

// ErrSlowConsumer is wrapped by the error of a subscription evicted because its reader fell
// behind by more than the pending limits.
var ErrSlowConsumer = stream.ErrSlowConsumer

// OverflowError is the cause of an eviction; the error of an evicted subscription wraps one.
// Its field Dropped is the number of events that were not delivered, and Limit describes the
// limit that was reached. Its Unwrap method returns [ErrSlowConsumer].
type OverflowError = stream.OverflowError

// Policy says what a subscription does with events that exceed its pending limits. Its String
// method returns the policy's name.
type Policy = stream.Policy

// The overflow policies; see the package documentation.
const (
	Evict      Policy = stream.Evict
	DropOldest Policy = stream.DropOldest
	DropNewest Policy = stream.DropNewest
	Conflate   Policy = stream.Conflate
)

// Option configures a subscription.
type Option = stream.Option

// WithBuffer sets the capacity of the subscription's Go channel (default 256, fewer for events
// larger than 8 bytes (see DefaultBufferBytes); 1 for conflating subscriptions). Values below
// 1 mean 1.
func WithBuffer(n int) Option { return stream.WithBuffer(n) }

// WithOverflow sets the overflow policy (default [Evict]; presence subscriptions default to
// [Conflate]).
func WithOverflow(p Policy) Option { return stream.WithOverflow(p) }

// WithPendingLimits sets the bounds of the pending queue behind the channel: at most events
// events and bytes bytes (defaults 65,536 and 64 MiB). Values below 1 keep the default.
func WithPendingLimits(events int, bytes int64) Option {
	return stream.WithPendingLimits(events, bytes)
}

// Subscription is a stream of events of type T, delivered on a receive-only Go channel. Its
// methods are safe for concurrent use. To release it, cancel its ctx, call Stop, or close the
// client that made it.
type Subscription[T any] stream.Core[T]

func (s *Subscription[T]) core() *stream.Core[T] { return (*stream.Core[T])(s) }

// C returns the channel the events arrive on. It is closed when the subscription ends.
func (s *Subscription[T]) C() <-chan T { return s.core().C() }

// Done returns a channel closed once the subscription has ended and C is closed.
func (s *Subscription[T]) Done() <-chan struct{} { return s.core().Done() }

// Err returns why the subscription ended: nil while it runs and when its ctx or Stop ended it,
// otherwise the cause (an error wrapping ErrSlowConsumer after an eviction, or the error its
// source ended with).
func (s *Subscription[T]) Err() error { return s.core().Err() }

// Dropped returns how many events this subscription dropped (by its overflow policy).
func (s *Subscription[T]) Dropped() uint64 { return s.core().Dropped() }

// Pending returns how many events wait in the queue behind the channel.
func (s *Subscription[T]) Pending() int { return s.core().Pending() }

// Stop ends the subscription: C is closed (events already in its buffer stay readable; queued
// ones are discarded) and Err stays nil. It is idempotent.
func (s *Subscription[T]) Stop() { s.core().Stop() }

// String describes the subscription for logs.
func (s *Subscription[T]) String() string { return s.core().String() }
