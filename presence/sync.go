package presence

import (
	"bytes"
	"slices"
)

// Event is a presence event: a [Join], a [Leave] or a [Sync]. Events are delivered in the order
// the sync functions return them. Their slices are their own: modifying them does not affect
// any State.
type Event interface {
	isPresenceEvent()
}

// Join reports metas that joined a key. A change of a meta (an update) is a Join of the new
// meta followed by a [Leave] of the old one.
type Join struct {
	// Key is the presence key.
	Key string
	// Current holds the key's metas before the join; nil if the key was not present.
	Current []Meta
	// New holds the metas that joined, as the state now holds them, except that the PrevRef
	// of the join half of an update still names the Ref it replaced.
	New []Meta
}

// Leave reports metas that left a key.
type Leave struct {
	// Key is the presence key.
	Key string
	// Current holds the key's metas remaining after the leave; nil if none remain, in which
	// case the key is no longer present.
	Current []Meta
	// Left holds the metas that left.
	Left []Meta
}

// Sync reports that the state was brought up to date by a presence_state or presence_diff; it
// follows the Join and Leave events of that message.
type Sync struct {
	// State is the state after the message.
	State State
}

func (Join) isPresenceEvent()  {}
func (Leave) isPresenceEvent() {}
func (Sync) isPresenceEvent()  {}

// SyncState brings cur up to date with next, the parsed payload of a presence_state, as
// Phoenix's syncState does, and returns the new state with the Join and Leave events of the
// change (no Sync event). cur is not modified.
//
// A key of cur absent from next leaves with all its metas. For a key in both, the metas of next
// whose Ref is not in cur join and the metas of cur whose Ref is not in next leave; metas with a
// known Ref are kept as they are in cur. A key only in next joins. The result is then applied
// as by [SyncDiff], so all Join events come before all Leave events.
//
// A key listed in next with no metas counts as absent. The metas of next are copied, Raw
// included, so next may be reused.
func SyncState(cur State, next map[string][]Meta) (State, []Event) {
	b := newBuilder(cur.m)
	events := applyDiff(b, stateDiff(cur.m, next), true, nil, nil)
	return State{b.finish()}, events
}

// SyncDiff applies d, the parsed payload of a presence_diff, to cur, as Phoenix's syncDiff
// does, and returns the new state with the Join and Leave events of the change (no Sync event).
// cur is not modified.
//
// Joins are applied first, in sorted key order. The key's metas become the joined metas with
// the metas of cur whose Ref is not among them put in front; the joined metas are stored
// without phx_ref_prev (see the package documentation). Then leaves are applied, in
// sorted key order: the metas whose Ref is listed are removed, and the key is deleted when no
// metas remain. Metas are always matched by Ref, never by key alone, so the other devices of a
// key stay. Because joins go first, an update (a join of the new meta with PrevRef and a leave
// of the old meta, in one diff) leaves only the new meta and gives a Join then a Leave.
//
// Events report real changes only, where Phoenix also reports no-op joins and leaves: a Join
// lists in New only the metas whose Ref was not present, and is left out if there are none (a
// repeated join still replaces the meta, as in Phoenix, but silently); a Leave lists in Left
// the metas actually removed, and is left out if there are none (a leave of an absent key or
// Ref changes nothing). A join lists each Ref once; later duplicates in the same list are
// dropped.
//
// The metas of d are copied, Raw included, so d may be reused.
func SyncDiff(cur State, d Diff) (State, []Event) {
	b := newBuilder(cur.m)
	events := applyDiff(b, d, true, nil, nil)
	return State{b.finish()}, events
}

// stateDiff returns the diff that turns cur into next (syncState's joins and leaves). Its
// slices may alias cur and next; applyDiff only reads them.
func stateDiff(cur pmap, next map[string][]Meta) Diff {
	d := Diff{Joins: make(map[string][]Meta), Leaves: make(map[string][]Meta)}
	inBoth := 0
	cur.all(func(key string, cm []Meta) bool {
		nm := next[key]
		if len(nm) == 0 {
			d.Leaves[key] = cm
			return true
		}
		inBoth++
		curRefs, nextRefs := newRefSet(cm), newRefSet(nm)
		var joined, left []Meta
		for _, m := range nm {
			if !curRefs.has(m.Ref) {
				joined = append(joined, m)
			}
		}
		for _, m := range cm {
			if !nextRefs.has(m.Ref) {
				left = append(left, m)
			}
		}
		if len(joined) > 0 {
			d.Joins[key] = joined
		}
		if len(left) > 0 {
			d.Leaves[key] = left
		}
		return true
	})
	inNext := 0
	for _, nm := range next {
		if len(nm) > 0 {
			inNext++
		}
	}
	if inNext == inBoth {
		return d // no key only in next: skip the lookups
	}
	for key, nm := range next {
		if len(nm) == 0 {
			continue
		}
		if _, ok := cur.get(key); !ok {
			d.Joins[key] = nm
		}
	}
	return d
}

// capper keeps a batch within a tracker's Limits and counts the joins it refuses.
type capper struct {
	lim     Limits
	refused refusals
}

// credit returns how many metas and keys of the batch b the leaves of d will remove: the joins
// of d may take the state that much beyond the limits, since the leaves, applied after them,
// bring it back. Joins never remove a meta that is present, so the credit is never too large.
func credit(b *builder, d Diff) (metas, keys int) {
	for key, left := range d.Leaves {
		cur, ok := b.get(key)
		if !ok || len(left) == 0 {
			continue
		}
		refs := newRefSet(left)
		n := 0
		for _, m := range cur {
			if refs.has(m.Ref) {
				n++
			}
		}
		metas += n
		if n == len(cur) && len(d.Joins[key]) == 0 {
			keys++
		}
	}
	return metas, keys
}

