package client

import (
	"errors"
	"sort"
	"sync/atomic"
	"time"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/transport"
)

// router is the state the router goroutine owns: the channels that take traffic, the socket's
// epoch, the connection-state subscribers. Only the router goroutine touches it, except the
// atomics.
type router struct {
	c          *Client
	dec        transport.Decoder
	msg        transport.Message // the message being routed (reused)
	pgParser   pgchanges.Parser
	channels   map[string]*chanState // channels subscribed at least once and not ended, by topic
	stateFeeds []*stream.Feed[StateChange]
	open       bool
	epoch      uint64
	stopped    bool

	// penalty is a floor for rejoin delays after the server signalled a rate limit (the
	// reconnect delay gets the same through transport.Conn.HoldOff).
	penalty time.Duration
	// lastConnErr is the last connection error, for Subscribe's error when ctx ends first.
	lastConnErr atomic.Pointer[error]
}

func (r *router) init(c *Client) {
	r.c = c
	r.dec = transport.Decoder{Version: c.cfg.version, Side: transport.ClientSide}
	r.channels = make(map[string]*chanState)
}

// handleState reacts to a change of the socket's state.
func (r *router) handleState(sc transport.StateChange) {
	err := connStateError(sc.Err)
	if err != nil {
		r.lastConnErr.Store(&err)
	}
	change := StateChange{Old: sc.Old, New: sc.New, Err: err}
	r.stateFeeds = deliver(r.stateFeeds, change, 0)

	wasOpen := r.open
	r.open = sc.New == transport.StateOpen
	switch {
	case r.open:
		r.epoch = sc.Epoch
		r.penalty = 0
		for _, s := range r.sortedChannels() {
			s.socketOpened()
		}
	case wasOpen:
		cause := err
		switch {
		case r.c.isClosed():
			cause = closedError()
		case cause == nil:
			cause = newError(CodeDisconnected, nil, "socket closed")
		}
		// Refs do not survive a reconnect: every push sent on that socket fails now (with
		// ErrClosed when the user is closing the client).
		if r.c.isClosed() {
			r.c.acks.SettleTag(r.epoch, cause)
		} else {
			r.c.acks.SettleTag(r.epoch, newError(CodeDisconnected, cause, "socket dropped before the reply: "+messageOf(cause)))
		}
		for _, s := range r.sortedChannels() {
			s.socketLost(cause)
		}
	}
}

// connStateError turns a transport cause into an *Error.
func connStateError(err error) error {
	if err == nil {
		return nil
	}
	var ue *transport.UpgradeError
	switch {
	case errors.As(err, &ue):
		return connectError(err)
	case errors.Is(err, transport.ErrHeartbeatTimeout):
		return newError(CodeTimeout, err, "heartbeat timeout")
	}
	var ce *transport.CloseError
	if errors.As(err, &ce) {
		return newError(CodeDisconnected, err, err.Error(), "close_code", ce.Code)
	}
	return newError(CodeDisconnected, err, err.Error())
}

// deliver sends v to every feed and returns the feeds still accepting, in order.
func deliver[T any](feeds []*stream.Feed[T], v T, size int) []*stream.Feed[T] {
	kept := feeds[:0]
	for _, f := range feeds {
		if f.Send(v, size) {
			kept = append(kept, f)
		}
	}
	clear(feeds[len(kept):])
	return kept
}

// sortedChannels returns the channels that take traffic in topic order, so that rejoins go
// out in a stable order.
func (r *router) sortedChannels() []*chanState {
	out := make([]*chanState, 0, len(r.channels))
	for _, s := range r.channels {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].topic() < out[j].topic() })
	return out
}

// forget removes a channel that is over for good from the routing table and from the client.
func (r *router) forget(s *chanState) {
	if r.channels[s.topic()] == s {
		delete(r.channels, s.topic())
	}
	r.c.unregister(s.ch)
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// joinError is the *Error of a refused join, classified by the server's reason.
func joinError(topic, reason string) error {
	code := classifyReason(reason)
	if code == CodeServerError {
		code = CodeJoinRejected
	}
	if reason == "" {
		reason = "join refused"
	}
	return newError(code, nil, reason, "topic", topic)
}

// penalize stretches the reconnect delay after a rate-limit reason, so that clients closed
// together do not come back in a tight loop.
func (r *router) penalize(reason string) {
	if classifyReason(reason) == CodeRateLimited {
		r.penalty = transport.Jitter(30*time.Second, 0.3)
		r.c.conn.HoldOff(r.penalty)
	}
}

// sendLeave sends phx_leave for the join joinRef and returns the leave's ref.
func (r *router) sendLeave(s *chanState, joinRef string) string {
	ref := r.c.conn.MakeRef()
	m := transport.Message{JoinRef: joinRef, Ref: ref, Topic: s.topic(), Event: transport.EventLeave, Payload: []byte("{}")}
	_ = r.c.conn.Post(r.epoch, &m)
	return ref
}

// shutdown ends everything on Close.
func (r *router) shutdown() {
	r.stopped = true
	cause := closedError()
	for _, ch := range r.c.Channels() {
		ch.s.toEnded(cause)
	}
	for _, s := range r.sortedChannels() {
		s.toEnded(cause)
	}
	for _, f := range r.stateFeeds {
		f.Close(cause)
	}
	r.stateFeeds = nil
	r.c.acks.SettleAll(cause)
}

// handleFrame decodes a frame from the server and routes it; a malformed one is logged and
// dropped (the connection lives on).
func (r *router) handleFrame(binary bool, frame []byte) {
	if err := r.dec.Decode(binary, frame, &r.msg); err != nil {
		r.c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(frame), "binary", binary)
		return
	}
	r.handleMessage(&r.msg)
}

// handleMessage routes one message from the server.
func (r *router) handleMessage(m *transport.Message) {
	s := r.channels[m.Topic]
	// Drop what belongs to an earlier join of the channel: after a rejoin, the server may still
	// send pushes, replies and closes of the join it replaced.
	if s != nil && m.JoinRef != "" && m.JoinRef != s.joinRef {
		r.c.log.Debug("realtime: dropped a message of an earlier join", "topic", m.Topic, "event", m.Event)
		return
	}
	if m.Event == transport.EventReply {
		switch {
		case s != nil && s.joinRef != "" && m.Ref == s.joinRef && s.state() == ChannelJoining:
			s.joinReplied(m)
		case s != nil && s.leaveRef != "" && m.Ref == s.leaveRef:
			s.toClosed()
		default:
			reply := Reply{Status: m.Status, Response: m.Data}
			r.c.acks.Settle(m.Ref, reply, replyError(m.Topic, reply))
		}
		return
	}
	if s == nil {
		r.c.log.Debug("realtime: message for a topic with no channel", "topic", m.Topic, "event", m.Event)
		return
	}
	switch m.Event {
	case transport.EventBroadcast:
		s.bcast.route(m)
	case transport.EventSystem:
		s.routeSystem(m)
	case transport.EventPresState:
		s.pres.routeState(m)
	case transport.EventPresDiff:
		s.pres.routeDiff(m)
	case transport.EventPostgres:
		s.pg.route(m)
	case transport.EventClose:
		if s.joinRef != "" && m.Ref == s.joinRef {
			s.closedByServer()
		}
	case transport.EventError:
		if s.joinRef != "" && m.Ref == s.joinRef {
			s.toErrored(newError(CodeServerError, nil, "channel crashed on the server (phx_error)", "topic", s.topic()), rejoinLater)
		}
	default:
		r.c.log.Debug("realtime: unhandled event", "topic", m.Topic, "event", m.Event)
	}
}
