package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/transport"
)

// chanState is a channel's state, owned by the router goroutine: what the user wants, the join
// and leave in flight, the timers, the waiters and futures of its life, and its features. Only
// the router goroutine touches it.
//
// A channel moves between its states only through the functions below, one per target state;
// each stops the timers, forgets the refs and settles the waiters and futures that the move
// makes moot, then tells the channel's features (see feature):
//
//	toJoining  Joining  a join is sent now, or once the socket is open or the token callback has answered
//	toJoined   Joined   the server accepted the join
//	toErrored  Errored  the join was refused, timed out, crashed or lost with the socket; a rejoin follows
//	toLeaving  Leaving  a leave is in flight
//	toClosed   Closed   not joined and not trying to be; a later Subscribe joins again
//	toEnded    Closed   over for good: removed, closed by the server, or its client closed
type chanState struct {
	ch *Channel
	r  *router

	want          bool  // the user wants the channel joined
	ended         bool  // over for good
	awaitingToken bool  // the join waits for the token callback
	paced         bool  // the join waits in the router's join queue
	attempt       int32 // rejoin attempts since the last success

	// The socket of the pool the channel is placed on (while joining, joined or leaving), and
	// the join in flight, or the current one.
	sock      *socket
	joinRef   string
	joinEpoch uint64
	waiters   *waiter // Subscribe calls waiting for the join, a list linked by next
	sentToken string  // the token of the current join or of the last access_token push
	seq       uint64  // the last receive sequence number given out (see nextSeq)

	obs observeFeature

	// x is the rest of the state, which a channel that only joins never needs: nil until the
	// channel first uses it (see cold).
	x *chanCold
}

// chanCold is the part of a channel's state that a plain join does not touch: the features
// and their subscriptions, the leave, the buffered pushes, the rejoin backoff, the channel's
// own token, the gap of the last loss. A channel holds one from the first time it needs any of
// it, so that thousands of channels that only join stay small.
type chanCold struct {
	joinTimeout time.Duration // how long the join in flight may wait for its reply
	joinTimer   *time.Timer   // the join's own timer when it waits longer than the push timeout (watchJoin)
	rejoinTimer *time.Timer

	// The leave in flight.
	leaveRef   string
	leaveTimer *time.Timer
	leaveDone  []acks.Settle[struct{}]

	pushes      []bufferedPush // pushes made before the join, sent once it succeeds
	pushDropped uint64

	closeCause error     // the system error that announced a phx_close
	downSince  time.Time // when the channel left Joined, for the gap markers of the next join
	downCause  error

	token string // this channel's own token (Channel.SetAuth), or ""

	stateFeeds []*stream.Feed[ChannelStateChange]
	bcast      broadcastFeature
	system     systemFeature
	pres       presenceFeature
	pg         postgresFeature
	evs        eventsFeature // the ordered subscriptions (events.go)
}

// cold returns the channel's cold state, allocating it on first use.
func (s *chanState) cold() *chanCold {
	if s.x == nil {
		x := &chanCold{}
		x.bcast.s, x.system.s, x.pres.s, x.pg.s, x.evs.s = s, s, s, s, s
		s.x = x
	}
	return s.x
}

// downSince returns when the channel left Joined, or the zero time while it has not since its
// last join.
func (s *chanState) downSince() time.Time {
	if s.x == nil {
		return time.Time{}
	}
	return s.x.downSince
}

// joinTimeout returns how long the join in flight may wait for its reply.
func (s *chanState) joinTimeout() time.Duration {
	if s.x == nil || s.x.joinTimeout == 0 {
		return s.r.c.cfg.timeout
	}
	return s.x.joinTimeout
}

// nextSeq returns the channel's next receive sequence number.
func (s *chanState) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// eventsWanted reports whether an ordered subscription takes this channel's events, so that
// the features box an event as an Event only then.
func (s *chanState) eventsWanted() bool {
	return (s.x != nil && len(s.x.evs.feeds) > 0) || len(s.r.wide) > 0
}

// downCause returns the cause of the channel's last loss, or nil.
func (s *chanState) downCause() error {
	if s.x == nil {
		return nil
	}
	return s.x.downCause
}

