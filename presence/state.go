package presence

import (
	"bytes"
	"iter"
	"slices"
)

// State is an immutable snapshot of a channel's presence: each key present and its metas, oldest
// first as Phoenix orders them. A key is present only while it has at least one meta.
//
// A State never changes once made: [SyncState], [SyncDiff] and [Tracker] return new States that
// share unchanged parts with the old ones, so holding on to an old State is cheap and keeps it
// exactly as it was. States are safe for concurrent use. The zero State is the empty state.
type State struct {
	m pmap
}

// Len returns the number of keys present.
func (s State) Len() int { return s.m.size }

// Metas returns the number of metas of every key together.
func (s State) Metas() int { return s.m.metas }

// Get returns the metas of key, in state order, or nil if the key is absent. The slice is a
// copy that the caller may modify.
func (s State) Get(key string) []Meta {
	metas, ok := s.m.get(key)
	if !ok {
		return nil
	}
	return slices.Clone(metas)
}

// Keys returns the keys present, sorted.
func (s State) Keys() []string {
	keys := make([]string, 0, s.m.size)
	s.m.all(func(k string, _ []Meta) bool {
		keys = append(keys, k)
		return true
	})
	slices.Sort(keys)
	return keys
}

// All returns an iterator over every key and its metas, in no particular order. To avoid a copy
// per key the slices yielded are the State's own: they must not be modified (use [State.Get] or
// [State.Map] for copies).
func (s State) All() iter.Seq2[string, []Meta] {
	return func(yield func(string, []Meta) bool) { s.m.all(yield) }
}

// Map returns the state as a new plain map from key to metas, which the caller may modify.
func (s State) Map() map[string][]Meta {
	out := make(map[string][]Meta, s.m.size)
	s.m.all(func(k string, metas []Meta) bool {
		out[k] = slices.Clone(metas)
		return true
	})
	return out
}

// Equal reports whether s and o hold the same keys with the same metas in the same order (same
// Ref, PrevRef and Raw bytes).
func (s State) Equal(o State) bool {
	if s.m.size != o.m.size {
		return false
	}
	if s.m.root == o.m.root {
		return true
	}
	return s.m.all(func(k string, metas []Meta) bool {
		other, ok := o.m.get(k)
		return ok && slices.EqualFunc(metas, other, func(a, b Meta) bool {
			return a.Ref == b.Ref && a.PrevRef == b.PrevRef && bytes.Equal(a.Raw, b.Raw)
		})
	})
}

// MarshalJSON encodes the state as {"key":[meta,…],…}, keys sorted and each meta written as its
// Raw (a meta without Raw is written as {"phx_ref":Ref}): the shape of realtime-js
// presenceState(), except that phx_ref keeps its wire name.
func (s State) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range s.Keys() {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, k)
		buf.WriteString(":[")
		metas, _ := s.m.get(k)
		for j, m := range metas {
			if j > 0 {
				buf.WriteByte(',')
			}
			if len(m.Raw) == 0 {
				// A Meta built by hand without Raw: write what it has.
				buf.WriteString(`{"phx_ref":`)
				writeJSONString(&buf, m.Ref)
				buf.WriteByte('}')
			} else {
				buf.Write(m.Raw)
			}
		}
		buf.WriteByte(']')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
