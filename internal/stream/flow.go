package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Flow control: lossless subscriptions slow the sockets down instead of growing memory.
//
// The pending bytes of the group's subscriptions with the [Evict] policy (the lossless ones)
// are summed in a flow total. While it is above Group.FlowHigh, [Group.ReadGate] makes the
// readers of the client's sockets wait before they take the next frame off their socket, so
// that TCP slows the server down; they go on once the total is down to Group.FlowLow. The
// router, which hands the events to the subscriptions, never waits: only the readers do, and
// the frames already read still reach their subscriptions (they overshoot the high mark by at
// most what is in flight between the sockets and the subscriptions).
//
// Subscriptions that chose to drop (DropOldest, DropNewest, Conflate) never count: they never
// slow the sockets. Neither do held ones (Hold): their reader cannot take what is held.
//
// A reader that takes nothing cannot be allowed to stop everyone: while the readers wait, every
// Group.FlowStall the group checks which of the counted subscriptions took nothing from their
// queue since the last check (or since the pause began). Those are stuck: they are exempted
// from flow control, their bytes leave the flow total, and they fall back to their own pending
// limits and the group's budget, which evict them if they stay stuck. A subscription stays
// exempt until its queue is empty again, so a stuck reader costs one stall timeout, not one
// per frame.

// DefaultFlowStall is how long the readers wait for subscriptions that take nothing before
// those are exempted from flow control.
const DefaultFlowStall = time.Second

// flowState is the group's flow control state.
type flowState struct {
	total atomic.Int64 // the pending bytes of the counted subscriptions
	// The flags the readers look at for every frame sit on a cache line of their own: total
	// changes with every event queued or taken, and a reader that loaded it would wait for
	// that line each time.
	_      [64]byte
	over   atomic.Bool // total went above FlowHigh and has not been down to FlowLow since (see setOver)
	paused atomic.Bool // the readers wait (set and cleared under mu)
	_      [64]byte

	mu         sync.Mutex // innermost, but for Group.mu
	resume     chan struct{}
	pauseStart time.Time
	pauses     uint64
	pausedFor  time.Duration

	stallMu   sync.Mutex // outermost: serializes the stall checks
	lastCheck time.Time
	exempted  atomic.Uint64
}

// FlowStats returns how many times the readers were paused, for how long in all (a pause under
// way included), and how many subscriptions were exempted for taking nothing while they were.
func (g *Group) FlowStats() (pauses uint64, paused time.Duration, exempted uint64) {
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	paused = f.pausedFor
	if f.paused.Load() {
		paused += time.Since(f.pauseStart)
	}
	return f.pauses, paused, f.exempted.Load()
}

// FlowPending returns the pending bytes that count for flow control.
func (g *Group) FlowPending() int64 { return g.flow.total.Load() }

// ReadGate returns at once unless flow control pauses the readers: then it waits until they
// may go on, or ctx is done (it then returns ctx's error). A socket's reader calls it before
// it takes each frame off its socket. It is cheap when there is no pause.
func (g *Group) ReadGate(ctx context.Context) error {
	f := &g.flow
	if g.FlowHigh <= 0 || (!f.paused.Load() && !f.over.Load()) {
		return nil
	}
	return g.waitFlow(ctx)
}

// setOver keeps flow.over in step with a flow total just changed by delta: set when a rise
// takes the total above FlowHigh, cleared when a fall takes it down to FlowLow. Between the
// marks it stays as it is, so that a total that hovers at a mark does not flip it (and the
// cache line the readers load) at every event. Two changes at once may leave it wrong for a
// moment: the next rise above FlowHigh sets it, and a reader that finds it set looks at the
// total itself and clears it when the total is down to FlowLow.
func (g *Group) setOver(delta, total int64) {
	f := &g.flow
	switch {
	case delta > 0 && total > g.FlowHigh:
		if !f.over.Load() {
			f.over.Store(true)
		}
	case delta < 0 && total <= g.FlowLow:
		if f.over.Load() {
			f.over.Store(false)
		}
	}
}