// waiter is a Subscribe call waiting for the join. The router settles it, once.
type waiter struct {
	done    chan struct{} // closed once settled
	err     error         // the outcome, set before done is closed
	settled bool          // router goroutine only
	next    *waiter       // the next waiter of the same channel (router goroutine only)
}

func newWaiter() *waiter { return &waiter{done: make(chan struct{})} }

// settle ends the wait with err; later calls do nothing.
func (w *waiter) settle(err error) {
	if w.settled {
		return
	}
	w.settled, w.err = true, err
	close(w.done)
}

// result returns the outcome of the wait and whether it has settled; any goroutine may ask.
func (w *waiter) result() (error, bool) {
	select {
	case <-w.done:
		return w.err, true
	default:
		return nil, false
	}
}

// bufferedPush is a push made before the channel joined.
type bufferedPush struct {
	msg   transport.Message
	acked bool
}

// initChanState readies the zero state s of ch.
func initChanState(s *chanState, ch *Channel) {
	s.ch, s.r = ch, &ch.c.r
	s.obs.s = s
	if ch.cfg != &defaultChannelConfig {
		s.cold().pg.init(ch.cfg.bindings)
	}
}

// features returns the channel's features, in the order their hooks run, then nils. A channel
// without cold state has only the observer: the others have nothing to do for it (their part
// of the join config is the default, which sendJoin writes).
func (s *chanState) features() [6]feature {
	if x := s.x; x != nil {
		return [...]feature{&x.bcast, &x.system, &x.pres, &x.pg, &s.obs, &x.evs}
	}
	return [6]feature{&s.obs}
}

func (s *chanState) topic() string       { return s.ch.topic }
func (s *chanState) state() ChannelState { return s.ch.State() }

// setState records a transition and reports it to the channel's state subscriptions.
func (s *chanState) setState(to ChannelState, cause error) {
	from := s.state()
	if from == to && cause == nil {
		return
	}
	s.ch.state.Store(int32(to))
	if from == ChannelJoined && to != ChannelJoined && s.downSince().IsZero() {
		s.cold().downSince, s.cold().downCause = time.Now(), cause
	}
	if to == ChannelJoined {
		s.ch.live.Store(&liveJoin{joinRef: s.joinRef, sock: s.sock, epoch: s.joinEpoch})
	} else {
		s.ch.live.Store(nil)
	}
	log := s.r.c.log
	if cause != nil {
		log.Info("realtime: channel state", "topic", s.topic(), "from", from.String(), "to", to.String(), "cause", cause.Error())
	} else if log.Enabled(context.Background(), slog.LevelDebug) { // boxing the attributes would cost every join
		log.Debug("realtime: channel state", "topic", s.topic(), "from", from.String(), "to", to.String())
	}
	change := ChannelStateChange{Topic: s.topic(), Seq: s.nextSeq(), Old: from, New: to, Err: cause}
	if x := s.x; x != nil && len(x.stateFeeds) > 0 {
		x.stateFeeds = deliver(x.stateFeeds, change, 0)
	}
	if s.eventsWanted() {
		s.cold().evs.emit(change, 0)
	}
}

// stopJoin stops the join in flight, the wait for a rejoin, for a token and for the join queue.
func (s *chanState) stopJoin() {
	if s.x != nil {
		stopTimer(&s.x.joinTimer)
		stopTimer(&s.x.rejoinTimer)
	}
	s.joinRef = ""
	s.awaitingToken = false
	s.paced = false
}

// post queues a frame of the channel on its socket's current connection.
func (s *chanState) post(m *transport.Message) error {
	return s.sock.conn.Post(s.sock.epoch, m)
}

// toJoining (re)joins the channel: it is placed on a socket of the pool with room (a channel
// moves only here), and a phx_join with a fresh join_ref goes out now, or once the socket is
// open, the token callback has answered and the join pacing lets it.
func (s *chanState) toJoining() {
	s.joining(nil)
}

