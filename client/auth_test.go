package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// fakeJWT makes an unsigned token with an exp claim (the client never verifies signatures).
func fakeJWT(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	c := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":%q,"role":"authenticated","exp":%d}`, sub, exp.Unix())))
	return h + "." + c + ".c2lnbmF0dXJl"
}

// tokenCallback hands out numbered tokens and counts its calls.
type tokenCallback struct {
	mu    sync.Mutex
	calls int
	life  time.Duration
	fail  atomic.Bool
}

func (tc *tokenCallback) fn(ctx context.Context) (string, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.calls++
	if tc.fail.Load() {
		return "", errors.New("auth server down")
	}
	life := tc.life
	if life == 0 {
		life = time.Hour
	}
	return fakeJWT(fmt.Sprint("token-", tc.calls), time.Now().Add(life)), nil
}

func (tc *tokenCallback) count() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.calls
}

func accessToken(t *testing.T, payload []byte) string {
	t.Helper()
	var p struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.AccessToken
}

func subject(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// The callback is consulted before every dial; a rejoin after a network drop carries the newest
// token.
func TestTokenCallbackBeforeDialAndRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		tc := &tokenCallback{}
		c := newClient(t, srv, client.WithAccessToken(tc.fn))
		subscribed(t, c, "room")
		if tc.count() != 1 {
			t.Errorf("callback called %d times before the first join; want 1", tc.count())
		}
		srv.DropConnections()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		js := joins(srv, "realtime:room")
		if len(js) != 2 {
			t.Fatalf("%d joins; want 2", len(js))
		}
		if a, b := subject(t, accessToken(t, js[0].Payload)), subject(t, accessToken(t, js[1].Payload)); a != "token-1" || b != "token-2" {
			t.Errorf("joins carried %s then %s; want token-1 then token-2", a, b)
		}
	})
}

// A phx_error rejoin (no new dial) asks the callback too.
func TestTokenCallbackBeforeRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		tc := &tokenCallback{}
		c := newClient(t, srv, client.WithAccessToken(tc.fn))
		ch := subscribed(t, c, "room")
		time.Sleep(10 * time.Second) // the token is no longer "fresh"
		sc := srv.Conns()[0]
		j := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: j, Ref: j, Topic: "realtime:room", Event: "phx_error", Payload: []byte("{}")})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("State = %v", ch.State())
		}
		js := joins(srv, "realtime:room")
		if got := subject(t, accessToken(t, js[len(js)-1].Payload)); got != "token-2" {
			t.Errorf("rejoin carried %s; want token-2", got)
		}
	})
}

// When the callback fails the client falls back to WithToken, then to the API key.
func TestTokenFallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		failing := func(context.Context) (string, error) { return "", errors.New("auth down") }
		logger, logs := testutil.NewLogger(nil)
		a := newClient(t, srv, client.WithAccessToken(failing), client.WithToken("static-user-token"), client.WithLogger(logger))
		subscribed(t, a, "a")
		b := newClient(t, srv, client.WithAccessToken(failing))
		subscribed(t, b, "b")
		if got := accessToken(t, joins(srv, "realtime:a")[0].Payload); got != "static-user-token" {
			t.Errorf("join a carried %q; want the WithToken token", got)
		}
		if got := accessToken(t, joins(srv, "realtime:b")[0].Payload); got != testKey {
			t.Errorf("join b carried %q; want the API key", got)
		}
		if !logs.Contains("callback failed") {
			t.Errorf("the failure was not logged: %q", logs.Lines())
		}
	})
}

// Calls of the callback are single-flight: one at a time, shared.
func TestTokenCallbackIsSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var inFlight, maxInFlight, calls atomic.Int32
		slow := func(ctx context.Context) (string, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			calls.Add(1)
			time.Sleep(time.Second)
			return fakeJWT("slow", time.Now().Add(time.Hour)), nil
		}
		c := newClient(t, srv, client.WithAccessToken(slow))
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { _ = c.SetAuth(t.Context(), "") })
		}
		wg.Wait()
		if maxInFlight.Load() != 1 {
			t.Errorf("%d callback calls ran at once; want 1", maxInFlight.Load())
		}
		if calls.Load() > 3 {
			t.Errorf("%d callback calls for 10 concurrent refreshes; want them shared", calls.Load())
		}
	})
}

