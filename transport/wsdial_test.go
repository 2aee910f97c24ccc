package transport_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// rawServer accepts WebSocket upgrades and answers them with raw bytes: its upgrade response,
// extra headers and whatever frames the test wants in the same write. The test then drives
// each connection itself.
type rawServer struct {
	*httptest.Server
	conns chan *rawConn
}

type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func newRawServer(t *testing.T, useTLS bool, extraHeader string, withUpgrade []byte) *rawServer {
	t.Helper()
	return newRawServerEOL(t, "\r\n", useTLS, extraHeader, withUpgrade)
}

// newRawServerEOL is newRawServer with the given line ending in the upgrade response.
func newRawServerEOL(t *testing.T, eol string, useTLS bool, extraHeader string, withUpgrade []byte) *rawServer {
	t.Helper()
	s := &rawServer{conns: make(chan *rawConn, 4)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n" + extraHeader + "\r\n"
		resp = strings.ReplaceAll(resp, "\r\n", eol)
		if _, err := conn.Write(append([]byte(resp), withUpgrade...)); err != nil {
			t.Error(err)
		}
		s.conns <- &rawConn{Conn: conn, br: brw.Reader}
	})
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused TLS handshake of TestTLSSocket
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(func() {
		s.Close()
		close(s.conns)
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

// accept returns the next upgraded connection.
func (s *rawServer) accept(t *testing.T) *rawConn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(failAfter):
		t.Fatal("no connection")
		return nil
	}
}

// socketURL is the server's socket URL, ws:// or wss://.
func (s *rawServer) socketURL() string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/realtime/v1/websocket?apikey=k&vsn=2.0.0"
}

