package presence

// MaxPendingDiffs is the number of presence_diff messages a [Tracker] buffers while it waits for
// a presence_state. When a diff arrives with the buffer full, the oldest half is discarded: the
// presence_state that ends the wait is computed after them, so only the newest diffs can hold
// anything it lacks. Without a bound, a channel whose presence_state never comes (a public
// channel joined with presence disabled still receives every diff) would buffer forever.
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
	state   State
	synced  bool
	pending []Diff
}

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
}

// HandleState handles a presence_state payload. It syncs the state with it (see [SyncState]),
// applies the buffered diffs in arrival order (see [SyncDiff]), ends the pending period and
// returns the events: every Join and Leave, then one [Sync].
//
// A malformed payload leaves the tracker unchanged and returns an error wrapping
// [ErrMalformed].
func (t *Tracker) HandleState(payload []byte) ([]Event, error) {
	next, err := ParseState(payload)
	if err != nil {
		return nil, err
	}
	b := newBuilder(t.state.m)
	// The parsed metas are fresh and owned here, so they are stored without copying.
	events := applyDiff(b, stateDiff(t.state.m, next), false, nil)
	for _, d := range t.pending {
		events = applyDiff(b, d, false, events)
	}
	clear(t.pending)
	t.pending = t.pending[:0]
	t.state = State{b.finish()}
	t.synced = true
	return append(events, Sync{State: t.state}), nil
}

// HandleDiff handles a presence_diff payload. While the tracker is pending it buffers the diff
// and returns no events (see [MaxPendingDiffs]). Otherwise it applies the diff (see [SyncDiff])
// and returns its Join and Leave events followed by one [Sync].
//
// A malformed payload leaves the tracker unchanged and returns an error wrapping
// [ErrMalformed].
func (t *Tracker) HandleDiff(payload []byte) ([]Event, error) {
	d, err := ParseDiff(payload)
	if err != nil {
		return nil, err
	}
	if !t.synced {
		if len(t.pending) >= MaxPendingDiffs {
			n := copy(t.pending, t.pending[len(t.pending)/2:])
			clear(t.pending[n:])
			t.pending = t.pending[:n]
		}
		t.pending = append(t.pending, d)
		return nil, nil
	}
	b := newBuilder(t.state.m)
	events := applyDiff(b, d, false, nil)
	t.state = State{b.finish()}
	return append(events, Sync{State: t.state}), nil
}

// State returns the current state. While pending, it is the state as of the last sync.
func (t *Tracker) State() State { return t.state }

// Synced reports whether a presence_state has been handled since the tracker was created or
// last Reset.
func (t *Tracker) Synced() bool { return t.synced }
