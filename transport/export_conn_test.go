package transport

import "io"

// ReadFrame exposes readFrame to the external tests.
func ReadFrame(r io.Reader, scratch *[]byte) ([]byte, error) { return readFrame(r, scratch) }

// ScratchSize is scratchSize for the external tests.
const ScratchSize = scratchSize

// ReadsFrames reports whether the open socket, or the last one, is read by the SDK's own frame
// reader rather than gorilla/websocket's.
func (c *Conn) ReadsFrames() bool { return c.ownReader.Load() }
