package presence

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testHashes are the hash functions the trie is tested with: the default, and tiny ones that
// force collisions and deep paths.
var testHashes = map[string]hashFunc{
	"maphash":  nil,
	"constant": func(string) uint64 { return 42 },
	"3bits":    func(k string) uint64 { return fnvHash(k) & 7 },
	"length":   func(k string) uint64 { return uint64(len(k)) },
	// Only the top bits vary, so every path goes to the deepest level before splitting.
	"highbits": func(k string) uint64 { return fnvHash(k) & 0xF000_0000_0000_0000 },
	// Keys differ in hash only at bit 63, the last bit of the last (4-bit) level.
	"bit63": func(k string) uint64 { return fnvHash(k) & (1 << 63) },
}

func fnvHash(k string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k))
	return h.Sum64()
}

// toMap returns the entries of m as a plain map.
func toMap(m pmap) map[string][]Meta {
	out := map[string][]Meta{}
	m.all(func(k string, v []Meta) bool {
		out[k] = v
		return true
	})
	return out
}

// sameEntries reports whether m holds exactly the entries of model (metas compared by Ref),
// checking both get and iteration.
func sameEntries(model map[string][]Meta, m pmap) bool {
	if m.size != len(model) {
		return false
	}
	sameRefs := func(a, b []Meta) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].Ref != b[i].Ref {
				return false
			}
		}
		return true
	}
	for k, want := range model {
		if got, ok := m.get(k); !ok || !sameRefs(got, want) {
			return false
		}
	}
	n := 0
	ok := m.all(func(k string, v []Meta) bool {
		n++
		want, ok := model[k]
		return ok && sameRefs(v, want)
	})
	return ok && n == len(model)
}

// TestPmapModel applies random sets and deletes, in batches, to the trie and to a plain map, and
// checks after each batch that they agree, that the trie is well formed, and that every earlier
// version is unchanged.
func TestPmapModel(t *testing.T) {
	t.Parallel()
	for name, h := range testHashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, 2))
			type version struct {
				m     pmap
				model map[string][]Meta
			}
			var versions []version
			m := pmap{hash: h}
			model := map[string][]Meta{}
			for step := range 400 {
				b := newBuilder(m)
				for range 1 + r.IntN(20) {
					key := fmt.Sprintf("k%d", r.IntN(300))
					if r.IntN(3) == 0 {
						b.delete(key)
						delete(model, key)
						continue
					}
					v := []Meta{{Ref: fmt.Sprintf("r%d", step)}}
					b.set(key, v)
					model[key] = v
				}
				m = b.finish()
				if err := m.check(); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if m.size != len(model) {
					t.Fatalf("step %d: size %d, want %d", step, m.size, len(model))
				}
				if !sameEntries(model, m) {
					t.Fatalf("step %d: (-want +got)\n%s", step, cmp.Diff(model, toMap(m)))
				}
				if _, ok := m.get("absent"); ok {
					t.Fatalf("step %d: get(absent) found", step)
				}
				versions = append(versions, version{m, maps.Clone(model)})
			}
			for i, v := range versions {
				if !sameEntries(v.model, v.m) {
					t.Fatalf("version %d changed: (-want +got)\n%s", i, cmp.Diff(v.model, toMap(v.m)))
				}
			}
		})
	}
}

// TestPmapDeleteAll fills a trie and empties it again, one persistent update at a time.
func TestPmapDeleteAll(t *testing.T) {
	t.Parallel()
	for name, h := range testHashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := pmap{hash: h}
			const n = 200
			for i := range n {
				b := newBuilder(m)
				b.set(fmt.Sprint(i), nil)
				m = b.finish()
			}
			full := m
			for i := range n {
				b := newBuilder(m)
				b.delete(fmt.Sprint(i))
				b.delete("never there")
				m = b.finish()
				if err := m.check(); err != nil {
					t.Fatalf("after deleting %d: %v", i, err)
				}
				if m.size != n-1-i {
					t.Fatalf("after deleting %d: size %d, want %d", i, m.size, n-1-i)
				}
			}
			if m.root != nil {
				t.Errorf("empty map has a root")
			}
			if full.size != n || len(toMap(full)) != n {
				t.Errorf("full map changed: size %d, %d entries", full.size, len(toMap(full)))
			}
		})
	}
}

// TestPmapCollisionWrap puts a key whose hash differs from a collision node's under the same
// slot, which wraps the collision node in a new level.
func TestPmapCollisionWrap(t *testing.T) {
	t.Parallel()
	h := func(k string) uint64 {
		switch k {
		case "a", "b":
			return 0b00001_00001
		case "c":
			return 0b00010_00001 // same first fragment, different second
		default:
			return 0b00001_00001 | 1<<63 // same as a and b up to the last level
		}
	}
	m := pmap{hash: h}
	for _, k := range []string{"a", "b", "c", "d"} {
		b := newBuilder(m)
		b.set(k, []Meta{{Ref: k}})
		m = b.finish()
		if err := m.check(); err != nil {
			t.Fatalf("after set(%q): %v", k, err)
		}
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if got, ok := m.get(k); !ok || got[0].Ref != k {
			t.Errorf("get(%q) = %v, %v", k, got, ok)
		}
	}
	for _, k := range []string{"b", "d", "a", "c"} {
		b := newBuilder(m)
		b.delete(k)
		m = b.finish()
		if err := m.check(); err != nil {
			t.Fatalf("after delete(%q): %v", k, err)
		}
		if _, ok := m.get(k); ok {
			t.Fatalf("get(%q) after delete found it", k)
		}
	}
	if m.size != 0 || m.root != nil {
		t.Errorf("size %d, root %v after deleting everything", m.size, m.root)
	}
}

// TestBuilderFinishFreezes checks that a builder used after finish does not change the map it
// returned.
func TestBuilderFinishFreezes(t *testing.T) {
	t.Parallel()
	b := newBuilder(pmap{})
	for i := range 100 {
		b.set(fmt.Sprint(i), nil)
	}
	first := b.finish()
	before := toMap(first)
	for i := range 100 {
		b.set(fmt.Sprint(i+100), nil)
		b.delete(fmt.Sprint(i))
	}
	if diff := cmp.Diff(before, toMap(first)); diff != "" {
		t.Errorf("finished map changed: (-want +got)\n%s", diff)
	}
}
