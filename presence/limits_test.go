package presence_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

// keysOf returns the keys of the events' Joins and Leaves, as "+key" and "-key", and "sync n"
// for a Sync of n keys.
func keysOf(evs []presence.Event) []string {
	var out []string
	for _, ev := range evs {
		switch e := ev.(type) {
		case presence.Join:
			out = append(out, "+"+e.Key)
		case presence.Leave:
			out = append(out, "-"+e.Key)
		case presence.Sync:
			out = append(out, fmt.Sprintf("sync %d", e.State.Len()))
		}
	}
	return out
}

// refused returns the *RefusedError of err, failing the test if err is not one.
func refused(t *testing.T, err error) *presence.RefusedError {
	t.Helper()
	var re *presence.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, presence.ErrRefused) {
		t.Fatalf("err = %v; want a *RefusedError", err)
	}
	return re
}

// A presence_state beyond the member limit keeps the first members of the payload and reports
// the rest; the state never goes beyond the limit.
func TestTrackerStateOverLimit(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	tr.SetLimits(presence.Limits{MaxMembers: 2, MaxMetas: 10})
	evs, err := tr.HandleState([]byte(`{"c":{"metas":[{"phx_ref":"c1"}]},"a":{"metas":[{"phx_ref":"a1"}]},"b":{"metas":[{"phx_ref":"b1"},{"phx_ref":"b2"}]}}`))
	re := refused(t, err)
	if re.Members != 1 || re.Metas != 2 || re.InvalidKeys != 0 {
		t.Errorf("refused %+v; want 1 member with 2 metas", re)
	}
	if !strings.Contains(err.Error(), "1 member(s) with 2 meta(s) refused over the presence limits (2 members, 10 metas)") {
		t.Errorf("error text %q", err)
	}
	if diff := cmp.Diff([]string{"+a", "+c", "sync 2"}, keysOf(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if err := presence.CheckState(tr.State()); err != nil {
		t.Fatal(err)
	}
	// The metas limit: a member whose metas do not fit is left out whole.
	tr = presence.NewTracker()
	tr.SetLimits(presence.Limits{MaxMetas: 2})
	evs, err = tr.HandleState([]byte(`{"a":{"metas":[{"phx_ref":"a1"}]},"b":{"metas":[{"phx_ref":"b1"},{"phx_ref":"b2"}]},"c":{"metas":[{"phx_ref":"c1"}]}}`))
	if re := refused(t, err); re.Members != 1 || re.Metas != 2 {
		t.Errorf("refused %+v; want b's 2 metas", re)
	}
	if diff := cmp.Diff([]string{"+a", "+c", "sync 2"}, keysOf(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if tr.State().Metas() != 2 {
		t.Errorf("state holds %d metas; want 2", tr.State().Metas())
	}
}

// At the limits, a diff that updates a member (the join of the new meta and the leave of the
// old one) and one that replaces a member with another go through: the leaves to come make
// room. Growth beyond them is refused join by join, in key order, and leaves still apply.
func TestTrackerDiffAtLimit(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	tr.SetLimits(presence.Limits{MaxMembers: 2, MaxMetas: 2})
	if _, err := tr.HandleState([]byte(`{"a":{"metas":[{"phx_ref":"a1"}]},"b":{"metas":[{"phx_ref":"b1"}]}}`)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		diff        string
		want        []string
		wantRefused int
	}{
		{`{"joins":{"a":{"metas":[{"phx_ref":"a2","phx_ref_prev":"a1"}]}},"leaves":{"a":{"metas":[{"phx_ref":"a1"}]}}}`,
			[]string{"+a", "-a", "sync 2"}, 0},
		{`{"joins":{"c":{"metas":[{"phx_ref":"c1"}]}},"leaves":{"b":{"metas":[{"phx_ref":"b1"}]}}}`,
			[]string{"+c", "-b", "sync 2"}, 0},
		{`{"joins":{"d":{"metas":[{"phx_ref":"d1"}]},"e":{"metas":[{"phx_ref":"e1"}]}},"leaves":{"a":{"metas":[{"phx_ref":"a2"}]}}}`,
			[]string{"+d", "-a", "sync 2"}, 1},
		{`{"joins":{"c":{"metas":[{"phx_ref":"c2"}]}},"leaves":{}}`, []string{"sync 2"}, 1},
	}
	for i, st := range steps {
		evs, err := tr.HandleDiff([]byte(st.diff))
		if st.wantRefused == 0 && err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.wantRefused > 0 {
			if re := refused(t, err); re.Members != st.wantRefused {
				t.Errorf("step %d: refused %+v; want %d member(s)", i, re, st.wantRefused)
			}
		}
		if diff := cmp.Diff(st.want, keysOf(evs)); diff != "" {
			t.Errorf("step %d: events (-want +got):\n%s", i, diff)
		}
		if s := tr.State(); s.Len() > 2 || s.Metas() > 2 {
			t.Fatalf("step %d: state of %d keys and %d metas is beyond the limits", i, s.Len(), s.Metas())
		}
		if err := presence.CheckState(tr.State()); err != nil {
			t.Fatal(err)
		}
	}
}

// Keys that are not valid UTF-8 are refused and reported, never stored; a surrogate pair is
// valid.
func TestTrackerInvalidKeys(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	payload := "{\"a\xff\":{\"metas\":[{\"phx_ref\":\"1\"}]},\"b\\ud800\":{\"metas\":[{\"phx_ref\":\"2\"}]}," +
		"\"c\\udc00x\":{\"metas\":[{\"phx_ref\":\"3\"}]},\"\\\\ud800\":{\"metas\":[{\"phx_ref\":\"4\"}]}," +
		"\"\\ud83d\\ude00\":{\"metas\":[{\"phx_ref\":\"5\"}]}}"
	evs, err := tr.HandleState([]byte(payload))
	if re := refused(t, err); re.InvalidKeys != 3 || re.Members != 0 {
		t.Errorf("refused %+v; want 3 invalid keys", re)
	}
	if diff := cmp.Diff([]string{`\ud800`, "😀"}, tr.State().Keys()); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if len(evs) != 3 {
		t.Errorf("events %v", keysOf(evs))
	}
	_, err = tr.HandleDiff([]byte("{\"joins\":{\"x\xfe\":{\"metas\":[{\"phx_ref\":\"9\"}]}},\"leaves\":{}}"))
	if re := refused(t, err); re.InvalidKeys != 1 {
		t.Errorf("refused %+v; want 1 invalid key", re)
	}
	if tr.State().Len() != 2 {
		t.Errorf("state has %d keys", tr.State().Len())
	}
}

// Diffs buffered before the presence_state hold at most twice MaxMetas metas together.
func TestTrackerPendingMetasLimit(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	tr.SetLimits(presence.Limits{MaxMembers: 100, MaxMetas: 10})
	for i := range 30 {
		if _, err := tr.HandleDiff(fmt.Appendf(nil, `{"joins":{"k%02d":{"metas":[{"phx_ref":"r%d"}]}},"leaves":{}}`, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := tr.HandleState([]byte(`{}`))
	re := refused(t, err)
	// The newest diffs are kept (at most 20 metas), and 10 of them fit.
	if got := tr.State().Len(); got != 10 {
		t.Errorf("state has %d keys; want 10", got)
	}
	if re.Members == 0 || re.Members > 10 {
		t.Errorf("refused %+v", re)
	}
	if last := keysOf(evs); last[0] < "+k10" {
		t.Errorf("first join %s; want a newer diff", last[0])
	}
}

// A presence_state far beyond the limits costs memory in proportion to the limits, not to the
// payload: the parser only checks the members it cannot keep.
func TestTrackerHugeStateBounded(t *testing.T) {
	const members = 200_000 // about 7 MB; the cost of what is left out grows with it by scanning only
	var b strings.Builder
	b.WriteByte('{')
	for i := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"user-%07d":{"metas":[{"phx_ref":"F%07d","status":"online"}]}`, i, i)
	}
	b.WriteByte('}')
	payload := []byte(b.String())
	tr := presence.NewTracker()
	tr.SetLimits(presence.Limits{MaxMembers: 1000, MaxMetas: 2000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := tr.HandleState(payload)
	runtime.ReadMemStats(&after)
	if re := refused(t, err); re.Members != members-1000 || re.Metas != members-1000 {
		t.Errorf("refused %+v", re)
	}
	if tr.State().Len() != 1000 {
		t.Errorf("state has %d keys", tr.State().Len())
	}
	// Keeping every member would allocate well over 100 bytes each.
	t.Logf("allocated %d bytes for a %d-byte payload", after.TotalAlloc-before.TotalAlloc, len(payload))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(payload))/10 {
		t.Errorf("handling a %d-byte state allocated %d bytes; want it bounded by the limits", len(payload), alloc)
	}
}

// A clone handles messages without changing the original, pending diffs included.
func TestTrackerClone(t *testing.T) {
	t.Parallel()
	tr := presence.NewTracker()
	if _, err := tr.HandleDiff([]byte(`{"joins":{"a":{"metas":[{"phx_ref":"a1"}]}},"leaves":{}}`)); err != nil {
		t.Fatal(err)
	}
	c := tr.Clone()
	if _, err := c.HandleDiff([]byte(`{"joins":{"b":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HandleState([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if !c.Synced() || c.State().Len() != 2 {
		t.Errorf("clone: synced %v, %d keys", c.Synced(), c.State().Len())
	}
	evs, err := tr.HandleState([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"+a", "sync 1"}, keysOf(evs)); diff != "" {
		t.Errorf("original (-want +got):\n%s", diff)
	}
}