// over reports whether a join that adds newKey keys and added metas to the batch b would take
// it beyond the limits, counting the credit of the leaves to come.
func (c *capper) over(b *builder, newKey, added, metaCredit, keyCredit int) bool {
	return (c.lim.MaxMembers > 0 && b.m.size+newKey > c.lim.MaxMembers+keyCredit) ||
		(c.lim.MaxMetas > 0 && b.m.metas+added > c.lim.MaxMetas+metaCredit)
}

// applyDiff applies d to the batch b as syncDiff does, appends the events to events and returns
// them. With clone set, joined metas get their own copy of Raw. With c set, a join that would
// take the state beyond c's limits is left out and counted.
func applyDiff(b *builder, d Diff, clone bool, events []Event, c *capper) []Event {
	var metaCredit, keyCredit int
	if c != nil && (c.lim.MaxMembers > 0 || c.lim.MaxMetas > 0) {
		metaCredit, keyCredit = credit(b, d)
	} else {
		c = nil
	}
	for _, key := range sortedKeys(d.Joins) {
		joined := d.Joins[key]
		if len(joined) == 0 {
			continue
		}
		cur, present := b.get(key)
		joinedRefs, curRefs := newRefSet(joined), newRefSet(cur)
		// One allocation holds the key's new metas (the current ones not joined again, then
		// the joined ones, each Ref once) and, after them, the event's New.
		buf := make([]Meta, 0, len(cur)+2*len(joined))
		for _, m := range cur {
			if !joinedRefs.has(m.Ref) {
				buf = append(buf, m)
			}
		}
		start := len(buf)
		hadPrev := false
		var seen map[string]struct{} // for long lists; short ones are searched
		if len(joined) > refSetLinear {
			seen = make(map[string]struct{}, len(joined))
		}
		for _, m := range joined {
			if seen != nil {
				if _, dup := seen[m.Ref]; dup {
					continue
				}
				seen[m.Ref] = struct{}{}
			} else if hasRef(buf[start:], m.Ref) {
				continue
			}
			if m.PrevRef != "" {
				hadPrev = true
			}
			m, fresh := stored(m)
			if clone && !fresh {
				m.Raw = bytes.Clone(m.Raw)
			}
			buf = append(buf, m)
		}
		next := buf[:len(buf):len(buf)]
		added := buf[len(buf):len(buf)]
		var prevs map[string]string // for long lists; short ones are searched
		if hadPrev && len(joined) > refSetLinear {
			prevs = make(map[string]string, len(joined))
			for _, m := range slices.Backward(joined) {
				prevs[m.Ref] = m.PrevRef // the first of duplicates wins, as above
			}
		}
		for _, m := range next[start:] {
			if !curRefs.has(m.Ref) {
				// The event still says which Ref a joined meta replaced; the state does not.
				switch {
				case prevs != nil:
					m.PrevRef = prevs[m.Ref]
				case hadPrev:
					m.PrevRef = prevRefOf(joined, m.Ref)
				}
				added = append(added, m)
			}
		}
		if c != nil {
			newKey := 0
			if !present {
				newKey = 1
			}
			if c.over(b, newKey, len(added), metaCredit, keyCredit) {
				c.refused.members++
				c.refused.metas += len(added)
				continue
			}
		}
		b.set(key, next)
		if len(added) > 0 {
			events = append(events, Join{Key: key, Current: slices.Clone(cur), New: added[:len(added):len(added)]})
		}
	}
	for _, key := range sortedKeys(d.Leaves) {
		left := d.Leaves[key]
		cur, ok := b.get(key)
		if !ok || len(left) == 0 {
			continue
		}
		leftRefs := newRefSet(left)
		var remaining, removed []Meta
		for _, m := range cur {
			if leftRefs.has(m.Ref) {
				removed = append(removed, m)
			} else {
				remaining = append(remaining, m)
			}
		}
		if len(removed) == 0 {
			continue
		}
		if len(remaining) == 0 {
			b.delete(key)
		} else {
			b.set(key, remaining)
		}
		events = append(events, Leave{Key: key, Current: slices.Clone(remaining), Left: removed})
	}
	return events
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string][]Meta) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// refSetLinear is the number of metas up to which a refSet searches them linearly instead of
// hashing their refs.
const refSetLinear = 16

// refSet is the set of the Refs of some metas; it allocates nothing for the usual one or two
// metas of a key and is still fast for a key with thousands of metas.
type refSet struct {
	metas []Meta
	m     map[string]struct{}
}

// newRefSet returns the set of the Refs of metas.
func newRefSet(metas []Meta) refSet {
	if len(metas) <= refSetLinear {
		return refSet{metas: metas}
	}
	m := make(map[string]struct{}, len(metas))
	for _, meta := range metas {
		m[meta.Ref] = struct{}{}
	}
	return refSet{m: m}
}

// has reports whether ref is in the set.
func (s refSet) has(ref string) bool {
	if s.m != nil {
		_, ok := s.m[ref]
		return ok
	}
	return hasRef(s.metas, ref)
}

// prevRefOf returns the PrevRef of the first meta of metas with Ref ref.
func prevRefOf(metas []Meta, ref string) string {
	for _, m := range metas {
		if m.Ref == ref {
			return m.PrevRef
		}
	}
	return ""
}

// hasRef reports whether a meta of metas has Ref ref.
func hasRef(metas []Meta, ref string) bool {
	for _, m := range metas {
		if m.Ref == ref {
			return true
		}
	}
	return false
}