func (g *Group) waitFlow(ctx context.Context) error {
	f := &g.flow
	if total := f.total.Load(); !f.paused.Load() && total <= g.FlowHigh {
		if total <= g.FlowLow {
			f.over.Store(false) // left set by two changes at once
		}
		return nil
	}
	stall := g.FlowStall
	if stall <= 0 {
		stall = DefaultFlowStall
	}
	for {
		f.mu.Lock()
		if !f.paused.Load() {
			if f.total.Load() <= g.FlowHigh {
				f.mu.Unlock()
				return nil
			}
			f.paused.Store(true)
			f.resume = make(chan struct{})
			f.pauseStart = time.Now()
			f.pauses++
			// A drain that brought the total down before the pause was visible did not
			// resume it: look again now that it is.
			if f.total.Load() <= g.FlowLow {
				g.resumeLocked()
				f.mu.Unlock()
				return nil
			}
			g.snapshotProgress()
		}
		resume := f.resume
		f.mu.Unlock()
		t := time.NewTimer(stall)
		select {
		case <-resume:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
			g.checkStall(stall)
		}
	}
}

// resumeLocked ends the pause. The caller holds f.mu.
func (g *Group) resumeLocked() {
	f := &g.flow
	if !f.paused.Load() {
		return
	}
	f.paused.Store(false)
	close(f.resume)
	f.pausedFor += time.Since(f.pauseStart)
}

// maybeResume ends the pause if the flow total is below the low mark.
func (g *Group) maybeResume() {
	f := &g.flow
	f.mu.Lock()
	if f.total.Load() <= g.FlowLow {
		g.resumeLocked()
	}
	f.mu.Unlock()
}

// snapshotProgress records the progress of the subscriptions with pending bytes, for the
// first stall check of a pause. The caller holds f.mu.
func (g *Group) snapshotProgress() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for b := range g.backlog {
		b.markProgress()
	}
}

// checkStall exempts the counted subscriptions that took nothing since the last check, if a
// stall timeout has passed since then (the readers that wait all call it).
func (g *Group) checkStall(stall time.Duration) {
	f := &g.flow
	f.stallMu.Lock()
	defer f.stallMu.Unlock()
	f.mu.Lock()
	paused, since := f.paused.Load(), f.pauseStart
	f.mu.Unlock()
	if !paused {
		return
	}
	if f.lastCheck.After(since) {
		since = f.lastCheck
	}
	now := time.Now()
	if now.Sub(since) < stall {
		return
	}
	f.lastCheck = now
	g.mu.Lock()
	subs := make([]budgeted, 0, len(g.backlog))
	for b := range g.backlog {
		subs = append(subs, b)
	}
	g.mu.Unlock()
	for _, b := range subs {
		if b.exemptIfStuck() {
			f.exempted.Add(1)
		}
	}
	g.maybeResume()
}

// flowLocked counts a change of delta bytes, to after, in the subscription's pending bytes for
// flow control. The caller holds s.mu.
func (s *Core[T]) flowLocked(delta, after int64) {
	if s.exempt {
		if after == 0 && !s.held {
			s.exempt = false // caught up: under flow control again
		}
		return
	}
	if s.cfg.policy != Evict {
		return
	}
	g := s.group
	s.flowed += delta
	total := g.flow.total.Add(delta)
	g.setOver(delta, total)
	if delta < 0 {
		s.progress.Add(1)
		if total <= g.FlowLow && g.flow.paused.Load() {
			g.maybeResume()
		}
	}
}

// exemptLocked takes the subscription out of flow control until its queue is empty. The
// caller holds s.mu.
func (s *Core[T]) exemptLocked() {
	if s.exempt || s.group == nil {
		return
	}
	s.exempt = true
	if s.flowed != 0 {
		g := s.group
		total := g.flow.total.Add(-s.flowed)
		g.setOver(-s.flowed, total)
		s.flowed = 0
		if total <= g.FlowLow && g.flow.paused.Load() {
			g.maybeResume()
		}
	}
}

func (s *Core[T]) markProgress() { s.seen.Store(s.progress.Load()) }

// exemptIfStuck exempts the subscription from flow control if it counts and its reader took
// nothing since the last check, and reports whether it did; it records its progress.
func (s *Core[T]) exemptIfStuck() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.progress.Load()
	stuck := !s.exempt && s.flowed > 0 && p == s.seen.Load()
	s.seen.Store(p)
	if stuck {
		s.exemptLocked()
	}
	return stuck
}
