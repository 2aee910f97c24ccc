package presence_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

type state = map[string][]presence.Meta

func TestSyncDiff(t *testing.T) {
	t.Parallel()
	a1, a2, a3, x1, b1, b2 := meta("a1"), meta("a2"), meta("a3"), meta("x1"), meta("b1"), meta("b2")
	a2up := updated("a2", "a1")
	tests := []struct {
		name       string
		cur        state
		diff       presence.Diff
		want       state
		wantEvents []presence.Event
	}{
		{
			name:       "join new key",
			cur:        state{},
			diff:       presence.Diff{Joins: state{"a": metas(a1)}},
			want:       state{"a": metas(a1)},
			wantEvents: []presence.Event{presence.Join{Key: "a", New: metas(a1)}},
		},
		{
			name:       "second device joins the same key",
			cur:        state{"a": metas(a1)},
			diff:       presence.Diff{Joins: state{"a": metas(a2)}},
			want:       state{"a": metas(a1, a2)},
			wantEvents: []presence.Event{presence.Join{Key: "a", Current: metas(a1), New: metas(a2)}},
		},
		{
			name:       "one of two metas leaves",
			cur:        state{"a": metas(a1, a2)},
			diff:       presence.Diff{Leaves: state{"a": metas(a1)}},
			want:       state{"a": metas(a2)},
			wantEvents: []presence.Event{presence.Leave{Key: "a", Current: metas(a2), Left: metas(a1)}},
		},
		{
			name:       "last meta leaves: the key goes",
			cur:        state{"a": metas(a1), "b": metas(b1)},
			diff:       presence.Diff{Leaves: state{"a": metas(a1)}},
			want:       state{"b": metas(b1)},
			wantEvents: []presence.Event{presence.Leave{Key: "a", Left: metas(a1)}},
		},
		{
			name: "update: join with phx_ref_prev and leave in one diff",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{Joins: state{"a": metas(a2up)}, Leaves: state{"a": metas(a1)}},
			want: state{"a": metas(inState(a2up))},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", Current: metas(a1), New: metas(asJoined(a2up))},
				presence.Leave{Key: "a", Current: metas(inState(a2up)), Left: metas(a1)},
			},
		},
		{
			name: "update of one device keeps the other",
			cur:  state{"a": metas(a1, x1)},
			diff: presence.Diff{Joins: state{"a": metas(a2up)}, Leaves: state{"a": metas(a1)}},
			want: state{"a": metas(x1, inState(a2up))},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", Current: metas(a1, x1), New: metas(asJoined(a2up))},
				presence.Leave{Key: "a", Current: metas(x1, inState(a2up)), Left: metas(a1)},
			},
		},
		{
			name: "leave of an unknown key is skipped",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{Leaves: state{"b": metas(b1)}},
			want: state{"a": metas(a1)},
		},
		{
			name: "leave of an unknown ref changes nothing",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{Leaves: state{"a": metas(a2)}},
			want: state{"a": metas(a1)},
		},
		{
			name:       "leave lists a known and an unknown ref",
			cur:        state{"a": metas(a1, a2)},
			diff:       presence.Diff{Leaves: state{"a": metas(a3, a1)}},
			want:       state{"a": metas(a2)},
			wantEvents: []presence.Event{presence.Leave{Key: "a", Current: metas(a2), Left: metas(a1)}},
		},
		{
			// Phoenix order: the current metas not joined again go in front, so a1 moves last.
			name: "join of a ref already present does not duplicate it",
			cur:  state{"a": metas(a1, a2)},
			diff: presence.Diff{Joins: state{"a": metas(a1)}},
			want: state{"a": metas(a2, a1)},
		},
		{
			name:       "join of a present and a new ref reports only the new one",
			cur:        state{"a": metas(a1, a2)},
			diff:       presence.Diff{Joins: state{"a": metas(a2, a3)}},
			want:       state{"a": metas(a1, a2, a3)},
			wantEvents: []presence.Event{presence.Join{Key: "a", Current: metas(a1, a2), New: metas(a3)}},
		},
		{
			name:       "a ref listed twice in one join is kept once",
			cur:        state{},
			diff:       presence.Diff{Joins: state{"a": metas(a1, a1)}},
			want:       state{"a": metas(a1)},
			wantEvents: []presence.Event{presence.Join{Key: "a", New: metas(a1)}},
		},
		{
			name: "join and leave of the same ref in one diff",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{Joins: state{"a": metas(a2)}, Leaves: state{"a": metas(a2)}},
			want: state{"a": metas(a1)},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", Current: metas(a1), New: metas(a2)},
				presence.Leave{Key: "a", Current: metas(a1), Left: metas(a2)},
			},
		},
		{
			name: "joins before leaves, keys in sorted order",
			cur:  state{"a": metas(a1), "b": metas(b1)},
			diff: presence.Diff{
				Joins:  state{"x": metas(x1), "b": metas(b2)},
				Leaves: state{"b": metas(b1), "a": metas(a1)},
			},
			want: state{"b": metas(b2), "x": metas(x1)},
			wantEvents: []presence.Event{
				presence.Join{Key: "b", Current: metas(b1), New: metas(b2)},
				presence.Join{Key: "x", New: metas(x1)},
				presence.Leave{Key: "a", Left: metas(a1)},
				presence.Leave{Key: "b", Current: metas(b2), Left: metas(b1)},
			},
		},
		{
			name: "empty join and leave lists are ignored",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{Joins: state{"a": {}, "b": nil}, Leaves: state{"a": {}}},
			want: state{"a": metas(a1)},
		},
		{
			name: "empty diff",
			cur:  state{"a": metas(a1)},
			diff: presence.Diff{},
			want: state{"a": metas(a1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur := stateOf(t, tt.cur)
			got, events := presence.SyncDiff(cur, tt.diff)
			if err := presence.CheckState(got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Map()); diff != "" {
				t.Errorf("SyncDiff state mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEvents, events); diff != "" {
				t.Errorf("SyncDiff events mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.cur, cur.Map()); diff != "" {
				t.Errorf("SyncDiff modified cur (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncState(t *testing.T) {
	t.Parallel()
	a1, a2, a3, b1, b2, c1 := meta("a1"), meta("a2"), meta("a3"), meta("b1"), meta("b2"), meta("c1")
	a1changed := mustMeta("a1", "", map[string]any{"user": "a1", "other": true})
	tests := []struct {
		name       string
		cur        state
		next       state
		want       state
		wantEvents []presence.Event
	}{
		{
			name: "empty into empty",
			cur:  state{},
			next: state{},
			want: state{},
		},
		{
			name: "first state: every key joins",
			cur:  state{},
			next: state{"a": metas(a1), "b": metas(b1, b2)},
			want: state{"a": metas(a1), "b": metas(b1, b2)},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", New: metas(a1)},
				presence.Join{Key: "b", New: metas(b1, b2)},
			},
		},
		{
			name:       "empty state: every key leaves",
			cur:        state{"a": metas(a1, a2)},
			next:       state{},
			want:       state{},
			wantEvents: []presence.Event{presence.Leave{Key: "a", Left: metas(a1, a2)}},
		},
		{
			name:       "key gone",
			cur:        state{"a": metas(a1), "b": metas(b1)},
			next:       state{"a": metas(a1)},
			want:       state{"a": metas(a1)},
			wantEvents: []presence.Event{presence.Leave{Key: "b", Left: metas(b1)}},
		},
		{
			name: "key changed: a new ref joins, a missing ref leaves",
			cur:  state{"a": metas(a1, a2)},
			next: state{"a": metas(a2, a3)},
			want: state{"a": metas(a2, a3)},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", Current: metas(a1, a2), New: metas(a3)},
				presence.Leave{Key: "a", Current: metas(a2, a3), Left: metas(a1)},
			},
		},
		{
			name:       "new key",
			cur:        state{"a": metas(a1)},
			next:       state{"a": metas(a1), "c": metas(c1)},
			want:       state{"a": metas(a1), "c": metas(c1)},
			wantEvents: []presence.Event{presence.Join{Key: "c", New: metas(c1)}},
		},
		{
			name: "gone, changed and new at once",
			cur:  state{"a": metas(a1, a2), "b": metas(b1)},
			next: state{"a": metas(a2, a3), "c": metas(c1)},
			want: state{"a": metas(a2, a3), "c": metas(c1)},
			wantEvents: []presence.Event{
				presence.Join{Key: "a", Current: metas(a1, a2), New: metas(a3)},
				presence.Join{Key: "c", New: metas(c1)},
				presence.Leave{Key: "a", Current: metas(a2, a3), Left: metas(a1)},
				presence.Leave{Key: "b", Left: metas(b1)},
			},
		},
		{
			name: "same refs in another order: nothing happens",
			cur:  state{"a": metas(a1, a2)},
			next: state{"a": metas(a2, a1)},
			want: state{"a": metas(a1, a2)},
		},
		{
			name: "a known ref keeps the current meta",
			cur:  state{"a": metas(a1)},
			next: state{"a": metas(a1changed)},
			want: state{"a": metas(a1)},
		},
		{
			name:       "a key listed with no metas is absent",
			cur:        state{"a": metas(a1), "b": metas(b1)},
			next:       state{"a": {}, "b": metas(b1), "c": nil},
			want:       state{"b": metas(b1)},
			wantEvents: []presence.Event{presence.Leave{Key: "a", Left: metas(a1)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur := stateOf(t, tt.cur)
			got, events := presence.SyncState(cur, tt.next)
			if err := presence.CheckState(got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Map()); diff != "" {
				t.Errorf("SyncState state mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEvents, events); diff != "" {
				t.Errorf("SyncState events mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.cur, cur.Map()); diff != "" {
				t.Errorf("SyncState modified cur (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSyncCopiesInput checks that SyncState and SyncDiff keep nothing of what the caller passed:
// a caller that reuses its maps, slices and Raw buffers does not change the states.
func TestSyncCopiesInput(t *testing.T) {
	t.Parallel()
	next := state{"a": metas(meta("a1"), meta("a2"))}
	want := deepCopy(next)
	s, events := presence.SyncState(presence.State{}, next)
	wantEvents := copyEvents(events)
	scribbleInput(next["a"])
	next["b"] = metas(meta("b1"))
	if diff := cmp.Diff(want, s.Map()); diff != "" {
		t.Errorf("SyncState state changed with its input (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("SyncState events changed with its input (-want +got):\n%s", diff)
	}

	d := presence.Diff{Joins: state{"c": metas(meta("c1"))}}
	want["c"] = copyMetas(d.Joins["c"])
	s2, events := presence.SyncDiff(s, d)
	wantEvents = copyEvents(events)
	scribbleInput(d.Joins["c"])
	if diff := cmp.Diff(want, s2.Map()); diff != "" {
		t.Errorf("SyncDiff state changed with its input (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("SyncDiff events changed with its input (-want +got):\n%s", diff)
	}
}

// TestSyncWithCollidingHashes runs a sequence of diffs on states whose keys all collide, or
// nearly, in the trie.
func TestSyncWithCollidingHashes(t *testing.T) {
	t.Parallel()
	hashes := map[string]func(string) uint64{
		"constant": func(string) uint64 { return 7 },
		"2bits":    func(k string) uint64 { return uint64(len(k)+int(k[len(k)-1])) & 3 },
	}
	for name, h := range hashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := presence.NewStateWithHash(h)
			keys := []string{"a", "b", "c", "d", "e", "f", "g"}
			for _, k := range keys {
				s, _ = presence.SyncDiff(s, presence.Diff{Joins: state{k: metas(meta(k + "1"))}})
			}
			s, _ = presence.SyncDiff(s, presence.Diff{Joins: state{"c": metas(meta("c2"))}, Leaves: state{"b": metas(meta("b1"))}})
			s, _ = presence.SyncDiff(s, presence.Diff{Leaves: state{"e": metas(meta("e1")), "zz": metas(meta("zz1"))}})
			if err := presence.CheckState(s); err != nil {
				t.Fatal(err)
			}
			want := state{
				"a": metas(meta("a1")),
				"c": metas(meta("c1"), meta("c2")),
				"d": metas(meta("d1")),
				"f": metas(meta("f1")),
				"g": metas(meta("g1")),
			}
			if diff := cmp.Diff(want, s.Map()); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
			s, _ = presence.SyncState(s, state{"a": metas(meta("a1"))})
			if diff := cmp.Diff([]string{"a"}, s.Keys()); diff != "" {
				t.Errorf("keys after SyncState mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// phx_ref_prev says which meta a join replaced; no meta of a state carries it, wherever it
// was in the object and however its key was written. The Join event still says it.
func TestStateKeepsNoPrevRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ meta, want string }{
		{`{"phx_ref":"r","phx_ref_prev":"p","s":1}`, `{"phx_ref":"r","s":1}`},
		{`{"phx_ref_prev":"p","phx_ref":"r"}`, `{"phx_ref":"r"}`},
		{`{"s":{"phx_ref_prev":"nested"},"phx_ref":"r","phx_ref_prev":"p"}`, `{"s":{"phx_ref_prev":"nested"},"phx_ref":"r"}`},
		{`{ "phx_ref" : "r" , "phx\u005fref_prev" : "p" , "n" : 1.50 }`, `{"phx_ref" : "r","n" : 1.50}`},
		{`{"phx_ref":"r","phx_ref_prev":null}`, `{"phx_ref":"r"}`},
		{`{"phx_ref":"r","note":"phx_ref_prev"}`, `{"phx_ref":"r","note":"phx_ref_prev"}`},
	} {
		for _, via := range []string{"state", "diff"} {
			tr := presence.NewTracker()
			var evs []presence.Event
			var err error
			if via == "state" {
				evs, err = tr.HandleState([]byte(`{"k":{"metas":[` + tc.meta + `]}}`))
			} else {
				_, _ = tr.HandleState([]byte(`{}`))
				evs, err = tr.HandleDiff([]byte(`{"joins":{"k":{"metas":[` + tc.meta + `]}}}`))
			}
			if err != nil {
				t.Fatal(err)
			}
			got := tr.State().Get("k")
			if len(got) != 1 || string(got[0].Raw) != tc.want || got[0].PrevRef != "" {
				t.Errorf("%s %s: state holds %+v; want Raw %s and no PrevRef", via, tc.meta, got, tc.want)
			}
			j := evs[0].(presence.Join)
			if string(j.New[0].Raw) != tc.want {
				t.Errorf("%s %s: Join.New Raw %s; want %s", via, tc.meta, j.New[0].Raw, tc.want)
			}
			if wantPrev := map[bool]string{true: "p", false: ""}[strings.Contains(tc.meta, `"p"`)]; j.New[0].PrevRef != wantPrev {
				t.Errorf("%s %s: Join.New PrevRef %q; want %q", via, tc.meta, j.New[0].PrevRef, wantPrev)
			}
		}
	}
}
