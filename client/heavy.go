package client

import (
	"context"
	"sync"

	"github.com/go-supabase/realtime/transport"
)

// Work that would hold the router for long runs elsewhere, so that no frame delays the other
// channels for long:
//
//   - A large frame (largeFrame bytes or more) is decoded by its socket's reader, which has
//     just spent time in proportion to its size reading it, instead of by the router; checking
//     that 64 MB is well-formed JSON takes tens of milliseconds.
//   - A presence message whose processing grows with its size or with the channel's state (a
//     presence_state against a large state, a large presence_diff) is computed on a goroutine
//     of its own, from a clone of the channel's tracker, and its events are then delivered by
//     the router in slices, each a short step between other work.
//
// The bytes of the large frames the client works on at once are bounded (frameBudget): the
// sockets' readers wait at the frame gate (transport.Config.FrameGate) before they take a large
// frame off the socket while the large frames read before it are still in the inbox, in a held
// backlog or in a presence job not yet delivered, and it would take them past the budget. A
// frame larger than the budget is admitted alone. Only the reader of the socket carrying the
// large frame waits; small frames never do, and the router never does.
//
// Per-channel order is kept by holding the topic: while its work is under way, the topic's
// later messages wait in a backlog, in order, and are routed once it is done; other topics'
// messages flow meanwhile. The backlog is bounded (heldBacklogBytes, heldBacklogMessages):
// past it the router finishes the work in hand itself, which is slower for the other channels
// but keeps memory bounded under a server that floods one topic.
const (
	largeFrame          = transport.LargeFrame
	frameBudget         = 64 << 20
	heldBacklogBytes    = 32 << 20
	heldBacklogMessages = 65536
)

// heavy is the router's state of the work under way off the router goroutine.
type heavy struct {
	holds map[string]*topicHold // the held topics
	jobs  sync.WaitGroup        // the goroutines computing
	// charge is the bytes the frame gate admitted for the message being routed: whatever keeps
	// the message past its routing takes them (takeCharge) and releases them once done.
	charge int
}

// frameGate bounds the bytes of the large frames admitted and not yet released.
type frameGate struct {
	mu     sync.Mutex
	budget int
	bytes  int           // admitted, not yet released
	frames int           // the frames of bytes
	freed  chan struct{} // closed and replaced when bytes are released
	closed bool
	waits  int // the admissions that waited (for tests)
}

// admit waits until a frame of n bytes fits in the budget beside the frames in flight, or is
// alone, and counts it in. It returns ctx's error if ctx ends first.
func (g *frameGate) admit(ctx context.Context, n int) error {
	g.mu.Lock()
	waited := false
	for !g.closed && g.frames > 0 && g.bytes+n > g.budget {
		if !waited {
			waited = true
			g.waits++
		}
		if g.freed == nil {
			g.freed = make(chan struct{})
		}
		freed := g.freed
		g.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
		g.mu.Lock()
	}
	if !g.closed {
		g.bytes += n
		g.frames++
	}
	g.mu.Unlock()
	return nil
}

// release counts out a frame of n bytes admitted before; n 0 is no frame.
func (g *frameGate) release(n int) {
	if n <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.bytes -= n
	g.frames--
	if g.freed != nil {
		close(g.freed)
		g.freed = nil
	}
}

// close admits everything from now on, once the client is closed.
func (g *frameGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.bytes, g.frames = 0, 0
	if g.freed != nil {
		close(g.freed)
		g.freed = nil
	}
}

// inFlight returns the bytes and frames admitted and not yet released, and the admissions
// that waited.
func (g *frameGate) inFlight() (bytes, frames, waits int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bytes, g.frames, g.waits
}

// frameGateOf returns the FrameGate function of socket k. It runs on k's reader goroutine, as
// does its OnFrame, which takes the frame it admitted (k.admitted).
func (c *Client) frameGateOf(k *socket) func(ctx context.Context, n int) error {
	return func(ctx context.Context, n int) error {
		if n == 0 { // the frame admitted was not handed on
			c.frames.release(k.admitted)
			k.admitted = 0
			return nil
		}
		if err := c.frames.admit(ctx, n); err != nil {
			return err
		}
		k.admitted = n
		return nil
	}
}

