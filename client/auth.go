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
	if c.isClosed() {
		return closedError()
	}
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
	return ch.run(func(s *chanState) error {
		s.cold().token = token
		s.pushToken()
		return nil
	})
}

// pushTokens pushes the current token to every joined channel that lacks it.
func (r *router) pushTokens() {
	for _, s := range r.sortedChannels(nil) {
		s.pushToken()
	}
}

// pushToken sends access_token to a joined channel whose token differs from its current one
// (realtime-js pushes only when the value changed, and only to joined channels).
func (s *chanState) pushToken() {
	r := s.r
	tok := s.tokenFor()
	if s.state() != ChannelJoined || tok == s.sentToken {
		return
	}
	payload, _ := marshalPayload(map[string]string{"access_token": tok})
	m := transport.Message{JoinRef: s.joinRef, Ref: r.c.makeRef(), Topic: s.topic(), Event: transport.EventAccessToken, Payload: payload}
	if err := s.post(&m); err == nil {
		s.sentToken = tok
	}
}

// requestToken asks the callback for a token (on the token source's goroutine: the router
// never waits on user code); tokenReady runs when it answers.
func (r *router) requestToken() {
	if r.c.cfg.tokenFn == nil || r.stopped {
		return
	}
	r.c.tokens.start()
}

// tokenReady runs when a call of the callback has ended (err is its error, and the fallback
// token serves): it sends the joins that waited for a token and pushes the new token to the
// joined channels.
func (r *router) tokenReady(err error) {
	for _, s := range r.sortedChannels(nil) {
		if s.awaitingToken && s.want && s.sock != nil && s.sock.open && s.state() == ChannelJoining {
			s.awaitingToken = false
			r.paceJoin(s)
		}
	}
	if err == nil {
		r.pushTokens()
	}
}

// refreshToken refreshes the token ahead of its expiry.
func (r *router) refreshToken(reason string) {
	if r.stopped {
		return
	}
	r.c.log.Debug("realtime: refreshing the access token", "reason", reason)
	r.requestToken()
}

// tokenErrorPhrases mark a channel shutdown that a fresh token can undo: the server's texts
// for an expired or invalid channel token.
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

// revivable says whether a channel the server shut with cause can come back with a fresh
// token: when the token expired or became invalid and there is a callback to ask.
func (r *router) revivable(s *chanState, cause error) bool {
	return r.c.cfg.tokenFn != nil && s.want && isTokenError(cause)
}
