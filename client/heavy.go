package client

import (
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
// Per-channel order is kept by holding the topic: while its work is under way, the topic's
// later messages wait in a backlog, in order, and are routed once it is done; other topics'
// messages flow meanwhile. The backlog is bounded (heldBacklogBytes, heldBacklogMessages):
// past it the router finishes the work in hand itself, which is slower for the other channels
// but keeps memory bounded under a server that floods one topic.
const (
	largeFrame          = 64 << 10
	heldBacklogBytes    = 32 << 20
	heldBacklogMessages = 65536
)

// heavy is the router's state of the work under way off the router goroutine.
type heavy struct {
	holds map[string]*topicHold // the held topics
	jobs  sync.WaitGroup        // the goroutines computing
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
	k *socket
	m *transport.Message
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
		r.handleMessage(hm.k, hm.m)
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
	h.backlog = append(h.backlog, heldMessage{k: k, m: &cp})
	h.bytes += len(m.Payload)
	return true
}

// frameDecoder returns the OnFrame function of socket k: it puts small frames into the inbox
// as they are, for the router to decode, and decodes large ones itself (it runs on the
// socket's reader goroutine, and so has a decoder of its own).
func (c *Client) frameDecoder(k *socket) func(binary bool, frame []byte) {
	dec := transport.Decoder{Version: c.cfg.version, Side: transport.ClientSide}
	return func(binary bool, frame []byte) {
		if len(frame) < largeFrame {
			c.inbox.put(event{frame: frame, binary: binary, sock: k}, true)
			return
		}
		m := new(transport.Message)
		if err := dec.Decode(binary, frame, m); err != nil {
			c.log.Warn("realtime: dropped a malformed frame", "error", err.Error(), "bytes", len(frame), "binary", binary)
			return
		}
		c.inbox.put(event{msg: m, sock: k}, true)
	}
}
