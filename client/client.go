package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/go-supabase/realtime/internal/acktable"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// State is the state of a socket, or of the client's pool of sockets: Closed, Connecting, Open
// or Closing.
type State = transport.State

// The connection states.
const (
	StateClosed     = transport.StateClosed
	StateConnecting = transport.StateConnecting
	StateOpen       = transport.StateOpen
	StateClosing    = transport.StateClosing
)

// StateChange reports a transition of one socket of the client's pool. Old equals New
// (Connecting) for a failed connection attempt, with the attempt's error in Err (an *Error
// wrapping, for a refused upgrade, the HTTP status and the server's text).
type StateChange struct {
	// Old is the state the socket left, New the state it entered.
	Old, New State
	// Err is the cause of a drop or of a failed attempt; nil for the expected steps.
	Err error
	// Socket says which socket of the pool changed: 0 for the first one (the one Connect
	// opens), then 1, 2, … in the order the client opened them.
	Socket int
}

// Reply is the server's reply to a push.
type Reply struct {
	// Status is "ok" or "error".
	Status string
	// Response is the reply's response: usually a JSON object, a bare JSON string for some
	// errors (such as "payload_size_exceeded").
	Response []byte
}

// Client is a Supabase Realtime client: many channels on a pool of sockets (one socket until a
// socket holds its limit of channels; see WithMaxChannelsPerSocket). Create it with New; it
// does no I/O until Connect or a channel's Subscribe. All its methods are safe for concurrent
// use. Close (or Shutdown) releases it; see the package documentation for the goroutines it
// runs.
type Client struct {
	cfg      config
	apiKey   string
	endpoint *url.URL
	httpBase string
	refs     atomic.Uint64 // the refs of every push, unique across the sockets

	// pool is the client's sockets; transportConfig is what each is made with.
	pool            pool
	transportConfig transport.Config
	closers         sync.WaitGroup // goroutines closing sockets

	// life is the client's lifetime: Close ends it, and with it the ctx of every call of user code
	// the client makes (the token callback, catch-up functions).
	life    context.Context
	endLife context.CancelFunc
	log     *slog.Logger
	acks    *acktable.Table[Reply]
	group   stream.Group

	mu       sync.Mutex
	channels topicTable // every channel the user asked for, by topic (under mu)
	started  bool
	closed   bool

	inbox      *inbox
	frames     frameGate // bounds the large frames in flight (heavy.go)
	routerDone chan struct{}
	closeOnce  sync.Once

	tokens   tokenSource
	catchUps sync.WaitGroup // the catch-up functions under way (catchup.go)

	obs      observer // WithObserver's function and its queue
	counters counters // for Stats

	// Owned by the router goroutine.
	r router
}

// event is one item of the router's inbox: a frame from the server, a change of a socket's
// state, or a command to run on the router goroutine.
//
// A socket's reader puts its frames in undecoded: frames are decoded in one place, the router,
// so that reading the next frame and decoding this one run in parallel (a text frame's JSON is
// the costly part to validate; a binary frame's header is cheap either way). The reader waits
// while the inbox is full: backpressure on the socket, never on a subscriber.
type event struct {
	frame  []byte             // a frame the router decodes
	msg    *transport.Message // a large frame its reader decoded (heavy.go)
	sock   *socket            // the socket of a frame, message or state change
	binary bool
	// checked: the frame passed transport.CheckPayloads on its reader's goroutine.
	checked bool
	state   *transport.StateChange
	fn      func()
	charge  int // the bytes the frame gate admitted for msg (heavy.go)
}

