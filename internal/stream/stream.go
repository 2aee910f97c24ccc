// Package stream implements the delivery of events to the SDK's subscriptions: a [Core] is
// the state behind a public subscribe.Subscription, and a [Feed] is the side of it the router
// writes to.
//
// # Delivery
//
// The router never blocks on a subscriber. It hands each event to [Feed.Send], which tries the
// subscription's buffered Go channel; when that is full, the event goes to a bounded pending
// queue behind it (by default 65,536 events or 64 MiB, whichever comes first) that absorbs
// bursts without loss and in order, drained into the channel by a goroutine that runs only
// while there is a backlog. That goroutine is the channel's only sender while it runs, so it
// moves as many events as the channel has room for in one round of the lock, without blocking.
// Past the queue's limits the subscription's [Policy] applies:
//
//   - [Evict] (the default): the channel closes at once and Err returns an error wrapping
//     [ErrSlowConsumer] with the number of events dropped (the queued backlog and the event
//     that overflowed); events already in the channel's buffer stay readable.
//   - [DropOldest] and [DropNewest]: the oldest queued or the new event is dropped, counted in
//     Dropped, and logged once per overflow episode (an episode ends when the backlog clears).
//   - [Conflate]: the newest event replaces the one waiting; replaced events count as dropped.
//
// A [Group] may also have a budget for the pending bytes of all its subscriptions together
// (Group.Budget). When an event takes the total beyond it, the subscription with the most
// pending bytes is evicted, whatever its policy, as if it had reached its own limits: its
// channel closes and Err wraps [ErrSlowConsumer]. Then the next heaviest, until the total is
// within the budget again. The heaviest offender goes first because it holds the most memory
// and is the furthest behind; the subscriptions that keep up are never touched.
//
// # Fan-out
//
// An event on its way to several subscriptions goes through a [Log] ([Feed.SendShared],
// [Feed.SendRun]): a subscription whose channel has room receives its own copy of the value at
// once; those that must queue it share one copy, made once, and queue a pointer to it. The
// subscriptions cannot affect each other through it: the shared copy is written once, before
// any queue refers to it, and never again (conflation replaces a queue's pointer, not what it
// points to), so the drain goroutines read it without a lock; and each reader receives a copy
// of the value from its Go channel, never the shared copy itself. [Feed.SendRun] delivers a run
// of such events to one subscription in one round of its lock, which hands its reader the run
// in one wake-up rather than one per event.
//
// # Locking
//
// Each Core has one mutex, and no code from outside the SDK runs while it is held: a log line
// is prepared under the lock and written to the group's logger after the lock is released, so
// a user's slog handler may call back into the subscription.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Default limits of a subscription: a channel buffer of DefaultBuffer events, or as many as
// DefaultBufferBytes hold when the events are larger than 8 bytes; a pending queue of
// DefaultPendingEvents or DefaultPendingBytes.
const (
	DefaultBuffer         = 256
	DefaultBufferBytes    = 2 << 10 // a channel of large events holds fewer than DefaultBuffer
	DefaultPendingEvents  = 65536
	DefaultPendingBytes   = 64 << 20
	DefaultConflateBuffer = 1
)

// ErrSlowConsumer is wrapped by the error of a subscription evicted because its reader fell
// behind by more than the pending limits.
var ErrSlowConsumer = errors.New("realtime: slow consumer")

// OverflowError is the cause of an eviction.
type OverflowError struct {
	// Dropped is the number of events that were not delivered.
	Dropped uint64
	// Limit describes the limit that was reached.
	Limit string
}

// Error describes the eviction.
func (e *OverflowError) Error() string {
	return fmt.Sprintf("realtime: slow consumer: subscription evicted after its reader fell behind by %s; %d event(s) dropped", e.Limit, e.Dropped)
}

// Unwrap returns ErrSlowConsumer.
func (e *OverflowError) Unwrap() error { return ErrSlowConsumer }

// Policy says what a subscription does with events that exceed its pending limits.
type Policy int

// The overflow policies; see the package documentation.
const (
	Evict Policy = iota
	DropOldest
	DropNewest
	Conflate
)

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case Evict:
		return "evict"
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	case Conflate:
		return "conflate"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// Option configures a subscription.
