package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// WebSocket frame opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0
	opText         = 1
	opBinary       = 2
	opClose        = 8
	opPing         = 9
	opPong         = 10
)

// maxControlPayload is the largest payload of a control frame.
const maxControlPayload = 125

// LargeFrame is the size from which a data message goes through [Config.FrameGate].
const LargeFrame = 64 << 10

// A socket read by frameReader starts with a buffered reader of idleBufferSize, which is
// enough for the replies and the odd broadcast of a quiet socket (a client's pool may keep
// many sockets), and moves to one of readBufferSize, which takes a flood in fewer system
// calls, once it has carried growAfterBytes. (A binary flood of 100-byte broadcasts ran about
// 10% faster with 64 KiB than with 16 KiB: the reader is one of the busy goroutines.)
const (
	idleBufferSize = 2 << 10
	readBufferSize = 64 << 10
	growAfterBytes = 256 << 10
)

// controlWait bounds the write of a control frame the reader sends (a pong, a close), as
// gorilla/websocket's own reader does.
const controlWait = time.Second

// frameReader reads the server's messages straight off the connection, frame by frame
// (RFC 6455, client side). Each message costs one allocation: its payload, exactly sized,
// whose length the frame header gives before any of it is read. Control frames are handled
// on the way: a ping is answered with a pong, a close frame is answered and ends reading.
//
// Its errors are those of gorilla/websocket's reader, so that one function turns both into
// the causes reported to the user: a close frame is a *websocket.CloseError, the end of the
// stream one with code 1006, a frame over the limit websocket.ErrReadLimit.
type frameReader struct {
	br    *bufio.Reader
	src   io.Reader // what br reads
	taken int64     // the bytes of the messages read, until the reader grows; -1 after
	limit int64
	// control writes a control frame to the server; its error is that of
	// websocket.Conn.WriteControl.
	control func(opcode int, payload []byte) error
	ctl     [maxControlPayload]byte // the payload of the last control frame
}

// newFrameReader reads from conn, after the handshake, and writes control frames with ws.
func newFrameReader(conn net.Conn, ws *websocket.Conn, limit int64) *frameReader {
	return &frameReader{
		br:    bufio.NewReaderSize(conn, idleBufferSize),
		src:   conn,
		limit: limit,
		control: func(opcode int, payload []byte) error {
			return ws.WriteControl(opcode, payload, time.Now().Add(controlWait))
		},
	}
}

// grow moves to the larger buffer; what the small one still holds is read first.
func (r *frameReader) grow() {
	r.taken = -1
	rest, _ := r.br.Peek(r.br.Buffered())
	r.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(rest)), r.src), readBufferSize)
}

// frameHeader is what a frame header says.
type frameHeader struct {
	fin    bool
	opcode int
	length int64 // the payload's length; negative when the header's 64-bit length is
}

// errUnexpectedEOF is the stream ending, as gorilla/websocket reports it.
var errUnexpectedEOF = &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: io.ErrUnexpectedEOF.Error()}

// header reads one frame header and checks it. msg tells whether a fragmented message is
// under way.
func (r *frameReader) header(msg bool) (frameHeader, error) {
	p, err := r.br.Peek(2)
	if err != nil {
		return frameHeader{}, readErr(err)
	}
	b0, b1 := p[0], p[1]
	h := frameHeader{fin: b0&0x80 != 0, opcode: int(b0 & 0x0f), length: int64(b1 & 0x7f)}
	var problem string
	switch {
	case b0&0x70 != 0:
		problem = "RSV bits set without an extension"
	case h.opcode == opClose || h.opcode == opPing || h.opcode == opPong:
		if h.length > maxControlPayload {
			problem = "len > 125 for control"
		} else if !h.fin {
			problem = "FIN not set on control"
		}
	case h.opcode == opText || h.opcode == opBinary:
		if msg {
			problem = "data before FIN"
		}
	case h.opcode == opContinuation:
		if !msg {
			problem = "continuation after FIN"
		}
	default:
		problem = "bad opcode " + strconv.Itoa(h.opcode)
	}
	if problem == "" && b1&0x80 != 0 {
		problem = "bad MASK"
	}
	if problem != "" {
		return frameHeader{}, r.protocolError(problem)
	}
	n := 2
	switch h.length {
	case 126:
		n = 4
	case 127:
		n = 10
	}
	if n > 2 {
		if p, err = r.br.Peek(n); err != nil {
			return frameHeader{}, readErr(err)
		}
		if n == 4 {
			h.length = int64(binary.BigEndian.Uint16(p[2:]))
		} else {
			h.length = int64(binary.BigEndian.Uint64(p[2:]))
		}
	}
	_, _ = r.br.Discard(n)
	return h, nil
}

