package client

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-supabase/realtime/transport"
)

// Stats is a snapshot of a client's counters since New, for dashboards: [Client.Stats] returns
// it. Each field is read atomically on its own, so the fields of one snapshot may be a few
// events apart from each other. Counters only grow; SocketsOpen, Channels, PendingAcks and the
// heartbeat times are the values at the call.
type Stats struct {
	// FramesIn and FramesOut count the WebSocket frames read and written, heartbeats
	// included; BytesIn and BytesOut their bytes.
	FramesIn, FramesOut uint64
	// BytesIn and BytesOut: see FramesIn.
	BytesIn, BytesOut uint64
	// Reconnects counts the times a socket opened again after its first open; FailedDials the
	// connection attempts that failed (refused upgrades included).
	Reconnects, FailedDials uint64
	// Rejoins counts the joins sent again for a channel after a failed join, a phx_error or a
	// lost socket.
	Rejoins uint64
	// SocketsOpen is the number of sockets open now (0 or 1 for a client of one socket).
	SocketsOpen int
	// Channels counts the client's channels by state.
	Channels ChannelCounts
	// Delivered counts the events delivered into subscriptions' channels (broadcasts, presence
	// events, postgres changes, system messages, state changes).
	Delivered uint64
	// Dropped counts what was lost, by where.
	Dropped DropCounts
	// HeartbeatRTT is the round-trip time of the last answered heartbeat, and
	// HeartbeatRTTSmoothed the moving average of them (each sample weighs 1/8); 0 before the
	// first. With several sockets, the slowest socket's.
	HeartbeatRTT, HeartbeatRTTSmoothed time.Duration
	// PendingAcks is the number of pushes waiting for the server's reply.
	PendingAcks int
	// PendingBytes is the size of the events waiting in subscriptions' pending queues for
	// their readers, now.
	PendingBytes int64
	// Flow reports flow control (see WithFlowControl).
	Flow FlowStats
}

// FlowStats reports flow control: how often and how long the client stopped reading its
// sockets because lossless subscriptions held more than the high mark.
type FlowStats struct {
	// Pauses counts the pauses, and Paused is their total duration (a pause under way
	// included).
	Pauses uint64
	Paused time.Duration
	// Exempted counts the subscriptions that took nothing for a second during a pause and
	// stopped counting for flow control until they caught up.
	Exempted uint64
}

// ChannelCounts counts channels by state (see [ChannelState]).
type ChannelCounts struct {
	// Closed, Joining, Joined, Leaving and Errored count the channels in that state.
	Closed, Joining, Joined, Leaving, Errored int
}

// DropCounts counts dropped events by where they were dropped.
type DropCounts struct {
	// SendBuffer: frames dropped while the socket was down and its send buffer full
	// (WithSendBuffer).
	SendBuffer uint64
	// PushBuffer: pushes dropped before their channel joined, its push buffer full
	// (WithPushBuffer).
	PushBuffer uint64
	// Subscriptions: events a subscription dropped by its overflow policy, or with its
	// backlog when it was evicted for falling behind.
	Subscriptions uint64
	// Observations: observations the WithObserver function was not told of because it fell
	// behind.
	Observations uint64
}

// Stats returns a snapshot of the client's counters. It reads atomic counters and takes no
// lock the router holds while it works, so it is cheap enough to call every second; the
// channel counts take the client's registry lock for a walk over its channels.
func (c *Client) Stats() Stats {
	ts, open := c.socketStats()
	delivered, subDropped := c.group.Counts()
	s := Stats{
		FramesIn:             ts.FramesIn,
		FramesOut:            ts.FramesOut,
		BytesIn:              ts.BytesIn,
		BytesOut:             ts.BytesOut,
		Reconnects:           ts.Reconnects,
		FailedDials:          ts.FailedDials,
		Rejoins:              c.counters.rejoins.Load(),
		SocketsOpen:          open,
		Delivered:            delivered,
		HeartbeatRTT:         ts.HeartbeatRTT,
		HeartbeatRTTSmoothed: ts.HeartbeatRTTSmoothed,
		PendingAcks:          c.acks.Len(),
		PendingBytes:         c.group.Pending(),
		Dropped: DropCounts{
			SendBuffer:    ts.Dropped,
			PushBuffer:    c.counters.pushDropped.Load(),
			Subscriptions: subDropped,
			Observations:  c.obs.dropped.Load(),
		},
	}
	s.Flow.Pauses, s.Flow.Paused, s.Flow.Exempted = c.group.FlowStats()
	c.mu.Lock()
	for ch := range c.channels.all() {
		switch ch.State() {
		case ChannelClosed:
			s.Channels.Closed++
		case ChannelJoining:
			s.Channels.Joining++
		case ChannelJoined:
			s.Channels.Joined++
		case ChannelLeaving:
			s.Channels.Leaving++
		case ChannelErrored:
			s.Channels.Errored++
		}
	}
	c.mu.Unlock()
	return s
}

