package client

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
	channels   topicTable // channels subscribed at least once and not ended, by topic
	stateFeeds []*stream.Feed[StateChange]
	wide       []*wideFeed // the client-wide ordered subscriptions (events.go)
	stopped    bool

	// presenceJobHook, if set (by tests), runs on a presence job's goroutine before it
	// computes.
	presenceJobHook func()

	// The copies of broadcasts that subscriptions queue, one per broadcast for all of them.
	bcastLog stream.Log[Broadcast]
	// The broadcasts routed but not yet delivered (broadcast.go); they are delivered before
	// the router handles anything else.
	stage bcastStage

	// The join pacing: a token bucket, and the joins waiting for it in order.
	bucket    float64
	bucketAt  time.Time
	joinQueue []*chanState
	paceTimer *time.Timer
	// The joins in flight that wait the push timeout, in the order sent, and the timer for the
	// first of them (lifecycle.go).
	joinWatch      []joinDeadline
	joinWatchTimer *time.Timer
	// Hold-offs after the server's tenant-wide limits: no join before joinHoldUntil; no new
	// socket (nor a join on a socket the server does not count yet) before usersHoldUntil.
	joinHoldUntil  time.Time
	usersHoldUntil time.Time

	// lastConnErr is the last connection error, for Subscribe's error when ctx ends first.
	lastConnErr atomic.Pointer[error]

	heavy heavy // work under way off the router goroutine, and the topics it holds

	born time.Time // when the router was made: the origin of mono
}

// monoTime is a time on the router's monotonic clock (see router.mono): nanoseconds since the
// router was made, plus one, so that zero can mean "none". It takes a third of a time.Time's
// room in the state of every channel.
type monoTime int64

// mono returns the time now on the router's monotonic clock.
func (r *router) mono() monoTime { return monoTime(time.Since(r.born)) + 1 }

// sub returns the time from u to t.
func (t monoTime) sub(u monoTime) time.Duration { return time.Duration(t - u) }

func (r *router) init(c *Client) {
	r.c = c
	r.born = time.Now()
	r.dec = transport.Decoder{Version: c.cfg.version, Side: transport.ClientSide, Known: r.knownTopic}
}

// knownTopic returns the topic of the channel b names, for the decoder: the channel's own
// string, so that the decoder keeps no copy of it.
func (r *router) knownTopic(b []byte) (string, bool) {
	if ch := r.channels.getBytes(b); ch != nil {
		return ch.topic, true
	}
	return "", false
}

