package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultBackoff is the reconnect delay before retry attempt (0 for the first retry): 1 s, 2 s,
// 5 s, 10 s, then 10 s, as realtime-js, each with ±20% jitter so that clients dropped together
// do not come back together.
func DefaultBackoff(attempt int) time.Duration {
	steps := [...]time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}
	d := steps[len(steps)-1]
	if attempt >= 0 && attempt < len(steps) {
		d = steps[attempt]
	}
	return Jitter(d, 0.2)
}

// Jitter returns d scaled by a random factor in [1-frac, 1+frac).
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}

// supervise dials, runs and redials the socket until Close.
func (c *Conn) supervise() {
	defer close(c.done)
	ctx := c.ctx
	attempt := 0
	for ctx.Err() == nil {
		c.setState(StateConnecting, nil)
		ws, src, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.stats.failedDials.Add(1)
			c.setState(StateConnecting, err)
		} else {
			healthy, cause := c.run(ctx, ws, src)
			if ctx.Err() != nil {
				break
			}
			if healthy {
				attempt = 0
			}
			c.setState(StateConnecting, cause)
		}
		delay := c.cfg.Backoff(attempt)
		attempt++
		c.log.Debug("realtime: reconnecting", "in", delay.String(), "attempt", attempt)
		c.wait(ctx, time.Now().Add(delay))
	}
	c.setState(StateClosed, nil)
}

// wait waits until deadline, or later if HoldOff asks for it meanwhile, or until ctx ends.
func (c *Conn) wait(ctx context.Context, deadline time.Time) {
	for {
		c.mu.Lock()
		if c.holdUntil.After(deadline) {
			deadline = c.holdUntil
		}
		c.mu.Unlock()
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-t.C:
			return
		case <-c.holdCh:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// HoldOff makes the next reconnect wait at least d from now, including a wait already under
// way: the SDK calls it when the server signals a rate limit, which it may learn only after
// the socket has dropped.
func (c *Conn) HoldOff(d time.Duration) {
	c.mu.Lock()
	if until := time.Now().Add(d); until.After(c.holdUntil) {
		c.holdUntil = until
	}
	c.mu.Unlock()
	select {
	case c.holdCh <- struct{}{}:
	default:
	}
}

// dial runs BeforeDial and opens one socket. It returns the socket and the source of its
// messages: the SDK's own frame reader when it could take the stream over after the
// handshake, gorilla/websocket's reader otherwise.
func (c *Conn) dial(ctx context.Context) (*websocket.Conn, messageSource, error) {
	if c.cfg.BeforeDial != nil {
		if err := c.cfg.BeforeDial(ctx); err != nil {
			return nil, nil, fmt.Errorf("realtime: before dial: %w", err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	header := c.cfg.Header.Clone()
	if c.cfg.RequestHeader != nil {
		if header == nil {
			header = http.Header{}
		}
		c.cfg.RequestHeader(dctx, header)
	}
	dialer, handshaken := ownDialer(&c.dialer, c.cfg.URL)
	ws, resp, err := dialer.DialContext(dctx, c.cfg.URL, header)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, nil, upgradeError(resp)
		}
		return nil, nil, fmt.Errorf("realtime: dial %s: %w", Redact(c.cfg.URL), scrub(err, c.cfg.URL))
	}
	if handshaken != nil {
		if hc := handshaken(); ownReadable(ws, resp, hc) {
			return ws, newFrameReader(hc, ws, c.cfg.ReadLimit), nil
		}
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	return ws, &gorillaSource{ws: ws}, nil
}

// scrub keeps the error's identity but makes sure its text cannot carry the URL's secrets.
func scrub(err error, rawURL string) error {
	if rawURL != "" && strings.Contains(err.Error(), rawURL) {
		return &scrubbedError{msg: strings.ReplaceAll(err.Error(), rawURL, Redact(rawURL)), err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// upgradeError reads the server's refusal: its status and the text of {"error": …} (or
// {"message": …}) in the body.
func upgradeError(resp *http.Response) error {
	e := &UpgradeError{StatusCode: resp.StatusCode}
	if resp.Body == nil {
		return e
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		for _, raw := range []json.RawMessage{v.Error, v.Message} {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				e.Message = s
				return e
			}
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = strings.ToValidUTF8(text, "\ufffd")
	return e
}