// socketStats sums the counters of the client's sockets, those closed included, and counts
// those open.
func (c *Client) socketStats() (transport.Stats, int) {
	p := &c.pool
	p.mu.Lock()
	socks := append(append([]*socket(nil), p.socks...), p.closingSocks...)
	sum := p.retired
	p.mu.Unlock()
	open := 0
	for _, k := range socks {
		s := k.conn.Stats()
		if s.Open {
			open++
		}
		sum = sum.Add(s)
	}
	return sum, open
}

// counters are the client's own atomic counters behind Stats (the sockets and the
// subscriptions keep theirs).
type counters struct {
	rejoins     atomic.Uint64
	pushDropped atomic.Uint64
}

// ObservationKind says what an [Observation] reports.
type ObservationKind string

// The kinds of observations.
const (
	// ObserveConnection: the socket changed state (Old, New; Err is the cause of a drop or of
	// a failed attempt, for which Old and New are both connecting).
	ObserveConnection ObservationKind = "connection"
	// ObserveJoin: a join of Topic ended, after Latency: Err is nil when the server accepted
	// it, else why it failed (the server's refusal, a timeout, a lost socket). Rejoin says
	// whether it followed a failure or a loss.
	ObserveJoin ObservationKind = "join"
	// ObserveRejoin: a join of Topic is sent again (Attempt counts from 1) after a failed
	// join, a phx_error or a lost socket.
	ObserveRejoin ObservationKind = "rejoin"
	// ObserveHeartbeat: a heartbeat was answered after Latency.
	ObserveHeartbeat ObservationKind = "heartbeat"
	// ObserveDrop: Count events were dropped at Source (Topic for a push buffer, Subscription
	// for a subscription).
	ObserveDrop ObservationKind = "drop"
	// ObserveGap: Topic is joined again after being away from Since to Until; events sent
	// meanwhile were missed.
	ObserveGap ObservationKind = "gap"
	// ObserveServerError: the server reported an error on Topic: Reason is its exact text (a
	// refused join, a system error before a close, a phx_error).
	ObserveServerError ObservationKind = "server_error"
)

// DropSource says where an [ObserveDrop] happened; the values match [DropCounts]' fields.
type DropSource string

// The places where events are dropped.
const (
	DropSendBuffer   DropSource = "send_buffer"
	DropPushBuffer   DropSource = "push_buffer"
	DropSubscription DropSource = "subscription"
)

// Observation is one event of a client's life, for metrics and tracing systems; see
// [WithObserver]. Kind says which fields are set.
type Observation struct {
	// Kind says what happened, and so which of the other fields are set.
	Kind ObservationKind
	// Time is when it happened.
	Time time.Time
	// Topic is the channel's topic, for the kinds about a channel.
	Topic string
	// Old and New are the socket's states (ObserveConnection).
	Old, New State
	// Socket numbers the socket of the client's pool (ObserveConnection, ObserveHeartbeat):
	// 0 for the first.
	Socket int
	// Latency is a join's time from phx_join to its end (ObserveJoin) or a heartbeat's round
	// trip (ObserveHeartbeat).
	Latency time.Duration
	// Rejoin says whether a join followed a failure or a loss (ObserveJoin).
	Rejoin bool
	// Attempt numbers a rejoin since the last success, from 1 (ObserveRejoin).
	Attempt int
	// Since and Until bound a gap (ObserveGap).
	Since, Until time.Time
	// Source says where events were dropped (ObserveDrop).
	Source DropSource
	// Count is how many events were dropped (ObserveDrop).
	Count uint64
	// Subscription describes the subscription that dropped them (ObserveDrop, Source
	// DropSubscription).
	Subscription string
	// Reason is the server's exact text (ObserveServerError).
	Reason string
	// Err is the cause: of a connection change, of a failed join, of a gap.
	Err error
}

// observerQueue is the bound of the observations waiting for the WithObserver function; past
// it, observations are dropped and counted in Stats.Dropped.Observations.
const observerQueue = 4096

// observer hands observations to the user's function on a goroutine of its own, so that the
// router, the reader and a Send never wait on it: emit never blocks.
type observer struct {
	fn      func(Observation)
	q       chan Observation
	dropped atomic.Uint64

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
}

func (o *observer) init(fn func(Observation)) {
	o.fn = fn
	if fn != nil {
		o.q = make(chan Observation, observerQueue)
	}
	o.stop = make(chan struct{})
	o.done = make(chan struct{})
}