// routeCharged routes a message whose frame the gate admitted with charge bytes, and releases
// them unless the message is kept past its routing.
func (r *router) routeCharged(k *socket, m *transport.Message, charge int) {
	outer := r.heavy.charge
	r.heavy.charge = charge
	r.handleMessage(k, m)
	r.c.frames.release(r.heavy.charge)
	r.heavy.charge = outer
}

// takeCharge takes over the bytes of the message being routed: the caller keeps it and
// releases them with r.c.frames.release once done with it.
func (r *router) takeCharge() int {
	n := r.heavy.charge
	r.heavy.charge = 0
	return n
}

// topicHold is a held topic: the work that holds it and its messages that wait.
type topicHold struct {
	count   int // the pieces of work holding it
	backlog []heldMessage
	bytes   int
	// finish completes the work in hand on the router goroutine, at once; it releases the hold.
	finish func()
}

// heldMessage is a message that waits for its topic's work.
type heldMessage struct {
	k      *socket
	m      *transport.Message
	charge int // the bytes the frame gate admitted for it
}

// hold holds topic until a matching release; finish completes the work on the router
// goroutine if the backlog grows too large.
func (r *router) hold(topic string, finish func()) {
	if r.heavy.holds == nil {
		r.heavy.holds = make(map[string]*topicHold)
	}
	h := r.heavy.holds[topic]
	if h == nil {
		h = &topicHold{}
		r.heavy.holds[topic] = h
	}
	h.count++
	h.finish = finish
}

// release ends a hold of topic; once none is left, the messages that waited are routed in
// order (one of them may hold the topic again: the rest then wait on).
func (r *router) release(topic string) {
	h := r.heavy.holds[topic]
	if h == nil {
		return
	}
	h.count--
	for h.count == 0 && len(h.backlog) > 0 {
		hm := h.backlog[0]
		h.backlog[0] = heldMessage{}
		h.backlog = h.backlog[1:]
		h.bytes -= len(hm.m.Payload)
		r.routeCharged(hm.k, hm.m, hm.charge)
	}
	if h.count == 0 && r.heavy.holds[topic] == h {
		delete(r.heavy.holds, topic)
	}
}

// heldBack keeps m in its topic's backlog if the topic is held, and reports whether it did.
// m is copied: the router reuses it.
func (r *router) heldBack(k *socket, m *transport.Message) bool {
	h := r.heavy.holds[m.Topic]
	if h == nil || h.count == 0 {
		return false
	}
	if len(h.backlog) >= heldBacklogMessages || h.bytes+len(m.Payload) > heldBacklogBytes {
		r.c.log.Warn("realtime: a channel's messages pile up behind its presence work; finishing it before anything else",
			"topic", m.Topic, "messages", len(h.backlog), "bytes", h.bytes)
		if h.finish != nil {
			h.finish()
		}
		if h.count == 0 {
			return false
		}
	}
	cp := *m
	h.backlog = append(h.backlog, heldMessage{k: k, m: &cp, charge: r.takeCharge()})
	h.bytes += len(m.Payload)
	return true
}

// frameDecoder returns the OnFrame function of socket k: it puts small frames into the inbox
// as they are, for the router to decode, and decodes large ones itself (it runs on the
// socket's reader goroutine, and so has a decoder of its own).
func (c *Client) frameDecoder(k *socket) func(binary bool, frame []byte) {
	dec := transport.Decoder{Version: c.cfg.version, Side: transport.ClientSide}
	return func(binary bool, frame []byte) {
		charge := k.admitted // the frame gate admitted this frame
		k.admitted = 0
		if len(frame) < largeFrame {
			// The JSON checks of a binary broadcast are made here rather than on the
			// router goroutine, which every socket's frames go through.
			checked := binary && transport.CheckPayloads(frame)
			c.inbox.put(event{frame: frame, binary: binary, checked: checked, sock: k}, true)
			return
		}
		m := new(transport.Message)
		if err := dec.Decode(binary, frame, m); err != nil {
			c.frames.release(charge)
			c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(frame), "binary", binary)
			return
		}
		if !c.inbox.put(event{msg: m, sock: k, charge: charge}, true) {
			c.frames.release(charge)
		}
	}
}