// joining is toJoining with the cause of a move to another socket, for the state event.
func (s *chanState) joining(cause error) {
	s.stopJoin()
	s.setState(ChannelJoining, cause)
	r := s.r
	if !r.place(s) {
		s.toErrored(newError(CodeRateLimited, nil, fmt.Sprintf("every socket of the pool holds its limit of channels (%d sockets of %d channels; see WithMaxSockets and WithMaxChannelsPerSocket)",
			r.c.cfg.maxSockets, r.c.cfg.maxPerSocket), "topic", s.topic()), rejoinLater)
		return
	}
	if !s.sock.open {
		return // joins when its socket opens
	}
	if !r.c.tokens.fresh() {
		s.awaitingToken = true
		r.requestToken()
		return
	}
	r.paceJoin(s)
}

// sendJoin sends the phx_join of a channel in Joining: the features fill in the config.
func (s *chanState) sendJoin() {
	r := s.r
	s.awaitingToken = false
	var p joinPayload
	p.Config.Private = s.ch.cfg.private
	p.Config.PostgresChanges = []json.RawMessage{} // never null; the postgres feature lists its bindings
	s.sentToken = s.tokenFor()
	p.AccessToken = s.sentToken
	if s.x == nil {
		s.obs.joining() // the only feature of a channel without cold state; its config is the default
	} else {
		p = s.configureJoin(p)
	}
	payload := p.appendJSON(make([]byte, 0, 160+len(p.AccessToken)+len(p.Config.Presence.Key)))
	s.joinRef = r.c.makeRef()
	s.joinEpoch = s.sock.epoch
	m := transport.Message{JoinRef: s.joinRef, Ref: s.joinRef, Topic: s.topic(), Event: transport.EventJoin, Payload: payload}
	if err := s.post(&m); err != nil {
		// Only a closed socket refuses a join: the client is closing.
		s.toErrored(wrapSendError(err), noRejoin)
		return
	}
	ref, timeout := s.joinRef, r.c.cfg.timeout
	if s.x != nil {
		timeout += s.x.pg.joinWait()
		s.x.joinTimeout = timeout
	}
	if timeout == r.c.cfg.timeout {
		r.watchJoin(s, ref, time.Now().Add(timeout))
		return
	}
	s.x.joinTimer = time.AfterFunc(timeout, func() { r.c.post(func() { s.joinTimedOut(ref) }) })
}

// configureJoin runs the features' joining hooks and returns p with their parts of the config.
// (p is a copy: the hooks take it through an interface, which a channel that only joins should
// not pay an allocation for.)
func (s *chanState) configureJoin(p joinPayload) joinPayload {
	for _, f := range s.features() {
		if f == nil {
			break
		}
		f.joining()
		f.configure(&p)
	}
	return p
}

// joinReplied handles the server's reply to the join in flight.
func (s *chanState) joinReplied(m *transport.Message) {
	if s.x != nil {
		stopTimer(&s.x.joinTimer)
	}
	defer s.r.pruneJoinWatch()
	if m.Status != "ok" {
		reason := responseReason(m.Data)
		s.r.c.serverError(s.topic(), reason)
		s.refused(reason)
		return
	}
	s.sock.counted = true
	for _, f := range s.features() {
		if f == nil {
			break
		}
		if err := f.accepted(m.Data); err != nil {
			// The join succeeded but cannot be used (the postgres bindings do not match what
			// the server echoed): leave, and do not retry what would fail the same way.
			s.r.sendLeave(s, s.joinRef)
			s.toEnded(err)
			return
		}
	}
	s.toJoined()
}

// toJoined: the server accepted the join. The pushes made meanwhile go out, the Subscribe calls
// return, and the features resume.
func (s *chanState) toJoined() {
	s.attempt = 0
	s.setState(ChannelJoined, nil)
	s.flushPushes()
	s.settleWaiters(nil)
	for _, f := range s.features() {
		if f == nil {
			break
		}
		f.joined()
	}
	if s.x != nil {
		s.x.downSince, s.x.downCause = time.Time{}, nil
	}
}

