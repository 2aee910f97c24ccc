package transport

import (
	"bufio"
	"io"
)

// PeekPhoenix exposes peekPhoenix to the external tests.
func PeekPhoenix(v Version, frame []byte) bool { return peekPhoenix(v, frame) }

// SetMaxQueue sets the number of frames Send lets wait for the writer while the socket is
// open, before it waits for room itself. Call it before Start.
func (c *Conn) SetMaxQueue(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxQueue = n
}

// FrameReader is the SDK's WebSocket frame reader over a stream, for the external tests: the
// control frames it writes are recorded instead.
type FrameReader struct {
	r *frameReader
	// Controls holds the control frames written, in order.
	Controls []Control
}

// Control is a control frame the reader wrote.
type Control struct {
	Opcode  int
	Payload string
}

// NewFrameReader reads frames from r with the given read limit.
func NewFrameReader(r io.Reader, limit int64) *FrameReader {
	fr := &FrameReader{}
	fr.r = &frameReader{
		br:    bufio.NewReaderSize(r, idleBufferSize),
		src:   r,
		limit: limit,
		control: func(opcode int, payload []byte) error {
			fr.Controls = append(fr.Controls, Control{opcode, string(payload)})
			return nil
		},
	}
	return fr
}

// Grown reports whether the reader moved to its larger buffer.
func (fr *FrameReader) Grown() bool { return fr.r.taken < 0 }

// Next returns the next message.
func (fr *FrameReader) Next() (binary bool, data []byte, err error) {
	return fr.r.next(func(int) error { return nil })
}

// ReadError is readError for the external tests.
func ReadError(err error) error { return readError(err) }
