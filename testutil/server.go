package testutil

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// Server is a fake Supabase Realtime server for tests, in the style of net/http/httptest. It
// speaks the protocol of docs/protocol.md: it answers heartbeats, joins and leaves, relays
// broadcasts between its connections with the self and ack semantics of the real server,
// records every frame it receives, and lets a test inject faults.
//
// By default it runs in memory: clients reach it through [Server.Dialer] (or
// [Server.DialContext]), over net.Pipe connections that work inside a testing/synctest bubble
// when the server is created there. [Server.Start] serves it on a loopback port instead.
//
// All methods are safe for concurrent use.
type Server struct {
	opts serverOptions

	mu         sync.Mutex
	conns      map[*Conn]struct{}
	nextConn   int
	connsCh    chan struct{} // closed and replaced when a connection opens
	frames     []Frame
	framesCh   chan struct{} // closed and replaced when a frame is recorded
	trimmed    int           // frames recorded and then forgotten (WithRecordLimit)
	maxPayload int
	httpReqs   []HTTPRequest
	topics     map[string]map[*channel]struct{}
	hbOff      bool
	refusals   []refusal
	joinDelay  time.Duration
	leaveDelay time.Duration
	joinFails  map[string][]string // topic ("" = any) → reasons of the next failing joins
	closed     bool

	feat    *serverExt // presence and postgres_changes (presence.go, postgres.go)
	authz   *authState // authentication (auth.go)
	limits  limitState // tenant limits (limits.go), guarded by mu
	pgx     pgExtra    // postgres_changes waits, stalls and tables (pgwait.go), guarded by feat.mu
	persist bool       // broadcast persistence (persist.go), guarded by mu

	controlOnce sync.Once
	control     http.Handler

	wg   sync.WaitGroup // connection goroutines
	http *httptest.Server
	url  string
}

// A ServerOption configures a Server.
type ServerOption func(*serverOptions)

type serverOptions struct {
	logger       *slog.Logger
	jwtSecret    string // WithJWTSecret (auth.go)
	recordLimit  int
	maxChannels  *int           // WithMaxChannelsPerClient (limits.go)
	maxJoins     *int           // WithMaxJoinsPerSecond
	maxUsers     *int           // WithMaxConcurrentUsers
	joinErrDelay *time.Duration // WithJoinErrorDelay
	persist      bool           // WithBroadcastPersistence (persist.go)
}

// WithJoinErrorDelay makes the server wait d before each error reply to a join, like the
// real server, which waits ~5 s; see [Server.SetJoinErrorDelay]. The default is 0.
func WithJoinErrorDelay(d time.Duration) ServerOption {
	return func(o *serverOptions) { o.joinErrDelay = &d }
}

// WithRecordLimit bounds the frames the server keeps for Received and WaitFor: with n > 0 it
// keeps the newest n, with n < 0 none (for load tests and long-running servers). The default,
// 0, keeps every frame.
func WithRecordLimit(n int) ServerOption {
	return func(o *serverOptions) { o.recordLimit = n }
}

// WithServerLogger sends the server's log lines (malformed frames, protocol errors) to l.
func WithServerLogger(l *slog.Logger) ServerOption {
	return func(o *serverOptions) { o.logger = l }
}

type refusal struct {
	status int
	body   string
}

// Frame is a frame the server received, decoded.
type Frame struct {
	transport.Message
	// Conn is the id of the connection it came on (1 for the first).
	Conn int
	// Data is the frame as it travelled.
	Data []byte
}

