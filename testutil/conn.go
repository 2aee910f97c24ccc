package testutil

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// Conn is one client connection of a [Server], for tests that push frames or cut connections
// by hand. Its methods are safe for concurrent use.
type Conn struct {
	srv    *Server
	id     int
	nc     net.Conn        // the hijacked connection, set at registration
	ws     *websocket.Conn // set once the upgrade is done
	vsn    transport.Version
	header http.Header
	query  url.Values

	out      chan outFrame
	done     chan struct{} // closed when the connection is over
	stopOnce sync.Once

	mu       sync.Mutex
	channels map[string]*channel // topic → the current join

	counted bool // a user of the tenant (limits.go); guarded by srv.mu
}

type outFrame struct {
	binary bool
	data   []byte
	close  *websocket.CloseError // a close frame, after which the connection ends
}

func newConn(s *Server, vsn transport.Version, r *http.Request) *Conn {
	return &Conn{
		srv:      s,
		vsn:      vsn,
		header:   r.Header.Clone(),
		query:    r.URL.Query(),
		out:      make(chan outFrame, 4096),
		done:     make(chan struct{}),
		channels: make(map[string]*channel),
	}
}

func sortConns(cs []*Conn) { sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id }) }

// ID returns the connection's number: 1 for the server's first.
func (c *Conn) ID() int { return c.id }

// Version returns the serializer version the client asked for.
func (c *Conn) Version() transport.Version { return c.vsn }

// Header returns the headers of the client's upgrade request.
func (c *Conn) Header() http.Header { return c.header.Clone() }

// Query returns the query parameters of the client's upgrade request (apikey, vsn, …).
func (c *Conn) Query() url.Values {
	q := make(url.Values, len(c.query))
	for k, v := range c.query {
		q[k] = append([]string(nil), v...)
	}
	return q
}

