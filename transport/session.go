package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// session is the state of one open socket.
type session struct {
	ws    *websocket.Conn
	src   messageSource
	out   *handshakeConn // holds the writes of a burst of frames, or nil (gorilla's own reader)
	epoch uint64
	stop  chan struct{} // closed to stop the writer

	framesRead atomic.Uint64 // frames the reader has taken off the socket
	inHandler  atomic.Bool   // the reader is handing a message on (so it is not idle)
	healthy    atomic.Bool   // a heartbeat was answered on this socket

	hbMu     sync.Mutex
	hbRef    string    // the unanswered heartbeat, or ""
	hbFrames uint64    // framesRead when it was sent
	hbSent   time.Time // when it was sent

	ctx context.Context // ends with the socket (for the read gate)

	conn     *Conn
	admitFn  func(n int) error // admit, made once (a method value per frame would allocate)
	admitted bool              // the frame gate admitted a message not handed on yet (reader goroutine)
}

// run serves one open socket until it fails or ctx ends. It returns whether the socket was
// healthy (a heartbeat was answered), which resets the backoff, and the cause of its end.
func (c *Conn) run(ctx context.Context, ws *websocket.Conn, src messageSource) (bool, error) {
	sctx, endSession := context.WithCancel(ctx)
	defer endSession()
	s := &session{ws: ws, src: src, stop: make(chan struct{}), ctx: sctx, conn: c}
	s.admitFn = s.admit
	fr, own := src.(*frameReader)
	c.ownReader.Store(own)
	if own {
		s.out, _ = fr.src.(*handshakeConn)
	}
	c.stats.opens.Add(1)
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
		c.closeFrame(s, websocket.CloseNormalClosure, "")
	case errors.Is(cause, ErrHeartbeatTimeout):
		c.setState(StateClosing, cause)
		c.closeFrame(s, websocket.CloseNormalClosure, "heartbeat timeout")
	}
	close(s.stop)
	endSession()
	ws.Close()
	wg.Wait()
	return s.healthy.Load(), cause
}

func (c *Conn) closeFrame(s *session, code int, reason string) {
	err := s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	if err == nil && s.out != nil {
		// The writer may be holding writes; the close frame goes out now, after them.
		_ = s.out.flushWithin(time.Second)
	}
}

// readLoop reads, decodes and hands on frames until the socket fails.
func (c *Conn) readLoop(s *session) error {
	dec := Decoder{Version: c.cfg.Version, Side: ClientSide}
	var m Message
	for {
		s.dropAdmitted()
		if err := c.readGate(s); err != nil {
			return err
		}
		binary, data, err := s.src.next(s.admitFn)
		if err != nil {
			s.dropAdmitted()
			return readError(err)
		}
		s.framesRead.Add(1)
		c.stats.framesIn.Add(1)
		c.stats.bytesIn.Add(uint64(len(data)))
		if c.cfg.OnFrame != nil && (binary || !peekPhoenix(c.cfg.Version, data)) {
			c.handFrame(s, binary, data)
			continue
		}
		if err := dec.Decode(binary, data, &m); err != nil {
			c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(data),
				"binary", binary)
			continue
		}
		if m.Topic == TopicPhoenix && m.Event == EventReply {
			s.hbMu.Lock()
			answered := m.Ref == s.hbRef
			var rtt time.Duration
			if answered {
				s.hbRef = ""
				rtt = time.Since(s.hbSent)
				s.healthy.Store(true)
			}
			s.hbMu.Unlock()
			if answered {
				c.heartbeatAnswered(rtt)
			}
			continue
		}
		switch {
		case c.cfg.OnFrame != nil:
			c.handFrame(s, binary, data)
		case c.cfg.OnMessage != nil:
			s.admitted = false
			s.inHandler.Store(true)
			c.cfg.OnMessage(&m)
			s.inHandler.Store(false)
		}
	}
}

// handFrame hands a frame to OnFrame, counting the socket as busy meanwhile; what the frame
// gate admitted for it is OnFrame's to give back from now on.
func (c *Conn) handFrame(s *session, binary bool, data []byte) {
	s.admitted = false
	s.inHandler.Store(true)
	c.cfg.OnFrame(binary, data)
	s.inHandler.Store(false)
}

// readGate waits at the read gate, if there is one, counting the socket as busy meanwhile.
func (c *Conn) readGate(s *session) error {
	if c.cfg.ReadGate == nil {
		return nil
	}
	s.inHandler.Store(true)
	err := c.cfg.ReadGate(s.ctx)
	s.inHandler.Store(false)
	return err
}

// admit waits at the frame gate, if there is one, for a large message of n bytes, counting the
// socket as busy meanwhile. The message it admits is owed to the gate until it is handed on.
func (s *session) admit(n int) error {
	gate := s.conn.cfg.FrameGate
	if gate == nil {
		return nil
	}
	s.inHandler.Store(true)
	err := gate(s.ctx, n)
	s.inHandler.Store(false)
	s.admitted = err == nil
	return err
}

