//go:build interop

package interop_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// authSecret is the JWT secret of the auth scenarios' server.
const authSecret = "interop-jwt-secret-with-at-least-32-characters"

// TestRealtimeJSAuth runs realtime-js against a server started WithJWTSecret (auth.js).
func TestRealtimeJSAuth(t *testing.T) {
	requireRealtimeJS(t)
	t.Run("AccessTokenAndSetAuth", testAuthSetAuth)
	t.Run("ExpiredToken", testAuthExpiredToken)
	t.Run("TokenExpiresMidSession", testAuthExpiresMidSession)
	t.Run("PrivateDenied", testAuthPrivateDenied)
}

// newAuthServer starts a loopback server that verifies JWTs against authSecret.
func newAuthServer(t *testing.T) *testutil.Server {
	t.Helper()
	srv := testutil.NewServer(t, testutil.WithJWTSecret(authSecret))
	srv.Start()
	return srv
}

// authToken signs a token of role authenticated for sub that expires in d.
func authToken(sub string, d time.Duration) string {
	return testutil.SignJWT(authSecret, map[string]any{"role": "authenticated", "sub": sub, "exp": time.Now().Add(d).Unix()})
}

// authKey is the socket's apikey: a valid anon JWT, as the server requires one.
func authKey() string {
	return testutil.SignJWT(authSecret, map[string]any{"role": "anon", "exp": time.Now().Add(time.Hour).Unix()})
}

// statusLine is a {"kind":"status"} line of auth.js.
type statusLine struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	State  string `json:"state"`
}

// joinAccessToken returns the access_token and config of the first phx_join the server
// received on topic (realtime-js rejoins after a refused join).
func joinAccessToken(t *testing.T, srv *testutil.Server, topic string) (string, map[string]any) {
	t.Helper()
	joins := framesOf(srv, topic, transport.EventJoin)
	if len(joins) == 0 {
		t.Fatalf("server received no phx_join on %s", topic)
	}
	var p struct {
		AccessToken string         `json:"access_token"`
		Config      map[string]any `json:"config"`
	}
	if err := json.Unmarshal(joins[0].Payload, &p); err != nil {
		t.Fatalf("phx_join payload %s: %v", joins[0].Payload, err)
	}
	return p.AccessToken, p.Config
}

