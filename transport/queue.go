package transport

import (
	"context"
)

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
	// force queues the frame past maxQueue instead of waiting (Post).
	force bool
}

// Dropped returns how many frames the send buffer has dropped because it was full.
func (c *Conn) Dropped() uint64 { return c.stats.dropped.Load() }

// reportDrop tells OnDrop that n frames were dropped; the caller holds no lock.
func (c *Conn) reportDrop(n int) {
	if n > 0 && c.cfg.OnDrop != nil {
		c.cfg.OnDrop(n, c.stats.dropped.Load())
	}
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
// the writer is behind by 4096 frames (or SendBuffer, if larger), Send waits for room, bounded
// by ctx, or until the socket leaves Open, when the frame goes to the send buffer. ctx never
// affects the socket. Send returns an error wrapping [ErrInvalidArgument] for a message the
// protocol cannot carry (nothing is queued), and [ErrClosed] after Close.
func (c *Conn) Send(ctx context.Context, m *Message) error { return c.SendOn(ctx, 0, m) }

// SendOn is Send for a frame that is only valid on connection epoch (see [StateChange.Epoch]):
// if that connection is gone, already or before the writer reaches the frame, the frame is
// dropped instead of being written stale on a newer connection, and it never takes a place in
// the send buffer (nor counts in [Conn.Dropped]). An epoch of 0 means any connection.
func (c *Conn) SendOn(ctx context.Context, epoch uint64, m *Message) error {
	data, binary, err := Encode(make([]byte, 0, frameSizeHint(m)), c.cfg.Version, ClientSide, m)
	if err != nil {
		return err
	}
	return c.enqueue(ctx, frame{data: data, binary: binary, epoch: epoch})
}

// frameSizeHint is about the size of m's frame, so that encoding it allocates once: the
// fields, and room for the envelope's punctuation (or a binary frame's header).
func frameSizeHint(m *Message) int {
	return len(m.JoinRef) + len(m.Ref) + len(m.Topic) + len(m.Event) + len(m.UserEvent) + len(m.Status) + len(m.Payload) + len(m.Data) + len(m.Meta) + 80
}

// Post queues m like SendOn but never waits: while the socket is open the queue may grow past
// the bound Send waits at. The SDK posts its own few frames with it (joins, leaves, a channel's flushed push
// buffer), which must not wait behind a user's backlog.
func (c *Conn) Post(epoch uint64, m *Message) error {
	data, binary, err := Encode(make([]byte, 0, frameSizeHint(m)), c.cfg.Version, ClientSide, m)
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
		if c.staleLocked(f) {
			c.mu.Unlock()
			c.log.Debug("realtime: dropped a frame of an earlier connection", "epoch", f.epoch)
			return nil
		}
		if c.state != StateOpen {
			dropped := 0
			if f.done == nil {
				dropped = c.trimLocked(c.cfg.SendBuffer - 1)
			}
			c.queue = append(c.queue, f)
			c.mu.Unlock()
			c.reportDrop(dropped)
			return nil
		}
		if len(c.queue) < c.maxQueue || f.done != nil || f.force {
			c.queue = append(c.queue, f)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return nil
		}
		c.roomWanted = true
		room := c.roomCh
		c.mu.Unlock()
		select {
		case <-room: // the queue shrank or the socket left Open: look again
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// trimLocked drops the oldest data frames until at most n remain, counting and logging the
// loss once per overflow episode, and returns how many it dropped. Flush marks are kept.
func (c *Conn) trimLocked(n int) int {
	data := 0
	for _, f := range c.queue {
		if f.done == nil {
			data++
		}
	}
	if data <= n {
		return 0
	}
	drop := data - n
	kept := c.queue[:0]
	for _, f := range c.queue {
		if f.done == nil && drop > 0 {
			drop--
			continue
		}
		kept = append(kept, f)
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	total := c.stats.dropped.Add(uint64(data - n))
	c.roomLocked()
	if !c.dropping {
		c.dropping = true
		c.log.Warn("realtime: send buffer full while disconnected; dropping the oldest frames",
			"buffer", c.cfg.SendBuffer, "dropped_total", total)
	}
	return data - n
}

// staleLocked reports whether f is bound to a connection that is gone (see SendOn): it could
// never be written, so it must not take a place in the send buffer.
func (c *Conn) staleLocked(f frame) bool {
	return f.epoch != 0 && (f.epoch < c.epoch || f.epoch == c.epoch && c.state != StateOpen)
}

// dropStaleLocked removes the frames bound to a connection that is gone. They are not counted
// as dropped: they were never sendable.
func (c *Conn) dropStaleLocked() {
	kept := c.queue[:0]
	for _, f := range c.queue {
		if !c.staleLocked(f) {
			kept = append(kept, f)
		}
	}
	if n := len(c.queue) - len(kept); n > 0 {
		clear(c.queue[len(kept):])
		c.queue = kept
		c.roomLocked()
		c.log.Debug("realtime: dropped the frames of an earlier connection", "frames", n)
	}
}

// pop takes the next frame for the writer, and reports whether more frames are queued.
func (c *Conn) pop() (f frame, more, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		if c.dropping {
			c.dropping = false
			c.log.Info("realtime: send buffer flushed", "dropped_total", c.stats.dropped.Load())
		}
		return frame{}, false, false
	}
	f = c.queue[0]
	c.queue[0] = frame{}
	c.queue = c.queue[1:]
	if len(c.queue) == 0 {
		c.queue = nil // an empty slice of the old array would keep the whole array alive
	}
	if len(c.queue) < c.maxQueue {
		c.roomLocked()
	}
	return f, len(c.queue) > 0, true
}

// roomLocked wakes the Sends waiting for room in the open queue, if there are any. It is
// called on every shrink of the queue and when the socket leaves Open, so that a waiter never
// outlives the condition it waits on: woken, it takes the room, waits again, or, if the
// socket is no longer open, puts its frame in the send buffer.
func (c *Conn) roomLocked() {
	if c.roomWanted {
		close(c.roomCh)
		c.roomCh = make(chan struct{})
		c.roomWanted = false
	}
}
