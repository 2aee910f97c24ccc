package presence

import (
	"fmt"
	"math/bits"
)

// NewStateWithHash returns an empty State whose lineage hashes keys with h instead of maphash,
// so that tests can force hash collisions.
func NewStateWithHash(h func(string) uint64) State { return State{m: pmap{hash: h}} }

// NewTrackerWithHash returns a pending Tracker whose states hash keys with h.
func NewTrackerWithHash(h func(string) uint64) *Tracker {
	return &Tracker{state: NewStateWithHash(h)}
}

// CheckState returns an error if s breaks an invariant of State or of its trie.
func CheckState(s State) error {
	if err := s.m.check(); err != nil {
		return err
	}
	var err error
	s.m.all(func(key string, metas []Meta) bool {
		if len(metas) == 0 {
			err = fmt.Errorf("key %q has no metas", key)
			return false
		}
		seen := map[string]bool{}
		for _, m := range metas {
			if seen[m.Ref] {
				err = fmt.Errorf("key %q has Ref %q twice", key, m.Ref)
				return false
			}
			seen[m.Ref] = true
		}
		return true
	})
	return err
}

// check returns an error if the trie of m is not well formed.
func (m pmap) check() error {
	if m.root == nil {
		if m.size != 0 {
			return fmt.Errorf("nil root with size %d", m.size)
		}
		return nil
	}
	if m.root.coll {
		return fmt.Errorf("root is a collision node")
	}
	keys := map[string]bool{}
	if err := m.checkNode(m.root, 0, 0, keys, true); err != nil {
		return err
	}
	if len(keys) != m.size {
		return fmt.Errorf("size %d, but %d keys in the trie", m.size, len(keys))
	}
	metas := 0
	m.all(func(_ string, ms []Meta) bool { metas += len(ms); return true })
	if metas != m.metas {
		return fmt.Errorf("%d metas counted, but %d in the trie", m.metas, metas)
	}
	return nil
}

// checkNode checks the subtree n at the level starting at bit shift, whose leaves all have the
// hash bits below shift equal to prefix.
func (m pmap) checkNode(n *node, shift uint, prefix uint64, keys map[string]bool, root bool) error {
	low := uint64(1)<<shift - 1
	if shift >= 64 {
		low = ^uint64(0)
	}
	checkLeaf := func(l *leaf) error {
		if l == nil {
			return fmt.Errorf("nil leaf")
		}
		if h := m.hashOf(l.key); l.hash != h {
			return fmt.Errorf("leaf %q has hash %x, want %x", l.key, l.hash, h)
		}
		if l.hash&low != prefix {
			return fmt.Errorf("leaf %q at shift %d has hash %x, not under prefix %x", l.key, shift, l.hash, prefix)
		}
		if keys[l.key] {
			return fmt.Errorf("key %q twice", l.key)
		}
		keys[l.key] = true
		return nil
	}
	if n.coll {
		if len(n.slots) < 2 {
			return fmt.Errorf("collision node with %d leaves", len(n.slots))
		}
		for _, s := range n.slots {
			if s.child != nil {
				return fmt.Errorf("collision node with a child")
			}
			if err := checkLeaf(s.leaf); err != nil {
				return err
			}
			if s.leaf.hash != n.hash {
				return fmt.Errorf("collision node %x holds hash %x", n.hash, s.leaf.hash)
			}
		}
		return nil
	}
	if bits.OnesCount32(n.bitmap) != len(n.slots) {
		return fmt.Errorf("bitmap %b for %d slots", n.bitmap, len(n.slots))
	}
	if len(n.slots) == 0 && !root {
		return fmt.Errorf("empty inner node")
	}
	i := 0
	for frag := uint32(0); frag < 32; frag++ {
		if n.bitmap&(1<<frag) == 0 {
			continue
		}
		s := n.slots[i]
		i++
		p := prefix | uint64(frag)<<shift
		if (s.child == nil) == (s.leaf == nil) {
			return fmt.Errorf("slot with child %v and leaf %v", s.child, s.leaf)
		}
		if s.child != nil {
			if err := m.checkNode(s.child, shift+levelBits, p, keys, false); err != nil {
				return err
			}
			continue
		}
		if err := checkLeaf(s.leaf); err != nil {
			return err
		}
		if fragment(s.leaf.hash, shift) != frag {
			return fmt.Errorf("leaf %q in slot %d, its fragment is %d", s.leaf.key, frag, fragment(s.leaf.hash, shift))
		}
	}
	return nil
}
