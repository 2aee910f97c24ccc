package client

import (
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/transport"
)

// socket is one socket of the client's pool and the channels placed on it. id, conn and
// started are set once; the other fields belong to the router goroutine.
type socket struct {
	id   int
	conn *transport.Conn

	open     bool
	epoch    uint64 // the connection number of the open socket (transport.StateChange.Epoch)
	chans    int    // channels placed on it: joining, joined or leaving
	capacity int    // channels it takes: the option, or fewer once the server said "Too many channels"
	counted  bool   // a join succeeded on it, so the server counts it as a connected user
	idle     *time.Timer
	closing  bool

	admitted int // the frame the gate admitted last, not yet handed on (its reader goroutine only)
}

// tag identifies the socket's current connection among every connection of the client: the
// pending replies of pushes sent on it are tagged with it and fail together when it drops.
func (k *socket) tag() uint64 { return uint64(k.id)<<48 | k.epoch }

// hasRoom says whether one more channel can be placed on the socket.
func (k *socket) hasRoom() bool { return !k.closing && k.chans < k.capacity }

// pool is the client's set of sockets, as the user's goroutines see it (the router places
// channels on them).
type pool struct {
	mu    sync.Mutex
	socks []*socket // live sockets, by id; the first is the primary socket
	next  int       // the id of the next socket

	state   State // the pool's state (see Client.ConnectionState)
	stateCh chan struct{}

	// For Stats: sockets removed but still closing, and the summed counters of the closed.
	closingSocks []*socket
	retired      transport.Stats
}

// retire moves the counters of a closed socket into the pool's total, so that the counters
// of Client.Stats never go back.
func (p *pool) retire(k *socket) {
	s := k.conn.Stats()
	s.Open, s.HeartbeatRTT, s.HeartbeatRTTSmoothed = false, 0, 0
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.closingSocks {
		if x == k {
			p.closingSocks = append(p.closingSocks[:i], p.closingSocks[i+1:]...)
			break
		}
	}
	p.retired = p.retired.Add(s)
}

// list returns the live sockets.
func (p *pool) list() []*socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*socket(nil), p.socks...)
}

// withRoom returns the first socket that can take one more channel, and the number of live
// sockets. While usersHeld (the tenant has no room for another connected user), a socket the
// server does not count yet takes a channel only if it holds some already. Router goroutine
// only: it reads the sockets' channel counts.
func (p *pool) withRoom(usersHeld bool) (*socket, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.socks {
		if k.hasRoom() && (k.counted || !usersHeld || k.chans > 0) {
			return k, len(p.socks)
		}
	}
	return nil, len(p.socks)
}

// primary returns the first socket.
func (p *pool) primary() *socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.socks[0]
}

// aggregate computes the pool's state from its sockets' states: Open when every socket is
// open, Connecting while one is not (and the client is not closing), Closed or Closing with
// the primary socket once the client closes.
func (p *pool) aggregate(closed bool) State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aggregateLocked(closed)
}

func (p *pool) aggregateLocked(closed bool) State {
	first := p.socks[0].conn.State()
	if closed || first == transport.StateClosed {
		return first
	}
	for _, k := range p.socks {
		if st := k.conn.State(); st != transport.StateOpen && !k.closing {
			return transport.StateConnecting
		}
	}
	return transport.StateOpen
}

// refresh recomputes the pool's state after a socket's change and wakes WaitForStateChange
// callers when it changed.
func (p *pool) refresh(closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.aggregateLocked(closed); st != p.state {
		p.state = st
		close(p.stateCh)
		p.stateCh = make(chan struct{})
	}
}

// newSocket makes a socket (no I/O) and adds it to the pool.
func (c *Client) newSocket() (*socket, error) {
	c.pool.mu.Lock()
	id := c.pool.next
	c.pool.next++
	c.pool.mu.Unlock()
	k := &socket{id: id, capacity: c.cfg.maxPerSocket}
	cfg := c.transportConfig
	cfg.OnFrame = c.frameDecoder(k)
	cfg.FrameGate = c.frameGateOf(k)
	if cfg.OnHeartbeat != nil {
		cfg.OnHeartbeat = func(rtt time.Duration) { c.obs.emit(Observation{Kind: ObserveHeartbeat, Socket: id, Latency: rtt}) }
	}
	cfg.OnState = func(sc transport.StateChange) {
		c.pool.refresh(c.isClosed())
		c.inbox.put(event{state: &sc, sock: k}, false)
	}
	conn, err := transport.New(cfg)
	if err != nil {
		return nil, err
	}
	k.conn = conn
	c.pool.mu.Lock()
	c.pool.socks = append(c.pool.socks, k)
	c.pool.mu.Unlock()
	return k, nil
}

// place puts a channel that is about to join on a socket: the one it is on, else the first
// with room, else a new one while the pool may grow. It reports false when every socket is full
// (or new sockets are held off) and the pool cannot grow.
func (r *router) place(s *chanState) bool {
	if s.sock != nil {
		return true
	}
	held := time.Now().Before(r.usersHoldUntil)
	k, n := r.c.pool.withRoom(held)
	if k != nil {
		r.attach(s, k)
		return true
	}
	if n >= r.c.cfg.maxSockets || held {
		return false
	}
	k, err := r.c.newSocket()
	if err != nil {
		return false
	}
	r.c.log.Info("realtime: opening another socket", "socket", k.id, "reason", "every socket holds its limit of channels")
	k.conn.Start()
	r.attach(s, k)
	return true
}

func (r *router) attach(s *chanState, k *socket) {
	s.sock = k
	k.chans++
	stopTimer(&k.idle)
}

