package presence_test

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"

	"github.com/go-supabase/realtime/presence"
)

// meta returns the meta a server sends when ref's device tracks {"user": ref}.
func meta(ref string) presence.Meta {
	return mustMeta(ref, "", map[string]any{"user": ref})
}

// updated returns the join half of an update: ref replaces prev, tracking a new status.
func updated(ref, prev string) presence.Meta {
	return mustMeta(ref, prev, map[string]any{"user": prev, "status": "away"})
}

// mustMeta is presence.NewMeta that panics on error, for tables.
func mustMeta(ref, prev string, fields any) presence.Meta {
	m, err := presence.NewMeta(ref, prev, fields)
	if err != nil {
		panic(fmt.Sprintf("NewMeta(%q, %q, %v): %v", ref, prev, fields, err))
	}
	return m
}

// metas is a shorthand for a meta list.
func metas(ms ...presence.Meta) []presence.Meta { return ms }

// stateOf returns the State holding m, built by syncing the empty state with it.
func stateOf(t testing.TB, m map[string][]presence.Meta) presence.State {
	t.Helper()
	s, _ := presence.SyncState(presence.State{}, m)
	if err := presence.CheckState(s); err != nil {
		t.Fatalf("stateOf: %v", err)
	}
	return s
}

// deepCopy returns a copy of m that shares no memory with it, Raw bytes included.
func deepCopy(m map[string][]presence.Meta) map[string][]presence.Meta {
	out := make(map[string][]presence.Meta, len(m))
	for k, ms := range m {
		out[k] = copyMetas(ms)
	}
	return out
}

// copyMetas returns a copy of ms that shares no memory with it; nil stays nil.
func copyMetas(ms []presence.Meta) []presence.Meta {
	if ms == nil {
		return nil
	}
	out := make([]presence.Meta, len(ms))
	for i, m := range ms {
		out[i] = presence.Meta{Ref: m.Ref, PrevRef: m.PrevRef, Raw: bytes.Clone(m.Raw)}
	}
	return out
}

// copyEvents returns a copy of events that shares no memory with them (States are immutable
// and kept as they are).
func copyEvents(events []presence.Event) []presence.Event {
	if events == nil {
		return nil
	}
	out := make([]presence.Event, len(events))
	for i, ev := range events {
		switch ev := ev.(type) {
		case presence.Join:
			out[i] = presence.Join{Key: ev.Key, Current: copyMetas(ev.Current), New: copyMetas(ev.New)}
		case presence.Leave:
			out[i] = presence.Leave{Key: ev.Key, Current: copyMetas(ev.Current), Left: copyMetas(ev.Left)}
		default:
			out[i] = ev
		}
	}
	return out
}

// scribble overwrites every element of ms, as a careless caller might. Raw bytes handed out by
// the package are shared and read-only, so they are left alone.
func scribble(ms []presence.Meta) {
	for i := range ms {
		ms[i] = presence.Meta{Ref: "scribbled"}
	}
}

// scribbleInput overwrites every element of ms and its Raw bytes: a caller reusing the values
// it passed to SyncState or SyncDiff.
func scribbleInput(ms []presence.Meta) {
	for i := range ms {
		for j := range ms[i].Raw {
			ms[i].Raw[j] = 'X'
		}
		ms[i] = presence.Meta{Ref: "scribbled"}
	}
}

var prevMember = regexp.MustCompile(`,?"phx_ref_prev":(?:"[^"]*"|null)`)

// inState returns m as a state holds it: no phx_ref_prev, in Raw or in PrevRef. It handles
// the compact metas of the tests.
func inState(m presence.Meta) presence.Meta {
	m.PrevRef = ""
	if m.Raw != nil {
		m.Raw = prevMember.ReplaceAll(m.Raw, nil)
		m.Raw = bytes.Replace(m.Raw, []byte("{,"), []byte("{"), 1)
	}
	return m
}

// asJoined returns m as a Join event reports it: Raw as in the state, PrevRef kept.
func asJoined(m presence.Meta) presence.Meta {
	prev := m.PrevRef
	m = inState(m)
	m.PrevRef = prev
	return m
}
