package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

const jwtSecret = "super-secret-jwt-key-for-tests-only"

// anonKey is an API key the JWT-checking server accepts for a year.
func anonKey() string {
	return testutil.SignJWT(jwtSecret, map[string]any{"role": "anon", "exp": time.Now().Add(365 * 24 * time.Hour).Unix()})
}

// signer hands out user tokens signed for the server, each valid for life; it can be made to
// fail.
type signer struct {
	mu    sync.Mutex
	life  time.Duration
	n     int
	fail  atomic.Bool
	given []string
}

func (s *signer) fn(context.Context) (string, error) {
	if s.fail.Load() {
		return "", errors.New("auth server unavailable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	tok := testutil.SignJWT(jwtSecret, map[string]any{"sub": fmt.Sprint("user-", s.n), "role": "authenticated",
		"exp": time.Now().Add(s.life).Unix()})
	s.given = append(s.given, tok)
	return tok, nil
}

func (s *signer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func newJWTClient(t *testing.T, srv *testutil.Server, opts ...client.Option) *client.Client {
	t.Helper()
	base := []client.Option{client.WithLogger(suiteLogger), client.WithDialer(srv.Dialer()),
		client.WithBackoff(second), client.WithRejoinBackoff(second)}
	c, err := client.New(srv.URL(), anonKey(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// chatter broadcasts "tick" every interval until ctx ends.
func chatter(ctx context.Context, ch *client.Channel, interval time.Duration) {
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
			_ = ch.Broadcast(ctx, "tick", map[string]int{"i": i})
		}
	}
}

// A channel whose token expires mid-session keeps receiving: the client refreshes the token
// ahead of its expiry and pushes it, so the server never shuts the channel.
func TestExpiringTokenIsRefreshedAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		users := &signer{life: 5 * time.Minute}
		c := newJWTClient(t, srv, client.WithAccessToken(users.fn))
		ch, _ := c.Channel("room")
		msgs := ch.OnBroadcast(t.Context(), "tick")
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		states := ch.OnState(t.Context())
		sender := subscribed(t, newJWTClient(t, srv), "room")
		ctx, stop := context.WithCancel(t.Context())
		go chatter(ctx, sender, 30*time.Second)
		for range 60 { // half an hour: six token lifetimes
			recv(t, msgs)
		}
		stop()
		if users.count() < 6 {
			t.Errorf("%d tokens fetched in 30 min of 5-min tokens; want a refresh before each expiry", users.count())
		}
		for len(states.C()) > 0 {
			if sc := <-states.C(); sc.New != client.ChannelJoined {
				t.Errorf("the channel went %v (%v); it must never be shut", sc.New, sc.Err)
			}
		}
		if got := srv.Conns()[0].ChannelToken("room"); got != users.given[len(users.given)-1] {
			t.Error("the server does not hold the newest token")
		}
	})
}

// When the refresh fails and the server shuts the channel for its expired token, the channel
// comes back with a fresh token as soon as the callback works again, and keeps receiving.
func TestChannelShutForItsTokenRevives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		users := &signer{life: 2 * time.Minute}
		c := newJWTClient(t, srv, client.WithAccessToken(users.fn))
		ch, _ := c.Channel("room")
		msgs := ch.OnBroadcast(t.Context(), "tick")
		sys := ch.OnSystem(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		users.fail.Store(true) // the refresh ahead of expiry fails
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if s := recv(t, sys); !strings.Contains(s.Message, "Token has expired") {
			t.Fatalf("system = %+v; want the expiry shutdown", s)
		}
		users.fail.Store(false)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("State = %v; want joined again with a fresh token", ch.State())
		}
		sender := subscribed(t, newJWTClient(t, srv), "room")
		_ = sender.Broadcast(t.Context(), "tick", map[string]int{"after": 1})
		if m := recv(t, msgs); string(m.Payload) != `{"after":1}` {
			t.Errorf("got %+v", m)
		}
	})
}

// A rejoin after a network drop carries the newest token, and the server accepts it.
func TestRejoinAfterDropCarriesTheNewestToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		users := &signer{life: time.Hour}
		c := newJWTClient(t, srv, client.WithAccessToken(users.fn))
		ch := subscribed(t, c, "room")
		srv.DropConnections()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("State = %v", ch.State())
		}
		if got, want := srv.Conns()[0].ChannelToken("room"), users.given[len(users.given)-1]; got != want || users.count() < 2 {
			t.Errorf("the rejoin carried token %d of %d; want the newest", indexOf(users.given, got)+1, users.count())
		}
	})
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// An expired API key is refused at the upgrade, with the server's text.
func TestExpiredAPIKeyIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		expired := testutil.SignJWT(jwtSecret, map[string]any{"role": "anon", "exp": time.Now().Add(-time.Minute).Unix()})
		c, err := client.New(srv.URL(), expired, client.WithDialer(srv.Dialer()), client.WithLogger(suiteLogger))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		err = c.Connect(ctx)
		if !errors.Is(err, client.ErrUnauthorized) || !strings.Contains(err.Error(), "HTTP 401: Token has expired") {
			t.Errorf("Connect = %v; want unauthorized with the server's text", err)
		}
		if strings.Contains(err.Error(), expired) {
			t.Error("the error holds the key")
		}
	})
}