// next returns the next data message: whether it is binary, and its payload in a buffer of
// its own, exactly sized. It calls admit with the length of a large message (LargeFrame or
// more) before it allocates the payload, or, for a fragmented one, once it is whole.
func (r *frameReader) next(admit func(n int) error) (bool, []byte, error) {
	if r.taken >= growAfterBytes {
		r.grow()
	}
	var (
		data   []byte
		msg    bool // a fragmented message is under way
		binary bool
		total  int64
	)
	for {
		h, err := r.header(msg)
		if err != nil {
			return false, nil, err
		}
		switch h.opcode {
		case opText, opBinary, opContinuation:
		default:
			if err := r.handleControl(h); err != nil {
				return false, nil, err
			}
			continue
		}
		if h.opcode != opContinuation {
			binary = h.opcode == opBinary
		}
		// The limit counts the whole message, and is checked before anything is allocated.
		total += h.length
		if h.length < 0 || total < 0 || (r.limit > 0 && total > r.limit) {
			_ = r.control(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""))
			return false, nil, websocket.ErrReadLimit
		}
		n := int(h.length)
		if !msg && h.fin {
			if n >= LargeFrame {
				if err := admit(n); err != nil {
					return false, nil, err
				}
			}
			data = make([]byte, n) // the one allocation of an unfragmented message
			if _, err := io.ReadFull(r.br, data); err != nil {
				return false, nil, readErr(err)
			}
			if r.taken >= 0 {
				r.taken += int64(n)
			}
			return binary, data, nil
		}
		// Fragments are rare: they are appended, then the message is copied once to its size.
		start := len(data)
		data = append(data, make([]byte, n)...)
		if _, err := io.ReadFull(r.br, data[start:]); err != nil {
			return false, nil, readErr(err)
		}
		if h.fin {
			if cap(data) != len(data) {
				data = append(make([]byte, 0, len(data)), data...)
			}
			if data == nil {
				data = []byte{}
			}
			if len(data) >= LargeFrame {
				if err := admit(len(data)); err != nil {
					return false, nil, err
				}
			}
			if r.taken >= 0 {
				r.taken += int64(len(data))
			}
			return binary, data, nil
		}
		msg = true
	}
}

// handleControl reads a control frame's payload and acts on it as gorilla/websocket's default
// handlers do: a ping is answered with a pong carrying its payload, a pong is ignored, a close
// frame is answered with its code and ends reading with a *websocket.CloseError.
func (r *frameReader) handleControl(h frameHeader) error {
	payload := r.ctl[:h.length]
	if _, err := io.ReadFull(r.br, payload); err != nil {
		return readErr(err)
	}
	switch h.opcode {
	case opPing:
		err := r.control(websocket.PongMessage, payload)
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	case opPong:
		return nil
	}
	code, text := websocket.CloseNoStatusReceived, ""
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
		if !validCloseCode(code) {
			return r.protocolError("bad close code " + strconv.Itoa(code))
		}
		if !utf8.Valid(payload[2:]) {
			return r.protocolError("invalid utf8 payload in close frame")
		}
		text = string(payload[2:])
	}
	_ = r.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
	return &websocket.CloseError{Code: code, Text: text}
}

// protocolError closes the socket with 1002 and the problem, and returns the reader's error.
func (r *frameReader) protocolError(problem string) error {
	data := websocket.FormatCloseMessage(websocket.CloseProtocolError, problem)
	if len(data) > maxControlPayload {
		data = data[:maxControlPayload]
	}
	_ = r.control(websocket.CloseMessage, data)
	return errors.New("websocket: " + problem)
}

// validCloseCode reports whether a server may send code in a close frame.
func validCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}

// readErr turns the end of the stream into a 1006 close, as gorilla/websocket does.
func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errUnexpectedEOF
	}
	return err
}
