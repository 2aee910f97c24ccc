package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// State is the state of a [Conn]'s socket.
type State int32

// The connection states. A Conn starts Closed, goes Connecting when started, Open when the
// socket is up, back to Connecting when it drops (through Closing when we close it, as on a
// heartbeat timeout), and ends Closed after Close.
const (
	StateClosed State = iota
	StateConnecting
	StateOpen
	StateClosing
)

// String returns the lower-case name of s, as realtime-js spells it.
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// StateChange reports a transition of a Conn. Old may equal New: a failed connection attempt
// is reported as Connecting → Connecting with the attempt's error.
type StateChange struct {
	Old, New State
	// Err is the cause: why the socket dropped or an attempt failed; nil for the expected steps.
	Err error
	// Epoch numbers the socket connections: it grows by one each time the socket opens, and is
	// the number of the connection that is open (New == Open) or was open last.
	Epoch uint64
}

// Defaults of a Conn, like realtime-js's unless noted.
const (
	DefaultHeartbeat    = 25 * time.Second
	DefaultSendBuffer   = 100
	DefaultDialTimeout  = 30 * time.Second // the server answers a refused upgrade after ~2 s
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxQueue bounds the frames waiting for the writer while the socket is open; Send
	// then waits, bounded by its ctx, for room.
	DefaultMaxQueue = 4096
)

// DefaultBackoff is the reconnect delay before retry attempt (0 for the first retry): 1 s, 2 s,
// 5 s, 10 s, then 10 s, as realtime-js, each with ±20% jitter so that clients dropped together
// do not come back together.
func DefaultBackoff(attempt int) time.Duration {
	steps := [...]time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}
	d := steps[len(steps)-1]
	if attempt >= 0 && attempt < len(steps) {
		d = steps[attempt]
	}
	return Jitter(d, 0.2)
}

// Jitter returns d scaled by a random factor in [1-frac, 1+frac).
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}

// Config configures a [Conn]. Only URL is required.
type Config struct {
	// URL is the socket URL to dial, with its query (see [SocketURL]). It holds the API key, so
	// it is never logged or put in errors as it is.
	URL string
	// Header is sent with the upgrade request (for example x-api-key). It is copied.
	Header http.Header
	// Version is the serializer version; it must match the vsn in URL. Default V2.
	Version Version
	// Dialer dials the socket. It is copied, never modified. Default: a copy of
	// websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// Heartbeat is the heartbeat interval; a heartbeat unanswered when the next is due, with
	// nothing received from the server in between, is a timeout. Default 25 s; negative turns
	// heartbeats off.
	Heartbeat time.Duration
	// Backoff returns the delay before reconnect attempt n (0 for the first). Default
	// [DefaultBackoff].
	Backoff func(attempt int) time.Duration
	// SendBuffer is the number of frames kept while the socket is not open; when it is full the
	// oldest is dropped, counted and logged. Default 100.
	SendBuffer int
	// MaxQueue bounds the frames waiting for the writer while the socket is open. Default 4096.
	MaxQueue int
	// DialTimeout bounds one dial, upgrade included. Default 30 s.
	DialTimeout time.Duration
	// WriteTimeout bounds one frame write. Default 10 s.
	WriteTimeout time.Duration
	// BeforeDial, if set, runs before every dial (the access-token callback hook). An error
	// fails that attempt, which is retried with backoff.
	BeforeDial func(ctx context.Context) error
	// OnMessage receives every message from the server except heartbeat replies, in wire
	// order, on the reader goroutine. m is reused after the call returns, but the byte slices
	// it holds are not. It should not block for long: reading waits for it. Malformed frames
	// are logged and dropped.
	OnMessage func(m *Message)
	// OnFrame, if set, replaces OnMessage: it receives every frame except heartbeat replies
	// undecoded (the reader only peeks at the topic), so that decoding can run on another
	// goroutine with a Decoder of its own. frame is not reused.
	OnFrame func(binary bool, frame []byte)
	// OnState receives every state change, on the supervisor goroutine, in order; the change to
	// Open comes before the first message of that connection, and the change away from Open
	// after its last. It should not block for long.
	OnState func(StateChange)
	// Logger receives the connection's log lines. Default: none.
	Logger *slog.Logger
	// ReadLimit is the largest frame accepted from the server, in bytes. Default 64 MiB (the
	// server's own limit is 5 MB).
	ReadLimit int64
}