// on reports whether there is a function to tell.
func (o *observer) on() bool { return o.fn != nil }

// emit queues ob for the function, or counts it as dropped when the queue is full or the
// client closed.
func (o *observer) emit(ob Observation) {
	if o.fn == nil {
		return
	}
	if ob.Time.IsZero() {
		ob.Time = time.Now()
	}
	select {
	case o.q <- ob:
	default:
		o.dropped.Add(1)
	}
}

// start starts the goroutine that calls the function, once, unless stopped.
func (o *observer) start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fn == nil || o.started || o.stopped {
		return
	}
	o.started = true
	go o.run()
}

// close stops the goroutine after it has told the function what is queued, and waits for it.
func (o *observer) close() {
	o.mu.Lock()
	started, stopped := o.started, o.stopped
	o.stopped = true
	o.mu.Unlock()
	if !started {
		return
	}
	if !stopped {
		close(o.stop)
	}
	<-o.done
}

func (o *observer) run() {
	defer close(o.done)
	for {
		select {
		case ob := <-o.q:
			o.fn(ob)
		case <-o.stop:
			for {
				select {
				case ob := <-o.q:
					o.fn(ob)
				default:
					return
				}
			}
		}
	}
}

// WithObserver sets a function told of the client's life, for metrics and tracing systems:
// socket state changes, joins with their latency, rejoins, heartbeat round trips, drops, gaps
// and the server's error reasons (see [ObservationKind]). It is called on a goroutine of its
// own, one observation at a time, in the order they happened; the client never waits for it:
// observations wait in a queue of 4,096, past which they are dropped and counted in
// Stats().Dropped.Observations. Close tells it what is queued, then waits for it to return.
// Default: none.
func WithObserver(fn func(Observation)) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidArgument("WithObserver: nil function")
		}
		c.observer = fn
		return nil
	}
}

// WithRequestHeaders sets a function that adds headers to every WebSocket upgrade request and
// every REST call, derived from a ctx: for example the W3C traceparent and baggage of the
// current span, which the server reads on both. For a REST call (HTTPSend, the HTTP fallback)
// ctx is the call's; for an upgrade, which the client makes in the background, ctx is the
// dial's, ended by Close and bounded by the dial timeout: start a span there, or carry the
// trace of your choice. The function runs before each request, on the goroutine that makes
// it; it must not block for long. Default: none.
//
//	client.WithRequestHeaders(func(ctx context.Context, h http.Header) {
//		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
//	})
func WithRequestHeaders(fn func(ctx context.Context, h http.Header)) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidArgument("WithRequestHeaders: nil function")
		}
		c.requestHeaders = fn
		return nil
	}
}

// observeFeature is the part of a channel's life the observer sees: when each join starts and
// how it ends. It counts rejoins for Stats.
type observeFeature struct {
	baseFeature
	sent   monoTime // when the join in flight was sent, or zero
	rejoin bool     // the join in flight follows a failure or a loss
}

func (f *observeFeature) joining() {
	s := f.s
	f.sent = s.r.mono()
	f.rejoin = s.attempt > 0 || !s.downSince().IsZero()
	if f.rejoin {
		c := s.r.c
		c.counters.rejoins.Add(1)
		c.obs.emit(Observation{Kind: ObserveRejoin, Topic: s.topic(), Attempt: max(int(s.attempt), 1), Err: s.downCause()})
	}
}

func (f *observeFeature) joined() {
	s := f.s
	c := s.r.c
	now := time.Now()
	if f.sent != 0 {
		c.obs.emit(Observation{Kind: ObserveJoin, Time: now, Topic: s.topic(), Latency: s.r.mono().sub(f.sent), Rejoin: f.rejoin})
		f.sent = 0
	}
	if since := s.downSince(); !since.IsZero() {
		c.obs.emit(Observation{Kind: ObserveGap, Time: now, Topic: s.topic(), Since: since, Until: now, Err: s.downCause()})
	}
}

func (f *observeFeature) down(cause error) {
	if f.sent == 0 || cause == nil {
		f.sent = 0 // the user left before the join ended
		return
	}
	r := f.s.r
	r.c.obs.emit(Observation{Kind: ObserveJoin, Time: time.Now(), Topic: f.s.topic(), Latency: r.mono().sub(f.sent), Rejoin: f.rejoin, Err: cause})
	f.sent = 0
}

func (f *observeFeature) end(cause error) { f.down(cause) }

// serverError tells the observer of an error reason from the server.
func (c *Client) serverError(topic, reason string) {
	c.obs.emit(Observation{Kind: ObserveServerError, Topic: topic, Reason: reason})
}
