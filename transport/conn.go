package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Old is the state the Conn left, New the state it entered.
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
	// DefaultReadLimit is the largest frame a Conn accepts from the server: 64 MiB, well above
	// the 5 MB the server accepts from a client.
	DefaultReadLimit = 64 << 20
)

// defaultMaxQueue bounds the frames waiting for the writer while the socket is open (or the
// send buffer's size, if larger); Send then waits, bounded by its ctx, for room.
const defaultMaxQueue = 4096

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
	// websocket.DefaultDialer. A proxy, NetDial or NetDialTLSContext make the Conn read frames
	// through gorilla/websocket (see the package documentation, Reading frames).
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
	// ReadLimit is the largest frame accepted from the server, in bytes. A larger frame closes
	// the socket with code 1009 (message too big), reported as a [*CloseError], and the Conn
	// reconnects. Default [DefaultReadLimit], 64 MiB; zero or negative means the default.
	ReadLimit int64
	// RequestHeader, if set, adds headers to each upgrade request, after Header: for example a
	// W3C traceparent derived from ctx, which is the dial's (ended by Close, bounded by
	// DialTimeout). It runs on the supervisor goroutine, before the dial.
	RequestHeader func(ctx context.Context, h http.Header)
	// OnHeartbeat, if set, receives the round-trip time of every answered heartbeat, on the
	// reader goroutine. It must not block.
	OnHeartbeat func(rtt time.Duration)
	// ReadGate, if set, is called by the socket's reader before it takes each frame off the
	// socket; while it waits, no frame is read and TCP slows the server down (flow control).
	// It must return nil once reading may go on; ctx ends with the socket, and an error then
	// ends the reader. While the reader waits in it, a heartbeat left unanswered does not count
	// as a dead server: its reply is behind frames not read yet.
	ReadGate func(ctx context.Context) error
	// FrameGate, if set, is called by the socket's reader with the length n of each data
	// message of [LargeFrame] bytes or more, before it allocates the message's payload (the
	// fallback reader used behind a proxy, which learns a message's length only by reading it,
	// and a fragmented message call it once the message is read): a way to bound the memory of
	// large messages in flight. It must return nil once the message may be read; ctx ends with
	// the socket, and an error then ends the reader. While the reader waits in it, the socket
	// counts as busy, as with ReadGate. A message it admitted is then handed to OnFrame or
	// OnMessage, unless reading fails (ctx then ends) or the reader keeps the message to itself
	// (a heartbeat reply, a malformed message of the phoenix topic): then FrameGate is called
	// with n = 0, at once, before anything else is read.
	FrameGate func(ctx context.Context, n int) error
	// OnDrop, if set, is told each time the send buffer drops frames because it is full: n
	// frames now, total since New. It runs on the goroutine of the Send (or of the state
	// change) that dropped them, with no lock held. It must not block.
	OnDrop func(n int, total uint64)
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

	mu         sync.Mutex
	state      State
	stateCh    chan struct{} // closed and replaced at every state change
	lastErr    error         // the last cause reported
	epoch      uint64
	errSeq     uint64 // grows each time lastErr is set
	queue      []frame
	maxQueue   int           // the open queue's bound: defaultMaxQueue, or SendBuffer if larger
	roomCh     chan struct{} // closed and replaced to wake the Sends waiting for room (roomLocked)
	roomWanted bool          // a Send waits on roomCh
	dropping   bool          // an overflow episode is under way (logged once)
	started    bool
	closed     bool
	wake       chan struct{} // capacity 1: the writer has frames
	holdUntil  time.Time     // no reconnect before this (HoldOff)
	holdCh     chan struct{} // capacity 1: holdUntil moved
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{} // closed when the supervisor has exited
	closeOnce  sync.Once

	stats connStats

	ownReader atomic.Bool // the open socket, or the last one, is read by frameReader
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
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	cfg.Header = cfg.Header.Clone()
	c := &Conn{
		cfg:      cfg,
		log:      cfg.Logger,
		maxQueue: max(defaultMaxQueue, cfg.SendBuffer),
		stateCh:  make(chan struct{}),
		roomCh:   make(chan struct{}),
		wake:     make(chan struct{}, 1),
		holdCh:   make(chan struct{}, 1),
		done:     make(chan struct{}),
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

// Connect starts the Conn if needed and waits until the socket is open. It returns early, with
// the [*UpgradeError], when an attempt made during the call is refused with a status that
// retrying cannot fix by itself (see [UpgradeError.Temporary]), such as 401 "The token
// provided is not a valid JWT". ctx bounds only this wait: when it ends first, the error
// wraps both ctx's error and the last attempt's error (a refused or timed-out dial, say).
// Either way the Conn keeps trying in the background, with backoff, until Close. A socket
// that opened during the call counts even if it closed again before the call saw it open.
func (c *Conn) Connect(ctx context.Context) error {
	c.mu.Lock()
	seq, epoch := c.errSeq, c.epoch
	c.mu.Unlock()
	c.Start()
	for {
		c.mu.Lock()
		st, ch, last, lastSeq, closed, opened := c.state, c.stateCh, c.lastErr, c.errSeq, c.closed, c.epoch != epoch
		c.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case st == StateOpen || opened:
			return nil
		case lastSeq != seq && RefusedForGood(last):
			return last
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return &connectError{ctx: context.Cause(ctx), last: last}
		}
	}
}

// RefusedForGood reports whether err holds an [*UpgradeError] that is not
// [UpgradeError.Temporary]: the server refused the socket for a reason that retrying the same
// request cannot fix by itself.
func RefusedForGood(err error) bool {
	var ue *UpgradeError
	return errors.As(err, &ue) && !ue.Temporary()
}

// connectError is Connect's error when its ctx ends first: it wraps ctx's error and the last
// attempt's error, and says "realtime:" once.
type connectError struct{ ctx, last error }

func (e *connectError) Error() string {
	s := "realtime: connect: " + e.ctx.Error()
	if e.last != nil {
		s += " (last attempt: " + strings.TrimPrefix(e.last.Error(), "realtime: ") + ")"
	}
	return s
}

func (e *connectError) Unwrap() []error {
	if e.last == nil {
		return []error{e.ctx}
	}
	return []error{e.ctx, e.last}
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
		c.roomLocked() // waiters see closed
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

// setState records a transition and reports it. Old == New is reported only with a cause.
func (c *Conn) setState(to State, cause error) {
	c.mu.Lock()
	from := c.state
	if from == to && cause == nil {
		c.mu.Unlock()
		return
	}
	c.state = to
	c.stats.open.Store(to == StateOpen)
	if cause != nil {
		c.lastErr = cause
		c.errSeq++
	}
	if to == StateOpen {
		c.epoch++
		c.lastErr = nil
	}
	dropped := 0
	if to != StateOpen && from == StateOpen {
		c.dropStaleLocked()                      // frames of this connection can no longer be written
		dropped = c.trimLocked(c.cfg.SendBuffer) // the open queue may hold more than the buffer allows
		c.roomLocked()                           // waiters go to the send buffer now
	}
	epoch := c.epoch
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	c.mu.Unlock()
	c.reportDrop(dropped)
	if cause != nil {
		c.log.Info("realtime: connection state", "from", from.String(), "to", to.String(), "cause", cause.Error())
	} else {
		c.log.Debug("realtime: connection state", "from", from.String(), "to", to.String())
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(StateChange{Old: from, New: to, Err: cause, Epoch: epoch})
	}
}
