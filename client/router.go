package client

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/transport"
)

// router is the state the router goroutine owns: the channels that are subscribed, the
// socket's epoch, the connection-state subscribers. Only the router goroutine touches it,
// except the atomics.
type router struct {
	c          *Client
	dec        transport.Decoder
	msg        transport.Message // the message being routed (reused)
	pgParser   pgchanges.Parser
	channels   map[string]*Channel // channels subscribed at least once and not removed
	stateFeeds []*stream.Feed[StateChange]
	open       bool
	epoch      uint64
	stopped    bool
	refreshing bool // a token callback call is under way

	// penalty is a floor for rejoin delays after the server signalled a rate limit (the
	// reconnect delay gets the same through transport.Conn.HoldOff).
	penalty time.Duration
	// lastConnErr is the last connection error, for Subscribe's error when ctx ends first.
	lastConnErr atomic.Pointer[error]
}

func (r *router) init(c *Client) {
	r.c = c
	r.dec = transport.Decoder{Version: c.cfg.version, Side: transport.ClientSide}
	r.channels = make(map[string]*Channel)
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
		for _, ch := range r.sortedChannels() {
			if ch.want {
				r.join(ch)
			}
		}
	case wasOpen:
		cause := err
		if cause == nil {
			cause = newError(CodeDisconnected, nil, "socket closed")
		}
		// Refs do not survive a reconnect: every push sent on that socket fails now (with
		// ErrClosed when the user is closing the client).
		if r.c.isClosed() {
			r.c.acks.SettleTag(r.epoch, closedError())
		} else {
			r.c.acks.SettleTag(r.epoch, newError(CodeDisconnected, cause, "socket dropped before the reply: "+cause.Error()))
		}
		for _, ch := range r.sortedChannels() {
			r.socketLost(ch, cause)
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

// sortedChannels returns the subscribed channels in topic order, so that rejoins go out in a
// stable order.
func (r *router) sortedChannels() []*Channel {
	out := make([]*Channel, 0, len(r.channels))
	for _, ch := range r.channels {
		out = append(out, ch)
	}
	sortChannels(out)
	return out
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// setState records a channel transition and reports it.
func (r *router) setState(ch *Channel, to ChannelState, cause error) {
	from := ChannelState(ch.state.Load())
	if from == to && cause == nil {
		return
	}
	ch.state.Store(int32(to))
	if from == ChannelJoined && to != ChannelJoined && ch.downSince.IsZero() {
		ch.downSince, ch.downCause = time.Now(), cause
	}
	if to == ChannelJoined {
		ch.live.Store(&liveJoin{joinRef: ch.joinRef, epoch: ch.joinEpoch})
	} else {
		ch.live.Store(nil)
	}
	ch.lastErr = cause
	if cause != nil {
		r.c.log.Info("realtime: channel state", "topic", ch.topic, "from", from.String(), "to", to.String(), "cause", cause.Error())
	} else {
		r.c.log.Debug("realtime: channel state", "topic", ch.topic, "from", from.String(), "to", to.String())
	}
	ch.stateFeeds = deliver(ch.stateFeeds, ChannelStateChange{Old: from, New: to, Err: cause}, 0)
}

// subscribe is Channel.Subscribe on the router: it records the intent and joins.
func (r *router) subscribe(ch *Channel, settle acks.Settle[struct{}]) {
	r.channels[ch.topic] = ch
	ch.want = true
	switch ch.State() {
	case ChannelJoined:
		settle(struct{}{}, nil)
		return
	case ChannelLeaving:
		// A join now would race the leave's reply: join once the leave is done.
		ch.waiters = append(ch.waiters, settle)
		return
	case ChannelJoining:
		ch.waiters = append(ch.waiters, settle)
		if !r.open || ch.joinRef != "" {
			return // a join is in flight, or goes out when the socket opens
		}
	default:
		ch.waiters = append(ch.waiters, settle)
	}
	ch.attempt = 0
	r.join(ch)
}

// join sends a phx_join with a fresh join_ref, or waits for the socket to open, or for a
// fresh token when the callback must be asked first.
func (r *router) join(ch *Channel) {
	stopTimer(&ch.rejoinTimer)
	stopTimer(&ch.joinTimer)
	ch.joinRef = ""
	if !r.open {
		r.setState(ch, ChannelJoining, nil)
		return
	}
	if !r.c.tokens.fresh() {
		ch.awaitingToken = true
		r.setState(ch, ChannelJoining, nil)
		r.requestToken()
		return
	}
	r.sendJoin(ch)
}

// sendJoin sends the phx_join.
func (r *router) sendJoin(ch *Channel) {
	r.beforeJoin(ch)
	ch.joinRef = r.c.conn.MakeRef()
	ch.joinEpoch = r.epoch
	ch.sentToken = ch.tokenFor()
	m := transport.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.topic, Event: transport.EventJoin,
		Payload: ch.joinPayload(ch.sentToken)}
	if err := r.c.conn.Post(r.epoch, &m); err != nil {
		r.failJoin(ch, closedError())
		return
	}
	ref, timeout := ch.joinRef, r.c.cfg.timeout
	ch.joinTimer = time.AfterFunc(timeout, func() { r.c.post(func() { r.joinTimedOut(ch, ref) }) })
	r.setState(ch, ChannelJoining, nil)
}

// handleJoinReply completes the join in flight.
func (r *router) handleJoinReply(ch *Channel, m *transport.Message) {
	stopTimer(&ch.joinTimer)
	if m.Status != "ok" {
		reason := responseReason(m.Data)
		err := joinError(ch.topic, reason)
		r.penalize(reason)
		r.setState(ch, ChannelErrored, err)
		r.settleWaiters(ch, err)
		r.scheduleRejoin(ch)
		return
	}
	if err := r.afterJoin(ch, m.Data); err != nil {
		// The join succeeded but cannot be used (the postgres bindings do not match what the
		// server echoed): leave, and do not retry what would fail the same way.
		r.sendLeave(ch, ch.joinRef)
		r.closeChannel(ch, err)
		return
	}
	ch.attempt = 0
	r.setState(ch, ChannelJoined, nil)
	r.flushPushes(ch)
	r.settleWaiters(ch, nil)
	r.afterJoined(ch)
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

func (r *router) joinTimedOut(ch *Channel, ref string) {
	if ch.joinRef != ref || ch.State() != ChannelJoining {
		return
	}
	ch.joinTimer = nil
	// Like realtime-js: leave the join that may still complete, then retry.
	r.sendLeave(ch, ref)
	ch.joinRef = ""
	err := newError(CodeTimeout, nil, fmt.Sprintf("no reply to the join within %v", r.c.cfg.timeout), "topic", ch.topic)
	r.setState(ch, ChannelErrored, err)
	r.settleWaiters(ch, err)
	r.scheduleRejoin(ch)
}

func (r *router) failJoin(ch *Channel, err error) {
	stopTimer(&ch.joinTimer)
	ch.joinRef = ""
	r.setState(ch, ChannelErrored, err)
	r.settleWaiters(ch, err)
}

func (r *router) settleWaiters(ch *Channel, err error) {
	for _, s := range ch.waiters {
		s(struct{}{}, err)
	}
	ch.waiters = nil
}

// scheduleRejoin retries the join after the rejoin backoff.
func (r *router) scheduleRejoin(ch *Channel) {
	stopTimer(&ch.rejoinTimer)
	if !ch.want || r.stopped {
		return
	}
	delay := r.c.cfg.rejoinBackoff(ch.attempt)
	if r.penalty > delay {
		delay = r.penalty
	}
	ch.attempt++
	ch.rejoinTimer = time.AfterFunc(delay, func() {
		r.c.post(func() {
			if ch.want && ch.State() == ChannelErrored && r.channels[ch.topic] == ch {
				r.join(ch)
			}
		})
	})
}

// socketLost moves a channel to errored (or closed, when it was leaving) after the socket
// dropped; subscribed channels rejoin when it reopens.
func (r *router) socketLost(ch *Channel, cause error) {
	stopTimer(&ch.joinTimer)
	ch.joinRef = ""
	switch ch.State() {
	case ChannelLeaving:
		r.finishLeave(ch)
	case ChannelJoined, ChannelJoining:
		r.setState(ch, ChannelErrored, cause)
		r.socketLostPresence(ch)
	}
}

// unsubscribe is Channel.Unsubscribe on the router.
func (r *router) unsubscribe(ch *Channel, settle acks.Settle[struct{}]) {
	ch.want = false
	stopTimer(&ch.rejoinTimer)
	r.failPushes(ch, newError(CodeClosed, nil, "channel left before the push was sent", "topic", ch.topic))
	r.settleWaiters(ch, newError(CodeClosed, nil, "channel unsubscribed", "topic", ch.topic))
	switch ch.State() {
	case ChannelLeaving:
		ch.leaveDone = append(ch.leaveDone, settle)
	case ChannelJoined, ChannelJoining:
		if ch.joinRef == "" || !r.open {
			stopTimer(&ch.joinTimer)
			r.setState(ch, ChannelClosed, nil)
			settle(struct{}{}, nil)
			return
		}
		stopTimer(&ch.joinTimer)
		ch.leaveDone = append(ch.leaveDone, settle)
		ch.leaveRef = r.sendLeave(ch, ch.joinRef)
		ref, timeout := ch.leaveRef, r.c.cfg.timeout
		ch.leaveTimer = time.AfterFunc(timeout, func() {
			r.c.post(func() {
				if ch.leaveRef == ref {
					r.finishLeave(ch) // a leave that times out counts as done
				}
			})
		})
		r.setState(ch, ChannelLeaving, nil)
	default:
		r.setState(ch, ChannelClosed, nil)
		settle(struct{}{}, nil)
	}
}

// sendLeave sends phx_leave for the join joinRef and returns the leave's ref.
func (r *router) sendLeave(ch *Channel, joinRef string) string {
	ref := r.c.conn.MakeRef()
	m := transport.Message{JoinRef: joinRef, Ref: ref, Topic: ch.topic, Event: transport.EventLeave, Payload: []byte("{}")}
	_ = r.c.conn.Post(r.epoch, &m)
	return ref
}

// finishLeave completes a leave: the channel is closed.
func (r *router) finishLeave(ch *Channel) {
	stopTimer(&ch.leaveTimer)
	ch.leaveRef = ""
	ch.joinRef = ""
	r.setState(ch, ChannelClosed, nil)
	r.leftPresence(ch)
	for _, s := range ch.leaveDone {
		s(struct{}{}, nil)
	}
	ch.leaveDone = nil
	if ch.want { // subscribed again while leaving
		ch.attempt = 0
		r.join(ch)
	}
}

// serverClosed handles a phx_close the user did not ask for: the channel is over on the
// server, and is not rejoined (except where a fresh token can revive it).
func (r *router) serverClosed(ch *Channel, cause error) {
	if r.reviveWithToken(ch, cause) {
		return
	}
	if cause == nil {
		cause = newError(CodeClosed, nil, "channel closed by the server", "topic", ch.topic)
	}
	r.closeChannel(ch, cause)
}

// closeChannel ends a channel the user did not leave: closed for good with cause, its waiters,
// pushes and subscriptions failed with it.
func (r *router) closeChannel(ch *Channel, cause error) {
	ch.want = false
	ch.joinRef = ""
	stopTimer(&ch.joinTimer)
	stopTimer(&ch.rejoinTimer)
	r.setState(ch, ChannelClosed, cause)
	r.settleWaiters(ch, cause)
	r.failPushes(ch, cause)
	r.endSubscriptions(ch, cause)
}

// serverErrored handles phx_error: the channel process crashed; rejoin with backoff.
func (r *router) serverErrored(ch *Channel) {
	ch.joinRef = ""
	stopTimer(&ch.joinTimer)
	err := newError(CodeServerError, nil, "channel crashed on the server (phx_error)", "topic", ch.topic)
	r.setState(ch, ChannelErrored, err)
	r.socketLostPresence(ch)
	r.settleWaiters(ch, err)
	r.scheduleRejoin(ch)
}

// remove forgets a channel: its subscriptions end with cause.
func (r *router) remove(ch *Channel, cause error) {
	if r.channels[ch.topic] == ch {
		delete(r.channels, ch.topic)
	}
	ch.want = false
	stopTimer(&ch.joinTimer)
	stopTimer(&ch.rejoinTimer)
	stopTimer(&ch.leaveTimer)
	r.settleWaiters(ch, cause)
	r.failPushes(ch, cause)
	r.endSubscriptions(ch, cause)
	for _, f := range ch.stateFeeds {
		f.Close(cause)
	}
	ch.stateFeeds = nil
}

// shutdown ends everything on Close.
func (r *router) shutdown() {
	r.stopped = true
	r.c.tokens.stop()
	cause := closedError()
	seen := map[*Channel]bool{}
	for _, ch := range append(r.c.Channels(), r.sortedChannels()...) {
		if seen[ch] {
			continue
		}
		seen[ch] = true
		r.setState(ch, ChannelClosed, nil)
		r.remove(ch, cause)
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
	ch := r.channels[m.Topic]
	// Drop what belongs to an earlier join of this channel (PROTOCOL.md §9.3).
	if ch != nil && m.JoinRef != "" && m.JoinRef != ch.joinRef {
		r.c.log.Debug("realtime: dropped a message of an earlier join", "topic", m.Topic, "event", m.Event)
		return
	}
	if m.Event == transport.EventReply {
		switch {
		case ch != nil && ch.joinRef != "" && m.Ref == ch.joinRef && ch.State() == ChannelJoining:
			r.handleJoinReply(ch, m)
		case ch != nil && ch.leaveRef != "" && m.Ref == ch.leaveRef:
			r.finishLeave(ch)
		default:
			reply := Reply{Status: m.Status, Response: m.Data}
			r.c.acks.Settle(m.Ref, reply, replyError(m.Topic, reply))
		}
		return
	}
	if ch == nil {
		r.c.log.Debug("realtime: message for a topic with no channel", "topic", m.Topic, "event", m.Event)
		return
	}
	switch m.Event {
	case transport.EventBroadcast:
		r.routeBroadcast(ch, m)
	case transport.EventSystem:
		r.routeSystem(ch, m)
	case transport.EventPresState:
		r.routePresenceState(ch, m)
	case transport.EventPresDiff:
		r.routePresenceDiff(ch, m)
	case transport.EventPostgres:
		r.routePostgres(ch, m)
	case transport.EventClose:
		if ch.joinRef != "" && m.Ref == ch.joinRef {
			r.serverClosed(ch, ch.takeCloseCause())
		}
	case transport.EventError:
		if ch.joinRef != "" && m.Ref == ch.joinRef {
			r.serverErrored(ch)
		}
	default:
		r.c.log.Debug("realtime: unhandled event", "topic", m.Topic, "event", m.Event)
	}
}

// flushPushes sends the pushes buffered before the join, in order.
func (r *router) flushPushes(ch *Channel) {
	for i := range ch.pushBuf {
		p := &ch.pushBuf[i]
		p.msg.JoinRef = ch.joinRef
		if p.acked {
			r.c.acks.Retag(p.msg.Ref, r.epoch)
		}
		if err := r.c.conn.Post(r.epoch, &p.msg); err != nil && p.acked {
			r.c.acks.Settle(p.msg.Ref, Reply{}, wrapSendError(err))
		}
	}
	if ch.pushDropped > 0 {
		r.c.log.Info("realtime: push buffer flushed", "topic", ch.topic, "dropped_total", ch.pushDropped)
	}
	clear(ch.pushBuf)
	ch.pushBuf = ch.pushBuf[:0]
}

// failPushes fails the futures of buffered pushes and forgets them.
func (r *router) failPushes(ch *Channel, err error) {
	for _, p := range ch.pushBuf {
		if p.acked {
			r.c.acks.Settle(p.msg.Ref, Reply{}, err)
		}
	}
	ch.pushBuf = nil
}

// endSubscriptions closes every subscription of the channel with cause.
func (r *router) endSubscriptions(ch *Channel, cause error) {
	for _, b := range ch.bcast {
		b.feed.Close(cause)
	}
	ch.bcast = nil
	for _, f := range ch.system {
		f.Close(cause)
	}
	ch.system = nil
	r.endFeatureSubscriptions(ch, cause)
}

// pushOrBuffer is the slow path of a push on a channel that is not joined: it buffers the
// push until the join (or reports the live join if the channel has just joined).
func (r *router) pushOrBuffer(ch *Channel, m transport.Message, acked bool) (*liveJoin, *acks.Future[Reply], error) {
	if l := ch.live.Load(); l != nil {
		return l, nil, nil
	}
	if !ch.want {
		return nil, nil, newError(CodeClosed, nil, "channel is not subscribed; call Subscribe first", "topic", ch.topic)
	}
	probe := m
	probe.JoinRef = "0"
	if _, _, err := transport.Encode(nil, r.c.cfg.version, transport.ClientSide, &probe); err != nil {
		return nil, nil, wrapInvalid(err)
	}
	var fut *acks.Future[Reply]
	if acked {
		f, err := r.c.acks.Add(m.Ref, 0, r.c.cfg.timeout, ch.timeoutErr(m))
		if err != nil {
			return nil, nil, fromAcks(err)
		}
		fut = f
	}
	if len(ch.pushBuf) >= r.c.cfg.pushBuffer {
		oldest := ch.pushBuf[0]
		ch.pushBuf = append(ch.pushBuf[:0], ch.pushBuf[1:]...)
		if oldest.acked {
			r.c.acks.Settle(oldest.msg.Ref, Reply{}, newError(CodeRateLimited, nil,
				fmt.Sprintf("push buffer full (%d) before the channel joined; push dropped", r.c.cfg.pushBuffer), "topic", ch.topic))
		}
		if ch.pushDropped == 0 || ch.pushDropped%uint64(r.c.cfg.pushBuffer) == 0 {
			r.c.log.Warn("realtime: push buffer full before the channel joined; dropping the oldest push",
				"topic", ch.topic, "buffer", r.c.cfg.pushBuffer, "dropped_total", ch.pushDropped+1)
		}
		ch.pushDropped++
	}
	ch.pushBuf = append(ch.pushBuf, bufferedPush{msg: m, acked: acked})
	return nil, fut, nil
}