// New returns a client for the Realtime endpoint of projectURL (https://<ref>.supabase.co, or
// a Realtime endpoint such as ws://localhost:4000/realtime/v1) authenticated with apiKey. It
// validates its input and does no I/O.
func New(projectURL, apiKey string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if apiKey == "" {
		return nil, invalidArgument("API key is empty")
	}
	ep, err := transport.Endpoint(projectURL)
	if err != nil {
		return nil, wrapInvalid(err)
	}
	c := &Client{
		cfg:        cfg,
		apiKey:     apiKey,
		endpoint:   ep,
		httpBase:   transport.HTTPBase(ep),
		log:        cfg.logger,
		acks:       acktable.New[Reply](cfg.maxPendingAcks),
		inbox:      newInbox(),
		frames:     frameGate{budget: frameBudget},
		routerDone: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.group.Logger = c.log
	c.group.OverflowError = slowConsumer
	c.obs.init(cfg.observer)
	var onHeartbeat func(time.Duration)
	var onDrop func(int, uint64)
	if c.obs.on() {
		c.group.OnDrop = func(desc string, n uint64) {
			c.obs.emit(Observation{Kind: ObserveDrop, Source: DropSubscription, Subscription: desc, Count: n})
		}
		onHeartbeat = func(time.Duration) {} // replaced per socket (newSocket)
		onDrop = func(n int, _ uint64) {
			c.obs.emit(Observation{Kind: ObserveDrop, Source: DropSendBuffer, Count: uint64(n)})
		}
	}
	c.group.Budget = cfg.pendingBudget
	c.group.FlowHigh, c.group.FlowLow = cfg.flowHigh, cfg.flowHigh/2
	c.group.FlowStall = flowStall
	c.life, c.endLife = context.WithCancel(context.Background())
	c.tokens.init(c)
	c.r.init(c)
	header := cfg.headers.Clone()
	key := apiKey
	if cfg.keyInHeader {
		if header == nil {
			header = http.Header{}
		}
		header.Set("x-api-key", apiKey)
		key = ""
	}
	c.transportConfig = transport.Config{
		URL:        transport.SocketURL(ep, key, cfg.params, cfg.version),
		Header:     header,
		Version:    cfg.version,
		Dialer:     withWriteBuffers(cfg.dialer),
		Heartbeat:  cfg.heartbeat,
		Backoff:    cfg.backoff,
		SendBuffer: cfg.sendBuffer,
		BeforeDial: c.tokens.beforeDial,
		Logger:     c.log,

		RequestHeader: cfg.requestHeaders,
		OnHeartbeat:   onHeartbeat,
		OnDrop:        onDrop,
		ReadLimit:     cfg.readLimit,
	}
	if cfg.flowHigh > 0 {
		c.transportConfig.ReadGate = c.group.ReadGate
	}
	c.pool.stateCh = make(chan struct{})
	if _, err := c.newSocket(); err != nil {
		return nil, wrapInvalid(err)
	}
	return c, nil
}

// flowStall is how long the sockets' readers wait for subscriptions that take nothing before
// those stop counting for flow control: long enough to ride over a garbage collection or a busy
// scheduler (a reader that keeps up takes an event every few microseconds), far below the
// heartbeat interval and the server's patience, and short enough for the other channels to see
// it as a hiccup, once per stuck reader.
const flowStall = time.Second

// makeRef returns a fresh message reference, unique across the client's sockets.
func (c *Client) makeRef() string { return strconv.FormatUint(c.refs.Add(1), 10) }

// String describes the client without secrets.
func (c *Client) String() string {
	return "realtime client " + transport.Redact(c.endpoint.String())
}

// Connect opens the socket, if needed, and waits until it is open. It is optional: a channel's
// Subscribe connects too. It returns early when the server refuses the socket for a reason
// that retrying cannot fix by itself, such as an invalid token (an *Error with code
// unauthorized, holding the HTTP status and the server's text; see [Error.Temporary]). ctx
// bounds only this wait: when it ends first (the server cannot be reached, say), the error
// wraps ctx's error and the last attempt's error. Either way the client keeps trying in the
// background, with backoff, until Close.
func (c *Client) Connect(ctx context.Context) error {
	if err := c.connect(); err != nil {
		return err
	}
	if err := c.pool.primary().conn.Connect(ctx); err != nil {
		if errors.Is(err, transport.ErrClosed) {
			return closedError()
		}
		return connectError(err)
	}
	return nil
}

// connectError wraps a failed Connect: it keeps ctx's error and, for a refused upgrade, the
// status and text.
func connectError(err error) error {
	var ue *transport.UpgradeError
	if errors.As(err, &ue) {
		code := CodeServerError
		switch ue.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			code = CodeUnauthorized
		case http.StatusTooManyRequests:
			code = CodeRateLimited
		}
		e := newError(code, err, "cannot connect: "+messageOf(ue), "status", ue.StatusCode)
		return e.withTemporary(ue.Temporary())
	}
	return newError(CodeTimeout, err, "cannot connect: "+messageOf(err))
}

func closedError() error { return newError(CodeClosed, nil, "client is closed") }

