package client

import (
	"context"
	"strings"

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

// requestToken asks the callback for a token on its own goroutine (the router never waits on
// user code), then sends the joins that waited for it and pushes the token to joined channels.
func (r *router) requestToken() {
	if r.refreshing || r.c.cfg.tokenFn == nil {
		return
	}
	r.refreshing = true
	go func() {
		_, err := r.c.tokens.refresh(context.Background())
		r.c.post(func() { r.tokenReady(err) })
	}()
}

// tokenReady runs when a requested token has arrived (or the callback failed: the fallback
// token is used).
func (r *router) tokenReady(err error) {
	r.refreshing = false
	for _, ch := range r.sortedChannels() {
		if ch.awaitingToken {
			ch.awaitingToken = false
			if ch.want && r.open && ch.State() == ChannelJoining {
				r.sendJoin(ch)
			}
		}
	}
	if err == nil {
		r.pushTokens()
	}
}

// refreshToken refreshes the token ahead of its expiry and pushes it to joined channels.
func (r *router) refreshToken(reason string) {
	if r.stopped {
		return
	}
	r.c.log.Debug("realtime: refreshing the access token", "reason", reason)
	r.requestToken()
}

// tokenErrorPhrases mark a channel shutdown that a fresh token can undo (PROTOCOL.md §8.4).
var tokenErrorPhrases = []string{
	"Token has expired", "are required in JWT", "not a valid JWT", "JWT signer",
	"Token expiration time is invalid", "InvalidJWTToken", "MalformedJWT", "JwtSignatureError",
}

func isTokenError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, p := range tokenErrorPhrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// reviveWithToken handles a channel the server shut because its token expired or became
// invalid: with a token callback the channel asks it for a new token and rejoins on its own
// (after the rejoin backoff); without one it stays closed (false is returned).
func (r *router) reviveWithToken(ch *Channel, cause error) bool {
	if r.c.cfg.tokenFn == nil || !ch.want || !isTokenError(cause) {
		return false
	}
	r.c.log.Info("realtime: channel closed for its token; rejoining with a fresh one", "topic", ch.topic, "cause", cause.Error())
	ch.joinRef = ""
	stopTimer(&ch.joinTimer)
	r.setState(ch, ChannelErrored, cause)
	r.c.tokens.expire()
	r.scheduleRejoin(ch)
	return true
}
