package transport

import "testing"

// A queue that a burst grew lets go of its array once the writer has taken every frame, so
// that a burst of joins does not pin its memory for the life of the socket.
func TestDrainedQueueReleasesItsArray(t *testing.T) {
	c, err := New(Config{URL: "ws://127.0.0.1:1/socket", SendBuffer: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 1000 {
		if err := c.Post(0, &Message{Topic: "realtime:room", Event: "phx_join", Ref: "1", JoinRef: "1", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(i, err)
		}
	}
	n := 0
	for {
		if _, _, ok := c.pop(); !ok {
			break
		}
		n++
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != 1000 || c.queue != nil {
		t.Errorf("took %d frames (want 1000); drained queue nil: %v", n, c.queue == nil)
	}
}

// Posting a frame allocates the frame once (and the queue's array, which a drained queue
// lets go): its encoding does not grow it step by step.
func TestPostEncodesIntoOneAllocation(t *testing.T) {
	c, err := New(Config{URL: "ws://127.0.0.1:1/socket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	join := &Message{JoinRef: "12", Ref: "12", Topic: "realtime:room-12", Event: EventJoin,
		Payload: []byte(`{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false},"access_token":"key"}`)}
	push := &Message{JoinRef: "12", Ref: "13", Topic: "realtime:room-12", Event: EventBroadcast, UserEvent: "msg",
		Data: []byte(`{"text":"hello there, this is a chat message of a typical size","user":"u-1"}`), Meta: []byte(`{"id":"x"}`)}
	for _, m := range []*Message{join, push} {
		if n := testing.AllocsPerRun(100, func() {
			if err := c.Post(0, m); err != nil {
				t.Fatal(err)
			}
			c.pop()
		}); n > 2 {
			t.Errorf("%s: %v allocations per posted frame; want at most 2", m.Event, n)
		}
	}
}