// testAuthSetAuth: (a) with an accessToken callback and setAuth() before subscribe,
// realtime-js reaches SUBSCRIBED and its phx_join carries the token; (b) setAuth(newToken)
// pushes access_token once to the joined channel, which the server takes without a reply;
// setAuth with the same token again pushes nothing.
func testAuthSetAuth(t *testing.T) {
	t.Parallel()
	srv := newAuthServer(t)
	const sub = "interop:auth"
	const topic = "realtime:" + sub
	first, second := authToken("user-1", time.Hour), authToken("user-2", 2*time.Hour)
	key := authKey()
	js := startNode(t, srv, "auth.js", "--url", srv.URL(), "--key", key, "--topic", sub, "--token", first)
	js.waitFor("SUBSCRIBED", kind("joined"))

	tok, _ := joinAccessToken(t, srv, topic)
	if tok != first {
		t.Errorf("phx_join access_token = %.24q…; want the callback's token %.24q…", tok, first)
	}
	conns := srv.Conns()
	if len(conns) != 1 {
		t.Fatalf("server has %d connections; want 1", len(conns))
	}
	c := conns[0]
	if got := c.Query().Get("apikey"); got != key {
		t.Errorf("upgrade apikey = %.24q…; want the anon key", got)
	}
	if got := c.ChannelToken(topic); got != first {
		t.Errorf("ChannelToken after the join = %.24q…; want the first token", got)
	}

	js.send("setauth " + second)
	js.waitFor("setAuth to resolve", func(l line) bool { return l.Kind == "setauth" && l.N == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	f, err := srv.Expect(ctx, topic, transport.EventAccessToken)
	if err != nil {
		t.Fatalf("%v\n%s", err, js.transcript())
	}
	if got, _ := jsonField(f.Payload, "access_token"); got != second {
		t.Errorf("access_token push carries %.24q…; want the new token", got)
	}
	if f.JoinRef != c.JoinRef(topic) || f.Ref == "" {
		t.Errorf("access_token push join_ref %q ref %q; want the join's %q and a ref", f.JoinRef, f.Ref, c.JoinRef(topic))
	}
	if got := c.ChannelToken(topic); got != second {
		t.Errorf("ChannelToken after access_token = %.24q…; want the second token", got)
	}

	// The same token again: nothing is pushed. The broadcast sent after it, on the same socket,
	// shows that anything pushed before has arrived.
	js.send("setauth " + second)
	js.waitFor("the second setAuth to resolve", func(l line) bool { return l.Kind == "setauth" && l.N == 2 })
	js.send("send marker")
	if _, err := srv.WaitFor(ctx, func(f testutil.Frame) bool {
		return f.Topic == topic && f.Event == transport.EventBroadcast && f.UserEvent == "marker"
	}); err != nil {
		t.Fatalf("%v\n%s", err, js.transcript())
	}
	if n := len(framesOf(srv, topic, transport.EventAccessToken)); n != 1 {
		t.Errorf("server received %d access_token pushes; want 1 (setAuth with an unchanged token pushes nothing)", n)
	}
	js.send("summary")
	var sum struct {
		State     string   `json:"state"`
		Channels  []string `json:"channels"`
		Connected bool     `json:"connected"`
	}
	js.waitFor("the summary", kind("summary")).decode(t, &sum)
	if sum.State != "joined" || !slices.Equal(sum.Channels, []string{topic}) || !sum.Connected {
		t.Errorf("realtime-js after setAuth: %+v; want joined, [%s], connected", sum, topic)
	}
	for _, l := range js.linesOf("status") {
		if l.Status != "SUBSCRIBED" {
			t.Errorf("realtime-js reported %s", l.Raw)
		}
	}
	js.finish()
}

// testAuthExpiredToken: (c) subscribing with an expired token gives CHANNEL_ERROR with the
// server's reason; the socket stays open.
func testAuthExpiredToken(t *testing.T) {
	t.Parallel()
	srv := newAuthServer(t)
	const sub = "interop:expired"
	expired := authToken("user-1", -10*time.Second)
	js := startNode(t, srv, "auth.js", "--url", srv.URL(), "--key", authKey(), "--topic", sub, "--token", expired)
	var st statusLine
	js.waitFor("CHANNEL_ERROR", func(l line) bool { return l.Kind == "status" }).decode(t, &st)
	// The token expired 10 s before node started; the count is in whole seconds at the join.
	m := regexp.MustCompile(`^InvalidJWTToken: Token has expired (\d+) seconds ago$`).FindStringSubmatch(st.Error)
	n := -1
	if m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if st.Status != "CHANNEL_ERROR" || n < 10 || n > 10+int(nodeTimeout/time.Second) {
		t.Errorf("realtime-js status %+v; want CHANNEL_ERROR with InvalidJWTToken: Token has expired 10 (or a few more) seconds ago", st)
	}
	if st.State != "errored" {
		t.Errorf("realtime-js channel state %q; want errored", st.State)
	}
	if tok, _ := joinAccessToken(t, srv, "realtime:"+sub); tok != expired {
		t.Errorf("phx_join access_token = %.24q…; want the expired token", tok)
	}
	if n := len(srv.Conns()); n != 1 {
		t.Errorf("server has %d connections; want 1 (a refused join does not close the socket)", n)
	}
	js.finish()
}

// testAuthExpiresMidSession: (d) when the channel token expires while joined, realtime-js
// gets the system error, then phx_close: it reports CLOSED, drops the channel and does not
// rejoin; the socket stays open.
func testAuthExpiresMidSession(t *testing.T) {
	t.Parallel()
	srv := newAuthServer(t)
	const sub = "interop:expiring"
	const topic = "realtime:" + sub
	js := startNode(t, srv, "auth.js", "--url", srv.URL(), "--key", authKey(), "--topic", sub, "--token", authToken("user-1", 4*time.Second))
	js.waitFor("SUBSCRIBED", kind("joined"))
	var sys struct {
		Payload map[string]any `json:"payload"`
	}
	js.waitFor("the system message", kind("system")).decode(t, &sys)
	msg, _ := sys.Payload["message"].(string)
	if !regexp.MustCompile(`^Token has expired [01] seconds ago$`).MatchString(msg) {
		t.Errorf("system message %q; want Token has expired 0 seconds ago", msg)
	}
	delete(sys.Payload, "message")
	if diff := cmp.Diff(map[string]any{"channel": sub, "extension": "system", "status": "error"}, sys.Payload); diff != "" {
		t.Errorf("system payload (-want +got):\n%s", diff)
	}
	var st statusLine
	js.waitFor("CLOSED", func(l line) bool { return l.Kind == "status" && l.Status != "SUBSCRIBED" }).decode(t, &st)
	if st.Status != "CLOSED" || st.State != "closed" {
		t.Errorf("realtime-js after the shutdown: %+v; want CLOSED, state closed", st)
	}

	// realtime-js's first rejoin would come 1 s after an error; a CLOSED channel never rejoins.
	time.Sleep(1500 * time.Millisecond)
	js.send("summary")
	var sum struct {
		State     string   `json:"state"`
		Channels  []string `json:"channels"`
		Connected bool     `json:"connected"`
	}
	js.waitFor("the summary", kind("summary")).decode(t, &sum)
	if sum.State != "closed" || len(sum.Channels) != 0 || !sum.Connected {
		t.Errorf("realtime-js after CLOSED: %+v; want state closed, no channels, connected", sum)
	}
	if n := len(framesOf(srv, topic, transport.EventJoin)); n != 1 {
		t.Errorf("server received %d phx_join; want 1 (no rejoin)", n)
	}
	conns := srv.Conns()
	if len(conns) != 1 || len(conns[0].Topics()) != 0 {
		t.Errorf("server connections %v; want one open socket with no channel", conns)
	}
	for _, l := range js.linesOf("status") {
		if l.Status == "CHANNEL_ERROR" {
			t.Errorf("realtime-js reported %s", l.Raw)
		}
	}
	js.finish()
}

// testAuthPrivateDenied: (e) a private channel the policy denies gives CHANNEL_ERROR with the
// Unauthorized reason.
func testAuthPrivateDenied(t *testing.T) {
	t.Parallel()
	srv := newAuthServer(t)
	const sub = "interop:secret"
	srv.SetPrivatePolicy(func(topic string, claims map[string]any) (bool, bool) {
		return topic != sub && claims["sub"] == "user-1", false
	})
	js := startNode(t, srv, "auth.js", "--url", srv.URL(), "--key", authKey(), "--topic", sub, "--token", authToken("user-1", time.Hour), "--private")
	var st statusLine
	js.waitFor("CHANNEL_ERROR", func(l line) bool { return l.Kind == "status" }).decode(t, &st)
	want := statusLine{Status: "CHANNEL_ERROR", Error: "Unauthorized: You do not have permissions to read from this Channel topic: " + sub, State: "errored"}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("realtime-js status (-want +got):\n%s", diff)
	}
	if _, cfg := joinAccessToken(t, srv, "realtime:"+sub); cfg["private"] != true {
		t.Errorf("phx_join config %v; want private true", cfg)
	}
	js.finish()
}