// readClientFrame reads one frame from the client, which masks its frames.
func (c *rawConn) readClientFrame() (opcode int, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	var key [4]byte
	if err == nil {
		_, err = io.ReadFull(c.br, key[:])
	}
	payload = make([]byte, n)
	if err == nil {
		_, err = io.ReadFull(c.br, payload)
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return int(h[0] & 0x0f), payload, err
}

// readClientMessage reads one data message from the client, joining its fragments.
func (c *rawConn) readClientMessage() ([]byte, error) {
	var msg []byte
	for {
		fin, err := c.br.Peek(1)
		if err != nil {
			return nil, err
		}
		last := fin[0]&0x80 != 0
		_, payload, err := c.readClientFrame()
		if err != nil {
			return nil, err
		}
		msg = append(msg, payload...)
		if last {
			return msg, nil
		}
	}
}

// rawClient is a Conn under test with channels of what it reports.
type rawClient struct {
	*transport.Conn
	events chan string
	states chan transport.StateChange
}

func newRawClient(t *testing.T, rawURL string, d *websocket.Dialer) *rawClient {
	t.Helper()
	rc := &rawClient{events: make(chan string, 100), states: make(chan transport.StateChange, 100)}
	c, err := transport.New(transport.Config{
		URL:       rawURL,
		Dialer:    d,
		Heartbeat: -1,
		Backoff:   func(int) time.Duration { return time.Hour },
		OnMessage: func(m *transport.Message) { rc.events <- m.Event },
		OnState:   func(sc transport.StateChange) { rc.states <- sc },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc.Conn = c
	return rc
}

func (rc *rawClient) wantEvents(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-rc.events:
			if got != w {
				t.Fatalf("event %q; want %q", got, w)
			}
		case <-time.After(failAfter):
			t.Fatalf("no event; want %q", w)
		}
	}
}

// nextState waits for the next state change.
func (rc *rawClient) nextState(t *testing.T) transport.StateChange {
	t.Helper()
	select {
	case sc := <-rc.states:
		return sc
	case <-time.After(failAfter):
		t.Fatal("no state change")
		return transport.StateChange{}
	}
}

// dropCause waits for the socket to drop and returns its cause.
func (rc *rawClient) dropCause(t *testing.T) error {
	t.Helper()
	for {
		if sc := rc.nextState(t); sc.Old == transport.StateOpen {
			return sc.Err
		}
	}
}

// failAfter bounds the waits of these tests, which run on real sockets: it is reached only
// when a test fails.
const failAfter = 10 * time.Second

func textMessage(event string) []byte {
	return wsFrame(finBit|opText, []byte(`[null,null,"realtime:room","`+event+`",{"pad":"`+strings.Repeat("x", len(event)*100)+`"}]`))
}

// Frames the server sends in the same write as its upgrade response are not lost, including
// one too large for the first read.
func TestFramesInTheUpgradeWrite(t *testing.T) {
	srv := newRawServer(t, false, "", join(textMessage("one"), wsFrame(finBit|opPing, []byte("p")), textMessage("two"),
		textMessage(strings.Repeat("three", 20))))
	c := newRawClient(t, srv.socketURL(), nil)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.ReadsFrames() {
		t.Error("the socket is read by gorilla/websocket; want the SDK's frame reader")
	}
	c.wantEvents(t, "one", "two", strings.Repeat("three", 20))
	sc := srv.accept(t)
	if op, payload, err := sc.readClientFrame(); err != nil || op != opPong || string(payload) != "p" {
		t.Errorf("client frame = opcode %d %q, %v; want a pong with the ping's payload", op, payload, err)
	}
	if _, err := sc.Write(textMessage("four")); err != nil {
		t.Fatal(err)
	}
	c.wantEvents(t, "four")
}

// The upgrade response's header block may end its lines with a bare line feed, as the HTTP
// reader allows.
func TestUpgradeResponseLineEndings(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		t.Run(strconv.Quote(eol), func(t *testing.T) {
			srv := newRawServerEOL(t, eol, false, "", join(textMessage("one"), textMessage("two")))
			c := newRawClient(t, srv.socketURL(), nil)
			if err := c.Connect(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !c.ReadsFrames() {
				t.Error("the socket is read by gorilla/websocket; want the SDK's frame reader")
			}
			c.wantEvents(t, "one", "two")
			srv.accept(t)
		})
	}
}

// A close frame ends the socket with its code and reason, and is answered with its code.
func TestServerCloseFrame(t *testing.T) {
	for _, tt := range []struct {
		name   string
		frame  []byte
		code   int
		reason string
		answer []byte
	}{
		{"code and reason", wsFrame(finBit|opClose, closePayload(4000, "bye now")), 4000, "bye now", closePayload(4000, "")},
		{"service restart", wsFrame(finBit|opClose, closePayload(1012, "")), 1012, "", closePayload(1012, "")},
		{"no code", wsFrame(finBit|opClose, nil), 1005, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, false, "", nil)
			c := newRawClient(t, srv.socketURL(), nil)
			if err := c.Connect(t.Context()); err != nil {
				t.Fatal(err)
			}
			sc := srv.accept(t)
			if _, err := sc.Write(join(textMessage("before"), tt.frame, textMessage("after"))); err != nil {
				t.Fatal(err)
			}
			c.wantEvents(t, "before")
			cause := c.dropCause(t)
			var ce *transport.CloseError
			if !errors.As(cause, &ce) || ce.Code != tt.code || ce.Reason != tt.reason {
				t.Errorf("cause = %v; want a CloseError with code %d and reason %q", cause, tt.code, tt.reason)
			}
			if op, payload, err := sc.readClientFrame(); err != nil || op != opClose || string(payload) != string(tt.answer) {
				t.Errorf("client frame = opcode %d %q, %v; want a close frame %q", op, payload, err, tt.answer)
			}
			select {
			case e := <-c.events:
				t.Errorf("event %q after the close frame", e)
			default:
			}
		})
	}
}

