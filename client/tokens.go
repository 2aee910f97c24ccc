package client

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"
)

// tokenSource resolves the access token channels join with: the callback's latest token, else
// the WithToken token, else the API key.
type tokenSource struct {
	c  *Client
	sf singleflight.Group

	mu     sync.Mutex
	latest string // the last token the callback (or SetAuth) gave
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

// set records a token given by SetAuth ("" forgets it).
func (t *tokenSource) set(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latest = tok
}

// beforeDial refreshes the token through the callback before every dial. A failing callback
// does not stop the dial: the fallback tokens serve.
func (t *tokenSource) beforeDial(ctx context.Context) error {
	if t.c.cfg.tokenFn == nil {
		return nil
	}
	_, _ = t.refresh(ctx)
	return nil
}

// refresh calls the callback, one call at a time (concurrent callers share it).
func (t *tokenSource) refresh(ctx context.Context) (string, error) {
	v, err, _ := t.sf.Do("token", func() (any, error) {
		tok, err := t.c.cfg.tokenFn(ctx)
		if err != nil {
			t.c.log.Warn("realtime: access token callback failed; using the fallback token", "error", err.Error())
			return "", err
		}
		t.mu.Lock()
		t.latest = tok
		t.mu.Unlock()
		return tok, nil
	})
	return v.(string), err
}
