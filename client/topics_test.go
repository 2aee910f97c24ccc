package client

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The table agrees with a map through random puts, replacements and removals, in tables of
// every size from empty to a few thousand channels.
func TestTopicTableAgreesWithAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tab topicTable
	want := map[string]*Channel{}
	check := func(step int) {
		t.Helper()
		if tab.len() != len(want) {
			t.Fatalf("step %d: len %d; want %d", step, tab.len(), len(want))
		}
		n := 0
		for ch := range tab.all() {
			if want[ch.topic] != ch {
				t.Fatalf("step %d: all yields %s, which is not held", step, ch.topic)
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("step %d: all yields %d channels; want %d", step, n, len(want))
		}
	}
	for step := range 20000 {
		topic := "realtime:room-" + strconv.Itoa(rng.IntN(3000))
		switch op := rng.IntN(10); {
		case op < 5:
			ch := &Channel{topic: topic}
			tab.put(ch)
			want[topic] = ch
		case op < 8:
			ch := want[topic]
			if ch == nil {
				ch = &Channel{topic: topic}
			}
			if got, held := tab.remove(ch), want[topic] == ch; got != held {
				t.Fatalf("step %d: remove(%s) = %v; want %v", step, topic, got, held)
			}
			delete(want, topic)
		default:
			// Removing another channel of a held topic leaves the held one.
			if ch := want[topic]; ch != nil && tab.remove(&Channel{topic: topic}) {
				t.Fatalf("step %d: removed %s through another channel of its topic", step, topic)
			}
		}
		if got := tab.get(topic); got != want[topic] {
			t.Fatalf("step %d: get(%s) = %p; want %p", step, topic, got, want[topic])
		}
		if got := tab.getBytes([]byte(topic)); got != want[topic] {
			t.Fatalf("step %d: getBytes(%s) = %p; want %p", step, topic, got, want[topic])
		}
		if step%1000 == 0 {
			check(step)
			for topic, ch := range want {
				if tab.get(topic) != ch {
					t.Fatalf("step %d: %s unreachable", step, topic)
				}
			}
		}
	}
	check(-1)
}

func TestTopicTableEmpty(t *testing.T) {
	var tab topicTable
	if tab.get("realtime:a") != nil || tab.getBytes([]byte("realtime:a")) != nil || tab.remove(&Channel{topic: "realtime:a"}) {
		t.Error("an empty table holds something")
	}
	for range tab.all() {
		t.Error("an empty table yields something")
	}
}

// A lookup by bytes allocates nothing.
func TestTopicTableGetBytesAllocatesNothing(t *testing.T) {
	var tab topicTable
	for i := range 100 {
		tab.put(&Channel{topic: "realtime:room-" + strconv.Itoa(i)})
	}
	key := []byte("realtime:room-42")
	if n := testing.AllocsPerRun(100, func() { _ = tab.getBytes(key) }); n != 0 {
		t.Errorf("getBytes allocates %v times", n)
	}
}