// detach takes a channel off its socket; a socket other than the primary one that is left with
// no channel closes after an idle time.
func (r *router) detach(s *chanState) {
	k := s.sock
	if k == nil {
		return
	}
	s.sock = nil
	k.chans--
	if k.chans > 0 || k.id == r.c.pool.primary().id || r.stopped {
		return
	}
	stopTimer(&k.idle)
	k.idle = time.AfterFunc(2*r.c.cfg.heartbeat, func() { r.c.post(func() { r.closeIdle(k) }) })
}

// closeIdle closes a socket that still has no channel.
func (r *router) closeIdle(k *socket) {
	k.idle = nil
	if k.chans > 0 || k.closing || r.stopped {
		return
	}
	k.closing = true
	r.c.log.Info("realtime: closing an idle socket", "socket", k.id)
	p := &r.c.pool
	p.mu.Lock()
	for i, x := range p.socks {
		if x == k {
			p.socks = append(p.socks[:i], p.socks[i+1:]...)
			break
		}
	}
	p.closingSocks = append(p.closingSocks, k)
	p.mu.Unlock()
	p.refresh(false)
	// Close waits for the socket's goroutines, which post to the router: not on the router.
	r.c.closers.Go(func() {
		k.conn.Close()
		p.retire(k)
	})
}

// The join pacing: a token bucket that every join of the client takes from.

// paceJoin sends the join of a channel that is ready to join now, or queues it until the join
// bucket and any hold-off let it go. Joins go out in the order they were asked for.
func (r *router) paceJoin(s *chanState) {
	if len(r.joinQueue) == 0 && r.takeJoin() {
		s.sendJoin()
		return
	}
	s.paced = true
	r.joinQueue = append(r.joinQueue, s)
	r.armPace()
}

// takeJoin takes a join from the bucket, if the client is not holding off joins and the bucket
// has one.
func (r *router) takeJoin() bool {
	now := time.Now()
	if now.Before(r.joinHoldUntil) {
		return false
	}
	rate, burst := r.c.cfg.joinRate, float64(r.c.cfg.joinBurst)
	if rate <= 0 {
		return true
	}
	if r.bucketAt.IsZero() {
		r.bucket = burst
	} else {
		r.bucket = min(burst, r.bucket+now.Sub(r.bucketAt).Seconds()*rate)
	}
	r.bucketAt = now
	if r.bucket < 1 {
		return false
	}
	r.bucket--
	return true
}

// armPace sets the timer for the next join the queue can send.
func (r *router) armPace() {
	if r.paceTimer != nil || len(r.joinQueue) == 0 {
		return
	}
	now := time.Now()
	wait := r.joinHoldUntil.Sub(now)
	if rate := r.c.cfg.joinRate; rate > 0 && r.bucket < 1 {
		wait = max(wait, time.Duration((1-r.bucket)/rate*float64(time.Second)))
	}
	wait = max(wait, time.Millisecond)
	r.paceTimer = time.AfterFunc(wait, func() { r.c.post(r.drainPace) })
}

// drainPace sends the queued joins the bucket allows.
func (r *router) drainPace() {
	r.paceTimer = nil
	for len(r.joinQueue) > 0 {
		s := r.joinQueue[0]
		if !s.paced { // it stopped waiting (left, errored, ended)
			r.joinQueue = r.joinQueue[1:]
			continue
		}
		if !r.takeJoin() {
			break
		}
		r.joinQueue = r.joinQueue[1:]
		s.paced = false
		s.sendJoin()
	}
	if len(r.joinQueue) == 0 {
		r.joinQueue = nil
	}
	r.armPace()
}

// The server's limits, each handled in its own scope.

// limitScope is what a server limit concerns.
type limitScope int

const (
	scopeNone         limitScope = iota
	scopeSocket                  // channels per socket: the socket is full
	scopeTenantJoins             // the tenant's joins per second, or its database connections
	scopeTenantUsers             // the tenant's connected users: a socket not counted yet is refused
	scopeTenantEvents            // the tenant's messages per second: the channel was closed
	scopeChannel                 // the channel's own presence rate: the channel was closed
)

// limitOf classifies a join refusal's reason or a closing system message.
func limitOf(reason string) limitScope {
	switch {
	case strings.Contains(reason, "ChannelRateLimitReached"), reason == "Too many channels":
		return scopeSocket
	case strings.Contains(reason, "ClientJoinRateLimitReached"), strings.Contains(reason, "DatabaseConnectionRateLimitReached"),
		strings.Contains(reason, "Too many joins per second"):
		return scopeTenantJoins
	case strings.Contains(reason, "ConnectionRateLimitReached"), strings.Contains(reason, "Too many connected users"):
		return scopeTenantUsers
	case strings.Contains(reason, "Too many messages per second"), strings.Contains(reason, "Too many presence messages per second"):
		return scopeTenantEvents
	case strings.Contains(reason, "Client presence rate limit exceeded"):
		return scopeChannel
	}
	return scopeNone
}

// holdOff returns a hold-off for a tenant-wide limit: long enough for the server's rolling
// average (about 60 s) to fall, jittered so that clients refused together come back apart.
func (r *router) holdOff() time.Duration { return transport.Jitter(r.c.cfg.rateLimitHoldOff, 0.15) }

// holdJoins holds off every join of the client for d, and every reconnect.
func (r *router) holdJoins(d time.Duration) {
	until := time.Now().Add(d)
	if until.After(r.joinHoldUntil) {
		r.joinHoldUntil = until
	}
	for _, k := range r.c.pool.list() {
		k.conn.HoldOff(d)
	}
}

// limitError is the error of a join refused, or a channel closed, by a tenant-wide limit: the
// server's exact reason, and in its details how long the client holds off.
func limitError(topic, reason string, wait time.Duration) error {
	return newError(CodeRateLimited, nil, reason, "topic", topic, "retry_in", wait.Round(time.Second))
}