// A frame the protocol forbids closes the socket with 1002.
func TestProtocolErrorClosesWith1002(t *testing.T) {
	srv := newRawServer(t, false, "", nil)
	c := newRawClient(t, srv.socketURL(), nil)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	sc := srv.accept(t)
	if _, err := sc.Write([]byte{finBit | opText, 0x80 | 1, 1, 2, 3, 4, 'x'}); err != nil { // masked
		t.Fatal(err)
	}
	if cause := c.dropCause(t); cause == nil || !strings.Contains(cause.Error(), "bad MASK") {
		t.Errorf("cause = %v; want a protocol error", cause)
	}
	if op, payload, err := sc.readClientFrame(); err != nil || op != opClose || binary.BigEndian.Uint16(payload) != 1002 {
		t.Errorf("client frame = opcode %d %q, %v; want a close frame with code 1002", op, payload, err)
	}
}

// wss:// is dialed like the dialer does it: the TLS configuration's roots are used and the
// server's name is checked. A dial function of the user's keeps gorilla/websocket's reader.
func TestTLSSocket(t *testing.T) {
	srv := newRawServer(t, true, "", textMessage("secure"))
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}}
	c := newRawClient(t, srv.socketURL(), d)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.ReadsFrames() {
		t.Error("the socket is read by gorilla/websocket; want the SDK's frame reader")
	}
	c.wantEvents(t, "secure")
	srv.accept(t)

	untrusted := newRawClient(t, srv.socketURL(), &websocket.Dialer{})
	untrusted.Start()
	for {
		sc := untrusted.nextState(t)
		if sc.Err == nil {
			continue
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(sc.Err, &unknown) {
			t.Errorf("dial with the system roots: %v; want an unknown authority", sc.Err)
		}
		break
	}

	own := &websocket.Dialer{NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&tls.Dialer{Config: &tls.Config{RootCAs: roots}}).DialContext(ctx, network, addr)
	}}
	fallback := newRawClient(t, srv.socketURL(), own)
	if err := fallback.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fallback.ReadsFrames() {
		t.Error("the SDK reads a socket dialed by the user's NetDialTLSContext; want gorilla/websocket's reader")
	}
	fallback.wantEvents(t, "secure")
	srv.accept(t)
}

// connectProxy is an HTTP CONNECT proxy.
func connectProxy(t *testing.T) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		dst, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			dst.Close()
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(dst, brw)
			dst.Close()
			conn.Close()
			close(done)
		}()
		_, _ = io.Copy(conn, dst)
		dst.Close()
		conn.Close()
		<-done
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

// Through a proxy the socket is read by gorilla/websocket; a Proxy function that chooses no
// proxy for the URL leaves it to the SDK.
func TestProxyKeepsGorillaReader(t *testing.T) {
	srv := newRawServer(t, false, "", join(textMessage("hello"), wsFrame(finBit|opClose, closePayload(4002, "proxied"))))
	proxy := connectProxy(t)
	for _, tt := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		own   bool
	}{
		{"proxy", http.ProxyURL(proxy), false},
		{"no proxy for the URL", func(*http.Request) (*url.URL, error) { return nil, nil }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newRawClient(t, srv.socketURL(), &websocket.Dialer{Proxy: tt.proxy})
			if err := c.Connect(t.Context()); err != nil {
				t.Fatal(err)
			}
			if c.ReadsFrames() != tt.own {
				t.Errorf("ReadsFrames = %v; want %v", c.ReadsFrames(), tt.own)
			}
			c.wantEvents(t, "hello")
			var ce *transport.CloseError
			if cause := c.dropCause(t); !errors.As(cause, &ce) || ce.Code != 4002 || ce.Reason != "proxied" {
				t.Errorf("cause = %v; want a CloseError 4002 proxied", cause)
			}
			srv.accept(t)
		})
	}
}

// A negotiated extension keeps gorilla/websocket's reader, which knows it.
func TestCompressionKeepsGorillaReader(t *testing.T) {
	srv := newRawServer(t, false, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
		textMessage("plain"))
	c := newRawClient(t, srv.socketURL(), &websocket.Dialer{EnableCompression: true})
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.ReadsFrames() {
		t.Error("the SDK reads a socket with permessage-deflate; want gorilla/websocket's reader")
	}
	c.wantEvents(t, "plain")
	srv.accept(t)
}