// joinTimedOut handles a join left unanswered for the push timeout: like realtime-js, the
// channel leaves the join that may still complete, then retries.
func (s *chanState) joinTimedOut(ref string) {
	if s.joinRef != ref || s.state() != ChannelJoining {
		return
	}
	if s.x != nil {
		s.x.joinTimer = nil
	}
	s.r.sendLeave(s, ref)
	s.toErrored(newError(CodeTimeout, nil, fmt.Sprintf("no reply to the join within %v", s.joinTimeout()), "topic", s.topic()), rejoinLater)
}

// refused handles a join the server refused, in the scope of the reason: a full socket moves
// the channel to another one at once; a tenant-wide limit holds off the client's joins (or its
// new sockets) long enough for the server's rolling average to fall; anything else is retried
// after the rejoin backoff.
func (s *chanState) refused(reason string) {
	r := s.r
	s.cold() // the postgres feature checks every refusal, even of a channel without bindings
	for _, f := range s.features() {
		if f == nil {
			break
		}
		if err := f.refused(reason); err != nil {
			s.toEnded(err) // a feature knows that retrying cannot help
			return
		}
	}
	switch limitOf(reason) {
	case scopeSocket:
		// Not a penalty: the socket holds fewer channels than we thought (a server configured
		// lower). Go to a socket with room.
		k := s.sock
		k.capacity = max(k.chans-1, 0)
		r.c.log.Info("realtime: socket full; moving the channel to another socket", "topic", s.topic(), "socket", k.id, "channels", k.capacity)
		r.detach(s)
		s.joining(joinError(s.topic(), reason))
		return
	case scopeTenantJoins:
		wait := r.holdOff()
		r.holdJoins(wait)
		s.toErrored(limitError(s.topic(), reason, wait), rejoinLater)
		return
	case scopeTenantUsers:
		// The socket is not counted as a connected user yet, and the tenant has no room for
		// another: use a socket that is counted, or wait.
		wait := r.holdOff()
		r.usersHoldUntil = time.Now().Add(wait)
		r.detach(s)
		s.toErrored(limitError(s.topic(), reason, wait), noRejoin)
		s.rejoinAfter(wait)
		return
	}
	s.toErrored(joinError(s.topic(), reason), rejoinLater)
}

// rejoin says when an errored channel joins again.
type rejoin int

const (
	rejoinLater  rejoin = iota // after the rejoin backoff; Subscribe calls get the cause now
	rejoinOnOpen               // when the socket opens again; Subscribe calls keep waiting
	noRejoin                   // not from here: the caller plans it, or the client is closing
)

// toErrored: the join was refused, timed out, crashed or was lost with the socket.
func (s *chanState) toErrored(cause error, when rejoin) {
	s.stopJoin()
	s.setState(ChannelErrored, cause)
	for _, f := range s.features() {
		if f == nil {
			break
		}
		f.down(cause)
	}
	if when != rejoinOnOpen {
		s.settleWaiters(cause)
	}
	if when == rejoinLater {
		s.scheduleRejoin()
	}
}

// scheduleRejoin joins an errored channel again after the rejoin backoff.
func (s *chanState) scheduleRejoin() { s.rejoinAfter(0) }

// rejoinAfter joins an errored channel again after the rejoin backoff, and not before at least.
func (s *chanState) rejoinAfter(least time.Duration) {
	r := s.r
	stopTimer(&s.cold().rejoinTimer)
	if !s.want || r.stopped {
		return
	}
	delay := max(r.c.cfg.rejoinBackoff(int(s.attempt)), least)
	s.attempt++
	s.cold().rejoinTimer = time.AfterFunc(delay, func() {
		r.c.post(func() {
			if s.want && !s.ended && s.state() == ChannelErrored {
				s.toJoining()
			}
		})
	})
}

// toLeaving sends a phx_leave for the current join; done gets the end of the leave.
func (s *chanState) toLeaving(done acks.Settle[struct{}]) {
	r := s.r
	stopTimer(&s.cold().joinTimer)
	stopTimer(&s.cold().rejoinTimer)
	s.cold().leaveDone = append(s.cold().leaveDone, done)
	s.paced = false
	s.cold().leaveRef = r.sendLeave(s, s.joinRef)
	ref := s.cold().leaveRef
	s.cold().leaveTimer = time.AfterFunc(r.c.cfg.timeout, func() {
		r.c.post(func() {
			if s.cold().leaveRef == ref {
				s.toClosed() // a leave that times out counts as done
			}
		})
	})
	s.setState(ChannelLeaving, nil)
}

