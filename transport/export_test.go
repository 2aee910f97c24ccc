package transport

// PeekPhoenix exposes peekPhoenix to the external tests.
func PeekPhoenix(v Version, frame []byte) bool { return peekPhoenix(v, frame) }

// SetMaxQueue sets the number of frames Send lets wait for the writer while the socket is
// open, before it waits for room itself. Call it before Start.
func (c *Conn) SetMaxQueue(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxQueue = n
}