// dropAdmitted tells the frame gate that the message it admitted last was not handed on.
func (s *session) dropAdmitted() {
	if s.admitted {
		s.admitted = false
		_ = s.conn.cfg.FrameGate(s.ctx, 0)
	}
}

// messageSource yields the data messages of a socket, each in a buffer of its own, exactly
// sized. Its errors are gorilla/websocket's (see readError).
type messageSource interface {
	// next returns the next message; it calls admit with the length of a large one (LargeFrame
	// or more), before reading it or, when it cannot know the length in advance, after.
	next(admit func(n int) error) (binary bool, data []byte, err error)
}

// gorillaSource reads messages with gorilla/websocket's reader: the fallback when the SDK
// cannot read the socket itself.
type gorillaSource struct {
	ws      *websocket.Conn
	scratch []byte
}

func (g *gorillaSource) next(admit func(n int) error) (bool, []byte, error) {
	mt, r, err := g.ws.NextReader()
	if err != nil {
		return false, nil, err
	}
	data, err := readFrame(r, &g.scratch)
	if err == nil && len(data) >= LargeFrame {
		err = admit(len(data))
	}
	return mt == websocket.BinaryMessage, data, err
}

// scratchSize is the size of gorillaSource's reused buffer. Frames that fit in it (most frames)
// cost one exactly sized copy; larger ones are read into buffers of their own. It is small
// because every socket of a client's pool keeps one.
const scratchSize = 8 << 10

// readFrame reads one message and returns it in an exactly sized buffer, so that what the
// decoder hands on never pins a larger one. The length of a message is not known before it is
// read: a frame that fits in scratch (allocated on first use, then reused) is copied out of it;
// a larger one is read on into chunks, each as large as the frame so far, which are joined
// once. Reading a large frame allocates two to three times its size in all.
func readFrame(r io.Reader, scratch *[]byte) ([]byte, error) {
	if *scratch == nil {
		*scratch = make([]byte, scratchSize)
	}
	buf := *scratch
	n, err := readFull(r, buf)
	if err == io.EOF {
		return bytes.Clone(buf[:n]), nil
	}
	if err != nil {
		return nil, err
	}
	chunks := [][]byte{buf}
	total := n
	// A chunk is allocated only once a byte for it has arrived: a frame that fills its chunks
	// exactly costs no spare one.
	next := make([]byte, 1)
	for {
		k, err := readFull(r, next)
		if k == 0 {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		chunk := make([]byte, total)
		chunk[0] = next[0]
		n := 1
		if err == nil {
			n, err = readFull(r, chunk[1:])
			n++
		}
		chunks = append(chunks, chunk[:n])
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// readFull reads into b until b is full (nil error), the message ends (io.EOF, with the bytes
// read before it) or reading fails.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
	if s.out != nil {
		defer s.out.flush(c.cfg.WriteTimeout)
	}
	for {
		// Frames queued before the socket opened are flushed first. A burst — a frame with
		// more queued behind it — is written with one system call where the socket allows it.
		for {
			select {
			case <-tick:
				if err := c.heartbeat(s); err != nil {
					return err
				}
			default:
			}
			f, more, ok := c.pop()
			if !ok {
				break
			}
			if f.done != nil {
				if err := s.flush(c.cfg.WriteTimeout); err != nil {
					return err
				}
				f.done <- nil
				continue
			}
			if f.epoch != 0 && f.epoch != s.epoch {
				c.log.Debug("realtime: dropped a frame of an earlier connection", "epoch", f.epoch)
				continue
			}
			if more && s.out != nil {
				s.out.hold()
			}
			if err := c.write(s, f.binary, f.data); err != nil {
				return err
			}
		}
		if err := s.flush(c.cfg.WriteTimeout); err != nil {
			return err
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

// flush writes the frames the writer holds, if any, and ends the burst: a Flush's frames are on
// the wire when it returns.
func (s *session) flush(timeout time.Duration) error {
	if s.out == nil {
		return nil
	}
	if err := s.out.flush(timeout); err != nil {
		return fmt.Errorf("realtime: connection lost: write: %w", err)
	}
	return nil
}

func (c *Conn) write(s *session, binary bool, data []byte) error {
	mt := websocket.TextMessage
	if binary {
		mt = websocket.BinaryMessage
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	// Counted before the write, so that a reply never arrives before its frame is counted (a
	// frame whose write fails is counted too; its socket is then lost).
	c.stats.framesOut.Add(1)
	c.stats.bytesOut.Add(uint64(len(data)))
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
	s.hbRef, s.hbFrames, s.hbSent = ref, read, time.Now()
	s.hbMu.Unlock()
	m := Message{Ref: ref, Topic: TopicPhoenix, Event: EventHeartbeat}
	data, binary, err := Encode(nil, c.cfg.Version, ClientSide, &m)
	if err != nil {
		return err
	}
	return c.write(s, binary, data)
}