// The in-memory test server's sockets are read by the SDK (its dialer sets NetDialContext).
func TestInMemorySocketReadsFrames(t *testing.T) {
	srv := testutil.NewServer(t)
	c := newConn(t, srv, &recorder{}, nil)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.ReadsFrames() {
		t.Error("the socket is read by gorilla/websocket; want the SDK's frame reader")
	}
}

// Connect returns once the socket has opened, even when the server closes it at once, before
// the call sees it open.
func TestConnectReturnsForASocketThatOpenedAndClosed(t *testing.T) {
	srv := newRawServer(t, false, "", wsFrame(finBit|opClose, closePayload(4000, "bye")))
	for range 30 {
		c := newRawClient(t, srv.socketURL(), nil)
		ctx, cancel := context.WithTimeout(t.Context(), failAfter)
		err := c.Connect(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Connect = %v; want nil once the socket opened", err)
		}
		srv.accept(t)
		c.Close()
	}
}

// writeCounter counts the writes made to the connection under it.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (w writeCounter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(p)
}

// Frames queued together go out together: a burst of frames sent before the socket opened
// takes a write of the connection per 8 KiB or so, not one each, and arrives whole and in
// order. So does a burst with a frame larger than that in its middle.
func TestQueuedFramesGoOutInOneWrite(t *testing.T) {
	srv := newRawServer(t, false, "", nil)
	var writes atomic.Int64
	d := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{Conn: conn, writes: &writes}, nil
	}}
	rc, err := transport.New(transport.Config{
		URL:        srv.socketURL(),
		Dialer:     d,
		Heartbeat:  -1,
		SendBuffer: 500,
		Backoff:    func(int) time.Duration { return time.Hour },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	ctx := context.Background()
	big := strings.Repeat("b", 100<<10)
	send := func(events []string, bigAt int) {
		t.Helper()
		for i, event := range events {
			payload := map[string]any{"i": i}
			if i == bigAt {
				payload["big"] = big
			}
			if err := rc.Send(ctx, &transport.Message{Topic: "realtime:room", Event: event, Payload: mustJSON(t, payload)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var c *rawConn
	receive := func(events []string, bigAt int) {
		t.Helper()
		for i, w := range events {
			payload, err := c.readClientMessage()
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			var m []json.RawMessage
			if err := json.Unmarshal(payload, &m); err != nil || len(m) != 5 {
				t.Fatalf("frame %d: %q: %v", i, payload, err)
			}
			if got := string(m[3]); got != strconv.Quote(w) {
				t.Fatalf("frame %d is %s; want %q", i, got, w)
			}
			if i == bigAt && !strings.Contains(string(m[4]), big) {
				t.Fatalf("frame %d lost its large payload", i)
			}
		}
	}
	var events []string
	for i := range 200 {
		events = append(events, "e"+strconv.Itoa(i))
	}
	send(events, -1) // about 11 KB of frames
	rc.Start()
	c = srv.accept(t)
	receive(events, -1)
	// One write for the upgrade request, two for the frames.
	if n := writes.Load(); n > 4 {
		t.Errorf("%d writes for %d queued frames; want at most 4", n, len(events))
	}
	if !rc.ReadsFrames() {
		t.Error("the socket is not read by the SDK, so this test measured gorilla's writes")
	}

	// A burst with a large frame in it, on the open socket.
	if err := rc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	send(events, 100)
	receive(events, 100)
}

// A frame written while the writer holds its writes still goes out: a Flush returns once the
// frames before it are on the wire.
func TestFlushWritesHeldFrames(t *testing.T) {
	srv := newRawServer(t, false, "", nil)
	rc := newRawClient(t, srv.socketURL(), nil)
	ctx := context.Background()
	rc.Start()
	c := srv.accept(t)
	for round := range 3 {
		for i := range 5 {
			if err := rc.Send(ctx, &transport.Message{Topic: "realtime:room", Event: "e" + strconv.Itoa(round*5+i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := rc.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(failAfter))
		for i := range 5 {
			if _, _, err := c.readClientFrame(); err != nil {
				t.Fatalf("round %d frame %d: %v", round, i, err)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