// ConnectionState returns the state of the client's pool of sockets: Open when every socket
// is open, Connecting while one is connecting (the first time, or again after a drop), Closing
// and Closed once the client closes (Closed before the first Connect or Subscribe too).
func (c *Client) ConnectionState() State { return c.pool.aggregate(c.isClosed()) }

// WaitForStateChange waits until the pool's state (see ConnectionState) differs from from, or
// ctx is done, and reports whether it changed.
func (c *Client) WaitForStateChange(ctx context.Context, from State) bool {
	for {
		c.pool.mu.Lock()
		ch := c.pool.stateCh
		c.pool.mu.Unlock()
		if c.ConnectionState() != from {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// OnConnectionState returns a subscription to the state changes of every socket of the pool,
// delivered in order (StateChange.Socket says which socket). ctx bounds the subscription's
// life.
func (c *Client) OnConnectionState(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[StateChange] {
	sub, feed := newSub[StateChange](ctx, &c.group, "connection state", c.subOptions(opts))
	if err := c.exec(func() { c.r.stateFeeds = append(c.r.stateFeeds, feed) }); err != nil {
		feed.Close(err)
	}
	return sub
}

func (c *Client) subOptions(opts []subscribe.Option) []subscribe.Option {
	if len(c.cfg.subOpts) == 0 {
		return opts
	}
	return append(append([]subscribe.Option(nil), c.cfg.subOpts...), opts...)
}

// Channels returns the client's channels, sorted by topic.
func (c *Client) Channels() []*Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Channel, 0, c.channels.len())
	for ch := range c.channels.all() {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
	return out
}

// RemoveChannel leaves ch (waiting for the reply, bounded by ctx and the push timeout), ends its
// subscriptions, and forgets it: the channel refuses every call from now on, and a later
// Channel call for its topic makes a new channel. Removing a channel that is over for good
// already does nothing.
func (c *Client) RemoveChannel(ctx context.Context, ch *Channel) error {
	if ch.c != c {
		return invalidArgument("RemoveChannel: %v belongs to another client", ch)
	}
	if ch.gone() != nil {
		return nil
	}
	err := ch.Unsubscribe(ctx)
	_ = c.exec(func() { ch.s.toEnded(newError(CodeClosed, nil, "channel removed", "topic", ch.topic)) })
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// unregister forgets a channel that is over for good, so that Channel makes a new one.
func (c *Client) unregister(ch *Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels.remove(ch)
}

// Close closes the socket and every channel for good, settles every pending future with
// ErrClosed, closes every subscription channel (Err then wraps ErrClosed), and returns once
// every goroutine the client started has exited. A WithAccessToken callback or a catch-up
// function (OnPostgresChangesWithCatchUp) under way has its ctx cancelled, and Close waits for
// it to return: one that ignores its ctx holds Close up until it returns (Shutdown bounds that
// wait). Close is idempotent: later calls wait too
// and return nil.
func (c *Client) Close() error {
	c.stop()
	c.tokens.wg.Wait()
	c.catchUps.Wait()
	return nil
}

// stop does the work of Close but for the wait for the token callback.
func (c *Client) stop() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		started := c.started
		c.started = true
		c.mu.Unlock()
		c.tokens.stop()
		c.endLife()
		for _, k := range c.pool.list() {
			c.closers.Go(func() { k.conn.Close() })
		}
		c.closers.Wait()
		c.pool.refresh(true)
		if started {
			c.post(func() { c.r.shutdown() })
			<-c.routerDone
		} else {
			close(c.routerDone)
		}
		c.acks.SettleAll(closedError())
		c.group.Wait()
		c.obs.close()
	})
	<-c.routerDone
	c.group.Wait()
}

// Shutdown leaves every joined channel, waits for the replies and for the socket to write what
// it holds, then closes the client like Close. If ctx ends first it still closes, and returns
// ctx's error; a token callback that ignores its cancelled ctx is then left to finish on its
// own (its result is discarded; a later Close waits for it).
func (c *Client) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ch := range c.Channels() {
		wg.Go(func() { _ = ch.Unsubscribe(ctx) })
	}
	wg.Wait()
	var err error
	for _, k := range c.pool.list() {
		if k.conn.State() == transport.StateOpen {
			if e := k.conn.Flush(ctx); e != nil && err == nil {
				err = e
			}
		}
	}
	c.stop()
	done := make(chan struct{})
	go func() {
		c.tokens.wg.Wait()
		c.catchUps.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// connect starts the router and the socket.
func (c *Client) connect() error {
	if err := c.start(); err != nil {
		return err
	}
	c.pool.primary().conn.Start()
	return nil
}

// start starts the router goroutine once.
func (c *Client) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return closedError()
	}
	if !c.started {
		c.started = true
		c.obs.start()
		go c.routerLoop()
	}
	return nil
}