// frame is an encoded message waiting for the writer.
type frame struct {
	data   []byte
	binary bool
	// epoch, when non-zero, is the only connection the frame may be written on: frames of a
	// channel joined on a connection that has gone are dropped rather than sent stale.
	epoch uint64
	// done, when non-nil, marks a Flush: it receives nil when every frame before it was
	// written, or an error when the Conn closed first.
	done chan error
	// force queues the frame past MaxQueue instead of waiting (Post).
	force bool
}

// Conn is a self-healing Realtime socket: once started it connects, heartbeats, and reconnects
// with backoff until Close, keeping frames sent while it is down in a bounded buffer.
//
// A Conn runs one supervisor goroutine while started, and a reader and a writer goroutine while
// a socket is open. All methods are safe for concurrent use.
type Conn struct {
	cfg    Config
	log    *slog.Logger
	dialer websocket.Dialer

	ref atomic.Uint64

	mu        sync.Mutex
	state     State
	stateCh   chan struct{} // closed and replaced at every state change
	lastErr   error         // the last cause reported
	epoch     uint64
	queue     []frame
	roomCh    chan struct{} // closed and replaced when a full open queue shrinks
	dropped   uint64
	dropping  bool // an overflow episode is under way (logged once)
	started   bool
	closed    bool
	wake      chan struct{} // capacity 1: the writer has frames
	holdUntil time.Time     // no reconnect before this (HoldOff)
	holdCh    chan struct{} // capacity 1: holdUntil moved
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // closed when the supervisor has exited
	closeOnce sync.Once
}

// New returns a Conn for cfg without doing any I/O.
func New(cfg Config) (*Conn, error) {
	if cfg.URL == "" {
		return nil, invalidArg("socket URL is empty")
	}
	if cfg.Version == "" {
		cfg.Version = V2
	}
	if !cfg.Version.Valid() {
		return nil, invalidArg(fmt.Sprintf("protocol version %q is not 1.0.0 or 2.0.0", cfg.Version))
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = DefaultSendBuffer
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	cfg.MaxQueue = max(cfg.MaxQueue, cfg.SendBuffer)
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 64 << 20
	}
	cfg.Header = cfg.Header.Clone()
	c := &Conn{
		cfg:     cfg,
		log:     cfg.Logger,
		stateCh: make(chan struct{}),
		roomCh:  make(chan struct{}),
		wake:    make(chan struct{}, 1),
		holdCh:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Dialer != nil {
		c.dialer = *cfg.Dialer
	} else {
		c.dialer = *websocket.DefaultDialer
	}
	if c.dialer.HandshakeTimeout == 0 {
		c.dialer.HandshakeTimeout = cfg.DialTimeout
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// String describes the Conn without secrets.
func (c *Conn) String() string { return "realtime socket " + Redact(c.cfg.URL) }

// MakeRef returns a fresh message reference, unique on this Conn.
func (c *Conn) MakeRef() string { return strconv.FormatUint(c.ref.Add(1), 10) }

// Version returns the serializer version the Conn speaks.
func (c *Conn) Version() Version { return c.cfg.Version }

// State returns the current state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Epoch returns the number of the connection that is open, or was open last (0: none yet).
func (c *Conn) Epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// Dropped returns how many frames the send buffer has dropped because it was full.
func (c *Conn) Dropped() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// WaitForStateChange waits until the state differs from from, or ctx is done; it reports
// whether the state changed.
func (c *Conn) WaitForStateChange(ctx context.Context, from State) bool {
	for {
		c.mu.Lock()
		st, ch := c.state, c.stateCh
		c.mu.Unlock()
		if st != from {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// Start starts connecting in the background, if the Conn is not started or closed already.
func (c *Conn) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return
	}
	c.started = true
	go c.supervise()
}

// Connect starts the Conn if needed and waits until the socket is open. ctx bounds only this
// wait: when it ends first, the Conn keeps trying in the background, and the error wraps both
// ctx's error and the last attempt's error (such as an [*UpgradeError]).
func (c *Conn) Connect(ctx context.Context) error {
	c.Start()
	for {
		c.mu.Lock()
		st, ch, last, closed := c.state, c.stateCh, c.lastErr, c.closed
		c.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case st == StateOpen:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("realtime: connect: %w (last attempt: %w)", context.Cause(ctx), last)
			}
			return fmt.Errorf("realtime: connect: %w", context.Cause(ctx))
		}
	}
}

// Close closes the socket for good and returns once every goroutine of the Conn has exited.
// Frames not yet written are discarded. It is idempotent; every call waits.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		started := c.started
		c.started = true // no Start after Close
		queue := c.queue
		c.queue = nil
		close(c.roomCh)
		c.roomCh = make(chan struct{})
		c.mu.Unlock()
		failFlushes(queue, ErrClosed)
		c.cancel()
		if !started {
			close(c.done)
		}
	})
	<-c.done
	return nil
}

