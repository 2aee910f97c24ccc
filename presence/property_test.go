package presence_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

// fakeServer models the presence state a Phoenix server keeps for one topic: key → metas, each
// with a fresh ref. Each operation returns the presence_diff the server broadcasts for it.
type fakeServer struct {
	r     *rand.Rand
	state map[string][]presence.Meta
	refs  int
}

// newRef returns a ref never used before.
func (s *fakeServer) newRef() string {
	s.refs++
	return fmt.Sprintf("ref%d", s.refs)
}

// newMeta returns a meta with a fresh ref and random fields, numbers beyond float64 included.
func (s *fakeServer) newMeta(key, prev string) presence.Meta {
	return mustMeta(s.newRef(), prev, map[string]any{
		"key":   key,
		"n":     uint64(1)<<60 + s.r.Uint64N(1<<60), // not exact as a float64
		"state": []string{"online", "away", "busy"}[s.r.IntN(3)],
	})
}

// randomMeta picks a key and one of its metas.
func (s *fakeServer) randomMeta() (string, int) {
	keys := slices.Sorted(maps.Keys(s.state))
	key := keys[s.r.IntN(len(keys))]
	return key, s.r.IntN(len(s.state[key]))
}

// op performs a random track, update or untrack and returns its diff.
func (s *fakeServer) op() presence.Diff {
	d := presence.Diff{Joins: map[string][]presence.Meta{}, Leaves: map[string][]presence.Meta{}}
	choice := s.r.IntN(10)
	if len(s.state) == 0 {
		choice = 0
	}
	switch {
	case choice < 4: // track: a new device under a new or an existing key
		key := fmt.Sprintf("user%d", s.r.IntN(40))
		m := s.newMeta(key, "")
		s.state[key] = append(slices.Clone(s.state[key]), m)
		d.Joins[key] = metas(m)
	case choice < 7: // update: a new meta (new ref, phx_ref_prev) replaces an old one
		key, i := s.randomMeta()
		old := s.state[key][i]
		m := s.newMeta(key, old.Ref)
		ms := slices.Clone(s.state[key])
		ms[i] = m
		s.state[key] = ms
		d.Joins[key] = metas(m)
		d.Leaves[key] = metas(old)
	default: // untrack: the meta leaves
		key, i := s.randomMeta()
		old := s.state[key][i]
		s.state[key] = slices.Delete(slices.Clone(s.state[key]), i, i+1)
		if len(s.state[key]) == 0 {
			delete(s.state, key)
		}
		d.Leaves[key] = metas(old)
	}
	return d
}

// batch performs up to n operations and returns them as one diff, as a server that batches its
// broadcasts would send them (joins and leaves of each key concatenated).
func (s *fakeServer) batch(n int) []byte {
	all := presence.Diff{Joins: map[string][]presence.Meta{}, Leaves: map[string][]presence.Meta{}}
	for range 1 + s.r.IntN(n) {
		d := s.op()
		for k, ms := range d.Joins {
			all.Joins[k] = append(all.Joins[k], ms...)
		}
		for k, ms := range d.Leaves {
			all.Leaves[k] = append(all.Leaves[k], ms...)
		}
	}
	b, err := presence.EncodeDiff(all)
	if err != nil {
		panic(err)
	}
	return b
}

// payload returns the server's presence_state payload.
func (s *fakeServer) payload() []byte {
	b, err := presence.EncodeState(s.state)
	if err != nil {
		panic(err)
	}
	return b
}

// byRef returns m with each key's metas sorted by Ref. Phoenix's order of the metas of a key
// depends on the path they took (a replayed join moves a meta last; a presence_state lists them
// in the server's order), so the property compares metas within a key as a set.
func byRef(m map[string][]presence.Meta) map[string][]presence.Meta {
	out := make(map[string][]presence.Meta, len(m))
	for k, ms := range m {
		out[k] = slices.SortedFunc(slices.Values(ms), func(a, b presence.Meta) int { return strings.Compare(a.Ref, b.Ref) })
	}
	return out
}

// sameMetaMaps reports whether a and b hold the same keys with equal metas in the same order.
func sameMetaMaps(a, b map[string][]presence.Meta) bool {
	return maps.EqualFunc(a, b, func(x, y []presence.Meta) bool {
		return slices.EqualFunc(x, y, func(m, n presence.Meta) bool {
			return m.Ref == n.Ref && m.PrevRef == n.PrevRef && bytes.Equal(m.Raw, n.Raw)
		})
	})
}

// refsOf returns the refs of ms as a sorted list.
func refsOf(ms []presence.Meta) []string {
	refs := make([]string, len(ms))
	for i, m := range ms {
		refs[i] = m.Ref
	}
	slices.Sort(refs)
	return refs
}