// Topics returns the topics this connection has joined, sorted.
func (c *Conn) Topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.channels))
	for t := range c.channels {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// JoinRef returns the join_ref of the current join of topic on this connection, or "".
func (c *Conn) JoinRef(topic string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.channels[fullTopic(topic)]; ch != nil {
		return ch.joinRef
	}
	return ""
}

// Push encodes m for this connection's protocol version, as the server would, and sends it.
func (c *Conn) Push(m transport.Message) error {
	data, binary, err := transport.Encode(nil, c.vsn, transport.ServerSide, &m)
	if err != nil {
		return err
	}
	c.PushRaw(binary, data)
	return nil
}

// PushRaw sends a frame exactly as given, text or binary.
func (c *Conn) PushRaw(binary bool, data []byte) {
	select {
	case c.out <- outFrame{binary: binary, data: data}:
	case <-c.done:
	}
}

// CloseWith sends a close frame with code and reason, then ends the connection.
func (c *Conn) CloseWith(code int, reason string) {
	select {
	case c.out <- outFrame{close: &websocket.CloseError{Code: code, Text: reason}}:
	case <-c.done:
	}
}

// Drop cuts the connection without a close frame.
func (c *Conn) Drop() { c.drop() }

func (c *Conn) drop() {
	c.stopOnce.Do(func() { close(c.done) })
	c.nc.Close()
}

// Done is closed when the connection is over.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) writeLoop() {
	for {
		select {
		case f := <-c.out:
			if f.close != nil {
				msg := websocket.FormatCloseMessage(f.close.Code, f.close.Text)
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				c.drop()
				return
			}
			mt := websocket.TextMessage
			if f.binary {
				mt = websocket.BinaryMessage
			}
			if err := c.ws.WriteMessage(mt, f.data); err != nil {
				c.drop()
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *Conn) readLoop() {
	defer c.cleanup()
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m transport.Message
		if err := transport.Decode(c.vsn, transport.ServerSide, mt == websocket.BinaryMessage, data, &m); err != nil {
			// Like the real server: logged and dropped, the socket stays open.
			c.srv.opts.logger.Warn("testutil: malformed frame dropped", "conn", c.id, "error", err.Error())
			continue
		}
		c.srv.record(Frame{Message: m, Conn: c.id, Data: data})
		c.handle(&m)
	}
}

// cleanup ends every channel of the connection and forgets it.
func (c *Conn) cleanup() {
	c.drop()
	c.mu.Lock()
	chans := make([]*channel, 0, len(c.channels))
	for _, ch := range c.channels {
		chans = append(chans, ch)
	}
	c.channels = map[string]*channel{}
	c.mu.Unlock()
	for _, ch := range chans {
		c.srv.unsubscribe(ch)
	}
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.uncountUserLocked(c)
	c.srv.mu.Unlock()
}

// send encodes and queues a server message; encoding errors are logged (a test bug).
func (c *Conn) send(m transport.Message) {
	if err := c.Push(m); err != nil {
		c.srv.opts.logger.Error("testutil: cannot encode", "error", err.Error(), "message", m.String())
	}
}

// reply answers a push: [J, R, T, "phx_reply", {"response": response, "status": status}].
func (c *Conn) reply(joinRef, ref, topic, status string, response []byte) {
	c.send(transport.Message{JoinRef: joinRef, Ref: ref, Topic: topic, Event: transport.EventReply, Status: status, Data: response})
}

func (c *Conn) replyReason(joinRef, ref, topic, reason string) {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	c.reply(joinRef, ref, topic, "error", b)
}

func (c *Conn) channel(topic string) *channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channels[topic]
}

func (c *Conn) handle(m *transport.Message) {
	if m.Topic == transport.TopicPhoenix {
		if m.Event == transport.EventHeartbeat {
			c.srv.mu.Lock()
			off := c.srv.hbOff
			c.srv.mu.Unlock()
			if !off {
				c.reply("", m.Ref, m.Topic, "ok", []byte("{}"))
			}
		}
		return
	}
	switch m.Event {
	case transport.EventJoin:
		c.join(m)
		return
	case transport.EventLeave:
		c.leave(m)
		return
	}
	ch := c.channel(m.Topic)
	if ch == nil {
		c.replyReason("", m.Ref, m.Topic, "unmatched topic")
		return
	}
	switch m.Event {
	case transport.EventBroadcast:
		c.srv.handleBroadcast(ch, m) // relay, unless a private write is denied (auth.go), and persist (persist.go)
	case transport.EventPresence:
		c.srv.presenceEvent(ch, m)
	case transport.EventAccessToken:
		c.srv.accessToken(ch, m) // never answered (auth.go)
	}
	// Any other event is ignored without a reply, as the real server does (docs/protocol.md §9.6).
}

func (c *Conn) join(m *transport.Message) {
	if !strings.HasPrefix(m.Topic, "realtime:") {
		c.replyReason("", m.Ref, m.Topic, "unmatched topic")
		return
	}
	// A duplicate join first shuts the old channel, with phx_close and the old join_ref, and
	// then is processed like any join, whatever its outcome.
	c.mu.Lock()
	old := c.channels[m.Topic]
	delete(c.channels, m.Topic)
	c.mu.Unlock()
	if old != nil {
		c.srv.unsubscribe(old)
		c.send(transport.Message{JoinRef: old.joinRef, Ref: old.joinRef, Topic: old.topic, Event: transport.EventClose, Payload: []byte("{}")})
	}
	c.srv.mu.Lock()
	delay := c.srv.joinDelay
	c.srv.mu.Unlock()
	// The real server answers a join from the socket process, so nothing else on this socket
	// is answered meanwhile; sleeping in the reader is faithful.
	if !c.sleep(delay) {
		return
	}
	cfg := parseJoin(m.Payload)
	// The topic name, the faults of FailJoins, the tenant limits (limits.go), the token, the
	// private read policy and replay are checked in the server's order (auth.go).
	if reason := c.srv.admitLimits(c, m.Topic); reason != "" {
		c.refuseJoin(m, reason)
		return
	}
	grant, reason := c.srv.admitJoin(c, m, &cfg)
	if reason != "" {
		c.refuseJoin(m, reason)
		return
	}
	ch := &channel{conn: c, topic: m.Topic, joinRef: m.JoinRef, cfg: cfg, token: grant.token}
	// With postgres_changes_options.wait, the reply waits until the subscription is live
	// (pgwait.go).
	if reason, ok := c.srv.awaitPostgres(ch); !ok {
		return
	} else if reason != "" {
		c.refuseJoin(m, reason)
		return
	}
	c.mu.Lock()
	c.channels[m.Topic] = ch
	c.mu.Unlock()
	c.srv.countUser(c)
	c.srv.subscribe(ch)
	resp, _ := json.Marshal(map[string]any{"postgres_changes": c.srv.postgresReply(ch)})
	c.reply(m.JoinRef, m.Ref, m.Topic, "ok", resp)
	// What the channel pushes because of the join comes after the reply (docs/protocol.md §4.3).
	c.srv.afterJoinAuth(ch, grant)
	c.srv.afterJoinPresence(ch)
	c.srv.afterJoinPostgres(ch)
}

// sleep waits d (a fault's delay) and reports false if the connection ended meanwhile.
func (c *Conn) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

func (c *Conn) leave(m *transport.Message) {
	c.srv.mu.Lock()
	delay := c.srv.leaveDelay
	c.srv.mu.Unlock()
	if !c.sleep(delay) {
		return
	}
	c.mu.Lock()
	ch := c.channels[m.Topic]
	if ch != nil {
		delete(c.channels, m.Topic)
	}
	c.mu.Unlock()
	c.reply(m.JoinRef, m.Ref, m.Topic, "ok", []byte("{}"))
	if ch != nil {
		c.srv.unsubscribe(ch)
		c.send(transport.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.topic, Event: transport.EventClose, Payload: []byte("{}")})
	}
}