func failFlushes(q []frame, err error) {
	for _, f := range q {
		if f.done != nil {
			f.done <- err
		}
	}
}

// Send encodes m and queues it for the writer. While the socket is not open the frame waits in
// the send buffer (the oldest is dropped when it is full, and counted); while it is open and
// the writer is behind by MaxQueue frames, Send waits for room, bounded by ctx. ctx never
// affects the socket. Send returns an error wrapping [ErrInvalidArgument] for a message the
// protocol cannot carry (nothing is queued), and [ErrClosed] after Close.
func (c *Conn) Send(ctx context.Context, m *Message) error { return c.SendOn(ctx, 0, m) }

// SendOn is Send for a frame that is only valid on connection epoch (see [StateChange.Epoch]):
// if that connection is gone when the writer reaches the frame, it is dropped instead of being
// written stale on a newer connection. An epoch of 0 means any connection.
func (c *Conn) SendOn(ctx context.Context, epoch uint64, m *Message) error {
	data, binary, err := Encode(nil, c.cfg.Version, ClientSide, m)
	if err != nil {
		return err
	}
	return c.enqueue(ctx, frame{data: data, binary: binary, epoch: epoch})
}

// Post queues m like SendOn but never waits: while the socket is open the queue may grow past
// MaxQueue. The SDK posts its own few frames with it (joins, leaves, a channel's flushed push
// buffer), which must not wait behind a user's backlog.
func (c *Conn) Post(epoch uint64, m *Message) error {
	data, binary, err := Encode(nil, c.cfg.Version, ClientSide, m)
	if err != nil {
		return err
	}
	return c.enqueue(nil, frame{data: data, binary: binary, epoch: epoch, force: true})
}

// Flush waits until every frame queued before the call has been written to a socket, or ctx is
// done, or the Conn closes.
func (c *Conn) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	if err := c.enqueue(ctx, frame{done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) enqueue(ctx context.Context, f frame) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.state != StateOpen {
			if f.done == nil {
				c.trimLocked(c.cfg.SendBuffer - 1)
			}
			c.queue = append(c.queue, f)
			c.mu.Unlock()
			return nil
		}
		if len(c.queue) < c.cfg.MaxQueue || f.done != nil || f.force {
			c.queue = append(c.queue, f)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return nil
		}
		room := c.roomCh
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// trimLocked drops the oldest data frames until at most n remain, counting and reporting the
// loss once per overflow episode.
func (c *Conn) trimLocked(n int) {
	data := 0
	for _, f := range c.queue {
		if f.done == nil {
			data++
		}
	}
	for data > n {
		for i, f := range c.queue {
			if f.done == nil {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				break
			}
		}
		data--
		c.dropped++
		if !c.dropping {
			c.dropping = true
			c.log.Warn("realtime: send buffer full while disconnected; dropping the oldest frames",
				"buffer", c.cfg.SendBuffer, "dropped_total", c.dropped)
		}
	}
}

// pop takes the next frame for the writer.
func (c *Conn) pop() (frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		if c.dropping {
			c.dropping = false
			c.log.Info("realtime: send buffer flushed", "dropped_total", c.dropped)
		}
		return frame{}, false
	}
	f := c.queue[0]
	c.queue[0] = frame{}
	c.queue = c.queue[1:]
	if len(c.queue) == c.cfg.MaxQueue-1 {
		close(c.roomCh)
		c.roomCh = make(chan struct{})
	}
	return f, true
}

// setState records a transition and reports it. Old == New is reported only with a cause.
func (c *Conn) setState(to State, cause error) {
	c.mu.Lock()
	from := c.state
	if from == to && cause == nil {
		c.mu.Unlock()
		return
	}
	c.state = to
	if cause != nil {
		c.lastErr = cause
	}
	if to == StateOpen {
		c.epoch++
		c.lastErr = nil
	}
	if to != StateOpen && from == StateOpen {
		c.trimLocked(c.cfg.SendBuffer) // the open queue may hold more than the buffer allows
	}
	epoch := c.epoch
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	c.mu.Unlock()
	if cause != nil {
		c.log.Info("realtime: connection state", "from", from.String(), "to", to.String(), "cause", cause.Error())
	} else {
		c.log.Debug("realtime: connection state", "from", from.String(), "to", to.String())
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(StateChange{Old: from, New: to, Err: cause, Epoch: epoch})
	}
}