// A JWT is refreshed ahead of its expiry and pushed to joined channels; opaque sb_ keys never
// are.
func TestTokenRefreshAheadOfExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		tc := &tokenCallback{life: 10 * time.Minute}
		c := newClient(t, srv, client.WithAccessToken(tc.fn))
		subscribed(t, c, "room")
		time.Sleep(10*time.Minute - 30*time.Second)
		synctest.Wait()
		var pushes []string
		for _, f := range srv.Received() {
			if f.Event == "access_token" {
				pushes = append(pushes, subject(t, accessToken(t, f.Payload)))
			}
		}
		if len(pushes) != 1 || pushes[0] != "token-2" {
			t.Errorf("access_token pushes %v; want [token-2] before the first token expired", pushes)
		}

		opaque := newClient(t, srv, client.WithAccessToken(func(context.Context) (string, error) { return "sb_publishable_abc", nil }))
		subscribed(t, opaque, "o")
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		for _, f := range srv.Received() {
			if f.Event == "access_token" && f.Topic == "realtime:o" {
				t.Errorf("an opaque key was refreshed on a timer")
			}
		}
	})
}

// SetAuth pushes access_token to joined channels only when the value changed; a joining
// channel carries it in its join.
func TestSetAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		a := subscribed(t, c, "a")
		if err := c.SetAuth(t.Context(), "user-token-1"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetAuth(t.Context(), "user-token-1"); err != nil { // unchanged: no push
			t.Fatal(err)
		}
		srv.DelayJoins(time.Second)
		b, _ := c.Channel("b")
		go func() { _ = b.Subscribe(t.Context()) }()
		synctest.Wait()
		if err := c.SetAuth(t.Context(), "user-token-2"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var pushes []string
		for _, f := range srv.Received() {
			if f.Event == "access_token" {
				pushes = append(pushes, f.Topic+"="+accessToken(t, f.Payload))
			}
		}
		want := "realtime:a=user-token-1 realtime:a=user-token-2 realtime:b=user-token-2"
		if got := strings.Join(pushes, " "); got != want && got != "realtime:a=user-token-1 realtime:a=user-token-2" {
			t.Errorf("pushes %q; want %q (b may also carry it only in its join)", got, want)
		}
		// A channel with its own token keeps it.
		if err := a.SetAuth(t.Context(), "channel-token"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		last := srv.Received()[len(srv.Received())-1]
		if last.Event != "access_token" || accessToken(t, last.Payload) != "channel-token" {
			t.Errorf("last frame %s; want the channel's own token", last.Message.String())
		}
	})
}

// A channel shut because its token expired comes back on its own with a fresh token from the
// callback; without a callback it stays closed with the server's message.
func TestTokenExpiryShutdown(t *testing.T) {
	expire := func(sc *testutil.Conn) {
		j := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: j, Topic: "realtime:room", Event: "system",
			Payload: []byte(`{"channel":"room","extension":"system","message":"Token has expired 12 seconds ago","status":"error"}`)})
		sc.Push(transport.Message{JoinRef: j, Ref: j, Topic: "realtime:room", Event: "phx_close", Payload: []byte("{}")})
	}
	t.Run("with a callback", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			a := newClient(t, srv, client.WithAccessToken((&tokenCallback{}).fn))
			b := newClient(t, srv)
			ch := subscribed(t, a, "room")
			msgs := ch.OnBroadcast(t.Context(), "*")
			sys := ch.OnSystem(t.Context())
			states := ch.OnState(t.Context())
			sender := subscribed(t, b, "room")
			expire(srv.Conns()[0])
			if s := recv(t, sys); !strings.Contains(s.Message, "Token has expired") {
				t.Errorf("system = %+v", s)
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if ch.State() != client.ChannelJoined {
				t.Fatalf("State = %v; want joined again", ch.State())
			}
			js := joins(srv, "realtime:room")
			last := js[len(js)-1]
			if got := subject(t, accessToken(t, last.Payload)); got != "token-2" {
				t.Errorf("the rejoin carried %s; want a fresh token", got)
			}
			_ = sender.Broadcast(t.Context(), "still-here", map[string]int{})
			if m := recv(t, msgs); m.Event != "still-here" {
				t.Errorf("got %+v", m)
			}
			var seen []string
			for len(states.C()) > 0 {
				seen = append(seen, recv(t, states).New.String())
			}
			if strings.Join(seen, ",") != "errored,joining,joined" {
				t.Errorf("states %v; want errored, joining, joined", seen)
			}
		})
	})
	t.Run("without a callback", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			c := newClient(t, srv, client.WithToken(fakeJWT("static", time.Now().Add(time.Minute))))
			ch := subscribed(t, c, "room")
			msgs := ch.OnBroadcast(t.Context(), "*")
			expire(srv.Conns()[0])
			<-msgs.Done()
			err := msgs.Err()
			var e *client.Error
			if !errors.As(err, &e) || !errors.Is(err, client.ErrUnauthorized) || e.Message != "Token has expired 12 seconds ago" {
				t.Errorf("Err = %v; want unauthorized with the server's message", err)
			}
			if ch.State() != client.ChannelClosed {
				t.Errorf("State = %v; want closed", ch.State())
			}
		})
	})
}

func TestHTTPSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv, client.WithToken("user-jwt-token"))
		b := newClient(t, srv)
		rx := subscribed(t, b, "room")
		msgs := rx.OnBroadcast(t.Context(), "*")
		tx, _ := a.Channel("room") // never joined
		if err := tx.HTTPSend(t.Context(), "json", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if err := tx.HTTPSend(t.Context(), "bytes", []byte{7, 8}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, msgs); m.Event != "json" || string(m.Payload) != `{"n":1}` {
			t.Errorf("got %+v", m)
		}
		if m := recv(t, msgs); m.Event != "bytes" || string(m.Binary) != "\x07\x08" {
			t.Errorf("got %+v", m)
		}
		reqs := srv.HTTPRequests()
		if len(reqs) != 2 {
			t.Fatalf("%d REST requests; want 2", len(reqs))
		}
		r := reqs[0]
		if r.Path != "/realtime/v1/api/broadcast/room/events/json" || r.Header.Get("apikey") != testKey ||
			r.Header.Get("Authorization") != "Bearer user-jwt-token" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s headers %v", r.Path, r.Header)
		}
		if reqs[1].Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("bytes went as %q", reqs[1].Header.Get("Content-Type"))
		}
		priv, _ := a.Channel("secret", client.Private())
		_ = priv.HTTPSend(t.Context(), "e", map[string]int{})
		if q := srv.HTTPRequests()[2].Query.Get("private"); q != "true" {
			t.Errorf("private query = %q", q)
		}
	})
}

func TestHTTPSendErrors(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		code   error
		msg    string
	}{
		{404, `{"message":"Not found"}`, client.ErrServerError, "v2.97.0"},
		{401, `{"message":"Unauthorized"}`, client.ErrUnauthorized, "Unauthorized"},
		{429, `{"message":"Too many requests"}`, client.ErrRateLimited, "Too many requests"},
		{415, `{"error":"Unsupported Media Type. Use application/json or application/octet-stream"}`, client.ErrInvalidArgument, "Unsupported Media Type"},
		{500, `oops`, client.ErrServerError, "oops"},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			hc := &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: tt.status, Body: ioNop(tt.body), Header: http.Header{}}, nil
			})}
			c, err := client.New("https://abc.supabase.co", testKey, client.WithHTTPClient(hc))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ch, _ := c.Channel("room")
			err = ch.HTTPSend(t.Context(), "e", map[string]int{})
			if !errors.Is(err, tt.code) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("HTTPSend = %v; want %v containing %q", err, tt.code, tt.msg)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("the error leaks the API key: %v", err)
			}
		})
	}
}

// While the socket is down, WithHTTPFallback sends broadcasts through POST /api/broadcast.
func TestHTTPFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		b := newClient(t, srv)
		rx := subscribed(t, b, "room")
		msgs := rx.OnBroadcast(t.Context(), "*")
		srv.RefuseUpgrades(1000, 503, `{"error":"down"}`)
		a := newClient(t, srv, client.WithHTTPFallback())
		tx, _ := a.Channel("room")
		go func() { _ = tx.Subscribe(t.Context()) }()
		synctest.Wait()
		if err := tx.Broadcast(t.Context(), "via-rest", map[string]int{"n": 2}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, msgs); m.Event != "via-rest" || string(m.Payload) != `{"n":2}` {
			t.Errorf("got %+v", m)
		}
		r := srv.HTTPRequests()[0]
		if !strings.HasSuffix(r.Path, "/api/broadcast") || !strings.Contains(string(r.Body), `"topic":"room"`) || !strings.Contains(string(r.Body), `"private":false`) {
			t.Errorf("fallback request %s %s", r.Path, r.Body)
		}
	})
}
