package testutil

import "encoding/json"

// Server-side postgres_changes (PROTOCOL.md §7). Only the join reply's echo exists yet.

// postgresReply is the join reply's postgres_changes list.
func (s *Server) postgresReply(ch *channel) []map[string]any {
	return echoBindings(ch.cfg.postgres)
}

// afterJoinPostgres pushes the system messages a join with bindings (or replication_ready)
// produces.
func (s *Server) afterJoinPostgres(ch *channel) {}

var _ = json.Marshal