// NewServer starts an in-memory Server and registers its Close with t.Cleanup.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	s := NewUnstartedServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// NewUnstartedServer returns an in-memory Server, for code that has no testing.TB (such as
// Example functions). Call Close when done; call Start to serve it on loopback instead.
func NewUnstartedServer(opts ...ServerOption) *Server {
	s := &Server{
		conns:      make(map[*Conn]struct{}),
		framesCh:   make(chan struct{}),
		connsCh:    make(chan struct{}),
		maxPayload: DefaultMaxPayload,
		topics:     make(map[string]map[*channel]struct{}),
		joinFails:  make(map[string][]string),
		url:        "ws://realtime.test/realtime/v1",
		feat:       newServerExt(),
		authz:      newAuthState(),
		limits: limitState{
			maxChannels: DefaultMaxChannelsPerClient,
			maxJoins:    DefaultMaxJoinsPerSecond,
			maxUsers:    DefaultMaxConcurrentUsers,
		},
		pgx: newPgExtra(),
	}
	for _, o := range opts {
		o(&s.opts)
	}
	if p := s.opts.maxChannels; p != nil {
		s.limits.maxChannels = *p
	}
	if p := s.opts.maxJoins; p != nil {
		s.limits.maxJoins = *p
	}
	if p := s.opts.maxUsers; p != nil {
		s.limits.maxUsers = *p
	}
	if p := s.opts.joinErrDelay; p != nil {
		s.authz.joinErrDelay = *p
	}
	s.persist = s.opts.persist
	if s.opts.logger == nil {
		s.opts.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Start serves the server on a loopback port (127.0.0.1) instead of in memory.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil || s.closed {
		return
	}
	s.http = httptest.NewServer(s)
	s.url = "ws" + strings.TrimPrefix(s.http.URL, "http") + "/realtime/v1"
}

// URL returns the Realtime endpoint, ws://host/realtime/v1. In memory the host is a
// placeholder that only the server's dialer reaches.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// HTTPURL returns the base URL of the REST API, http://host/realtime/v1.
func (s *Server) HTTPURL() string {
	return "http" + strings.TrimPrefix(s.URL(), "ws")
}

// Dialer returns a websocket dialer that reaches this server, in memory or on loopback.
func (s *Server) Dialer() *websocket.Dialer {
	d := *websocket.DefaultDialer
	s.mu.Lock()
	inMemory := s.http == nil
	s.mu.Unlock()
	if inMemory {
		d.NetDialContext = s.DialContext
		d.Proxy = nil
	}
	return &d
}

// HTTPClient returns an HTTP client whose requests reach this server, in memory or on
// loopback, whatever host the URL names.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			s.mu.Lock()
			h := s.http
			s.mu.Unlock()
			if h != nil {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", h.Listener.Addr().String())
			}
			return s.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
}

// DialContext opens an in-memory connection to the server; it has the signature of
// net.Dialer.DialContext. The address is ignored.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("testutil: server closed")
	}
	client, server := net.Pipe()
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.servePipe(server)
	}()
	return client, nil
}

// servePipe reads one HTTP request from an in-memory connection and serves it.
func (s *Server) servePipe(nc net.Conn) {
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		nc.Close()
		return
	}
	req.RemoteAddr = "pipe"
	w := &pipeResponse{conn: nc, rw: bufio.NewReadWriter(br, bufio.NewWriter(nc)), header: make(http.Header)}
	s.ServeHTTP(w, req)
	if !w.hijacked {
		w.finish()
		nc.Close()
	}
}

// pipeResponse is the http.ResponseWriter of an in-memory request; it supports Hijack for the
// WebSocket upgrade.
type pipeResponse struct {
	conn     net.Conn
	rw       *bufio.ReadWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *pipeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, w.rw, nil
}

func (w *pipeResponse) finish() {
	w.WriteHeader(http.StatusOK)
	resp := http.Response{
		StatusCode:    w.status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		ContentLength: int64(w.body.Len()),
		Body:          nopCloser{&w.body},
		Close:         true,
	}
	_ = resp.Write(w.conn)
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// Close closes every connection and waits for the server's goroutines to exit. It is
// idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.authz.close()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	h := s.http
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
	if h != nil {
		h.Close()
	}
	s.wg.Wait()
}