// toClosed: the channel is not joined and not trying to be, after a leave or an Unsubscribe. A
// Subscribe made during the leave joins again now.
func (s *chanState) toClosed() {
	s.stopJoin()
	stopTimer(&s.cold().leaveTimer)
	s.cold().leaveRef = ""
	s.setState(ChannelClosed, nil)
	for _, f := range s.features() {
		if f == nil {
			break
		}
		f.down(nil)
	}
	for _, done := range s.cold().leaveDone {
		done(struct{}{}, nil)
	}
	s.cold().leaveDone = nil
	if s.want {
		s.attempt = 0
		s.toJoining()
		return
	}
	s.r.detach(s)
}

// toEnded ends the channel for good with cause: every call on it is refused from now on, the
// client forgets it, and every waiter, future and subscription of it ends with cause.
func (s *chanState) toEnded(cause error) {
	if s.ended {
		return
	}
	s.ended, s.want = true, false
	s.stopJoin()
	stopTimer(&s.cold().leaveTimer)
	s.cold().leaveRef = ""
	s.ch.ended.Store(endedError(s.topic(), cause))
	s.r.forget(s)
	s.r.detach(s)
	s.setState(ChannelClosed, cause)
	s.settleWaiters(cause)
	for _, done := range s.cold().leaveDone {
		done(struct{}{}, nil)
	}
	s.cold().leaveDone = nil
	s.failPushes(cause)
	for _, f := range s.features() {
		if f == nil {
			break
		}
		f.end(cause)
	}
	for _, f := range s.cold().stateFeeds {
		f.Close(cause)
	}
	s.cold().stateFeeds = nil
}

// endedError is the error every call on a channel that is over for good returns.
func endedError(topic string, cause error) *Error {
	return newError(CodeClosed, cause, "the channel is closed for good ("+messageOf(cause)+"); make a new one with Client.Channel", "topic", topic)
}

// subscribe is Channel.Subscribe: it records the intent and joins unless a join is under way.
func (s *chanState) subscribe(w *waiter) {
	s.r.channels.put(s.ch)
	s.want = true
	switch s.state() {
	case ChannelJoined:
		w.settle(nil)
		return
	case ChannelLeaving, ChannelJoining:
		// Joining: a join is in flight or waits for the socket or a token. Leaving: a join now
		// would race the leave's reply; toClosed joins once the leave is done.
		w.next, s.waiters = s.waiters, w
		return
	}
	w.next, s.waiters = s.waiters, w
	s.attempt = 0
	s.toJoining()
}

// dropWaiter forgets a Subscribe call that stopped waiting.
func (s *chanState) dropWaiter(w *waiter) {
	for p := &s.waiters; *p != nil; p = &(*p).next {
		if *p == w {
			*p, w.next = w.next, nil
			return
		}
	}
}

func (s *chanState) settleWaiters(err error) {
	w := s.waiters
	s.waiters = nil
	for w != nil {
		next := w.next
		w.next = nil
		w.settle(err)
		w = next
	}
}

// unsubscribe is Channel.Unsubscribe: it leaves the current join, if any; done gets the end of
// the leave.
func (s *chanState) unsubscribe(done acks.Settle[struct{}]) {
	s.want = false
	stopTimer(&s.cold().rejoinTimer)
	s.failPushes(newError(CodeClosed, nil, "channel left before the push was sent", "topic", s.topic()))
	s.settleWaiters(newError(CodeClosed, nil, "channel unsubscribed", "topic", s.topic()))
	switch s.state() {
	case ChannelLeaving:
		s.cold().leaveDone = append(s.cold().leaveDone, done)
		return
	case ChannelJoined, ChannelJoining:
		if s.joinRef != "" && s.sock.open {
			s.toLeaving(done)
			return
		}
	}
	s.toClosed()
	done(struct{}{}, nil)
}

