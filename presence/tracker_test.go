package presence_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

// step is one thing that happens to a tracker in TestTracker.
type step struct {
	state, diff string // the payload handled (one of them), or neither for a Reset
	want        []presence.Event
	wantSynced  bool
}

// syncOf returns the Sync event for the state m.
func syncOf(m state) presence.Sync {
	s, _ := presence.SyncState(presence.State{}, m)
	return presence.Sync{State: s}
}

func TestTracker(t *testing.T) {
	t.Parallel()
	a1, b1, b2, c1 := raw("a1", "", `{"phx_ref":"a1"}`), raw("b1", "", `{"phx_ref":"b1"}`),
		raw("b2", "", `{"phx_ref":"b2","phx_ref_prev":"b1"}`), raw("c1", "", `{"phx_ref":"c1"}`)
	b2.PrevRef = "b1"
	const (
		stateA    = `{"a":{"metas":[{"phx_ref":"a1"}]}}`
		stateAB   = `{"a":{"metas":[{"phx_ref":"a1"}]},"b":{"metas":[{"phx_ref":"b1"}]}}`
		joinB1    = `{"joins":{"b":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`
		updateB   = `{"joins":{"b":{"metas":[{"phx_ref":"b2","phx_ref_prev":"b1"}]}},"leaves":{"b":{"metas":[{"phx_ref":"b1"}]}}}`
		leaveB1   = `{"joins":{},"leaves":{"b":{"metas":[{"phx_ref":"b1"}]}}}`
		joinA1    = `{"joins":{"a":{"metas":[{"phx_ref":"a1"}]}},"leaves":{}}`
		joinC1    = `{"joins":{"c":{"metas":[{"phx_ref":"c1"}]}},"leaves":{}}`
		leaveNone = `{"joins":{},"leaves":{"x":{"metas":[{"phx_ref":"x1"}]}}}`
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "diffs before the first state are buffered, then applied after it in order",
			steps: []step{
				{diff: joinB1},
				{diff: updateB},
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					presence.Join{Key: "b", New: metas(b1)},
					presence.Join{Key: "b", Current: metas(b1), New: metas(asJoined(b2))},
					presence.Leave{Key: "b", Current: metas(inState(b2)), Left: metas(b1)},
					syncOf(state{"a": metas(a1), "b": metas(inState(b2))}),
				}},
			},
		},
		{
			name: "a buffered diff the state already includes changes nothing",
			steps: []step{
				{diff: joinA1},
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					syncOf(state{"a": metas(a1)}),
				}},
			},
		},
		{
			name: "a member that joined and left before the state leaves no ghost",
			steps: []step{
				{diff: joinB1},
				{diff: leaveB1},
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					presence.Join{Key: "b", New: metas(b1)},
					presence.Leave{Key: "b", Left: metas(b1)},
					syncOf(state{"a": metas(a1)}),
				}},
			},
		},
		{
			name: "Reset, then a state that omits members: they leave",
			steps: []step{
				{state: stateAB, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					presence.Join{Key: "b", New: metas(b1)},
					syncOf(state{"a": metas(a1), "b": metas(b1)}),
				}},
				{}, // Reset
				{diff: joinC1},
				{state: `{"b":{"metas":[{"phx_ref":"b1"}]}}`, wantSynced: true, want: []presence.Event{
					presence.Leave{Key: "a", Left: metas(a1)},
					presence.Join{Key: "c", New: metas(c1)},
					syncOf(state{"b": metas(b1), "c": metas(c1)}),
				}},
			},
		},
		{
			name: "diffs buffered before a Reset are dropped",
			steps: []step{
				{diff: joinB1},
				{},
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					syncOf(state{"a": metas(a1)}),
				}},
			},
		},
		{
			name: "an empty presence_state is valid",
			steps: []step{
				{state: `{}`, wantSynced: true, want: []presence.Event{syncOf(state{})}},
			},
		},
		{
			name: "after the state, each diff is applied at once and followed by a Sync",
			steps: []step{
				{state: `{}`, wantSynced: true, want: []presence.Event{syncOf(state{})}},
				{diff: joinB1, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "b", New: metas(b1)},
					syncOf(state{"b": metas(b1)}),
				}},
				{diff: updateB, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "b", Current: metas(b1), New: metas(asJoined(b2))},
					presence.Leave{Key: "b", Current: metas(inState(b2)), Left: metas(b1)},
					syncOf(state{"b": metas(inState(b2))}),
				}},
			},
		},
		{
			name: "a diff that changes nothing still gives a Sync",
			steps: []step{
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					syncOf(state{"a": metas(a1)}),
				}},
				{diff: leaveNone, wantSynced: true, want: []presence.Event{syncOf(state{"a": metas(a1)})}},
			},
		},
		{
			name: "a second state without Reset resyncs",
			steps: []step{
				{state: stateA, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "a", New: metas(a1)},
					syncOf(state{"a": metas(a1)}),
				}},
				{state: `{"b":{"metas":[{"phx_ref":"b1"}]}}`, wantSynced: true, want: []presence.Event{
					presence.Join{Key: "b", New: metas(b1)},
					presence.Leave{Key: "a", Left: metas(a1)},
					syncOf(state{"b": metas(b1)}),
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tr presence.Tracker // the zero Tracker is ready to use
			if tr.Synced() {
				t.Fatalf("new Tracker is synced")
			}
			for i, s := range tt.steps {
				var (
					got []presence.Event
					err error
				)
				switch {
				case s.state != "":
					got, err = tr.HandleState([]byte(s.state))
				case s.diff != "":
					got, err = tr.HandleDiff([]byte(s.diff))
				default:
					tr.Reset()
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("step %d: events mismatch (-want +got):\n%s", i, diff)
				}
				if tr.Synced() != s.wantSynced {
					t.Errorf("step %d: Synced() = %v; want %v", i, tr.Synced(), s.wantSynced)
				}
				if err := presence.CheckState(tr.State()); err != nil {
					t.Errorf("step %d: %v", i, err)
				}
				if n := len(got); n > 0 && !got[n-1].(presence.Sync).State.Equal(tr.State()) {
					t.Errorf("step %d: the Sync event's state is not the tracker's", i)
				}
			}
		})
	}
}