// handleState reacts to a change of the state of one socket of the pool.
func (r *router) handleState(k *socket, sc transport.StateChange) {
	err := connStateError(sc.Err)
	if err != nil {
		r.lastConnErr.Store(&err)
		var ue *transport.UpgradeError
		if errors.As(sc.Err, &ue) && ue.StatusCode == http.StatusTooManyRequests {
			// The tenant's joins per second or connected users: hold off, like a refused join.
			r.holdJoins(r.holdOff())
		}
	}
	change := StateChange{Old: sc.Old, New: sc.New, Err: err, Socket: k.id}
	r.stateFeeds = deliver(r.stateFeeds, change, 0)
	r.c.obs.emit(Observation{Kind: ObserveConnection, Socket: k.id, Old: sc.Old, New: sc.New, Err: err})
	if sc.New == transport.StateConnecting && transport.RefusedForGood(sc.Err) {
		waiting := func(s *chanState) bool { return s.sock == k || s.sock == nil }
		for _, s := range r.sortedChannels(waiting) {
			if waiting(s) {
				s.connectRefused(err)
			}
		}
	}

	wasOpen := k.open
	k.open = sc.New == transport.StateOpen
	switch {
	case k.open:
		k.epoch = sc.Epoch
		k.counted = false
		for _, s := range r.sortedChannels(onSocket(k)) {
			if s.sock == k {
				s.socketOpened()
			}
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
			r.c.acks.SettleTag(k.tag(), cause)
		} else {
			r.c.acks.SettleTag(k.tag(), newError(CodeDisconnected, cause, "socket dropped before the reply: "+messageOf(cause)))
		}
		if wait := time.Until(r.joinHoldUntil); wait > 0 && !r.c.isClosed() {
			cause = newError(CodeRateLimited, cause, fmt.Sprintf("socket closed while the client holds off joins after a tenant rate limit; joins resume in %v", wait.Round(time.Second)))
		}
		for _, s := range r.sortedChannels(onSocket(k)) {
			if s.sock == k {
				s.socketLost(cause)
			}
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
		return newError(CodeDisconnected, err, messageOf(err), "close_code", ce.Code)
	}
	return newError(CodeDisconnected, err, messageOf(err))
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

// sortedChannels returns the channels that take traffic and that keep says to (all with nil)
// in topic order, so that rejoins go out in a stable order.
func (r *router) sortedChannels(keep func(*chanState) bool) []*chanState {
	// Sorted by topics copied beside the pointers: the comparisons then touch no channel,
	// which matters with thousands of them.
	type entry struct {
		topic string
		s     *chanState
	}
	es := make([]entry, 0, r.channels.len())
	for ch := range r.channels.all() {
		if keep == nil || keep(ch.s) {
			es = append(es, entry{ch.topic, ch.s})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.topic, b.topic) })
	out := make([]*chanState, len(es))
	for i, e := range es {
		out[i] = e.s
	}
	return out
}

// onSocket keeps the channels placed on k.
func onSocket(k *socket) func(*chanState) bool {
	return func(s *chanState) bool { return s.sock == k }
}

// forget removes a channel that is over for good from the routing table and from the client.
func (r *router) forget(s *chanState) {
	r.channels.remove(s.ch)
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
	e := newError(code, nil, reason, "topic", topic)
	if code == CodeJoinRejected && passingReason(reason) {
		e.withTemporary(true)
	}
	return e
}

// sendLeave sends phx_leave for the join joinRef and returns the leave's ref.
func (r *router) sendLeave(s *chanState, joinRef string) string {
	ref := r.c.makeRef()
	m := transport.Message{JoinRef: joinRef, Ref: ref, Topic: s.topic(), Event: transport.EventLeave, Payload: []byte("{}")}
	_ = s.post(&m)
	return ref
}

// shutdown ends everything on Close.
func (r *router) shutdown() {
	r.stopped = true
	stopTimer(&r.joinWatchTimer)
	cause := closedError()
	for _, ch := range r.c.Channels() {
		ch.s.toEnded(cause)
	}
	for _, s := range r.sortedChannels(nil) {
		s.toEnded(cause)
	}
	for _, f := range r.stateFeeds {
		f.Close(cause)
	}
	r.stateFeeds = nil
	r.endWide(cause)
	r.c.acks.SettleAll(cause)
}

// handleFrame decodes a frame from the server and routes it; a malformed one is logged and
// dropped (the connection lives on).
func (r *router) handleFrame(k *socket, binary, checked bool, frame []byte) {
	r.dec.PayloadsChecked = checked
	err := r.dec.Decode(binary, frame, &r.msg)
	r.dec.PayloadsChecked = false
	if err != nil {
		r.c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(frame), "binary", binary)
		return
	}
	r.handleMessage(k, &r.msg)
}

// handleMessage routes one message that socket k received.
func (r *router) handleMessage(k *socket, m *transport.Message) {
	if st := r.stage.f; st != nil && (m.Event != transport.EventBroadcast || m.Topic != st.s.topic() || len(r.heavy.holds) > 0) {
		r.stage.flush() // only the channel's next broadcast may join the staged ones
	}
	if r.heldBack(k, m) {
		return // its topic waits for work under way (heavy.go)
	}
	var s *chanState
	if ch := r.channels.get(m.Topic); ch != nil {
		s = ch.s
	}
	if s != nil && s.sock != k {
		s = nil // the topic's channel is on another socket: this is not for it
	}
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
		case s != nil && s.x != nil && s.x.leaveRef != "" && m.Ref == s.x.leaveRef:
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
		s.cold().bcast.route(m)
	case transport.EventSystem:
		s.routeSystem(m)
	case transport.EventPresState:
		s.cold().pres.routeState(m)
	case transport.EventPresDiff:
		s.cold().pres.routeDiff(m)
	case transport.EventPostgres:
		s.cold().pg.route(m)
	case transport.EventClose:
		if s.joinRef != "" && m.Ref == s.joinRef {
			s.closedByServer()
		}
	case transport.EventError:
		if s.joinRef != "" && m.Ref == s.joinRef {
			r.c.serverError(s.topic(), "phx_error")
			s.toErrored(newError(CodeServerError, nil, "channel crashed on the server (phx_error)", "topic", s.topic()), rejoinLater)
		}
	default:
		r.c.log.Debug("realtime: unhandled event", "topic", m.Topic, "event", m.Event)
	}
}
