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
		if _, ok := c.pop(); !ok {
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