// TestTrackerPendingKeepsState checks that a tracker waiting for a presence_state after a
// Reset still reports the state it had.
func TestTrackerPendingKeepsState(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	if _, err := tr.HandleState([]byte(`{"a":{"metas":[{"phx_ref":"a1"}]}}`)); err != nil {
		t.Fatal(err)
	}
	before := tr.State()
	tr.Reset()
	events, err := tr.HandleDiff([]byte(`{"joins":{"b":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`))
	if err != nil || events != nil {
		t.Fatalf("HandleDiff while pending = %v, %v; want nil, nil", events, err)
	}
	if !tr.State().Equal(before) {
		t.Errorf("State() while pending = %v; want %v", tr.State().Keys(), before.Keys())
	}
}

func TestTrackerMalformed(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	if _, err := tr.HandleDiff([]byte(`{"joins":{"b":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{`, `[]`, `{"joins":5}`, `{"joins":{"k":{"metas":[{}]}}}`} {
		if ev, err := tr.HandleDiff([]byte(p)); !errors.Is(err, presence.ErrMalformed) || ev != nil {
			t.Errorf("HandleDiff(%s) = %v, %v; want nil and an error wrapping ErrMalformed", p, ev, err)
		}
	}
	for _, p := range []string{`{`, `null`, `{"a":{"metas":[{"phx_ref":1}]}}`} {
		if ev, err := tr.HandleState([]byte(p)); !errors.Is(err, presence.ErrMalformed) || ev != nil {
			t.Errorf("HandleState(%s) = %v, %v; want nil and an error wrapping ErrMalformed", p, ev, err)
		}
	}
	if tr.Synced() {
		t.Fatalf("a malformed presence_state synced the tracker")
	}
	// The diff buffered before the malformed payloads is still applied.
	if _, err := tr.HandleState([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b"}, tr.State().Keys()); diff != "" {
		t.Errorf("keys mismatch (-want +got):\n%s", diff)
	}
	before := tr.State()
	if _, err := tr.HandleDiff([]byte(`{"leaves":{"b":{"metas":[{"phx_ref":"b1"},{"x":1}]}}}`)); err == nil {
		t.Fatalf("HandleDiff with a meta without phx_ref: nil error")
	}
	if !tr.State().Equal(before) {
		t.Errorf("a malformed presence_diff changed the state")
	}
}

// TestTrackerPendingLimit checks that a tracker waiting for a presence_state forever (presence
// disabled, diffs still fanned out) does not buffer without bound, and keeps the newest diffs.
func TestTrackerPendingLimit(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	for i := range presence.MaxPendingDiffs + 1 {
		p := fmt.Sprintf(`{"joins":{"k%d":{"metas":[{"phx_ref":"r"}]}},"leaves":{}}`, i)
		if _, err := tr.HandleDiff([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	events, err := tr.HandleState([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	s := tr.State()
	// The buffer was full when the last diff came: its older half went.
	if want := presence.MaxPendingDiffs/2 + 1; s.Len() != want || len(events) != want+1 {
		t.Errorf("after the state: %d keys, %d events; want %d keys, %d events", s.Len(), len(events), want, want+1)
	}
	if s.Get("k0") != nil || s.Get(fmt.Sprint("k", presence.MaxPendingDiffs/2-1)) != nil {
		t.Errorf("the oldest diffs were applied")
	}
	if s.Get(fmt.Sprint("k", presence.MaxPendingDiffs/2)) == nil || s.Get(fmt.Sprint("k", presence.MaxPendingDiffs)) == nil {
		t.Errorf("the newest diffs were not applied")
	}
}

// TestNumbersExact follows a large integer from a presence_state to the user.
func TestNumbersExact(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	events, err := tr.HandleState([]byte(`{"u":{"metas":[{"phx_ref":"r","id":9007199254740993,"big":123456789012345678901234567890}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := events[0].(presence.Join).New[0]
	var fields map[string]any
	if err := m.Decode(&fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"phx_ref": "r", "id": json.Number("9007199254740993"), "big": json.Number("123456789012345678901234567890")}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
	type user struct {
		ID int64 `json:"id"`
	}
	u, err := presence.DecodeMeta[user](tr.State().Get("u")[0])
	if err != nil || u.ID != 9007199254740993 {
		t.Errorf("DecodeMeta = %v, %v; want {9007199254740993}, nil", u, err)
	}
	b, err := tr.State().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"u":[{"phx_ref":"r","id":9007199254740993,"big":123456789012345678901234567890}]}`, string(b)); diff != "" {
		t.Errorf("MarshalJSON mismatch (-want +got):\n%s", diff)
	}
}
