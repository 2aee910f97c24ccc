package client

import (
	"context"
	"encoding/json"

	"github.com/go-supabase/realtime/transport"
)

// Hooks of the presence and postgres_changes features; see presence.go and postgres.go.

func (ch *Channel) wantsPresence() bool { return false }

func (ch *Channel) postgresConfig() []json.RawMessage { return []json.RawMessage{} }

func (r *router) beforeJoin(ch *Channel)                               {}
func (r *router) afterJoin(ch *Channel, response []byte) error         { return nil }
func (r *router) afterJoined(ch *Channel)                              {}
func (r *router) socketLostPresence(ch *Channel)                       {}
func (r *router) leftPresence(ch *Channel)                             {}
func (r *router) routePresenceState(ch *Channel, m *transport.Message) {}
func (r *router) routePresenceDiff(ch *Channel, m *transport.Message)  {}
func (r *router) routePostgres(ch *Channel, m *transport.Message)      {}
func (r *router) systemFeatures(ch *Channel, s System)                 {}
func (r *router) endFeatureSubscriptions(ch *Channel, cause error)     {}
func (r *router) reviveWithToken(ch *Channel, cause error) bool        { return false }

// Track and Untrack arrive with presence.
func (ch *Channel) Track(ctx context.Context, state any) error {
	return invalidArgument("presence not built yet")
}
func (ch *Channel) Untrack(ctx context.Context) error {
	return invalidArgument("presence not built yet")
}
