package client

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// System is a system message of a channel: the postgres_changes extension reporting its
// subscription ("Subscribed to PostgreSQL" or an error), replication readiness, or an error
// that shuts the channel (the server sends the error, then phx_close).
type System struct {
	// Topic and Seq are the message's Origin: its channel and its receive sequence number.
	Topic string
	Seq   uint64
	// Status is "ok" or "error".
	Status string
	// Extension is "postgres_changes" or "system"; "presence" for an error the client itself
	// reports when it refuses part of a presence message (see PresenceLimits).
	Extension string
	// Message is the server's text, such as "Subscribed to PostgreSQL" or
	// "Token has expired 10 seconds ago".
	Message string
	// Channel is the subtopic, or "" (the "Server requested disconnect" message has none).
	Channel string
	// Payload is the whole payload as it arrived.
	Payload json.RawMessage
}

// IsError reports whether the message reports an error.
func (s System) IsError() bool { return s.Status == "error" }

// systemFeature is the system-message part of a channel: its subscriptions.
type systemFeature struct {
	baseFeature
	feeds []*stream.Feed[System]
}

func (f *systemFeature) end(cause error) {
	for _, feed := range f.feeds {
		feed.Close(cause)
	}
	f.feeds = nil
}

// OnSystem returns a subscription to every system message of the channel, in order; ctx
// bounds its life. A system error followed by phx_close ends the channel (its subscriptions
// then end with that error), except when a fresh access token can revive it.
func (ch *Channel) OnSystem(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[System] {
	sub, feed := newSub[System](ctx, &ch.c.group, "system on "+ch.topic, ch.c.subOptions(opts))
	listen(ch, feed, func(s *chanState) { s.cold().system.feeds = append(s.cold().system.feeds, feed) })
	return sub
}

func parseSystem(payload []byte) System {
	var p struct {
		Status    string `json:"status"`
		Extension string `json:"extension"`
		Message   any    `json:"message"`
		Channel   string `json:"channel"`
	}
	_ = json.Unmarshal(payload, &p)
	s := System{Status: p.Status, Extension: p.Extension, Channel: p.Channel, Payload: payload}
	switch m := p.Message.(type) {
	case string:
		s.Message = m
	case nil:
	default:
		b, _ := json.Marshal(m)
		s.Message = string(b)
	}
	return s
}

// routeSystem delivers a system message, remembers an error for the phx_close that follows
// it, and lets the postgres part see its extension's messages.
func (s *chanState) routeSystem(m *transport.Message) {
	sys := parseSystem(m.Payload)
	sys.Topic, sys.Seq = s.topic(), s.nextSeq()
	s.cold().system.feeds = deliver(s.cold().system.feeds, sys, len(m.Payload))
	if sys.IsError() {
		s.r.c.serverError(s.topic(), sys.Message)
	}
	if s.eventsWanted() {
		s.cold().evs.emit(sys, len(m.Payload))
	}
	if sys.IsError() && sys.Extension == "system" {
		s.cold().closeCause = newError(classifyReason(sys.Message), nil, sys.Message, "topic", s.topic())
	}
	s.cold().pg.system(sys)
}

// responseReason extracts the reason of an error reply: the bare string of a string response,
// or the "reason" of an object response; "" if neither.
func responseReason(resp []byte) string {
	var s string
	if json.Unmarshal(resp, &s) == nil {
		return s
	}
	var o struct {
		Reason any `json:"reason"`
	}
	if json.Unmarshal(resp, &o) == nil && o.Reason != nil {
		if s, ok := o.Reason.(string); ok {
			return s
		}
		b, _ := json.Marshal(o.Reason)
		return string(b)
	}
	return ""
}

// classifyReason maps a server reason or system message to an error code.
// passingReason reports whether a join refused with reason may succeed later unchanged: the
// server or the project's database is starting, restarting or briefly overloaded
// (docs/protocol.md §4.4).
func passingReason(reason string) bool {
	for _, p := range []string{
		"RealtimeRestarting", "InitializingProjectConnection", "UnableToConnectToProject",
		"unable to connect to the project database", "DatabaseLackOfConnections",
		"IncreaseConnectionPool", "QueryCanceled", "TimeoutOnRpcCall", "ErrorOnRpcCall",
		"MusterJoinError", "UnknownErrorOnChannel", "Unknown Error on Channel",
		"MissingPartition", "unable to replay messages",
	} {
		if strings.Contains(reason, p) {
			return true
		}
	}
	return false
}

func classifyReason(reason string) Code {
	for _, p := range []string{
		"ClientJoinRateLimitReached", "ChannelRateLimitReached", "ConnectionRateLimitReached",
		"Too many messages per second", "Too many presence messages per second",
		"Client presence rate limit exceeded", "DatabaseConnectionRateLimitReached",
		"Too many joins per second", "Too many connected users", "Too many channels",
	} {
		if strings.Contains(reason, p) {
			return CodeRateLimited
		}
	}
	for _, p := range []string{
		"InvalidJWTToken", "MalformedJWT", "JwtSignatureError", "JwtSignerError", "Unauthorized",
		"Token has expired", "The token provided is not a valid JWT", "are required in JWT",
		"permissions to read", "permission to read", "PrivateOnly", "Failed to generate JWT signer",
	} {
		if strings.Contains(reason, p) {
			return CodeUnauthorized
		}
	}
	return CodeServerError
}
