package presence

// MaxPendingDiffs is the number of presence_diff messages a [Tracker] buffers while it waits for
// a presence_state. When a diff arrives with the buffer full, the oldest half is discarded: the
// presence_state that ends the wait is computed after them, so only the newest diffs can hold
// anything it lacks. Without a bound, a channel whose presence_state never comes (a public
// channel joined with presence disabled still receives every diff) would buffer forever. With
// [Limits], the buffered diffs also hold at most twice MaxMetas metas together; past that the
// oldest half is discarded the same way.
const MaxPendingDiffs = 10_000

// Tracker is the presence state machine of one channel: it turns the channel's presence_state
// and presence_diff payloads into a [State] and the [Event]s that lead to it, following the
// Phoenix client (the pending buffer, syncState, syncDiff).
//
// After [NewTracker] or [Tracker.Reset] the tracker is pending: diffs are buffered, not
// applied, until a presence_state arrives; the state is then synced and the buffered diffs
// applied after it, in arrival order.
//
// A Tracker is not safe for concurrent use; the States it returns are. The zero Tracker is
// ready to use and equivalent to one returned by NewTracker.
type Tracker struct {
	state        State
	synced       bool
	pending      []Diff
	pendingMetas int // the metas of the pending diffs, joins and leaves
	limits       Limits
}

// SetLimits bounds the tracker's state from the next message on (see [Limits]); the zero
// Limits, the default, bounds nothing. It does not trim a state already beyond the new bounds.
func (t *Tracker) SetLimits(l Limits) { t.limits = l }

// Clone returns a copy of the tracker that shares nothing with it that either changes: it can
// handle messages on another goroutine while t stays as it is.
func (t *Tracker) Clone() *Tracker {
	c := *t
	c.pending = append([]Diff(nil), t.pending...)
	return &c
}

// Limits returns the tracker's bounds.
func (t *Tracker) Limits() Limits { return t.limits }

// NewTracker returns a pending Tracker with an empty state.
func NewTracker() *Tracker { return &Tracker{} }

// Reset marks the start of a new join (a join or rejoin of the channel): the tracker becomes
// pending and drops any buffered diffs. The current state is kept, so that the next
// presence_state turns the members that went away in the meantime into Leave events instead
// of leaving them behind as ghosts.
func (t *Tracker) Reset() {
	t.synced = false
	clear(t.pending)
	t.pending = nil
	t.pendingMetas = 0
}

// HandleState handles a presence_state payload. It syncs the state with it (see [SyncState]),
// applies the buffered diffs in arrival order (see [SyncDiff]), ends the pending period and
// returns the events: every Join and Leave, then one [Sync].
//
// A malformed payload leaves the tracker unchanged and returns an error wrapping
// [ErrMalformed]. When the tracker left part of the message out (members beyond its [Limits],
// keys that are not valid UTF-8), it applies the rest and returns its events together with a
// [*RefusedError], which wraps [ErrRefused].
func (t *Tracker) HandleState(payload []byte) ([]Event, error) {
	pb := newBound(t.limits)
	next, err := parseState(payload, pb)
	if err != nil {
		return nil, err
	}
	b := newBuilder(t.state.m)
	c := &capper{lim: t.limits}
	// The parsed metas are fresh and owned here, so they are stored without copying.
	events := applyDiff(b, stateDiff(t.state.m, next), false, nil, c)
	for _, d := range t.pending {
		events = applyDiff(b, d, false, events, c)
	}
	clear(t.pending)
	t.pending = t.pending[:0]
	t.pendingMetas = 0
	t.state = State{b.finish()}
	t.synced = true
	refused := pb.refused
	refused.add(c.refused)
	return append(events, Sync{State: t.state}), refused.err(t.limits)
}

// HandleDiff handles a presence_diff payload. While the tracker is pending it buffers the diff
// and returns no events (see [MaxPendingDiffs]). Otherwise it applies the diff (see [SyncDiff])
// and returns its Join and Leave events followed by one [Sync].
//
// A malformed payload leaves the tracker unchanged and returns an error wrapping
// [ErrMalformed]. What the tracker leaves out is reported as by HandleState, with a
// [*RefusedError]; for a buffered diff, the joins that the limits refuse are only known, and
// reported, once the presence_state comes.
func (t *Tracker) HandleDiff(payload []byte) ([]Event, error) {
	bj, bl := newBound(t.limits), newBound(t.limits)
	d, err := parseDiff(payload, bj, bl)
	if err != nil {
		return nil, err
	}
	refused := bj.refused
	refused.add(bl.refused)
	if !t.synced {
		t.buffer(d)
		return nil, refused.err(t.limits)
	}
	b := newBuilder(t.state.m)
	c := &capper{lim: t.limits}
	events := applyDiff(b, d, false, nil, c)
	t.state = State{b.finish()}
	refused.add(c.refused)
	return append(events, Sync{State: t.state}), refused.err(t.limits)
}

// buffer keeps d until the presence_state, within MaxPendingDiffs and, with limits, twice
// MaxMetas metas: past either the oldest half is discarded.
func (t *Tracker) buffer(d Diff) {
	n := diffMetas(d)
	maxMetas := 2 * t.limits.MaxMetas
	for len(t.pending) > 0 && (len(t.pending) >= MaxPendingDiffs || (maxMetas > 0 && t.pendingMetas+n > maxMetas)) {
		drop := max(len(t.pending)/2, 1)
		for _, old := range t.pending[:drop] {
			t.pendingMetas -= diffMetas(old)
		}
		k := copy(t.pending, t.pending[drop:])
		clear(t.pending[k:])
		t.pending = t.pending[:k]
	}
	t.pending = append(t.pending, d)
	t.pendingMetas += n
}

// diffMetas returns the number of metas d lists, joins and leaves.
func diffMetas(d Diff) int {
	n := 0
	for _, ms := range d.Joins {
		n += len(ms)
	}
	for _, ms := range d.Leaves {
		n += len(ms)
	}
	return n
}

// State returns the current state. While pending, it is the state as of the last sync.
func (t *Tracker) State() State { return t.state }

// Synced reports whether a presence_state has been handled since the tracker was created or
// last Reset.
func (t *Tracker) Synced() bool { return t.synced }
