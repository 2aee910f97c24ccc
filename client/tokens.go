package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Token refresh timing.
const (
	// tokenFresh is how recently a token must have come from the callback for a (re)join to
	// use it without asking again (a dial has just asked, say).
	tokenFresh = 5 * time.Second
	// tokenMargin is how long before a JWT's exp the client asks for a new one.
	tokenMargin = 60 * time.Second
	// tokenCallTimeout bounds one call of the callback made by the client itself.
	tokenCallTimeout = 30 * time.Second
)

// tokenSource resolves the access token channels join with: the callback's latest token (or
// SetAuth's), else the WithToken token, else the API key.
//
// Calls of the callback are single-flight: one at a time, shared by every caller. Each runs on a
// goroutine of its own, so that neither the router nor a dial waits on user code longer than it
// chooses to, with a ctx that Close cancels; Close waits for it to return. When a call ends,
// the router is told, so that joins waiting for a token go out.
type tokenSource struct {
	c  *Client
	wg sync.WaitGroup // the calls under way

	mu      sync.Mutex
	call    *tokenCall // the call under way, or nil
	latest  string     // the last token the callback or SetAuth gave
	fetched time.Time  // when the callback last succeeded
	timer   *time.Timer
	stopped bool
}

// tokenCall is one call of the callback; done is closed when tok and err are set.
type tokenCall struct {
	done chan struct{}
	tok  string
	err  error
}

func (t *tokenSource) init(c *Client) { t.c = c }

// current returns the token to put in a join, without calling anything.
func (t *tokenSource) current() string {
	t.mu.Lock()
	latest := t.latest
	t.mu.Unlock()
	switch {
	case latest != "":
		return latest
	case t.c.cfg.token != "":
		return t.c.cfg.token
	}
	return t.c.apiKey
}

// set records a token given by SetAuth ("" forgets it) and plans its refresh.
func (t *tokenSource) set(tok string) {
	t.mu.Lock()
	t.latest = tok
	t.mu.Unlock()
	t.schedule(tok)
}

// fresh reports whether a (re)join can use the current token without asking the callback.
func (t *tokenSource) fresh() bool {
	if t.c.cfg.tokenFn == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Since(t.fetched) < tokenFresh && !expiresWithin(t.latest, tokenMargin)
}

// beforeDial refreshes the token through the callback before every dial. A failing callback
// does not stop the dial: the fallback tokens serve.
func (t *tokenSource) beforeDial(ctx context.Context) error {
	if t.c.cfg.tokenFn != nil {
		_, _ = t.refresh(ctx)
	}
	return nil
}

// refresh calls the callback, or joins the call under way, and waits for its result or for ctx.
// On failure the fallback tokens stay in use and the error is logged, never the token.
func (t *tokenSource) refresh(ctx context.Context) (string, error) {
	call := t.start()
	select {
	case <-call.done:
		if call.err != nil {
			return t.current(), call.err
		}
		return call.tok, nil
	case <-ctx.Done():
		return t.current(), ctx.Err()
	}
}

// start starts a call of the callback unless one is under way, and returns it.
func (t *tokenSource) start() *tokenCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.call != nil {
		return t.call
	}
	call := &tokenCall{done: make(chan struct{})}
	if t.stopped {
		call.err = closedError()
		close(call.done)
		return call
	}
	t.call = call
	t.wg.Go(func() { t.run(call) })
	return call
}

// run calls the callback for call, records its token, and tells the router.
func (t *tokenSource) run(call *tokenCall) {
	ctx, cancel := context.WithTimeout(t.c.life, tokenCallTimeout)
	tok, err := t.c.cfg.tokenFn(ctx)
	cancel()
	if err == nil && tok == "" {
		err = errEmptyToken
	}
	if err != nil {
		err = redactError(err, t.c)
		t.c.log.Warn("realtime: access token callback failed; using the fallback token", "error", err.Error())
	}
	t.mu.Lock()
	t.call = nil
	if err == nil {
		t.latest, t.fetched = tok, time.Now()
	}
	t.mu.Unlock()
	if err == nil {
		t.schedule(tok)
	}
	call.tok, call.err = tok, err
	close(call.done)
	t.c.post(func() { t.c.r.tokenReady(err) })
}

var errEmptyToken = newError(CodeUnauthorized, nil, "access token callback returned an empty token")

// schedule plans a refresh shortly before a JWT expires, when there is a callback to ask.
// Opaque tokens (such as sb_… keys) have no expiry and are never refreshed on a timer.
func (t *tokenSource) schedule(tok string) {
	if t.c.cfg.tokenFn == nil {
		return
	}
	exp, ok := jwtExpiry(tok)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if !ok || t.stopped {
		return
	}
	lifetime := time.Until(exp)
	margin := min(tokenMargin, lifetime/10)
	wait := max(lifetime-margin, time.Second)
	t.timer = time.AfterFunc(wait, func() { t.c.post(func() { t.c.r.refreshToken("the token expires soon") }) })
}

// stop cancels the planned refresh (on Close, which also ends the ctx of a call under way).
func (t *tokenSource) stop() {
	t.mu.Lock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.mu.Unlock()
}

// jwtExpiry reads the exp claim of a JWT without verifying it. Opaque tokens, and JWTs without
// exp, report false.
func jwtExpiry(tok string) (time.Time, bool) {
	if strings.HasPrefix(tok, "sb_") {
		return time.Time{}, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(body, &claims) != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// expiresWithin reports whether tok is a JWT that expires within d.
func expiresWithin(tok string, d time.Duration) bool {
	exp, ok := jwtExpiry(tok)
	return ok && time.Until(exp) < d
}

// redactError returns err, or, when its text holds a secret, an error with the secrets replaced
// and no cause (a cause would still hold them), so that an error from user code (a token
// callback) cannot leak a token into a log line or an error.
func redactError(err error, c *Client) error {
	msg := err.Error()
	clean := redactSecrets(msg, c)
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// tokenLike matches what looks like a credential in free text: a JWT (three base64url
// segments, the first a JSON header) or a Supabase opaque key.
var tokenLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|sb_(?:publishable|secret)_[A-Za-z0-9_-]+`)

// redactSecrets replaces the API key, the known tokens and anything that looks like a token in
// s (text that may come from user code or a server, such as a failing callback's error).
func redactSecrets(s string, c *Client) string {
	for _, secret := range []string{c.apiKey, c.cfg.token, c.tokens.peek()} {
		if len(secret) >= 8 {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	return tokenLike.ReplaceAllString(s, "REDACTED")
}

// expire makes the next (re)join ask the callback again.
func (t *tokenSource) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fetched = time.Time{}
}

func (t *tokenSource) peek() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}