// removeChannel ends ch on the server if it is still the current join of its topic: it is
// forgotten and unsubscribed (so its presence leaves). It reports whether ch was current.
func (c *Conn) removeChannel(ch *channel) bool {
	c.mu.Lock()
	if c.channels[ch.topic] != ch {
		c.mu.Unlock()
		return false
	}
	delete(c.channels, ch.topic)
	c.mu.Unlock()
	c.srv.unsubscribe(ch)
	return true
}

// shutChannel closes ch from the server side, like the real server's shutdown_response
// (docs/protocol.md §8.4): [J,null,T,"system",{…,"extension":"system","message":message,
// "status":"error"}], then the channel ends and [J,J,T,"phx_close",{}] follows. The socket
// stays open. It does nothing if ch has already ended, and reports whether it shut ch.
func (c *Conn) shutChannel(ch *channel, message string) bool {
	c.mu.Lock()
	current := c.channels[ch.topic] == ch
	c.mu.Unlock()
	if !current {
		return false
	}
	c.pushSystem(ch, "system", "error", message)
	if c.removeChannel(ch) {
		c.send(transport.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.topic, Event: transport.EventClose, Payload: []byte("{}")})
		return true
	}
	return false
}

// pushSystem sends a system message of ch (docs/protocol.md §4.6):
// [J,null,T,"system",{"channel":<subtopic>,"extension":…,"message":…,"status":…}].
func (c *Conn) pushSystem(ch *channel, extension, status, message string) {
	p := []byte(`{"channel":`)
	p = transport.AppendQuote(p, strings.TrimPrefix(ch.topic, "realtime:"))
	p = append(p, `,"extension":`...)
	p = transport.AppendQuote(p, extension)
	p = append(p, `,"message":`...)
	p = transport.AppendQuote(p, message)
	p = append(p, `,"status":`...)
	p = transport.AppendQuote(p, status)
	p = append(p, '}')
	c.send(transport.Message{JoinRef: ch.joinRef, Topic: ch.topic, Event: transport.EventSystem, Payload: p})
}