// Private channels: a denied join is an unauthorized error with the exact reason; a broadcast
// the policy does not allow gets no ack (the server says nothing), so it times out.
func TestPrivateChannelPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		srv.SetPrivatePolicy(func(topic string, claims map[string]any) (read, write bool) {
			return topic != "secret", topic == "writable"
		})
		users := &signer{life: time.Hour}
		c := newJWTClient(t, srv, client.WithAccessToken(users.fn))
		denied, _ := c.Channel("secret", client.Private())
		err := denied.Subscribe(t.Context())
		var e *client.Error
		if !errors.As(err, &e) || !errors.Is(err, client.ErrUnauthorized) ||
			e.Message != "Unauthorized: You do not have permissions to read from this Channel topic: secret" {
			t.Errorf("Subscribe = %v; want the exact Unauthorized reason", err)
		}
		readOnly := subscribed(t, c, "readonly", client.Private(), client.BroadcastAck())
		if err := readOnly.Broadcast(t.Context(), "e", map[string]int{}); !errors.Is(err, client.ErrTimeout) {
			t.Errorf("Broadcast without write = %v; want a timeout (no reply)", err)
		}
		if err := readOnly.Track(t.Context(), map[string]int{}); !errors.Is(err, client.ErrServerError) {
			t.Errorf("Track without write = %v; want the server's error reply", err)
		}
		writable := subscribed(t, c, "writable", client.Private(), client.BroadcastAck())
		if err := writable.Broadcast(t.Context(), "e", map[string]int{}); err != nil {
			t.Errorf("Broadcast with write = %v", err)
		}
	})
}

// A join refused for the join rate limit closes the socket with 1001; the client backs off far
// longer than its usual 1 s before reconnecting.
func TestJoinRateLimitBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		srv.FailJoins("room", 1, "ClientJoinRateLimitReached: Too many joins per second")
		c := newJWTClient(t, srv, client.WithRateLimitHoldOff(30*time.Second))
		states := c.OnConnectionState(t.Context())
		ch, _ := c.Channel("room")
		err := ch.Subscribe(t.Context())
		if !errors.Is(err, client.ErrRateLimited) {
			t.Fatalf("Subscribe = %v; want rate_limited", err)
		}
		var dropped time.Time
		for {
			sc := recv(t, states)
			if sc.Old == client.StateOpen {
				dropped = time.Now()
			}
			if !dropped.IsZero() && sc.New == client.StateOpen {
				break
			}
		}
		if waited := time.Since(dropped); waited < 20*time.Second {
			t.Errorf("reconnected %v after the 1001 close; want a long, jittered backoff (≥ 20 s)", waited)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; want joined in the end", ch.State())
		}
	})
}

// Replay on a private channel delivers the stored broadcasts since the given time, marked as
// replayed; the since time goes out in milliseconds.
func TestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		users := &signer{life: time.Hour}
		writer := subscribed(t, newJWTClient(t, srv, client.WithAccessToken(users.fn)), "log", client.Private())
		start := time.Now()
		for i := range 3 {
			time.Sleep(time.Second)
			_ = writer.Broadcast(t.Context(), "entry", map[string]int{"n": i})
		}
		synctest.Wait()
		reader, _ := newJWTClient(t, srv, client.WithAccessToken(users.fn)).Channel("log", client.Private(),
			client.Replay(start.Add(1500*time.Millisecond), 10))
		msgs := reader.OnBroadcast(t.Context(), "*")
		if err := reader.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`{"n":1}`, `{"n":2}`} {
			m := recv(t, msgs)
			if string(m.Payload) != want || !m.Replayed() {
				t.Errorf("got %s (replayed %v); want %s replayed", m.Payload, m.Replayed(), want)
			}
		}
		synctest.Wait()
		none(t, msgs)
		js := joins(srv, "realtime:log")
		if !strings.Contains(string(js[len(js)-1].Payload), fmt.Sprintf(`"since":%d`, start.Add(1500*time.Millisecond).UnixMilli())) {
			t.Errorf("join payload %s; want since in milliseconds", js[len(js)-1].Payload)
		}
	})
}
