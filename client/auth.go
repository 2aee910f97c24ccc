package client

import (
	"context"

	"github.com/go-supabase/realtime/transport"
)

// SetAuth sets the access token (a user JWT) the client's channels authenticate with. It is
// pushed as access_token to every joined channel whose token differs, and the channels that
// are joining or errored carry it in their next join. With an empty token the client re-reads
// its WithAccessToken callback if it has one, and otherwise goes back to its fallback (the
// WithToken token, then the API key). The server does not reply to access_token pushes; ctx
// bounds only the callback.
func (c *Client) SetAuth(ctx context.Context, token string) error {
	if token == "" && c.cfg.tokenFn != nil {
		if _, err := c.tokens.refresh(ctx); err != nil {
			return newError(CodeUnauthorized, err, "access token callback failed: "+err.Error())
		}
	} else {
		c.tokens.set(token)
	}
	return c.exec(func() { c.r.pushTokens() })
}

// SetAuth sets this channel's own access token, used instead of the client's from now on: it
// is pushed as access_token if the channel is joined with another token, and used by its next
// joins. An empty token goes back to the client's.
func (ch *Channel) SetAuth(ctx context.Context, token string) error {
	return ch.c.exec(func() {
		ch.token = token
		ch.c.r.pushToken(ch)
	})
}

// tokenFor returns the token a channel joins and pushes with.
func (ch *Channel) tokenFor() string {
	if ch.token != "" {
		return ch.token
	}
	return ch.c.tokens.current()
}

// pushTokens pushes the current token to every joined channel that lacks it.
func (r *router) pushTokens() {
	for _, ch := range r.sortedChannels() {
		r.pushToken(ch)
	}
}

// pushToken sends access_token to a joined channel whose token differs from its current one
// (realtime-js pushes only when the value changed, and only to joined channels).
func (r *router) pushToken(ch *Channel) {
	tok := ch.tokenFor()
	if ch.State() != ChannelJoined || tok == ch.sentToken {
		return
	}
	payload, _ := marshalPayload(map[string]string{"access_token": tok})
	m := transport.Message{JoinRef: ch.joinRef, Ref: r.c.conn.MakeRef(), Topic: ch.topic, Event: transport.EventAccessToken, Payload: payload}
	if err := r.c.conn.Post(r.epoch, &m); err == nil {
		ch.sentToken = tok
	}
}
