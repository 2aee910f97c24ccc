package presence

import (
	"hash/maphash"
	"math/bits"
	"slices"
)

// This file holds the persistent map behind State: a hash array mapped trie (HAMT) keyed by
// string with []Meta values. Each node has up to 32 slots, selected by 5 bits of the key's
// 64-bit hash per level. An update copies only the nodes on the path from the root to the key
// (path copying), so a State derived from another shares every untouched subtree with it and an
// update costs O(log32 n) node copies instead of a copy of the whole map.
//
// Keys whose full 64-bit hashes are equal live together in a collision node, which is searched
// linearly.
//
// Batches (one diff, one presence_state) go through a builder. The builder owns an edit token;
// nodes created by the builder carry that token and are mutated in place for the rest of the
// batch instead of being copied again (Clojure's "transients"). finish drops the token, after
// which no node of the returned map is ever written again. Nodes reachable from a published map
// never carry a live token, so published maps are immutable and safe for concurrent readers.

const (
	levelBits = 5
	levelMask = 1<<levelBits - 1
)

// hashSeed seeds the default key hash. It is random per process, so keys chosen by other users
// of a channel cannot be crafted to collide.
var hashSeed = maphash.MakeSeed()

// hashFunc hashes a key. A nil hashFunc means the default (maphash with hashSeed); tests inject
// tiny hashes to force collisions.
type hashFunc func(string) uint64

// edit is a builder's ownership token. It has a non-zero size so that distinct tokens have
// distinct addresses.
type edit struct{ _ byte }

// leaf is one key and its value. Leaves are never modified once created.
type leaf struct {
	hash uint64
	key  string
	val  []Meta
}

// slot is one occupied position of a node: either a subtree (child) or a leaf.
type slot struct {
	child *node
	leaf  *leaf
}

// node is either a bitmap node (coll false: bit i of bitmap is set when the slot for hash
// fragment i is occupied, and slots holds the occupied slots in fragment order) or a collision
// node (coll true: every slot is a leaf whose full hash is hash).
type node struct {
	edit   *edit
	bitmap uint32
	coll   bool
	hash   uint64
	slots  []slot
}

// pmap is a persistent map from key to metas. The zero pmap is empty and uses the default hash.
type pmap struct {
	root  *node
	size  int
	metas int // the metas of every key together
	hash  hashFunc
}

// hashOf hashes key with the map's hash function.
func (m pmap) hashOf(key string) uint64 {
	if m.hash == nil {
		return maphash.String(hashSeed, key)
	}
	return m.hash(key)
}

// fragment returns the slot index of hash h at the level whose fragment starts at bit shift.
func fragment(h uint64, shift uint) uint32 {
	return uint32(h>>shift) & levelMask
}

// get returns the value of key.
func (m pmap) get(key string) ([]Meta, bool) {
	if m.root == nil {
		return nil, false
	}
	h := m.hashOf(key)
	n := m.root
	for shift := uint(0); ; shift += levelBits {
		if n.coll {
			for _, s := range n.slots {
				if s.leaf.key == key {
					return s.leaf.val, true
				}
			}
			return nil, false
		}
		bit := uint32(1) << fragment(h, shift)
		if n.bitmap&bit == 0 {
			return nil, false
		}
		s := n.slots[bits.OnesCount32(n.bitmap&(bit-1))]
		if s.child != nil {
			n = s.child
			continue
		}
		if s.leaf.hash == h && s.leaf.key == key {
			return s.leaf.val, true
		}
		return nil, false
	}
}

// all calls yield for every entry until yield returns false, and reports whether it ran to the
// end.
func (m pmap) all(yield func(string, []Meta) bool) bool {
	if m.root == nil {
		return true
	}
	return m.root.all(yield)
}

// all walks the subtree of n.
func (n *node) all(yield func(string, []Meta) bool) bool {
	for _, s := range n.slots {
		if s.child != nil {
			if !s.child.all(yield) {
				return false
			}
		} else if !yield(s.leaf.key, s.leaf.val) {
			return false
		}
	}
	return true
}

// builder applies a batch of updates to a pmap.
type builder struct {
	m   pmap
	ed  *edit
	old int // the number of metas of the leaf the last insert or remove replaced or removed
}

// newBuilder starts a batch of updates on m. m itself is never modified.
func newBuilder(m pmap) *builder {
	return &builder{m: m, ed: new(edit)}
}

// finish returns the map built so far. Later updates through b copy nodes again, so the
// returned map stays immutable.
func (b *builder) finish() pmap {
	b.ed = new(edit)
	return b.m
}

// get returns the current value of key in the batch.
func (b *builder) get(key string) ([]Meta, bool) { return b.m.get(key) }

// own returns n if the builder owns it, or an owned copy of n.
func (b *builder) own(n *node) *node {
	if n.edit == b.ed {
		return n
	}
	return &node{edit: b.ed, bitmap: n.bitmap, coll: n.coll, hash: n.hash, slots: slices.Clone(n.slots)}
}