type Option func(*config)

type config struct {
	buffer        int
	policy        Policy
	pendingEvents int
	pendingBytes  int64
}

// defaultBuffer is the default capacity of a channel of T: DefaultBuffer events, or as many as
// DefaultBufferBytes hold for a large T (at least minDefaultBuffer). The buffer is allocated
// whole with the subscription, so with many subscriptions its size is most of their memory;
// beyond it the pending queue takes the events, as they come.
func defaultBuffer[T any]() int {
	var v T
	size := int(unsafe.Sizeof(v))
	if size == 0 {
		return DefaultBuffer
	}
	return min(DefaultBuffer, max(DefaultBufferBytes/size, minDefaultBuffer))
}

const minDefaultBuffer = 16

// WithBuffer sets the capacity of the subscription's Go channel. Values below 1 mean 1.
func WithBuffer(n int) Option {
	return func(c *config) { c.buffer = max(n, 1) }
}

// WithOverflow sets the overflow policy.
func WithOverflow(p Policy) Option {
	return func(c *config) { c.policy = p }
}

// WithPendingLimits sets the bounds of the pending queue behind the channel. Values below 1
// keep the default.
func WithPendingLimits(events int, bytes int64) Option {
	return func(c *config) {
		if events > 0 {
			c.pendingEvents = events
		}
		if bytes > 0 {
			c.pendingBytes = bytes
		}
	}
}

// ConflateDefaults returns the options of a state-like stream such as presence: conflation
// and a one-slot buffer. Options given after them override them.
func ConflateDefaults() []Option {
	return []Option{WithOverflow(Conflate), WithBuffer(DefaultConflateBuffer)}
}

// Group tracks the delivery goroutines of a set of subscriptions, so that their owner can wait
// for them when it closes. The zero value is usable.
type Group struct {
	wg sync.WaitGroup
	// Logger receives the overflow reports. Default: none.
	Logger *slog.Logger
	// OverflowError, if set, makes the error an evicted subscription ends with (it should wrap
	// ErrSlowConsumer); the default is an *OverflowError. It runs under the subscription's
	// lock, so that Err has its result by the time C is closed: it must neither block nor call
	// the subscription's methods.
	OverflowError func(*OverflowError) error
	// OnDrop, if set, is told each time a subscription drops events (by its overflow policy, or
	// its backlog when it is evicted): its description and how many. It runs on the goroutine
	// of the Send, with no lock held; it must not block.
	OnDrop func(desc string, n uint64)

	delivered, dropped atomic.Uint64

	// Budget bounds the pending bytes of all the group's subscriptions together; 0 means no
	// bound. See the package documentation. Set it before the first subscription.
	Budget int64

	// total changes with every event queued or taken, from several goroutines: it has a
	// cache line of its own, so that reading the fields around it (the marks a socket's reader
	// looks at for every frame) does not wait for that line.
	_       [64]byte
	total   atomic.Int64 // the pending bytes of every subscription
	_       [64]byte
	mu      sync.Mutex
	backlog map[budgeted]struct{} // the subscriptions with pending bytes
	pools   map[any]any           // poolKey[E] → *blockPool[E]: the blocks the queues share

	// FlowHigh and FlowLow are the marks of flow control, FlowStall its stall timeout; see
	// [Group.ReadGate]. FlowHigh 0 turns flow control off. Set them before the first
	// subscription.
	FlowHigh, FlowLow int64
	FlowStall         time.Duration

	flow flowState
}

// Counts returns how many events the group's subscriptions have delivered into their
// channels, and how many they have dropped, since the group was made.
func (g *Group) Counts() (delivered, dropped uint64) {
	return g.delivered.Load(), g.dropped.Load()
}

// budgeted is a subscription, of any event type, as the group's budget sees it.
type budgeted interface {
	pendingBytes() int64
	evictOverBudget(budget int64) logLine
	markProgress()
	exemptIfStuck() bool
}

// Pending returns the pending bytes of all the group's subscriptions together.
func (g *Group) Pending() int64 { return g.total.Load() }

