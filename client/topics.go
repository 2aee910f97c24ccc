package client

import (
	"hash/maphash"
	"iter"
)

// topicTable holds channels by topic, for the client's registry and the router's routing: an
// open-addressing hash table (linear probing) of pointers, whose keys are the channels' own
// topic strings. A slot takes 8 bytes where a map's takes 24 (the key's string header and the
// pointer): with thousands of channels, about 16 bytes a channel against 50. Its zero value
// is an empty table. It is not safe for concurrent use; each owner guards its own.
type topicTable struct {
	seed  maphash.Seed
	slots []*Channel // nil or a power of two long
	n     int
}

// minTopicSlots is the size of a table's first array.
const minTopicSlots = 8

// len returns the number of channels held.
func (t *topicTable) len() int { return t.n }

// get returns the channel of topic, or nil.
func (t *topicTable) get(topic string) *Channel {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := int(maphash.String(t.seed, topic)) & mask; ; i = (i + 1) & mask {
		ch := t.slots[i]
		if ch == nil || ch.topic == topic {
			return ch
		}
	}
}

// getBytes is get for a topic in bytes (a frame's), without converting it.
func (t *topicTable) getBytes(topic []byte) *Channel {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := int(maphash.Bytes(t.seed, topic)) & mask; ; i = (i + 1) & mask {
		ch := t.slots[i]
		if ch == nil || ch.topic == string(topic) {
			return ch
		}
	}
}

// put adds ch, in place of the channel of the same topic if there is one.
func (t *topicTable) put(ch *Channel) {
	if (t.n+1)*4 > len(t.slots)*3 { // at most three quarters full
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(ch.topic); ; i = (i + 1) & mask {
		switch x := t.slots[i]; {
		case x == nil:
			t.slots[i] = ch
			t.n++
			return
		case x.topic == ch.topic:
			t.slots[i] = ch
			return
		}
	}
}

// remove removes ch if the table holds it (that channel, not another of its topic), and
// reports whether it did.
func (t *topicTable) remove(ch *Channel) bool {
	if t.n == 0 {
		return false
	}
	mask := len(t.slots) - 1
	i := t.home(ch.topic)
	for ; t.slots[i] != ch; i = (i + 1) & mask {
		if t.slots[i] == nil {
			return false
		}
	}
	// Move back the entries of the run after i that may take the hole, so that every entry
	// stays reachable from its home slot without tombstones.
	for j := i; ; {
		j = (j + 1) & mask
		x := t.slots[j]
		if x == nil {
			break
		}
		// x may move to i unless its home lies cyclically in (i, j].
		if h := t.home(x.topic); (j-h)&mask >= (j-i)&mask {
			t.slots[i] = x
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	return true
}

// all yields every channel held, in no particular order. The table must not change meanwhile.
func (t *topicTable) all() iter.Seq[*Channel] {
	return func(yield func(*Channel) bool) {
		for _, ch := range t.slots {
			if ch != nil && !yield(ch) {
				return
			}
		}
	}
}

func (t *topicTable) home(topic string) int {
	return int(maphash.String(t.seed, topic)) & (len(t.slots) - 1)
}

func (t *topicTable) grow() {
	old := t.slots
	if t.slots == nil {
		t.seed = maphash.MakeSeed()
	}
	t.slots = make([]*Channel, max(minTopicSlots, 2*len(old)))
	t.n = 0
	for _, ch := range old {
		if ch != nil {
			t.put(ch)
		}
	}
}