// closedByServer handles a phx_close of the current join.
func (s *chanState) closedByServer() {
	if s.state() == ChannelLeaving {
		s.toClosed()
		return
	}
	cause := s.cold().closeCause
	s.cold().closeCause = nil
	if s.r.revivable(s, cause) {
		// A fresh token can undo it: ask the callback again and rejoin after the backoff.
		s.r.c.log.Info("realtime: channel closed for its token; rejoining with a fresh one", "topic", s.topic(), "cause", cause.Error())
		s.r.c.tokens.expire()
		s.toErrored(cause, rejoinLater)
		return
	}
	if cause != nil && s.want {
		switch limitOf(messageOf(cause)) {
		case scopeChannel:
			// The channel's own rate: rejoin it alone, after its backoff.
			s.toErrored(cause, rejoinLater)
			return
		case scopeTenantEvents:
			// The tenant's rate: rejoining sooner than its rolling average falls would only
			// be closed again. Other channels are not held.
			wait := s.r.holdOff()
			s.toErrored(limitError(s.topic(), messageOf(cause), wait), noRejoin)
			s.rejoinAfter(wait)
			return
		}
	}
	if cause == nil {
		cause = newError(CodeClosed, nil, "channel closed by the server", "topic", s.topic())
	}
	s.toEnded(cause)
}

// socketOpened rejoins a channel the user wants joined.
func (s *chanState) socketOpened() {
	if s.want {
		s.toJoining()
	}
}

// connectRefused tells the Subscribe calls waiting for the socket that the server refused it
// for a reason retrying cannot fix by itself (docs/protocol.md §1.3), so that they return now
// rather than when their ctx ends. The channel stays in Joining: the socket keeps retrying,
// and the channel joins once it opens, until Unsubscribe.
func (s *chanState) connectRefused(cause error) {
	if s.waiters == nil {
		return
	}
	s.settleWaiters(withTopic(cause, s.topic()))
}

// socketLost moves the channel off a socket that dropped: a leave in flight is done, a join is
// lost and retried when the socket opens again.
func (s *chanState) socketLost(cause error) {
	switch s.state() {
	case ChannelLeaving:
		s.toClosed()
	case ChannelJoined, ChannelJoining:
		s.toErrored(cause, rejoinOnOpen)
	}
}

// flushPushes sends the pushes buffered before the join, in order.
func (s *chanState) flushPushes() {
	r := s.r
	if s.x == nil {
		return
	}
	for i := range s.x.pushes {
		p := &s.x.pushes[i]
		p.msg.JoinRef = s.joinRef
		if p.acked {
			r.c.acks.Retag(p.msg.Ref, s.sock.tag())
		}
		if err := s.post(&p.msg); err != nil && p.acked {
			r.c.acks.Settle(p.msg.Ref, Reply{}, wrapSendError(err))
		}
	}
	if s.cold().pushDropped > 0 {
		r.c.log.Info("realtime: push buffer flushed", "topic", s.topic(), "dropped_total", s.cold().pushDropped)
	}
	clear(s.cold().pushes)
	s.cold().pushes = s.cold().pushes[:0]
}

// failPushes fails the futures of buffered pushes and forgets them.
func (s *chanState) failPushes(err error) {
	for _, p := range s.cold().pushes {
		if p.acked {
			s.r.c.acks.Settle(p.msg.Ref, Reply{}, err)
		}
	}
	s.cold().pushes = nil
}

