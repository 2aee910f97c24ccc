package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// handshakeConn is the connection under a socket the SDK reads itself. Until the end of the
// upgrade response's header block — an empty line, which ends with "\r\n" or, as the HTTP
// reader accepts too, a bare "\n" — it hands its bytes out one per Read (from a buffer of its
// own, so not one system call each): the dialer's buffered reader then never takes a byte
// that follows the response, and the frames the server sent along with it stay here for the
// frame reader.
//
// Its writes can be held and flushed together (hold, flush): the socket's writer holds them
// while it writes the frames it has queued, so that a burst of frames — a thousand joins —
// costs one system call rather than one each. Every write, held or not, goes to the
// connection in the order it was made.
type handshakeConn struct {
	net.Conn
	buf  []byte
	r, w int
	err  error // the error of the read that filled buf, returned once buf is drained
	eol  int   // 1 after a line feed, 2 after a line feed and a carriage return, else 0
	done bool  // the header block has been handed out

	wmu  chan struct{} // a lock (made by newHandshakeConn) on writes to Conn, held or not
	held bool          // writes are appended to out until flush
	out  []byte
}

func newHandshakeConn(conn net.Conn) *handshakeConn {
	return &handshakeConn{Conn: conn, wmu: make(chan struct{}, 1)}
}

// heldBytes bounds the writes held at once. A write that would take them beyond it flushes
// them first, and one larger than half of it goes straight through. The buffer is allocated
// for a burst and dropped after it, so that a socket that waits holds none.
const heldBytes = 8 << 10

// Write implements net.Conn.
func (h *handshakeConn) Write(p []byte) (int, error) {
	h.wmu <- struct{}{}
	defer func() { <-h.wmu }()
	if !h.held {
		return h.Conn.Write(p)
	}
	if len(h.out)+len(p) > heldBytes {
		if err := h.writeHeld(); err != nil {
			return 0, err
		}
		if len(p) > heldBytes/2 {
			return h.Conn.Write(p)
		}
	}
	if h.out == nil {
		h.out = make([]byte, 0, heldBytes)
	}
	h.out = append(h.out, p...)
	return len(p), nil
}

// hold makes the writes that follow wait for flush.
func (h *handshakeConn) hold() {
	h.wmu <- struct{}{}
	h.held = true
	<-h.wmu
}

// flush writes what is held, within timeout, and ends holding. A held write's error is
// returned here; the socket is lost then.
func (h *handshakeConn) flush(timeout time.Duration) error {
	h.wmu <- struct{}{}
	defer func() { <-h.wmu }()
	return h.flushLocked(timeout)
}

// flushWithin is flush for a goroutine other than the writer, which may be stuck in a write:
// it gives up when the writes stay locked for timeout.
func (h *handshakeConn) flushWithin(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case h.wmu <- struct{}{}:
	case <-t.C:
		return errWriteLocked
	}
	defer func() { <-h.wmu }()
	return h.flushLocked(timeout)
}

// errWriteLocked is flushWithin's error when the writer kept the connection.
var errWriteLocked = errors.New("realtime: write: the connection is busy with an earlier write")

func (h *handshakeConn) flushLocked(timeout time.Duration) error {
	h.held = false
	if len(h.out) == 0 {
		h.out = nil
		return nil
	}
	_ = h.Conn.SetWriteDeadline(time.Now().Add(timeout))
	err := h.writeHeld()
	h.out = nil
	return err
}

func (h *handshakeConn) writeHeld() error {
	if len(h.out) == 0 {
		return nil
	}
	_, err := h.Conn.Write(h.out)
	h.out = h.out[:0]
	return err
}

// handshakeReadBuffer is the size of the dialer's buffered reader on a socket the SDK reads
// itself: it holds only the upgrade response's lines while they are parsed.
const handshakeReadBuffer = 512

// handshakeBufferSize is the size of handshakeConn's buffer, which is dropped once drained
// after the handshake.
const handshakeBufferSize = 4 << 10

// Read implements net.Conn.
func (h *handshakeConn) Read(p []byte) (int, error) {
	if h.r == h.w {
		if h.err != nil {
			err := h.err
			h.err = nil
			return 0, err
		}
		if h.done {
			h.buf = nil
			return h.Conn.Read(p)
		}
		if h.buf == nil {
			h.buf = make([]byte, handshakeBufferSize)
		}
		n, err := h.Conn.Read(h.buf)
		h.r, h.w = 0, n
		if n == 0 {
			return 0, err
		}
		h.err = err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if h.done {
		n := copy(p, h.buf[h.r:h.w])
		h.r += n
		return n, nil
	}
	b := h.buf[h.r]
	h.r++
	p[0] = b
	switch {
	case b == '\n' && h.eol > 0: // an empty line
		h.done = true
	case b == '\n':
		h.eol = 1
	case b == '\r' && h.eol == 1:
		h.eol = 2
	default:
		h.eol = 0
	}
	return 1, nil
}

// ownDialer returns a copy of d that dials through a handshakeConn, and a function returning
// that connection once the dial is done; or d itself and nil when the socket cannot be read
// by the SDK safely: a proxy is used for rawURL, or the user dials connections themselves
// (NetDial, NetDialTLSContext).
func ownDialer(d *websocket.Dialer, rawURL string) (*websocket.Dialer, func() *handshakeConn) {
	if d.NetDial != nil || d.NetDialTLSContext != nil {
		return d, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return d, nil
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return d, nil
	}
	own := *d
	if !d.EnableCompression {
		// The dialer's own buffered reader only reads the upgrade response, which the
		// handshakeConn hands it a byte at a time anyway; frames are read by a frameReader.
		own.ReadBufferSize = handshakeReadBuffer
	}
	if d.Proxy != nil {
		p, err := d.Proxy(&http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}})
		if err != nil || p != nil {
			return d, nil
		}
		own.Proxy = nil
	}
	var hc *handshakeConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d.NetDialContext != nil {
			return d.NetDialContext(ctx, network, addr)
		}
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	if u.Scheme == "http" {
		own.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			hc = newHandshakeConn(conn)
			return hc, nil
		}
	} else {
		// As the dialer does it itself: a clone of the TLS configuration, the server name from
		// the host when it has none, and the host name checked.
		own.NetDialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{}
			if d.TLSClientConfig != nil {
				cfg = d.TLSClientConfig.Clone()
			}
			if cfg.ServerName == "" {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					host = addr
				}
				cfg.ServerName = host
			}
			tc := tls.Client(conn, cfg)
			err = tc.HandshakeContext(ctx)
			if err == nil && !cfg.InsecureSkipVerify {
				err = tc.VerifyHostname(cfg.ServerName)
			}
			if err != nil {
				conn.Close()
				return nil, err
			}
			hc = newHandshakeConn(tc)
			return hc, nil
		}
	}
	return &own, func() *handshakeConn { return hc }
}

// ownReadable reports whether a socket the dialer opened through hc can be read by the SDK:
// the server agreed to no extension (such as permessage-deflate, which sets RSV bits and
// compresses payloads), and the socket is hc's.
func ownReadable(ws *websocket.Conn, resp *http.Response, hc *handshakeConn) bool {
	if hc == nil || !hc.done || ws.NetConn() != net.Conn(hc) {
		return false
	}
	return resp == nil || resp.Header.Get("Sec-Websocket-Extensions") == ""
}