// track records that b has pending bytes (on) or none (off).
func (g *Group) track(b budgeted, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		if g.backlog == nil {
			g.backlog = make(map[budgeted]struct{})
		}
		g.backlog[b] = struct{}{}
	} else {
		delete(g.backlog, b)
	}
}

// enforce evicts the heaviest subscriptions until the group is within its budget. The caller
// holds no subscription's lock.
func (g *Group) enforce() {
	for g.Budget > 0 && g.total.Load() > g.Budget {
		var victim budgeted
		var most int64
		g.mu.Lock()
		for b := range g.backlog {
			if n := b.pendingBytes(); n > most {
				victim, most = b, n
			}
		}
		g.mu.Unlock()
		if victim == nil {
			return
		}
		g.log(victim.evictOverBudget(g.Budget))
	}
}

// Wait waits until no delivery goroutine of the group runs. Close the group's subscriptions
// first.
func (g *Group) Wait() { g.wg.Wait() }

// logLine is a log line prepared under a subscription's lock, to be written after it is
// released; the zero value is no line.
type logLine struct {
	level slog.Level
	msg   string
	args  []any
}

// log writes l, if there is one, to the group's logger. The caller must not hold a
// subscription's lock: the logger's handler is user code.
func (g *Group) log(l logLine) {
	if l.msg == "" || g.Logger == nil {
		return
	}
	g.Logger.Log(context.Background(), l.level, l.msg, l.args...)
}

// Core is a stream of events of type T, delivered on a receive-only Go channel: the state and
// the reader's methods of a subscribe.Subscription. Its methods are safe for concurrent use.
type Core[T any] struct {
	ch    chan T
	group *Group
	desc  string
	cfg   config

	mu         sync.Mutex
	queue      fifo[queued[T]]
	vals       fifo[T] // the subscription's own copies of the queued events, in order
	queueBytes int64
	inflight   int64 // size+1 of the event the drain goroutine holds, or 0
	draining   bool  // a drain goroutine runs
	accepting  bool  // Send still takes events
	stopped    bool  // stopCh is closed
	chClosed   bool
	err        error
	dropped    uint64
	overflow   bool // an overflow episode is under way
	held       bool // Hold: events sent since wait in the queue until Release
	unheld     int  // while held: how many events at the front of the queue were sent before Hold
	stopCh     chan struct{}
	done       chan struct{}
	stopWatch  func() bool
	batch      []T          // the drain goroutine's events on their way into ch (only it uses it)
	counted    atomic.Int64 // the bytes counted against the group's budget (queueBytes, kept in step)

	// Flow control (flow.go): the bytes counted in the group's flow total, whether the
	// subscription is exempt from it, and its progress.
	flowed   int64
	exempt   bool
	progress atomic.Uint64 // counts the events taken off its queue
	seen     atomic.Uint64 // progress at the group's last stall check
}

// account adds delta to the bytes the subscription counts against its group's budget. The
// caller holds s.mu.
func (s *Core[T]) account(delta int64) {
	if delta == 0 || s.group == nil {
		return
	}
	after := s.counted.Add(delta)
	s.group.total.Add(delta)
	if before := after - delta; (before == 0) != (after == 0) {
		s.group.track(s, after != 0)
	}
	if s.group.FlowHigh > 0 {
		s.flowLocked(delta, after)
	}
}

func (s *Core[T]) pendingBytes() int64 { return s.counted.Load() }

// evictOverBudget ends the subscription because the group went beyond its budget, and returns
// the line to log.
func (s *Core[T]) evictOverBudget(budget int64) logLine {
	s.mu.Lock()
	if !s.accepting {
		s.mu.Unlock()
		return logLine{}
	}
	limit := fmt.Sprintf("the client's budget of %d pending bytes for all subscriptions (it held the most, %d bytes)", budget, s.queueBytes)
	before := s.dropped
	s.evictLocked(uint64(s.queue.len()), limit)
	dropped := s.dropped
	s.mu.Unlock()
	if n := dropped - before; n > 0 {
		s.group.dropped.Add(n)
		if s.group.OnDrop != nil {
			s.group.OnDrop(s.desc, n)
		}
	}
	s.stopWatching()
	return logLine{slog.LevelWarn, "realtime: subscription evicted: the client's pending budget is exhausted and it holds the most",
		[]any{"subscription", s.desc, "budget", budget, "dropped", dropped}}
}

