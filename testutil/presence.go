package testutil

import "github.com/go-supabase/realtime/transport"

// Server-side presence (PROTOCOL.md §6). Not built yet: track and untrack get an error reply.

// afterJoinPresence pushes presence_state after a join when presence is enabled.
func (s *Server) afterJoinPresence(ch *channel) {}

// presenceEvent handles a "presence" push (track, untrack).
func (s *Server) presenceEvent(ch *channel, m *transport.Message) {
	ch.conn.reply(ch.joinRef, m.Ref, m.Topic, "error", []byte("{}"))
}

// presenceLeave removes the presence of a channel that ended.
func (s *Server) presenceLeave(ch *channel) {}
