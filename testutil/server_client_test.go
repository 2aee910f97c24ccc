package testutil_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// testKey is the apikey the test clients send.
const testKey = "test-api-key"

// waitTimeout bounds each wait for a frame. Inside a testing/synctest bubble it passes on the
// fake clock, so a missing frame fails at once.
const waitTimeout = 10 * time.Second

// wsClient is a raw WebSocket client of the fake server: it sends frames as given and records
// every frame it receives, as text.
type wsClient struct {
	t  testing.TB
	ws *websocket.Conn

	mu     sync.Mutex
	frames []string
	read   int           // frames before this index were taken
	notify chan struct{} // closed and replaced when a frame arrives
	done   chan struct{} // closed when the reader stops
}

// dial connects a client to srv with the given protocol version; it is closed at cleanup.
func dial(t testing.TB, srv *testutil.Server, v transport.Version) *wsClient {
	t.Helper()
	ep, err := transport.Endpoint(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := srv.Dialer().Dial(transport.SocketURL(ep, testKey, nil, v), nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c := &wsClient{t: t, ws: ws, notify: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.frames = append(c.frames, string(data))
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
	}
}

// close closes the connection without a close frame, like a network failure, and waits for the
// reader to stop.
func (c *wsClient) close() {
	c.ws.Close()
	<-c.done
}

// send writes a text frame.
func (c *wsClient) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("send %s: %v", frame, err)
	}
}

// next returns the next frame not taken yet, waiting for it.
func (c *wsClient) next() string {
	c.t.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		if c.read < len(c.frames) {
			f := c.frames[c.read]
			c.read++
			c.mu.Unlock()
			return f
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
			c.mu.Lock()
			more := c.read < len(c.frames)
			c.mu.Unlock()
			if !more {
				c.t.Fatalf("connection closed while waiting for a frame")
			}
		case <-timeout.C:
			c.t.Fatalf("no frame within %v", waitTimeout)
		}
	}
}

// rest waits until the bubble is idle and returns every frame not taken yet, taking them. It
// must run inside a testing/synctest bubble.
func (c *wsClient) rest() []string {
	synctest.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string{}, c.frames[c.read:]...)
	c.read = len(c.frames)
	return out
}

// none fails unless nothing arrived that was not taken, once the bubble is idle.
func (c *wsClient) none() {
	c.t.Helper()
	if got := c.rest(); len(got) > 0 {
		c.t.Errorf("unexpected frames:\n%s", strings.Join(got, "\n"))
	}
}

// join joins topic (without "realtime:") with join_ref and ref joinRef and the given config
// object, and returns the join reply. Frames that arrive before the reply stay unread.
func (c *wsClient) join(topic, joinRef, config string) string {
	c.t.Helper()
	c.send(fmt.Sprintf(`[%q,%q,"realtime:%s","phx_join",{"config":%s}]`, joinRef, joinRef, topic, config))
	return c.reply(topic, joinRef)
}

// reply returns the phx_reply of topic with the given ref, waiting for it, and leaves the
// frames before it unread.
func (c *wsClient) reply(topic, ref string) string {
	c.t.Helper()
	prefix := fmt.Sprintf(`[%q,%q,"realtime:%s","phx_reply",`, ref, ref, topic)
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		for i := c.read; i < len(c.frames); i++ {
			if f := c.frames[i]; strings.HasPrefix(f, prefix) {
				c.frames = append(c.frames[:i:i], c.frames[i+1:]...)
				c.mu.Unlock()
				return f
			}
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
			c.t.Fatalf("connection closed while waiting for the reply %s", prefix)
		case <-timeout.C:
			c.t.Fatalf("no reply %s within %v", prefix, waitTimeout)
		}
	}
}

// push sends [joinRef, ref, "realtime:"+topic, event, payload].
func (c *wsClient) push(joinRef, ref, topic, event, payload string) {
	c.t.Helper()
	c.send(fmt.Sprintf(`[%q,%q,"realtime:%s",%q,%s]`, joinRef, ref, topic, event, payload))
}

// frame is a decoded V2 text frame.
type frame struct {
	JoinRef, Ref *string
	Topic        string
	Event        string
	Payload      json.RawMessage
}

// decode decodes a V2 text frame.
func decode(t testing.TB, s string) frame {
	t.Helper()
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(s), &parts); err != nil || len(parts) != 5 {
		t.Fatalf("not a V2 frame: %s", s)
	}
	var f frame
	for i, dst := range []any{&f.JoinRef, &f.Ref, &f.Topic, &f.Event} {
		if err := json.Unmarshal(parts[i], dst); err != nil {
			t.Fatalf("frame %s: element %d: %v", s, i, err)
		}
	}
	f.Payload = parts[4]
	return f
}

// presenceConfig is a join config with the given presence key and enabled flag.
func presenceConfig(key string, enabled bool) string {
	return fmt.Sprintf(`{"broadcast":{"ack":false,"self":false},"presence":{"key":%q,"enabled":%t},"postgres_changes":[],"private":false}`, key, enabled)
}

// okReply is the reply frame of a successful push with no postgres_changes.
func okReply(joinRef, ref, topic string) string {
	return fmt.Sprintf(`[%q,%q,"realtime:%s","phx_reply",{"response":{},"status":"ok"}]`, joinRef, ref, topic)
}

// joinReply is the reply frame of a successful join without bindings.
func joinReply(joinRef, topic string) string {
	return fmt.Sprintf(`[%q,%q,"realtime:%s","phx_reply",{"response":{"postgres_changes":[]},"status":"ok"}]`, joinRef, joinRef, topic)
}