// bufferPush is the slow path of a push on a channel that is not joined: it buffers the push
// until the join, or reports the live join if the channel has just joined.
func (s *chanState) bufferPush(m transport.Message, acked bool) (*liveJoin, *acks.Future[Reply], error) {
	if l := s.ch.live.Load(); l != nil {
		return l, nil, nil
	}
	if !s.want {
		return nil, nil, newError(CodeClosed, nil, "channel is not subscribed; call Subscribe first", "topic", s.topic())
	}
	r := s.r
	probe := m
	probe.JoinRef = "0"
	if _, _, err := transport.Encode(nil, r.c.cfg.version, transport.ClientSide, &probe); err != nil {
		return nil, nil, wrapInvalid(err)
	}
	var fut *acks.Future[Reply]
	if acked {
		f, err := r.c.acks.Add(m.Ref, 0, r.c.cfg.timeout, s.ch.timeoutErr(m))
		if err != nil {
			return nil, nil, fromAcks(err)
		}
		fut = f
	}
	if limit := r.c.cfg.pushBuffer; len(s.cold().pushes) >= limit {
		oldest := s.cold().pushes[0]
		s.cold().pushes = append(s.cold().pushes[:0], s.cold().pushes[1:]...)
		if oldest.acked {
			r.c.acks.Settle(oldest.msg.Ref, Reply{}, newError(CodeRateLimited, nil,
				fmt.Sprintf("push buffer full (%d) before the channel joined; push dropped", limit), "topic", s.topic()))
		}
		r.c.counters.pushDropped.Add(1)
		r.c.obs.emit(Observation{Kind: ObserveDrop, Source: DropPushBuffer, Topic: s.topic(), Count: 1})
		if s.cold().pushDropped == 0 || s.cold().pushDropped%uint64(limit) == 0 {
			r.c.log.Warn("realtime: push buffer full before the channel joined; dropping the oldest push",
				"topic", s.topic(), "buffer", limit, "dropped_total", s.cold().pushDropped+1)
		}
		s.cold().pushDropped++
	}
	s.cold().pushes = append(s.cold().pushes, bufferedPush{msg: m, acked: acked})
	return nil, fut, nil
}

// tokenFor returns the token the channel joins and pushes with.
func (s *chanState) tokenFor() string {
	if s.x != nil && s.x.token != "" {
		return s.x.token
	}
	return s.r.c.tokens.current()
}

// The timeouts of the joins in flight. Every join waits the push timeout for its reply unless
// it waits for its postgres_changes bindings, so the joins sent reach their deadlines in the
// order they were sent: one timer, for the first of them, watches them all (a join that waits
// longer has a timer of its own). A join whose reply came, or that stopped waiting, is
// forgotten once it is first in line.

// joinDeadline is a join in flight and when it times out.
type joinDeadline struct {
	s   *chanState
	ref string
	at  time.Time
}

// live reports whether the join still waits for its reply.
func (d *joinDeadline) live() bool {
	return d.s.joinRef == d.ref && d.s.state() == ChannelJoining
}

// watchJoin times out the join ref of s at at, unless its reply comes first.
func (r *router) watchJoin(s *chanState, ref string, at time.Time) {
	r.joinWatch = append(r.joinWatch, joinDeadline{s: s, ref: ref, at: at})
	r.armJoinWatch()
}

// pruneJoinWatch forgets the joins at the head of the line that no longer wait.
func (r *router) pruneJoinWatch() {
	for len(r.joinWatch) > 0 && !r.joinWatch[0].live() {
		r.joinWatch[0] = joinDeadline{}
		r.joinWatch = r.joinWatch[1:]
	}
	if len(r.joinWatch) == 0 {
		r.joinWatch = nil
		stopTimer(&r.joinWatchTimer)
	}
}

// armJoinWatch sets the timer for the first join in line.
func (r *router) armJoinWatch() {
	if r.joinWatchTimer != nil || len(r.joinWatch) == 0 || r.stopped {
		return
	}
	r.joinWatchTimer = time.AfterFunc(time.Until(r.joinWatch[0].at), func() { r.c.post(r.joinWatchFired) })
}

// joinWatchFired times out the joins whose deadline has passed.
func (r *router) joinWatchFired() {
	r.joinWatchTimer = nil
	now := time.Now()
	for len(r.joinWatch) > 0 {
		d := r.joinWatch[0]
		if d.live() && d.at.After(now) {
			break
		}
		r.joinWatch[0] = joinDeadline{}
		r.joinWatch = r.joinWatch[1:]
		if d.live() {
			d.s.joinTimedOut(d.ref)
		}
	}
	r.pruneJoinWatch()
	r.armJoinWatch()
}
