package testutil

import (
	"bytes"

	"github.com/go-supabase/realtime/transport"
)

// Broadcast persistence, a per-tenant flag of the real server, off by default
// ([WithBroadcastPersistence], [Server.SetBroadcastPersistence]). With it, a broadcast pushed
// on a private channel the sender may write to is stored for replay under a new UUID, and the
// reply to a push with ack is {"response":{"id":"<that UUID>"},"status":"ok"} instead of
// {"response":{},"status":"ok"}; a replay of it carries the same id in its metadata. Public
// channels are unchanged.
//
// The REST single-message endpoint takes ?persist=true, which is refused with 422
// {"message":"Persistence is only supported for private channels"} unless the request also
// has ?private=true (whatever the flag).
//
// (Without the flag the fake server still keeps every broadcast of a private channel for
// replay, with an id of its own, as it always has.)

// msgPersistPublic is the fake server's body of a REST persist request on a public channel.
const msgPersistPublic = `{"message":"Persistence is only supported for private channels"}`

// WithBroadcastPersistence turns broadcast persistence on; see
// [Server.SetBroadcastPersistence].
func WithBroadcastPersistence() ServerOption {
	return func(o *serverOptions) { o.persist = true }
}

// SetBroadcastPersistence turns broadcast persistence on or off (off by default): with it, a
// broadcast pushed on a private channel is stored for replay and the reply to a push with ack
// carries its id, {"response":{"id":"<uuid>"},"status":"ok"}.
func (s *Server) SetBroadcastPersistence(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.persist = on
}

func (s *Server) persisting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.persist
}

// handleBroadcast handles a broadcast push: persisted when the flag is on and the channel
// private, else as broadcastPush does (auth.go).
func (s *Server) handleBroadcast(ch *channel, m *transport.Message) {
	if !ch.cfg.private || m.UserEvent == "" || !s.persisting() {
		s.broadcastPush(ch, m)
		return
	}
	if !s.mayWrite(ch) {
		return // dropped without a reply, like any denied private write
	}
	id := newUUIDv4()
	if !s.relayWithID(ch, m, id) {
		return
	}
	s.storeBroadcast(ch.topic, storedBroadcast{id: id, event: m.UserEvent, data: bytes.Clone(m.Data), raw: m.Raw, binary: m.Binary})
}