// exec runs fn on the router goroutine and waits until it has run. It must not be called from
// the router goroutine.
func (c *Client) exec(fn func()) error {
	if err := c.start(); err != nil {
		return err
	}
	done := make(chan struct{})
	if !c.inbox.put(event{fn: func() { fn(); close(done) }}, false) {
		return closedError()
	}
	select {
	case <-done:
		return nil
	case <-c.routerDone:
		return closedError()
	}
}

// post queues fn to run on the router goroutine without waiting; it is dropped once the
// router has stopped. Timers and transport callbacks use it.
func (c *Client) post(fn func()) { c.inbox.put(event{fn: fn}, false) }

// routerLoop is the router goroutine: it handles the inbox, a batch at a time, until shutdown.
func (c *Client) routerLoop() {
	defer close(c.routerDone)
	defer c.frames.close() // what was admitted is not released any more
	defer c.r.heavy.jobs.Wait()
	defer c.inbox.close()
	for range c.inbox.wake {
		batch := c.inbox.take()
		for i := range batch {
			ev := &batch[i]
			switch {
			case ev.frame != nil:
				c.r.handleFrame(ev.sock, ev.binary, ev.checked, ev.frame)
			case ev.msg != nil:
				c.r.routeCharged(ev.sock, ev.msg, ev.charge)
			case ev.fn != nil:
				c.r.stage.flush()
				ev.fn()
			case ev.state != nil:
				c.r.stage.flush()
				c.r.handleState(ev.sock, *ev.state)
			}
			if c.r.stopped {
				// Events queued behind the shutdown are dropped; commands among them see
				// routerDone closed.
				return
			}
		}
		c.r.stage.flush()
		c.inbox.recycle(batch)
	}
}

// channelFor returns the registered channel of topic, or creates it with cfg.
func (c *Client) channelFor(topic string, cfg *channelConfig) (*Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, closedError()
	}
	if ch := c.channels.get(topic); ch != nil {
		if !ch.cfg.equal(cfg) {
			return nil, invalidArgument("channel %s already exists with other options; remove it first", topic)
		}
		return ch, nil
	}
	ch := newChannel(c, topic, cfg)
	c.channels.put(ch)
	return ch, nil
}

// fullTopic adds the realtime: prefix when missing.
func fullTopic(topic string) string {
	if strings.HasPrefix(topic, "realtime:") {
		return topic
	}
	return "realtime:" + topic
}

// replyError turns an error reply into an *Error: the response's reason (or the bare string
// response) is kept exactly in Message.
func replyError(topic string, r Reply) error {
	if r.Status == "ok" {
		return nil
	}
	reason := responseReason(r.Response)
	msg := reason
	if msg == "" {
		msg = fmt.Sprintf("server replied %q", r.Status)
	}
	return newError(classifyReason(reason), nil, msg, "topic", topic, "status", r.Status)
}

// withWriteBuffers returns a copy of d (or of the default dialer) whose sockets borrow their
// write buffer from one pool for the client while they write a message, instead of keeping a
// buffer each for their life: a pool of sockets that mostly wait costs one buffer, not one per
// socket. A dialer with a pool of its own keeps it.
func withWriteBuffers(d *websocket.Dialer) *websocket.Dialer {
	if d == nil {
		d = websocket.DefaultDialer
	}
	cp := *d
	if cp.WriteBufferPool == nil {
		cp.WriteBufferPool = &writeBuffers{}
	}
	return &cp
}

// writeBuffers is a websocket.BufferPool that keeps up to two buffers: a socket's writer
// takes one for each message and gives it back once written, so the client's sockets writing
// at the same time rarely need more.
type writeBuffers struct {
	mu   sync.Mutex
	free []any
}

// Get returns a kept buffer, or nil (the socket then allocates one).
func (p *writeBuffers) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return nil
	}
	b := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return b
}

// Put keeps b, unless two are kept already.
func (p *writeBuffers) Put(b any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < 2 {
		p.free = append(p.free, b)
	}
}