// supervise dials, runs and redials the socket until Close.
func (c *Conn) supervise() {
	defer close(c.done)
	ctx := c.ctx
	attempt := 0
	for ctx.Err() == nil {
		c.setState(StateConnecting, nil)
		ws, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.setState(StateConnecting, err)
		} else {
			healthy, cause := c.run(ctx, ws)
			if ctx.Err() != nil {
				break
			}
			if healthy {
				attempt = 0
			}
			c.setState(StateConnecting, cause)
		}
		delay := c.cfg.Backoff(attempt)
		attempt++
		c.log.Debug("realtime: reconnecting", "in", delay.String(), "attempt", attempt)
		c.wait(ctx, time.Now().Add(delay))
	}
	c.setState(StateClosed, nil)
}

// wait waits until deadline, or later if HoldOff asks for it meanwhile, or until ctx ends.
func (c *Conn) wait(ctx context.Context, deadline time.Time) {
	for {
		c.mu.Lock()
		if c.holdUntil.After(deadline) {
			deadline = c.holdUntil
		}
		c.mu.Unlock()
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-t.C:
			return
		case <-c.holdCh:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// HoldOff makes the next reconnect wait at least d from now, including a wait already under
// way: the SDK calls it when the server signals a rate limit, which it may learn only after
// the socket has dropped.
func (c *Conn) HoldOff(d time.Duration) {
	c.mu.Lock()
	if until := time.Now().Add(d); until.After(c.holdUntil) {
		c.holdUntil = until
	}
	c.mu.Unlock()
	select {
	case c.holdCh <- struct{}{}:
	default:
	}
}

// dial runs BeforeDial and opens one socket.
func (c *Conn) dial(ctx context.Context) (*websocket.Conn, error) {
	if c.cfg.BeforeDial != nil {
		if err := c.cfg.BeforeDial(ctx); err != nil {
			return nil, fmt.Errorf("realtime: before dial: %w", err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	ws, resp, err := c.dialer.DialContext(dctx, c.cfg.URL, c.cfg.Header.Clone())
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, upgradeError(resp)
		}
		return nil, fmt.Errorf("realtime: dial %s: %w", Redact(c.cfg.URL), scrub(err, c.cfg.URL))
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	return ws, nil
}

// scrub keeps the error's identity but makes sure its text cannot carry the URL's secrets.
func scrub(err error, rawURL string) error {
	if rawURL != "" && strings.Contains(err.Error(), rawURL) {
		return &scrubbedError{msg: strings.ReplaceAll(err.Error(), rawURL, Redact(rawURL)), err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// upgradeError reads the server's refusal: its status and the text of {"error": …} (or
// {"message": …}) in the body.
func upgradeError(resp *http.Response) error {
	e := &UpgradeError{StatusCode: resp.StatusCode}
	if resp.Body == nil {
		return e
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		for _, raw := range []json.RawMessage{v.Error, v.Message} {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				e.Message = s
				return e
			}
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = strings.ToValidUTF8(text, "\ufffd")
	return e
}

// session is the state of one open socket.
type session struct {
	ws    *websocket.Conn
	epoch uint64
	stop  chan struct{} // closed to stop the writer

	framesRead atomic.Uint64 // frames the reader has taken off the socket
	inHandler  atomic.Bool   // the reader is handing a message on (so it is not idle)
	healthy    atomic.Bool   // a heartbeat was answered on this socket

	hbMu     sync.Mutex
	hbRef    string // the unanswered heartbeat, or ""
	hbFrames uint64 // framesRead when it was sent
}

// run serves one open socket until it fails or ctx ends. It returns whether the socket was
// healthy (a heartbeat was answered), which resets the backoff, and the cause of its end.
func (c *Conn) run(ctx context.Context, ws *websocket.Conn) (bool, error) {
	s := &session{ws: ws, stop: make(chan struct{})}
	c.setState(StateOpen, nil)
	s.epoch = c.Epoch()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errc <- c.readLoop(s) }()
	go func() { defer wg.Done(); errc <- c.writeLoop(s) }()

	var cause error
	select {
	case cause = <-errc:
	case <-ctx.Done():
	}
	switch {
	case ctx.Err() != nil: // Close
		c.setState(StateClosing, nil)
		c.closeFrame(ws, websocket.CloseNormalClosure, "")
	case errors.Is(cause, ErrHeartbeatTimeout):
		c.setState(StateClosing, cause)
		c.closeFrame(ws, websocket.CloseNormalClosure, "heartbeat timeout")
	}
	close(s.stop)
	ws.Close()
	wg.Wait()
	return s.healthy.Load(), cause
}

func (c *Conn) closeFrame(ws *websocket.Conn, code int, reason string) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// readLoop reads, decodes and hands on frames until the socket fails.
func (c *Conn) readLoop(s *session) error {
	dec := Decoder{Version: c.cfg.Version, Side: ClientSide}
	var m Message
	var scratch []byte
	for {
		mt, r, err := s.ws.NextReader()
		if err != nil {
			return readError(err)
		}
		data, err := readFrame(r, &scratch)
		if err != nil {
			return readError(err)
		}
		s.framesRead.Add(1)
		binary := mt == websocket.BinaryMessage
		if c.cfg.OnFrame != nil && (binary || !peekPhoenix(c.cfg.Version, data)) {
			s.inHandler.Store(true)
			c.cfg.OnFrame(binary, data)
			s.inHandler.Store(false)
			continue
		}
		if err := dec.Decode(binary, data, &m); err != nil {
			c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(data),
				"binary", mt == websocket.BinaryMessage)
			continue
		}
		if m.Topic == TopicPhoenix && m.Event == EventReply {
			s.hbMu.Lock()
			if m.Ref == s.hbRef {
				s.hbRef = ""
				s.healthy.Store(true)
			}
			s.hbMu.Unlock()
			continue
		}
		switch {
		case c.cfg.OnFrame != nil:
			s.inHandler.Store(true)
			c.cfg.OnFrame(binary, data)
			s.inHandler.Store(false)
		case c.cfg.OnMessage != nil:
			s.inHandler.Store(true)
			c.cfg.OnMessage(&m)
			s.inHandler.Store(false)
		}
	}
}

// readFrame reads one message into scratch and returns an exactly sized copy, so that what the
// decoder hands on never pins a larger buffer.
func readFrame(r io.Reader, scratch *[]byte) ([]byte, error) {
	b := (*scratch)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(b) <= 1<<20 {
		*scratch = b
	} else {
		*scratch = nil // do not keep a huge buffer after a huge frame
	}
	return bytes.Clone(b), nil
}

// readError turns a read failure into the cause reported to the user.
func readError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.CloseAbnormalClosure {
			return fmt.Errorf("realtime: connection lost: %w", io.ErrUnexpectedEOF)
		}
		return &CloseError{Code: ce.Code, Reason: ce.Text}
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return &CloseError{Code: websocket.CloseMessageTooBig, Reason: "frame larger than the read limit"}
	}
	return fmt.Errorf("realtime: connection lost: %w", err)
}

// writeLoop writes queued frames and heartbeats until the socket fails or stop is closed.
func (c *Conn) writeLoop(s *session) error {
	var tick <-chan time.Time
	if c.cfg.Heartbeat > 0 {
		t := time.NewTicker(c.cfg.Heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		// Frames queued before the socket opened are flushed first.
		for {
			select {
			case <-tick:
				if err := c.heartbeat(s); err != nil {
					return err
				}
			default:
			}
			f, ok := c.pop()
			if !ok {
				break
			}
			if f.done != nil {
				f.done <- nil
				continue
			}
			if f.epoch != 0 && f.epoch != s.epoch {
				c.log.Debug("realtime: dropped a frame of an earlier connection", "epoch", f.epoch)
				continue
			}
			if err := c.write(s, f.binary, f.data); err != nil {
				return err
			}
		}
		select {
		case <-s.stop:
			return nil
		case <-tick:
			if err := c.heartbeat(s); err != nil {
				return err
			}
		case <-c.wake:
		}
	}
}

func (c *Conn) write(s *session, binary bool, data []byte) error {
	mt := websocket.TextMessage
	if binary {
		mt = websocket.BinaryMessage
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := s.ws.WriteMessage(mt, data); err != nil {
		return fmt.Errorf("realtime: connection lost: write: %w", err)
	}
	return nil
}

// heartbeat sends the next heartbeat, or fails with ErrHeartbeatTimeout when the previous one
// is unanswered and nothing at all has arrived since it was sent. A reader that is busy handing
// messages on, or that has read anything, proves the server alive: a backlog on our side never
// counts as a dead server.
func (c *Conn) heartbeat(s *session) error {
	read := s.framesRead.Load()
	s.hbMu.Lock()
	if s.hbRef != "" && read == s.hbFrames && !s.inHandler.Load() {
		s.hbMu.Unlock()
		return ErrHeartbeatTimeout
	}
	ref := c.MakeRef()
	s.hbRef, s.hbFrames = ref, read
	s.hbMu.Unlock()
	m := Message{Ref: ref, Topic: TopicPhoenix, Event: EventHeartbeat}
	data, binary, err := Encode(nil, c.cfg.Version, ClientSide, &m)
	if err != nil {
		return err
	}
	return c.write(s, binary, data)
}
