package client

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// System is a system message of a channel (PROTOCOL.md §4.6): the postgres_changes extension
// reporting its subscription, replication readiness, or an error that shuts the channel.
type System struct {
	// Status is "ok" or "error".
	Status string
	// Extension is "postgres_changes" or "system".
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

// OnSystem returns a subscription to every system message of the channel, in order; ctx
// bounds its life. A system error followed by phx_close ends the channel (its subscriptions
// then end with that error), except when a fresh access token can revive it.
func (ch *Channel) OnSystem(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[System] {
	sub, feed := newSub[System](ctx, &ch.c.group, "system on "+ch.topic, ch.c.subOptions(opts))
	if err := ch.c.exec(func() { ch.system = append(ch.system, feed) }); err != nil {
		feed.Close(err)
	}
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

// routeSystem delivers a system message and remembers an error for the phx_close that
// follows it.
func (r *router) routeSystem(ch *Channel, m *transport.Message) {
	s := parseSystem(m.Payload)
	ch.system = deliver(ch.system, s, len(m.Payload))
	if s.IsError() && s.Extension == "system" {
		ch.closeCause = newError(classifyReason(s.Message), nil, s.Message, "topic", ch.topic)
		if classifyReason(s.Message) == CodeRateLimited {
			r.penalize(s.Message)
		}
	}
	r.systemFeatures(ch, s)
}

// takeCloseCause returns, and forgets, the system error that announced a close.
func (ch *Channel) takeCloseCause() error {
	err := ch.closeCause
	ch.closeCause = nil
	return err
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

func sortChannels(cs []*Channel) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].topic < cs[j].topic })
}