// evictLocked ends the subscription for falling behind limit: the n events it drops (its backlog,
// and the event that overflowed if any) count as dropped, with the event the drain goroutine
// holds, and Err gets the overflow error.
func (s *Core[T]) evictLocked(n uint64, limit string) {
	s.dropped += n
	if s.inflight > 0 {
		s.dropped++ // the event the drain goroutine holds is discarded too
	}
	s.accepting = false
	oe := &OverflowError{Dropped: s.dropped, Limit: limit}
	var err error = oe
	if s.group.OverflowError != nil {
		err = s.group.OverflowError(oe)
	}
	s.err = err
	s.stopLocked()
}

// queued is an event in a pending queue: a pointer to the subscription's own copy of it (in
// vals) or to a copy shared with other subscriptions (see [Shared]).
type queued[T any] struct {
	p    *T
	size int64
	own  bool // p is the oldest element of vals
}

// Feed is the delivery side of a Core, for the SDK's router. Its methods never block on the
// subscriber and are safe for concurrent use.
type Feed[T any] struct{ s *Core[T] }

// New returns a subscription and its feed. The subscription ends when ctx is done (Err nil).
// desc names it in log lines.
func New[T any](ctx context.Context, g *Group, desc string, opts []Option) (*Core[T], *Feed[T]) {
	cfg := config{buffer: defaultBuffer[T](), pendingEvents: DefaultPendingEvents, pendingBytes: DefaultPendingBytes}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Core[T]{
		ch:        make(chan T, cfg.buffer),
		group:     g,
		desc:      desc,
		cfg:       cfg,
		accepting: true,
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.queue.pool = poolOf[queued[T]](g)
	s.vals.pool = poolOf[T](g)
	if ctx != nil && ctx.Done() != nil {
		s.mu.Lock()
		s.stopWatch = context.AfterFunc(ctx, func() { s.end(nil) })
		s.mu.Unlock()
	}
	return s, &Feed[T]{s}
}

// C returns the channel the events arrive on. It is closed when the subscription ends.
func (s *Core[T]) C() <-chan T { return s.ch }

// Done returns a channel closed once the subscription has ended and C is closed.
func (s *Core[T]) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it runs and when its ctx or Stop ended it,
// otherwise the cause.
func (s *Core[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Dropped returns how many events this subscription dropped (by its overflow policy).
func (s *Core[T]) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Pending returns how many events wait in the queue behind the channel.
func (s *Core[T]) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.len()
}

// Stop ends the subscription: C is closed (events already in its buffer stay readable; queued
// ones are discarded) and Err stays nil. It is idempotent.
func (s *Core[T]) Stop() { s.end(nil) }

// String describes the subscription for logs.
func (s *Core[T]) String() string { return s.desc }

// Send delivers v, whose size in bytes counts against the pending byte limit, without
// blocking. It reports whether the subscription still accepts events.
func (f *Feed[T]) Send(v T, size int) bool { return f.send(&v, nil, size) }

// Shared is one event on its way to several subscriptions of the same log (see
// [Feed.SendShared]).
type Shared[T any] struct {
	v   T
	p   *T
	log *Log[T]
}

// Log stores the copies of events that subscriptions share while the events wait in their
// pending queues: one copy for all of them instead of one each. It is for one goroutine (the
// router); a stored copy is never modified. The copies are made in blocks of blockLen; the log
// keeps only the block it is filling, and an earlier block is freed once no queue refers to it.
// The zero value is ready to use.
type Log[T any] struct {
	cur *[blockLen]T
	n   int
}

// put stores a copy of v and returns its address.
func (l *Log[T]) put(v *T) *T {
	if l.cur == nil || l.n == blockLen {
		l.cur, l.n = new([blockLen]T), 0
	}
	p := &l.cur[l.n]
	l.n++
	*p = *v
	return p
}

// Value returns the event. The caller must not modify it.
func (e *Shared[T]) Value() *T { return &e.v }

// Share returns v on its way to several subscriptions.
func (l *Log[T]) Share(v T) Shared[T] { return Shared[T]{v: v, log: l} }

// Single returns v on its way to one subscription: one that must queue it queues a copy of its
// own, in blocks it reuses, rather than one in a log, whose blocks are left to the collector.
func Single[T any](v T) Shared[T] { return Shared[T]{v: v} }

// SendShared is Send for an event that goes to several subscriptions: a subscription whose
// channel has room gets it at once, as with Send; one that must queue it queues a pointer to a
// single copy in the log, made by the first of them, rather than a copy of its own. The
// subscriptions cannot affect each other through it: the copy is never written again, and each
// reader receives its own copy of the value from its Go channel. It must be called on the
// log's goroutine.
func (f *Feed[T]) SendShared(e *Shared[T], size int) bool { return f.send(&e.v, e, size) }

// send delivers *v; with e, a queued copy is shared through e.
func (f *Feed[T]) send(v *T, e *Shared[T], size int) bool {
	s := f.s
	s.mu.Lock()
	if !s.accepting {
		s.mu.Unlock()
		return false
	}
	if !s.draining && !s.held && s.queue.len() == 0 {
		select {
		case s.ch <- *v:
			s.mu.Unlock()
			s.group.delivered.Add(1)
			return true
		default:
		}
	}
	before := s.dropped
	ok, line := s.enqueueLocked(v, e, int64(size))
	n := s.dropped - before
	s.mu.Unlock()
	s.afterEnqueue(ok, line, n)
	return ok
}

// afterEnqueue does what follows an enqueue once the lock is released: it writes the log line,
// counts the n events dropped, and applies the group's budget.
func (s *Core[T]) afterEnqueue(ok bool, line logLine, n uint64) {
	s.group.log(line)
	if n > 0 {
		s.group.dropped.Add(n)
		if s.group.OnDrop != nil {
			s.group.OnDrop(s.desc, n)
		}
	}
	if !ok {
		s.stopWatching()
	}
	if g := s.group; g != nil && g.Budget > 0 && g.total.Load() > g.Budget {
		g.enforce()
	}
}

// SendRun delivers the events of run whose bit is set in mask (bit i for run[i]; run holds at
// most 64 events), in order, exactly as that many calls of SendShared with their sizes would,
// but taking the subscription's lock once for the run rather than once per event. It reports
// whether the subscription still accepts events. It must be called on the log's goroutine.
func (f *Feed[T]) SendRun(run []Shared[T], sizes []int, mask uint64) bool {
	s := f.s
	var delivered uint64
	s.mu.Lock()
	for i := range run {
		if mask&(1<<i) == 0 {
			continue
		}
		if !s.accepting {
			break
		}
		e := &run[i]
		if !s.draining && !s.held && s.queue.len() == 0 {
			select {
			case s.ch <- e.v:
				delivered++
				continue
			default:
			}
		}
		before := s.dropped
		ok, line := s.enqueueLocked(&e.v, e, int64(sizes[i]))
		n := s.dropped - before
		if !ok || line.msg != "" || n > 0 || s.overBudget() {
			// Rare: what follows an enqueue runs without the lock, as in send.
			s.mu.Unlock()
			s.afterEnqueue(ok, line, n)
			s.mu.Lock()
		}
	}
	ok := s.accepting
	s.mu.Unlock()
	if delivered > 0 {
		s.group.delivered.Add(delivered)
	}
	return ok
}

// overBudget reports whether the group is beyond its budget.
func (s *Core[T]) overBudget() bool {
	g := s.group
	return g != nil && g.Budget > 0 && g.total.Load() > g.Budget
}

// Close ends the subscription with cause (nil for a normal end): C is closed at once, events
// still queued are discarded. It is idempotent; the first cause wins.
func (f *Feed[T]) Close(cause error) { f.s.end(cause) }

// Hold makes the events sent from now on wait in the pending queue, behind the ones sent
// before, until Release; they count against the pending limits meanwhile, so the overflow
// policy applies to them as usual. Events sent before Hold keep flowing. A second Hold before
// Release changes nothing.
func (f *Feed[T]) Hold() {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held {
		s.held, s.unheld = true, s.queue.len()
		s.exemptLocked() // its reader cannot take what is held: it never slows the sockets
	}
}

// Release lets the events held since Hold flow into the channel, in order.
func (f *Feed[T]) Release() {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held {
		return
	}
	s.held, s.unheld = false, 0
	if s.counted.Load() == 0 {
		s.exempt = false
	}
	if !s.draining && !s.stopped && s.queue.len() > 0 {
		s.draining = true
		s.group.wg.Add(1)
		go s.drain()
	}
}

// Accepting reports whether the subscription still takes events.
func (f *Feed[T]) Accepting() bool {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.s.accepting
}

// enqueueLocked queues *v (shared through e, if not nil) behind a full channel, applying the
// overflow policy. It returns false when the subscription was evicted, and the line to log
// once the lock is released.
func (s *Core[T]) enqueueLocked(v *T, e *Shared[T], size int64) (ok bool, line logLine) {
	nq := s.queue.len()
	if s.cfg.policy == Conflate && nq > 0 {
		last := s.queue.last()
		s.account(size - last.size)
		s.queueBytes += size - last.size
		last.size = size
		if last.own {
			*last.p = *v // the newest element of vals
		} else {
			last.p, last.own = s.ref(v, e)
		}
		s.dropped++
		return true, logLine{}
	}
	// The event the drain goroutine holds counts as pending too.
	n, bytes := nq, s.queueBytes
	if s.inflight > 0 {
		n, bytes = n+1, bytes+s.inflight-1
	}
	if n >= s.cfg.pendingEvents || (n > 0 && bytes+size > s.cfg.pendingBytes) {
		limit := fmt.Sprintf("%d events", s.cfg.pendingEvents)
		if n < s.cfg.pendingEvents {
			limit = fmt.Sprintf("%d bytes", s.cfg.pendingBytes)
		}
		switch s.cfg.policy {
		case DropNewest:
			return true, s.dropLocked(limit)
		case DropOldest:
			for nq > 0 && (n >= s.cfg.pendingEvents || bytes+size > s.cfg.pendingBytes) {
				old := s.popLocked()
				s.queueBytes -= old.size
				s.account(-old.size)
				bytes -= old.size
				if s.unheld > 0 {
					s.unheld--
				}
				nq--
				n--
				if l := s.dropLocked(limit); l.msg != "" {
					line = l
				}
			}
		default: // Evict
			// Close at once, dropping the backlog: memory is freed and the reader, stuck or
			// not, sees the end after what its channel already holds.
			s.evictLocked(uint64(nq)+1, limit)
			return false, logLine{slog.LevelWarn, "realtime: subscription evicted: its reader is too slow",
				[]any{"subscription", s.desc, "limit", limit, "dropped", s.dropped}}
		}
	}
	p, own := s.ref(v, e)
	s.queue.push(queued[T]{p, size, own})
	s.queueBytes += size
	s.account(size)
	if !s.draining && (!s.held || s.unheld > 0) {
		s.draining = true
		s.group.wg.Add(1)
		go s.drain()
	}
	return true, line
}

// ref returns the pointer to queue for *v: the shared copy of e (made now if it is the first
// one needed), or a copy of the subscription's own.
func (s *Core[T]) ref(v *T, e *Shared[T]) (*T, bool) {
	if e != nil && e.log != nil {
		if e.p == nil {
			e.p = e.log.put(&e.v)
		}
		return e.p, false
	}
	p := s.vals.slot()
	*p = *v
	return p, true
}

// popped is an event taken off a pending queue.
type popped[T any] struct {
	v    T
	size int64
}

// popLocked removes the first queued event and returns it with its value.
func (s *Core[T]) popLocked() popped[T] {
	q := s.queue.pop()
	out := popped[T]{*q.p, q.size}
	if q.own {
		s.vals.pop()
	}
	return out
}

// dropLocked counts a dropped event and returns the line that reports the start of an
// overflow episode, if this drop starts one.
func (s *Core[T]) dropLocked(limit string) logLine {
	s.dropped++
	if s.overflow {
		return logLine{}
	}
	s.overflow = true
	return logLine{slog.LevelWarn, "realtime: subscription overflowing: dropping events",
		[]any{"subscription", s.desc, "policy", s.cfg.policy.String(), "limit", limit, "dropped_total", s.dropped}}
}

// drainBatch is the most events the drain goroutine takes in one lock round.
const drainBatch = 64

// drain feeds queued events into the channel until the queue is empty, then exits. While it
// runs it is the channel's only sender, so the room it sees in the channel can only grow: it
// takes as many events as fit in one lock round and puts them in without blocking. Only when
// the channel is full does it take a single event and wait for room, holding it in flight.
func (s *Core[T]) drain() {
	defer s.group.wg.Done()
	for {
		s.mu.Lock()
		s.inflight = 0 // the event of the previous round, if any, is in the channel or dropped
		if s.held && !s.stopped && s.unheld == 0 && s.queue.len() > 0 {
			s.draining = false // Release starts a new drain
			s.mu.Unlock()
			return
		}
		if s.stopped || s.queue.len() == 0 {
			s.account(-s.queueBytes)
			if s.stopped {
				s.queue.reset()
				s.vals.reset()
			}
			s.queueBytes, s.unheld = 0, 0
			s.draining = false
			var line logLine
			if s.overflow {
				s.overflow = false
				line = logLine{slog.LevelInfo, "realtime: subscription caught up",
					[]any{"subscription", s.desc, "dropped_total", s.dropped}}
			}
			if !s.accepting {
				s.closeChLocked()
			}
			s.mu.Unlock()
			s.group.log(line)
			return
		}
		if room := cap(s.ch) - len(s.ch); room > 0 {
			n := min(room, s.queue.len(), drainBatch)
			if s.held {
				n = min(n, s.unheld)
			}
			// The shared copies are never written again, so they are read without the lock;
			// an event of the subscription's own is copied out first, and ends the batch.
			var shared [drainBatch]*T
			var own T
			var bytes int64
			k := 0
			for k < n {
				q := s.queue.pop()
				bytes += q.size
				k++
				if q.own {
					own = s.vals.pop()
					break
				}
				shared[k-1] = q.p
			}
			if s.held {
				s.unheld -= k
			}
			s.queueBytes -= bytes
			s.account(-bytes)
			s.mu.Unlock()
			// There is room for all k: nobody else sends while the drain runs.
			for _, p := range shared[:k] {
				if p == nil {
					s.ch <- own
					break
				}
				s.ch <- *p
			}
			s.group.delivered.Add(uint64(k))
			continue
		}
		q := s.popLocked()
		s.queueBytes -= q.size
		s.account(-q.size)
		if s.unheld > 0 {
			s.unheld--
		}
		s.inflight = q.size + 1
		stop := s.stopCh
		s.mu.Unlock()
		select {
		case s.ch <- q.v:
			s.group.delivered.Add(1)
		case <-stop:
		}
	}
}

// end ends the subscription with cause unless it ended already.
func (s *Core[T]) end(cause error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if s.accepting {
		s.err = cause
	}
	s.accepting = false
	s.stopLocked()
	s.mu.Unlock()
	s.stopWatching()
}

// stopLocked discards the backlog and closes the channel, now or, when a drain goroutine
// holds an event, as soon as it lets go of it.
func (s *Core[T]) stopLocked() {
	s.stopped = true
	close(s.stopCh)
	s.account(-s.queueBytes)
	s.queue.reset()
	s.vals.reset()
	s.queueBytes = 0
	if !s.draining {
		s.closeChLocked()
	}
}

// closeChLocked closes the channel; only the drain goroutine or, when none runs, the caller
// holding the lock may do it.
func (s *Core[T]) closeChLocked() {
	if s.chClosed {
		return
	}
	s.chClosed = true
	close(s.ch)
	close(s.done)
}

// stopWatching unregisters the watch on the subscription's ctx once it has ended.
func (s *Core[T]) stopWatching() {
	s.mu.Lock()
	watch := s.stopWatch
	s.stopWatch = nil
	s.mu.Unlock()
	if watch != nil {
		watch()
	}
}