// replayEvents applies the Join and Leave events to model (key → refs) and reports an error if
// an event does not fit the state it claims to change.
func replayEvents(model map[string][]string, events []presence.Event) error {
	for _, ev := range events {
		switch ev := ev.(type) {
		case presence.Join:
			if got := refsOf(ev.Current); !slices.Equal(got, model[ev.Key]) {
				return fmt.Errorf("%+v: Current %v; the key had %v", ev, got, model[ev.Key])
			}
			for _, m := range ev.New {
				if slices.Contains(model[ev.Key], m.Ref) {
					return fmt.Errorf("%+v: %s was already present", ev, m.Ref)
				}
				model[ev.Key] = append(model[ev.Key], m.Ref)
			}
			slices.Sort(model[ev.Key])
		case presence.Leave:
			for _, m := range ev.Left {
				i := slices.Index(model[ev.Key], m.Ref)
				if i < 0 {
					return fmt.Errorf("%+v: %s was not present", ev, m.Ref)
				}
				model[ev.Key] = slices.Delete(model[ev.Key], i, i+1)
			}
			if len(model[ev.Key]) == 0 {
				delete(model, ev.Key)
			}
			if got := refsOf(ev.Current); !slices.Equal(got, model[ev.Key]) {
				return fmt.Errorf("%+v: Current %v; the key has %v", ev, got, model[ev.Key])
			}
		case presence.Sync:
		default:
			return fmt.Errorf("unexpected event %T", ev)
		}
	}
	return nil
}

// TestPropertyTrackerFollowsServer drives a tracker with the diffs and states a Phoenix server
// would send for random tracks, updates and untracks, with batched diffs and rejoins (diffs
// lost while away, diffs arriving before the presence_state, some of them older and some newer
// than it), and checks after every message that:
//   - the tracker's state equals the server's, as it would arrive in a presence_state
//     (ParseState(EncodeState(server))), metas compared as a set within each key;
//   - the State is well formed (no empty key, no Ref twice in a key);
//   - the events, replayed in order on the previous state, give the new state;
//   - the last event is a Sync holding the tracker's state;
//   - every State handed out earlier is unchanged.
func TestPropertyTrackerFollowsServer(t *testing.T) {
	t.Parallel()
	hashes := map[string]func(string) uint64{
		"maphash":   nil,
		"colliding": func(k string) uint64 { return uint64(len(k)) & 3 },
	}
	for name, h := range hashes {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				t.Parallel()
				runProperty(t, h, seed)
			})
		}
	}
}

func runProperty(t *testing.T, h func(string) uint64, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	srv := &fakeServer{r: r, state: map[string][]presence.Meta{}}
	tr := presence.NewTracker()
	if h != nil {
		tr = presence.NewTrackerWithHash(h)
	}
	model := map[string][]string{} // the state as the events describe it
	type held struct {
		s    presence.State
		want map[string][]presence.Meta
	}
	var snapshots []held

	check := func(step int, events []presence.Event) {
		t.Helper()
		// The server's state as a presence_state would carry it. The wire round trip is an
		// identity (FuzzParse checks it), so most steps skip it to keep the test fast.
		want := srv.state
		if step%10 == 0 {
			var err error
			if want, err = presence.ParseState(srv.payload()); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		for k, ms := range want {
			for i := range ms {
				ms[i] = inState(ms[i]) // a state keeps no phx_ref_prev
			}
			want[k] = ms
		}
		got := tr.State()
		// cmp.Diff is slow on Raw bytes: compare fast, and diff only to report.
		if w, g := byRef(want), byRef(got.Map()); !sameMetaMaps(w, g) {
			t.Fatalf("step %d: tracker state differs from the server's (-want +got):\n%s", step, cmp.Diff(w, g))
		}
		if err := presence.CheckState(got); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if err := replayEvents(model, events); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		refs := map[string][]string{}
		for k, ms := range got.All() {
			refs[k] = refsOf(ms)
		}
		if !maps.EqualFunc(refs, model, slices.Equal) {
			t.Fatalf("step %d: replayed events differ from the state (-state +events):\n%s", step, cmp.Diff(refs, model))
		}
		if sync, ok := events[len(events)-1].(presence.Sync); !ok || !sync.State.Equal(got) {
			t.Fatalf("step %d: last event %v is not a Sync of the state", step, events[len(events)-1])
		}
		if step%25 == 0 {
			snapshots = append(snapshots, held{got, deepCopy(got.Map())})
		}
	}
	mustHandle := func(events []presence.Event, err error) []presence.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return events
	}

	check(0, mustHandle(tr.HandleState(srv.payload())))
	for step := 1; step <= 500; step++ {
		if r.IntN(40) > 0 {
			check(step, mustHandle(tr.HandleDiff(srv.batch(3))))
			continue
		}
		// The socket drops and the channel rejoins.
		tr.Reset()
		for range r.IntN(20) {
			srv.batch(3) // broadcast while we were away: lost
		}
		var state []byte
		buffered := r.IntN(6)
		snapAt := r.IntN(buffered + 1)
		for i := range buffered {
			if i == snapAt {
				state = srv.payload()
			}
			if events := mustHandle(tr.HandleDiff(srv.batch(3))); events != nil {
				t.Fatalf("step %d: events while pending: %v", step, events)
			}
		}
		if state == nil {
			state = srv.payload()
		}
		check(step, mustHandle(tr.HandleState(state)))
	}
	for i, s := range snapshots {
		if got := s.s.Map(); !sameMetaMaps(s.want, got) {
			t.Fatalf("snapshot %d changed (-want +got):\n%s", i, cmp.Diff(s.want, got))
		}
	}
}