// ServeHTTP serves the socket at …/websocket and the REST API. It makes the Server usable
// under any http.Server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := strings.TrimRight(r.URL.Path, "/"); {
	case strings.HasPrefix(p, "/testutil/v1/"):
		s.controlOnce.Do(func() { s.control = s.ControlHandler() })
		s.control.ServeHTTP(w, r)
	case strings.HasSuffix(p, "/websocket"):
		s.serveSocket(w, r)
	case strings.HasSuffix(p, "/api/broadcast") || strings.Contains(p, "/api/broadcast/"):
		s.serveREST(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSONError(w http.ResponseWriter, status int, key, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{%q:%q}`, key, msg)
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var ref *refusal
	if len(s.refusals) > 0 {
		ref = &s.refusals[0]
		s.refusals = s.refusals[1:]
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	if ref != nil {
		s.connectErrorWait()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ref.status)
		fmt.Fprint(w, ref.body)
		return
	}
	// Like the real server: vsn 2.x selects the array serializer; missing means 1.0.0; anything
	// else is refused with an empty 403.
	vsn := transport.V1
	switch v := r.URL.Query().Get("vsn"); {
	case v == "" || v == "1.0.0" || strings.HasPrefix(v, "1.0."):
	case v == "2.0.0" || strings.HasPrefix(v, "2.0."):
		vsn = transport.V2
	default:
		w.WriteHeader(http.StatusForbidden)
		return
	}
	status, msg := s.checkUpgrade(r)
	if status == 0 {
		status, msg = s.checkLimitsUpgrade()
	}
	if status != 0 {
		s.connectErrorWait()
		writeJSONError(w, status, "error", msg)
		return
	}
	// The connection is registered when the upgrade hijacks it, before the 101 response goes
	// out, so that a client that has connected always finds itself in Conns.
	c := newConn(s, vsn, r)
	hw := &hijackHook{ResponseWriter: w, onHijack: func(nc net.Conn) bool { return s.register(c, nc) }}
	ws, err := upgrader.Upgrade(hw, r, nil)
	if err != nil {
		if c.nc != nil {
			c.drop()
			c.cleanup()
		}
		return
	}
	c.ws = ws
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	c.readLoop()
}

// register numbers and records a new connection; it fails once the server is closed.
func (s *Server) register(c *Conn, nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.nc = nc
	if s.closed {
		return false
	}
	s.nextConn++
	c.id = s.nextConn
	s.conns[c] = struct{}{}
	close(s.connsCh)
	s.connsCh = make(chan struct{})
	return true
}

// hijackHook lets the server see the connection an upgrade takes over.
type hijackHook struct {
	http.ResponseWriter
	onHijack func(net.Conn) bool
}

func (h *hijackHook) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("testutil: response writer cannot hijack")
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if !h.onHijack(nc) {
		nc.Close()
		return nil, nil, errors.New("testutil: server closed")
	}
	return nc, rw, nil
}

// record stores a received frame and wakes waiters.
func (s *Server) record(f Frame) {
	s.mu.Lock()
	switch limit := s.opts.recordLimit; {
	case limit < 0:
		s.trimmed++
	case limit > 0 && len(s.frames) >= limit:
		drop := len(s.frames) - limit + 1
		s.frames = append(append(s.frames[:0:0], s.frames[drop:]...), f)
		s.trimmed += drop
	default:
		s.frames = append(s.frames, f)
	}
	close(s.framesCh)
	s.framesCh = make(chan struct{})
	s.mu.Unlock()
}

// Received returns every frame received so far, in order.
func (s *Server) Received() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// WaitFor waits until a received frame (counting those received already) satisfies match,
// and returns the first one that does.
func (s *Server) WaitFor(ctx context.Context, match func(Frame) bool) (Frame, error) {
	seen := 0 // frames looked at, counting those forgotten under WithRecordLimit
	for {
		s.mu.Lock()
		start := max(seen-s.trimmed, 0)
		frames, ch := s.frames[min(start, len(s.frames)):], s.framesCh
		seen = s.trimmed + len(s.frames)
		s.mu.Unlock()
		for _, f := range frames {
			if match(f) {
				return f, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("testutil: no matching frame: %w", ctx.Err())
		}
	}
}

// Expect waits for a frame with the given topic and event (the "realtime:" prefix is added to
// topic when missing, except for "phoenix").
func (s *Server) Expect(ctx context.Context, topic, event string) (Frame, error) {
	topic = fullTopic(topic)
	f, err := s.WaitFor(ctx, func(f Frame) bool { return f.Topic == topic && f.Event == event })
	if err != nil {
		return f, fmt.Errorf("testutil: waiting for %s on %s: %w", event, topic, err)
	}
	return f, nil
}

func fullTopic(topic string) string {
	if topic == transport.TopicPhoenix || strings.HasPrefix(topic, "realtime:") {
		return topic
	}
	return "realtime:" + topic
}

// Conns returns the open connections, oldest first.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	sortConns(out)
	return out
}

// WaitForConns waits until at least n connections are open, and returns them.
func (s *Server) WaitForConns(ctx context.Context, n int) ([]*Conn, error) {
	for {
		s.mu.Lock()
		count, ch := len(s.conns), s.connsCh
		s.mu.Unlock()
		if count >= n {
			return s.Conns(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("testutil: waiting for %d connections: %w", n, ctx.Err())
		}
	}
}

// DefaultMaxPayload is the server's default broadcast payload limit, 3,000 KB (the tenant
// default max_payload_size_in_kb).
const DefaultMaxPayload = 3000 * 1024

// SetMaxPayload sets the largest broadcast payload the server relays, in bytes; larger ones
// are dropped, with the error reply "payload_size_exceeded" when the sender asked for acks.
func (s *Server) SetMaxPayload(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxPayload = n
}

// SetHeartbeatReplies turns the answers to heartbeats on (the default) or off, to provoke a
// client's heartbeat timeout.
func (s *Server) SetHeartbeatReplies(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hbOff = !on
}

// RefuseUpgrades makes the next n upgrade requests fail with an HTTP response of the given
// status and body, such as 401 and {"error":"Token has expired"} (docs/protocol.md §1.3).
func (s *Server) RefuseUpgrades(n, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.refusals = append(s.refusals, refusal{status: status, body: body})
	}
}

// DelayJoins makes the server wait d before answering each join, whatever the answer. (For the
// real server's wait before a join error, see [Server.SetJoinErrorDelay].)
func (s *Server) DelayJoins(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joinDelay = d
}

// DelayLeaves makes the server wait d before answering each leave.
func (s *Server) DelayLeaves(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaveDelay = d
}

// FailJoins makes the next n joins of topic ("" for any topic) fail with the given reason,
// such as "ChannelRateLimitReached: Too many channels".
func (s *Server) FailJoins(topic string, n int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if topic != "" {
		topic = fullTopic(topic)
	}
	for range n {
		s.joinFails[topic] = append(s.joinFails[topic], reason)
	}
}

// nextJoinFailure pops the reason a join of topic must fail with, if there is one and it
// belongs to the given stage of the join's checks (faultStage, auth.go); a fault of a later
// stage stays queued until a join reaches that stage.
func (s *Server) nextJoinFailure(topic string, stage int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{topic, ""} {
		if r := s.joinFails[k]; len(r) > 0 {
			if faultStage(r[0]) != stage {
				return "", false
			}
			s.joinFails[k] = r[1:]
			return r[0], true
		}
	}
	return "", false
}

// CloseConnections closes every connection with a close frame of the given code and reason
// (1000, 1001 or 1012 for the cases of docs/protocol.md §1.4).
func (s *Server) CloseConnections(code int, reason string) {
	for _, c := range s.Conns() {
		c.CloseWith(code, reason)
	}
}

// DropConnections cuts every connection without a close frame, like a network failure.
func (s *Server) DropConnections() {
	for _, c := range s.Conns() {
		c.Drop()
	}
}

// PushRaw sends a raw frame to every connection.
func (s *Server) PushRaw(binary bool, data []byte) {
	for _, c := range s.Conns() {
		c.PushRaw(binary, data)
	}
}
