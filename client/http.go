package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-supabase/realtime/transport"
)

// WithHTTPFallback makes Broadcast go through the REST batch endpoint (POST /api/broadcast)
// while the socket is not open, instead of waiting in the send buffer.
// Only JSON broadcasts whose payload is an object can go that way; other pushes still buffer.
func WithHTTPFallback() Option {
	return func(c *config) error { c.httpFallback = true; return nil }
}

// HTTPSend sends one broadcast through the REST API (POST
// /api/broadcast/{topic}/events/{event}, ?private=true for private channels) without using
// the socket: the channel need not be joined. payload is raw bytes ([]byte, sent as
// application/octet-stream) or anything json.Marshal accepts. It returns nil on 202 Accepted
// and an *Error otherwise; a 404 means the server is older than Realtime v2.97.0, which added
// the endpoint. With Persist the server also stores the message for replay.
func (ch *Channel) HTTPSend(ctx context.Context, event string, payload any, opts ...SendOption) error {
	var so sendOptions
	for _, o := range opts {
		o(&so)
	}
	token, err := ch.token()
	if err != nil {
		return err
	}
	if err := checkEvent(event); err != nil {
		return err
	}
	var body []byte
	contentType := "application/json"
	switch p := payload.(type) {
	case []byte:
		body, contentType = p, "application/octet-stream"
	default:
		data, err := marshalPayload(payload)
		if err != nil {
			return err
		}
		body = data
	}
	u := ch.c.httpBase + "/api/broadcast/" + url.PathEscape(ch.subtopic()) + "/events/" + url.PathEscape(event)
	q := url.Values{}
	if ch.cfg.private {
		q.Set("private", "true")
	}
	if so.persist {
		q.Set("persist", "true")
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	err = ch.c.restPost(ctx, u, contentType, body, token)
	var e *Error
	if errors.As(err, &e) && e.Details["status"] == http.StatusNotFound {
		e.Message = "HTTPSend needs Realtime server v2.97.0 or newer (the endpoint answered 404 Not Found)"
	}
	return err
}

// SendOption configures one HTTPSend.
type SendOption func(*sendOptions)

type sendOptions struct{ persist bool }

// Persist asks the server to store the message, so that it can be replayed (?persist=true):
// private channels only (the server refuses a public one with 422, an invalid_argument error),
// and only where the project has broadcast persistence.
func Persist() SendOption { return func(o *sendOptions) { o.persist = true } }

// token returns the token the channel authenticates with, read on the router goroutine.
func (ch *Channel) token() (string, error) {
	var tok string
	err := ch.run(func(s *chanState) error { tok = s.tokenFor(); return nil })
	return tok, err
}

// subtopic is the topic without "realtime:", as the REST API and the server's messages name it.
func (ch *Channel) subtopic() string { return strings.TrimPrefix(ch.topic, "realtime:") }

// httpBroadcast sends a JSON broadcast through the REST batch endpoint (the HTTP fallback).
func (ch *Channel) httpBroadcast(ctx context.Context, event string, data []byte) error {
	token, err := ch.token()
	if err != nil {
		return err
	}
	msg := map[string]any{"topic": ch.subtopic(), "event": event, "payload": json.RawMessage(data), "private": ch.cfg.private}
	body, err := json.Marshal(map[string]any{"messages": []any{msg}})
	if err != nil {
		return newError(CodeInvalidArgument, err, "broadcast cannot be encoded: "+err.Error())
	}
	return ch.c.restPost(ctx, ch.c.httpBase+"/api/broadcast", "application/json", body, token)
}

// restPost posts to the REST API with the apikey header and, when the token is not the API key
// itself, Authorization: Bearer (as realtime-js does). Errors carry the status and the
// server's message, never the headers.
func (c *Client) restPost(ctx context.Context, u, contentType string, body []byte, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return newError(CodeInvalidArgument, nil, "cannot build the REST request: "+redactSecrets(err.Error(), c))
	}
	if c.cfg.requestHeaders != nil {
		c.cfg.requestHeaders(ctx, req.Header)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("apikey", c.apiKey)
	if token != "" && token != c.apiKey {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.cfg.httpClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return newError(CodeTimeout, ctx.Err(), "REST broadcast: "+ctx.Err().Error())
		}
		return newError(CodeDisconnected, nil, "REST broadcast failed: "+redactSecrets(err.Error(), c), "url", transport.Redact(u))
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		return nil
	}
	return restError(resp.StatusCode, text, transport.Redact(u))
}

// restError maps a REST failure: the code from the status, the message from the body's
// error or message (or the status text).
func restError(status int, body []byte, u string) error {
	code := CodeServerError
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		code = CodeUnauthorized
	case http.StatusTooManyRequests:
		code = CodeRateLimited
	case http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType, http.StatusBadRequest:
		code = CodeInvalidArgument
	}
	msg := ""
	var v struct {
		Error   any `json:"error"`
		Message any `json:"message"`
		Errors  any `json:"errors"`
	}
	if json.Unmarshal(body, &v) == nil {
		for _, x := range []any{v.Error, v.Message, v.Errors} {
			switch t := x.(type) {
			case nil:
			case string:
				msg = t
			default:
				b, _ := json.Marshal(t)
				msg = string(b)
			}
			if msg != "" {
				break
			}
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := newError(code, nil, fmt.Sprintf("REST broadcast refused: HTTP %d: %s", status, msg), "status", status, "url", u)
	return e.withTemporary(transport.TemporaryStatus(status))
}
