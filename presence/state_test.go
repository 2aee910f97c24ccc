package presence_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

func TestZeroState(t *testing.T) {
	t.Parallel()
	var s presence.State
	if s.Len() != 0 {
		t.Errorf("Len() = %d; want 0", s.Len())
	}
	if got := s.Get("a"); got != nil {
		t.Errorf("Get(a) = %v; want nil", got)
	}
	if diff := cmp.Diff([]string{}, s.Keys()); diff != "" {
		t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
	}
	for k := range s.All() {
		t.Errorf("All() yielded %q", k)
	}
	if diff := cmp.Diff(state{}, s.Map()); diff != "" {
		t.Errorf("Map() mismatch (-want +got):\n%s", diff)
	}
	if b, err := json.Marshal(s); err != nil || string(b) != `{}` {
		t.Errorf("json.Marshal = %s, %v; want {}, nil", b, err)
	}
	if !s.Equal(presence.State{}) {
		t.Errorf("zero State not Equal to itself")
	}
}

func TestStateAccessors(t *testing.T) {
	t.Parallel()
	m := state{
		"b": metas(meta("b1"), meta("b2")),
		"a": metas(raw("a1", "", `{"phx_ref":"a1","n":9007199254740993}`)),
		"c": metas(presence.Meta{Ref: "c1"}), // no Raw: built by hand
	}
	s := stateOf(t, m)
	if s.Len() != 3 {
		t.Errorf("Len() = %d; want 3", s.Len())
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, s.Keys()); diff != "" {
		t.Errorf("Keys() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(m["b"], s.Get("b")); diff != "" {
		t.Errorf("Get(b) mismatch (-want +got):\n%s", diff)
	}
	all := state{}
	for k, ms := range s.All() {
		all[k] = ms
	}
	if diff := cmp.Diff(m, all); diff != "" {
		t.Errorf("All() mismatch (-want +got):\n%s", diff)
	}
	for k := range s.All() {
		_ = k
		break // stopping early must be fine
	}
	if diff := cmp.Diff(m, s.Map()); diff != "" {
		t.Errorf("Map() mismatch (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[{"phx_ref":"a1","n":9007199254740993}],` +
		`"b":[{"phx_ref":"b1","user":"b1"},{"phx_ref":"b2","user":"b2"}],` +
		`"c":[{"phx_ref":"c1"}]}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("json.Marshal mismatch (-want +got):\n%s", diff)
	}
}

func TestStateEqual(t *testing.T) {
	t.Parallel()
	a1, a2 := meta("a1"), meta("a2")
	s := stateOf(t, state{"a": metas(a1, a2)})
	tests := []struct {
		name  string
		other presence.State
		want  bool
	}{
		{"itself", s, true},
		{"built apart", stateOf(t, state{"a": metas(a1, a2)}), true},
		{"other order", stateOf(t, state{"a": metas(a2, a1)}), false},
		{"other Raw", stateOf(t, state{"a": metas(a1, raw("a2", "", `{"phx_ref":"a2"}`))}), false},
		{"other key", stateOf(t, state{"b": metas(a1, a2)}), false},
		{"more keys", stateOf(t, state{"a": metas(a1, a2), "b": metas(a1)}), false},
		{"empty", presence.State{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Equal(tt.other); got != tt.want {
				t.Errorf("Equal() = %v; want %v", got, tt.want)
			}
			if got := tt.other.Equal(s); got != tt.want {
				t.Errorf("Equal() reversed = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestImmutability holds on to states, events and the slices handed out, applies more diffs
// that touch the same keys, scribbles over every slice the caller owns, and checks that nothing
// held changed.
func TestImmutability(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	type held struct {
		state      presence.State
		want       state
		events     []presence.Event
		wantEvents []presence.Event
	}
	var snapshots []held
	hold := func(events []presence.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		s := tr.State()
		snapshots = append(snapshots, held{s, deepCopy(s.Map()), events, copyEvents(events)})
		// Scribble over what the caller owns: copies from Get and Map.
		for _, k := range s.Keys() {
			scribble(s.Get(k))
		}
		for _, ms := range s.Map() {
			scribble(ms)
		}
	}
	hold(tr.HandleState([]byte(`{"a":{"metas":[{"phx_ref":"a1","n":1}]},"b":{"metas":[{"phx_ref":"b1"}]}}`)))
	hold(tr.HandleDiff([]byte(`{"joins":{"a":{"metas":[{"phx_ref":"a2","n":2}]}},"leaves":{}}`)))
	hold(tr.HandleDiff([]byte(`{"joins":{"a":{"metas":[{"phx_ref":"a3","phx_ref_prev":"a1","n":3}]}},"leaves":{"a":{"metas":[{"phx_ref":"a1","n":1}]}}}`)))
	hold(tr.HandleDiff([]byte(`{"joins":{},"leaves":{"b":{"metas":[{"phx_ref":"b1"}]}}}`)))
	tr.Reset()
	hold(tr.HandleDiff([]byte(`{"joins":{"c":{"metas":[{"phx_ref":"c1"}]}},"leaves":{}}`)))
	hold(tr.HandleState([]byte(`{"a":{"metas":[{"phx_ref":"a2","n":2}]}}`)))
	for i := range 50 {
		hold(tr.HandleDiff([]byte(`{"joins":{"k` + string(rune('a'+i%26)) + `":{"metas":[{"phx_ref":"x"}]}},"leaves":{"a":{"metas":[{"phx_ref":"a2"}]}}}`)))
	}

	for i, h := range snapshots {
		if diff := cmp.Diff(h.want, h.state.Map()); diff != "" {
			t.Errorf("snapshot %d changed (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(h.wantEvents, h.events); diff != "" {
			t.Errorf("events %d changed (-want +got):\n%s", i, diff)
		}
		for _, ev := range h.events {
			// Scribbling over event slices must not reach any state either.
			switch ev := ev.(type) {
			case presence.Join:
				scribble(ev.Current)
				scribble(ev.New)
			case presence.Leave:
				scribble(ev.Current)
				scribble(ev.Left)
			}
		}
	}
	for i, h := range snapshots {
		if diff := cmp.Diff(h.want, h.state.Map()); diff != "" {
			t.Errorf("snapshot %d changed after scribbling over events (-want +got):\n%s", i, diff)
		}
	}
	// The Sync event of each message holds the tracker's state of that moment.
	for i, h := range snapshots {
		if len(h.events) == 0 {
			continue // buffered while pending
		}
		sync, ok := h.events[len(h.events)-1].(presence.Sync)
		if !ok {
			t.Fatalf("events %d do not end with a Sync: %v", i, h.events)
		}
		if !sync.State.Equal(h.state) {
			t.Errorf("Sync %d state differs from the tracker's", i)
		}
	}
}

// TestStateConcurrentUse derives states from one State on several goroutines at once while
// others read it; run with -race.
func TestStateConcurrentUse(t *testing.T) {
	t.Parallel()
	m := state{}
	for i := range 200 {
		k := fmt.Sprint("k", i)
		m[k] = metas(meta(k + "-1"))
	}
	base := stateOf(t, m)
	want := deepCopy(m)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			s := base
			for i := range 100 {
				k := fmt.Sprint("k", (g*37+i)%200)
				s, _ = presence.SyncDiff(s, presence.Diff{
					Joins:  state{k: metas(meta(fmt.Sprint(k, "-g", g, "-", i)))},
					Leaves: state{k: metas(meta(k + "-1"))},
				})
			}
		})
		wg.Go(func() {
			for range 20 {
				for k, ms := range base.All() {
					if len(ms) != 1 || base.Get(k) == nil {
						t.Errorf("base changed at %q: %v", k, ms)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(want, base.Map()); diff != "" {
		t.Errorf("base changed (-want +got):\n%s", diff)
	}
}