// set maps key to val.
func (b *builder) set(key string, val []Meta) {
	lf := &leaf{hash: b.m.hashOf(key), key: key, val: val}
	if b.m.root == nil {
		b.m.root = &node{edit: b.ed}
	}
	added := false
	b.old = 0
	b.m.root = b.insert(b.m.root, 0, lf, &added)
	if added {
		b.m.size++
	}
	b.m.metas += len(val) - b.old
}

// insert puts lf into the subtree n whose level starts at bit shift, and returns the subtree's
// new root. added is set when the key was not present before.
func (b *builder) insert(n *node, shift uint, lf *leaf, added *bool) *node {
	if n.coll {
		if n.hash == lf.hash {
			n = b.own(n)
			for i := range n.slots {
				if n.slots[i].leaf.key == lf.key {
					b.old = len(n.slots[i].leaf.val)
					n.slots[i].leaf = lf
					return n
				}
			}
			n.slots = append(n.slots, slot{leaf: lf})
			*added = true
			return n
		}
		// A different hash reached a collision node: put the collision node under a new bitmap
		// node at this level, then insert next to it.
		w := &node{edit: b.ed, bitmap: 1 << fragment(n.hash, shift), slots: []slot{{child: n}}}
		return b.insert(w, shift, lf, added)
	}
	bit := uint32(1) << fragment(lf.hash, shift)
	idx := bits.OnesCount32(n.bitmap & (bit - 1))
	if n.bitmap&bit == 0 {
		n = b.own(n)
		n.slots = slices.Insert(n.slots, idx, slot{leaf: lf})
		n.bitmap |= bit
		*added = true
		return n
	}
	s := n.slots[idx]
	if s.child != nil {
		c := b.insert(s.child, shift+levelBits, lf, added)
		if c != s.child {
			n = b.own(n)
			n.slots[idx].child = c
		}
		return n
	}
	n = b.own(n)
	if s.leaf.hash == lf.hash && s.leaf.key == lf.key {
		b.old = len(s.leaf.val)
		n.slots[idx].leaf = lf
		return n
	}
	*added = true
	n.slots[idx] = slot{child: b.pair(s.leaf, lf, shift+levelBits)}
	return n
}

// pair returns a subtree, at the level starting at bit shift, that holds the two leaves x and y
// with different keys.
func (b *builder) pair(x, y *leaf, shift uint) *node {
	if x.hash == y.hash {
		return &node{edit: b.ed, coll: true, hash: x.hash, slots: []slot{{leaf: x}, {leaf: y}}}
	}
	fx, fy := fragment(x.hash, shift), fragment(y.hash, shift)
	if fx == fy {
		return &node{edit: b.ed, bitmap: 1 << fx, slots: []slot{{child: b.pair(x, y, shift+levelBits)}}}
	}
	if fx > fy {
		x, y = y, x
		fx, fy = fy, fx
	}
	return &node{edit: b.ed, bitmap: 1<<fx | 1<<fy, slots: []slot{{leaf: x}, {leaf: y}}}
}

// delete removes key.
func (b *builder) delete(key string) {
	if b.m.root == nil {
		return
	}
	removed := false
	b.old = 0
	root := b.remove(b.m.root, 0, b.m.hashOf(key), key, &removed)
	if !removed {
		return
	}
	b.m.size--
	b.m.metas -= b.old
	b.m.root = root // nil once the last key is gone
}

// remove deletes key (hash h) from the subtree n whose level starts at bit shift and returns the
// subtree's new root, nil if it became empty. removed is set when the key was present.
func (b *builder) remove(n *node, shift uint, h uint64, key string, removed *bool) *node {
	if n.coll {
		for i, s := range n.slots {
			if s.leaf.key != key {
				continue
			}
			*removed = true
			b.old = len(s.leaf.val)
			if len(n.slots) == 1 {
				return nil
			}
			n = b.own(n)
			n.slots = slices.Delete(n.slots, i, i+1)
			return n
		}
		return n
	}
	bit := uint32(1) << fragment(h, shift)
	if n.bitmap&bit == 0 {
		return n
	}
	idx := bits.OnesCount32(n.bitmap & (bit - 1))
	s := n.slots[idx]
	if s.child != nil {
		c := b.remove(s.child, shift+levelBits, h, key, removed)
		switch {
		case !*removed:
			return n
		case c == nil:
			return b.dropSlot(n, idx, bit)
		case len(c.slots) == 1 && c.slots[0].child == nil:
			// A subtree left with a single leaf collapses into its parent's slot.
			n = b.own(n)
			n.slots[idx] = slot{leaf: c.slots[0].leaf}
		case c != s.child:
			n = b.own(n)
			n.slots[idx].child = c
		}
		return n
	}
	if s.leaf.hash != h || s.leaf.key != key {
		return n
	}
	*removed = true
	b.old = len(s.leaf.val)
	return b.dropSlot(n, idx, bit)
}

// dropSlot removes slot idx (hash fragment bit) from bitmap node n and returns the new node,
// nil if it became empty.
func (b *builder) dropSlot(n *node, idx int, bit uint32) *node {
	if len(n.slots) == 1 {
		return nil
	}
	n = b.own(n)
	n.slots = slices.Delete(n.slots, idx, idx+1)
	n.bitmap &^= bit
	return n
}
