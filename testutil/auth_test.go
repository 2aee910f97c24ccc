package testutil_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// jwtSecret is the secret of the servers started WithJWTSecret.
const jwtSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

// userToken returns a token of role "authenticated" signed with jwtSecret that expires in d
// (negative: expired), plus the extra claims given as key, value pairs.
func userToken(d time.Duration, extra ...any) string {
	claims := map[string]any{"role": "authenticated", "exp": time.Now().Add(d).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		claims[extra[i].(string)] = extra[i+1]
	}
	return testutil.SignJWT(jwtSecret, claims)
}

// signWith returns a token with the given header, claims and HMAC algorithm (HS256, HS384 or
// HS512; anything else signs with SHA-256).
func signWith(secret string, header, claims map[string]any, alg string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	newHash := map[string]func() hash.Hash{"HS384": sha512.New384, "HS512": sha512.New}[alg]
	if newHash == nil {
		newHash = sha256.New
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// authClient is a wsClient that also keeps the error that ended its reads, to see close codes.
type authClient struct {
	*wsClient
	errMu   sync.Mutex
	readErr error
}

// dialAuth connects to srv (V2) with apikey in the query ("" for none) and the given header; it
// fails the test if the upgrade is refused. The connection is closed at cleanup.
func dialAuth(t testing.TB, srv *testutil.Server, apikey string, header http.Header) *authClient {
	t.Helper()
	ws, resp, err := srv.Dialer().Dial(socketURL(t, srv, apikey), header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("Dial = %v (status %d)", err, status)
	}
	c := &authClient{wsClient: &wsClient{t: t, ws: ws, notify: make(chan struct{}), done: make(chan struct{})}}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func socketURL(t testing.TB, srv *testutil.Server, apikey string) string {
	t.Helper()
	ep, err := transport.Endpoint(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return transport.SocketURL(ep, apikey, nil, transport.V2)
}

func (c *authClient) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.errMu.Lock()
			c.readErr = err
			c.errMu.Unlock()
			return
		}
		c.mu.Lock()
		c.frames = append(c.frames, string(data))
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
	}
}

// closeCode waits until the server ends the connection and returns the close frame's code, or
// 0 without one.
func (c *authClient) closeCode() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatalf("the connection is still open after %v", waitTimeout)
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	var ce *websocket.CloseError
	if errors.As(c.readErr, &ce) {
		return ce.Code
	}
	return 0
}

// open fails unless the connection is still open and answers a heartbeat.
func (c *authClient) open() {
	c.t.Helper()
	c.send(`[null,"hb","phoenix","heartbeat",{}]`)
	if got, want := c.next(), `[null,"hb","phoenix","phx_reply",{"response":{},"status":"ok"}]`; got != want {
		c.t.Errorf("heartbeat reply = %s; want %s", got, want)
	}
}

// joinPayload joins topic with the given whole phx_join payload and returns the reply.
func (c *wsClient) joinWithPayload(topic, joinRef, payload string) string {
	c.t.Helper()
	c.send(fmt.Sprintf(`[%q,%q,"realtime:%s","phx_join",%s]`, joinRef, joinRef, topic, payload))
	return c.reply(topic, joinRef)
}

// errorReply is the reply frame of a refused join or push.
func joinErrorReply(joinRef, ref, topic, reason string) string {
	r, _ := json.Marshal(reason)
	return fmt.Sprintf(`[%q,%q,"realtime:%s","phx_reply",{"response":{"reason":%s},"status":"error"}]`, joinRef, ref, topic, r)
}

// closeFrame is the phx_close of a join.
func phxCloseFrame(joinRef, topic string) string {
	return fmt.Sprintf(`[%q,%q,"realtime:%s","phx_close",{}]`, joinRef, joinRef, topic)
}

// shutFrames are the frames of a channel shut with message (docs/protocol.md §8.4).
func shutFrames(joinRef, topic, message string) []string {
	return []string{systemFrame(joinRef, topic, "system", "error", message), phxCloseFrame(joinRef, topic)}
}

// upgrade tries an upgrade with apikey in the query and the given header, and returns the
// status, Content-Type and body of the answer (101 and "" when it succeeds).
func tryUpgrade(t *testing.T, srv *testutil.Server, apikey string, header http.Header) (int, string, string) {
	t.Helper()
	ws, resp, err := srv.Dialer().Dial(socketURL(t, srv, apikey), header)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols, "", ""
	}
	if resp == nil {
		t.Fatalf("Dial = %v without a response", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestSignJWT(t *testing.T) {
	tok := testutil.SignJWT("s3cret", map[string]any{"role": "anon", "exp": 1700000000, "sub": "alice"})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("SignJWT = %q; want three segments", tok)
	}
	seg := func(i int) string {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d of %q: %v", i, tok, err)
		}
		return string(b)
	}
	if got, want := seg(0), `{"alg":"HS256","typ":"JWT"}`; got != want {
		t.Errorf("header = %s; want %s", got, want)
	}
	if got, want := seg(1), `{"exp":1700000000,"role":"anon","sub":"alice"}`; got != want {
		t.Errorf("claims = %s; want %s", got, want)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got, want := parts[2], base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature = %s; want %s (HMAC-SHA256)", got, want)
	}
}

func TestUpgradeAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		hour := time.Now().Add(time.Hour).Unix()
		hs := map[string]any{"alg": "HS256", "typ": "JWT"}
		valid := userToken(time.Hour)
		tests := []struct {
			name   string
			apikey string
			header http.Header
			status int
			err    string
		}{
			{"missing", "", nil, 401, "API key is missing"},
			{"not a JWT", "potato", nil, 401, "The token provided is not a valid JWT"},
			{"opaque key", "sb_publishable_abc", nil, 401, "The token provided is not a valid JWT"},
			{"claims not an object", signWith(jwtSecret, hs, nil, "HS256"), nil, 401, "The token provided is not a valid JWT"},
			{"bad signature", testutil.SignJWT("another-secret", map[string]any{"role": "anon", "exp": hour}), nil, 401, "Failed to validate JWT signature"},
			{"alg none", signWith(jwtSecret, map[string]any{"alg": "none"}, map[string]any{"role": "anon", "exp": hour}, ""), nil, 401,
				"Failed to generate JWT signer, check your JWT secret or JWKS configuration"},
			{"alg RS256", signWith(jwtSecret, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{"role": "anon", "exp": hour}, ""), nil, 401,
				"Failed to generate JWT signer, check your JWT secret or JWKS configuration"},
			{"no role", testutil.SignJWT(jwtSecret, map[string]any{"exp": hour}), nil, 401, "Fields `role` and `exp` are required in JWT"},
			{"no exp", testutil.SignJWT(jwtSecret, map[string]any{"role": "anon"}), nil, 401, "Fields `role` and `exp` are required in JWT"},
			{"expired", userToken(-time.Second), nil, 401, "Token has expired"},
			{"expires now", userToken(0), nil, 401, "Token has expired"},
			{"expired without role", testutil.SignJWT(jwtSecret, map[string]any{"exp": 1}), nil, 401, "Token has expired"},
			{"HS256", valid, nil, 101, ""},
			{"HS384", signWith(jwtSecret, map[string]any{"alg": "HS384", "typ": "JWT"}, map[string]any{"role": "anon", "exp": hour}, "HS384"), nil, 101, ""},
			{"HS512", signWith(jwtSecret, map[string]any{"alg": "HS512"}, map[string]any{"role": "anon", "exp": hour}, "HS512"), nil, 101, ""},
			{"x-api-key header", "", http.Header{"X-Api-Key": {valid}}, 101, ""},
			{"x-api-key takes precedence", valid, http.Header{"X-Api-Key": {"potato"}}, 401, "The token provided is not a valid JWT"},
			{"over a bad query", "potato", http.Header{"X-Api-Key": {valid}}, 101, ""},
			{"Authorization is not read", "", http.Header{"Authorization": {"Bearer " + valid}}, 401, "API key is missing"},
		}
		for _, tt := range tests {
			status, ct, body := tryUpgrade(t, srv, tt.apikey, tt.header)
			want := ""
			if tt.err != "" {
				b, _ := json.Marshal(map[string]string{"error": tt.err})
				want = string(b)
			}
			if status != tt.status || body != want {
				t.Errorf("%s: upgrade = %d %s; want %d %s", tt.name, status, body, tt.status, want)
			}
			if tt.err != "" && ct != "application/json" {
				t.Errorf("%s: Content-Type = %q; want application/json", tt.name, ct)
			}
		}
	})
}

func TestUpgradeWithoutSecretAcceptsAnyKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		for _, key := range []string{"potato", "sb_publishable_abc", userToken(-time.Hour)} {
			if status, _, body := tryUpgrade(t, srv, key, nil); status != http.StatusSwitchingProtocols {
				t.Errorf("upgrade with %q = %d %s; want 101", key, status, body)
			}
		}
		if status, _, body := tryUpgrade(t, srv, "", nil); status != 401 || body != `{"error":"API key is missing"}` {
			t.Errorf("upgrade without a key = %d %s; want 401 API key is missing", status, body)
		}
	})
}

func TestConnectErrorDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		srv.SetConnectErrorDelay(2 * time.Second)
		for _, key := range []string{"", "potato", userToken(-time.Minute)} {
			start := time.Now()
			if status, _, _ := tryUpgrade(t, srv, key, nil); status != 401 {
				t.Fatalf("upgrade with %q = %d; want 401", key, status)
			}
			if d := time.Since(start); d != 2*time.Second {
				t.Errorf("refused upgrade with %q answered after %v; want 2s", key, d)
			}
		}
		srv.RefuseUpgrades(1, 429, `{"error":"Too many connected users"}`)
		start := time.Now()
		if status, _, _ := tryUpgrade(t, srv, userToken(time.Hour), nil); status != 429 {
			t.Fatalf("refused upgrade = %d; want 429", status)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("RefuseUpgrades answered after %v; want 2s", d)
		}
		start = time.Now()
		if status, _, _ := tryUpgrade(t, srv, userToken(time.Hour), nil); status != 101 {
			t.Fatalf("upgrade = %d; want 101", status)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("accepted upgrade took %v; want no delay", d)
		}
	})
}

func TestJoinTokenRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		socketTok := userToken(time.Hour)
		c := dialAuth(t, srv, socketTok, nil)
		hour := time.Now().Add(time.Hour).Unix()
		const cfg = `"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false}`
		withToken := func(field, tok string) string { return fmt.Sprintf(`{%s,%q:%q}`, cfg, field, tok) }
		tests := []struct {
			name    string
			payload string
			reason  string // "" when the join succeeds
			token   string // the channel token of a successful join
		}{
			{"expired", withToken("access_token", userToken(-42*time.Second)), "InvalidJWTToken: Token has expired 42 seconds ago", ""},
			{"expired now", withToken("access_token", userToken(0)), "InvalidJWTToken: Token has expired 0 seconds ago", ""},
			{"no role", withToken("access_token", testutil.SignJWT(jwtSecret, map[string]any{"exp": hour})), "InvalidJWTToken: Fields `role` and `exp` are required in JWT", ""},
			{"no exp", withToken("access_token", testutil.SignJWT(jwtSecret, map[string]any{"role": "anon"})), "InvalidJWTToken: Fields `role` and `exp` are required in JWT", ""},
			{"not a JWT", withToken("access_token", "potato"), "MalformedJWT: The token provided is not a valid JWT", ""},
			{"empty", withToken("access_token", ""), "MalformedJWT: The token provided is not a valid JWT", ""},
			{"bad signature", withToken("access_token", testutil.SignJWT("wrong", map[string]any{"role": "anon", "exp": hour})), "JwtSignatureError: Failed to validate JWT signature", ""},
			{"alg none", withToken("access_token", signWith(jwtSecret, map[string]any{"alg": "none"}, map[string]any{"role": "anon", "exp": hour}, "")),
				"JwtSignerError: Failed to generate JWT signer, check your JWT secret or JWKS configuration", ""},
			{"legacy user_token", withToken("user_token", userToken(-5*time.Second)), "InvalidJWTToken: Token has expired 5 seconds ago", ""},
			{"valid access_token", withToken("access_token", userToken(time.Minute, "sub", "a")), "", userToken(time.Minute, "sub", "a")},
			{"sb_ key means the socket token", withToken("access_token", "sb_publishable_x"), "", socketTok},
			{"null means the socket token", `{` + cfg + `,"access_token":null}`, "", socketTok},
			{"absent means the socket token", `{` + cfg + `}`, "", socketTok},
			{"not a string means the socket token", `{` + cfg + `,"access_token":7}`, "", socketTok},
		}
		for i, tt := range tests {
			topic, ref := fmt.Sprintf("room%d", i), fmt.Sprint(i+1)
			got := c.joinWithPayload(topic, ref, tt.payload)
			want := joinReply(ref, topic)
			if tt.reason != "" {
				want = joinErrorReply(ref, ref, topic, tt.reason)
			}
			if got != want {
				t.Errorf("%s: join reply = %s; want %s", tt.name, got, want)
			}
			if got := srv.Conns()[0].ChannelToken(topic); got != tt.token {
				t.Errorf("%s: ChannelToken = %q; want %q", tt.name, got, tt.token)
			}
		}
		c.none()

		// The socket token is checked again at each join: it may have expired since the upgrade.
		short := dialAuth(t, srv, userToken(10*time.Second), nil)
		time.Sleep(25 * time.Second)
		if got, want := short.join("late", "1", `{}`), joinErrorReply("1", "1", "late", "InvalidJWTToken: Token has expired 15 seconds ago"); got != want {
			t.Errorf("join after the socket token expired = %s; want %s", got, want)
		}
		short.open() // an expired socket token does not close the socket
	})
}

func TestJoinChecksOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		c := dialAuth(t, srv, userToken(time.Hour), nil)
		expired := fmt.Sprintf(`{"config":{},"access_token":%q}`, userToken(-3*time.Second))
		valid := fmt.Sprintf(`{"config":{},"access_token":%q}`, userToken(time.Hour))
		tokenErr := "InvalidJWTToken: Token has expired 3 seconds ago"

		// A fault that comes before the token check wins over a bad token.
		srv.FailJoins("a", 1, "ChannelRateLimitReached: Too many channels")
		if got, want := c.joinWithPayload("a", "1", expired), joinErrorReply("1", "1", "a", "ChannelRateLimitReached: Too many channels"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		// So does one the fake does not know.
		srv.FailJoins("a", 1, "boom")
		if got, want := c.joinWithPayload("a", "2", expired), joinErrorReply("2", "2", "a", "boom"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		// An RLS or database fault comes after it: the token fails first and the fault waits
		// for a join that gets that far.
		srv.FailJoins("a", 1, "Unauthorized: You do not have permissions to read from this Channel topic: a")
		if got, want := c.joinWithPayload("a", "3", expired), joinErrorReply("3", "3", "a", tokenErr); got != want {
			t.Errorf("join with an expired token and an RLS fault = %s; want %s", got, want)
		}
		if got, want := c.joinWithPayload("a", "4", valid), joinErrorReply("4", "4", "a", "Unauthorized: You do not have permissions to read from this Channel topic: a"); got != want {
			t.Errorf("next join = %s; want %s", got, want)
		}
		// A token fault replaces the token check.
		srv.FailJoins("", 1, "JwtSignatureError: Failed to validate JWT signature")
		if got, want := c.joinWithPayload("a", "5", valid), joinErrorReply("5", "5", "a", "JwtSignatureError: Failed to validate JWT signature"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		// A replay fault comes after the policy.
		srv.SetPrivatePolicy(func(string, map[string]any) (bool, bool) { return false, false })
		srv.FailJoins("a", 1, "UnableToReplayMessages: Realtime was unable to replay messages")
		if got, want := c.joinWithPayload("a", "6", `{"config":{"private":true}}`), joinErrorReply("6", "6", "a", "Unauthorized: You do not have permissions to read from this Channel topic: a"); got != want {
			t.Errorf("private join = %s; want %s", got, want)
		}
		srv.SetPrivatePolicy(nil)
		if got, want := c.joinWithPayload("a", "7", `{"config":{"private":true}}`), joinErrorReply("7", "7", "a", "UnableToReplayMessages: Realtime was unable to replay messages"); got != want {
			t.Errorf("private join = %s; want %s", got, want)
		}
		// The topic name comes first of all.
		srv.FailJoins("", 1, "boom")
		if got, want := c.joinWithPayload("", "8", expired), joinErrorReply("8", "8", "", "TopicNameRequired: You must provide a topic name"); got != want {
			t.Errorf("join of realtime: = %s; want %s", got, want)
		}
		if got, want := c.joinWithPayload("a", "9", valid), joinErrorReply("9", "9", "a", "boom"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		if got, want := c.joinWithPayload("a", "10", valid), joinReply("10", "a"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		c.none()
	})
}

func TestJoinErrorDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		srv.SetJoinErrorDelay(5 * time.Second)
		c := dialAuth(t, srv, userToken(time.Hour), nil)
		srv.FailJoins("fault", 1, "ChannelRateLimitReached: Too many channels")
		srv.SetPrivatePolicy(func(string, map[string]any) (bool, bool) { return false, false })
		tests := []struct{ topic, payload string }{
			{"", `{"config":{}}`},
			{"fault", `{"config":{}}`},
			{"token", `{"config":{},"access_token":"potato"}`},
			{"private", `{"config":{"private":true}}`},
			{"replay", `{"config":{"broadcast":{"replay":{"since":0}}}}`},
		}
		for i, tt := range tests {
			start := time.Now()
			reply := decode(t, c.joinWithPayload(tt.topic, fmt.Sprint(i+1), tt.payload))
			if !strings.Contains(string(reply.Payload), `"status":"error"`) {
				t.Errorf("join of %q = %s; want an error", tt.topic, reply.Payload)
			}
			if d := time.Since(start); d != 5*time.Second {
				t.Errorf("join of %q refused after %v; want 5s", tt.topic, d)
			}
		}
		start := time.Now()
		c.join("fine", "9", `{}`)
		if d := time.Since(start); d != 0 {
			t.Errorf("accepted join took %v; want no delay", d)
		}
		c.none()
	})
}

func TestJoinRateLimitClosesSocket(t *testing.T) {
	for _, tt := range []struct {
		reason string
		code   int // 0: stays open
	}{
		{"ClientJoinRateLimitReached: Too many joins per second", websocket.CloseGoingAway},
		{"TenantNotFound: Tenant with the given ID does not exist", websocket.CloseGoingAway},
		{"ChannelRateLimitReached: Too many channels", 0},
	} {
		t.Run(strings.SplitN(tt.reason, ":", 2)[0], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				srv.SetJoinErrorDelay(5 * time.Second)
				c := dialAuth(t, srv, testKey, nil)
				c.join("open", "1", `{}`)
				srv.FailJoins("room", 1, tt.reason)
				if got, want := c.join("room", "2", `{}`), joinErrorReply("2", "2", "room", tt.reason); got != want {
					t.Errorf("join reply = %s; want %s", got, want)
				}
				if tt.code == 0 {
					c.open()
					return
				}
				if got := c.closeCode(); got != tt.code {
					t.Errorf("close code = %d; want %d", got, tt.code)
				}
				synctest.Wait()
				if len(srv.Conns()) != 0 {
					t.Errorf("server still has connections %v", srv.Conns())
				}
			})
		})
	}
}

func TestTokenExpiryShutsChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		c := dialAuth(t, srv, userToken(2*time.Hour), nil)
		c.joinWithPayload("short", "1", fmt.Sprintf(`{"config":{},"access_token":%q}`, userToken(30*time.Second)))
		c.joinWithPayload("long", "2", fmt.Sprintf(`{"config":{"broadcast":{"ack":true}},"access_token":%q}`, userToken(time.Hour)))
		c.join("socket", "3", `{}`) // the socket token: 2 h

		time.Sleep(29 * time.Second)
		c.none()
		time.Sleep(time.Second)
		if diff := cmp.Diff(shutFrames("1", "short", "Token has expired 0 seconds ago"), c.rest()); diff != "" {
			t.Errorf("at exp (-want +got):\n%s", diff)
		}
		c.open()
		if diff := cmp.Diff([]string{"realtime:long", "realtime:socket"}, srv.Conns()[0].Topics()); diff != "" {
			t.Errorf("topics after the expiry (-want +got):\n%s", diff)
		}
		c.push("2", "9", "long", "broadcast", `{"type":"broadcast","event":"e","payload":{}}`)
		if got, want := c.next(), okReply("2", "9", "long"); got != want {
			t.Errorf("broadcast on another channel: %s; want %s", got, want)
		}

		// Checked every 5 minutes, then at exp.
		time.Sleep(time.Hour - 30*time.Second - time.Second)
		c.none()
		time.Sleep(time.Second)
		if diff := cmp.Diff(shutFrames("2", "long", "Token has expired 0 seconds ago"), c.rest()); diff != "" {
			t.Errorf("at the second exp (-want +got):\n%s", diff)
		}
		time.Sleep(time.Hour)
		if diff := cmp.Diff(shutFrames("3", "socket", "Token has expired 0 seconds ago"), c.rest()); diff != "" {
			t.Errorf("at the socket token's exp (-want +got):\n%s", diff)
		}
		c.open()
		time.Sleep(24 * time.Hour)
		c.none()
	})
}

func TestTokenExpiryWithoutSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dialAuth(t, srv, testKey, nil)
		c.joinWithPayload("room", "1", fmt.Sprintf(`{"config":{},"access_token":%q}`, userToken(time.Second)))
		time.Sleep(time.Hour)
		c.none()
		if got := srv.Conns()[0].Topics(); len(got) != 1 {
			t.Errorf("Topics = %q; want the channel still joined", got)
		}
	})
}

func TestAccessToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		socketTok := userToken(2 * time.Hour)
		c := dialAuth(t, srv, socketTok, nil)
		hour := time.Now().Add(time.Hour).Unix()
		current := userToken(30*time.Second, "sub", "current")
		fresh := userToken(3*time.Hour, "sub", "fresh")
		tests := []struct {
			name    string
			payload string
			want    []string // besides the topic's shut frames; nil when ignored or taken
			shut    string   // the shutdown message, "" when the channel stays
			token   string   // the channel token afterwards
		}{
			{"equal", fmt.Sprintf(`{"access_token":%q}`, current), nil, "", current},
			{"null", `{"access_token":null}`, nil, "", current},
			{"not a string", `{"access_token":12}`, nil, "", current},
			{"absent", `{}`, nil, "", current},
			{"sb_ key", `{"access_token":"sb_publishable_abc"}`, nil, "", current},
			{"valid", fmt.Sprintf(`{"access_token":%q}`, fresh), nil, "", fresh},
			{"empty", `{"access_token":""}`, nil, "The token provided is not a valid JWT", ""},
			{"not a JWT", `{"access_token":"potato"}`, nil, "The token provided is not a valid JWT", ""},
			{"expired", fmt.Sprintf(`{"access_token":%q}`, userToken(-7*time.Second)), nil, "Token has expired 7 seconds ago", ""},
			{"no role", fmt.Sprintf(`{"access_token":%q}`, testutil.SignJWT(jwtSecret, map[string]any{"exp": hour})), nil, "Fields `role` and `exp` are required in JWT", ""},
			{"bad signature", fmt.Sprintf(`{"access_token":%q}`, testutil.SignJWT("x", map[string]any{"role": "r", "exp": hour})), nil, "Failed to validate JWT signature", ""},
			{"alg none", fmt.Sprintf(`{"access_token":%q}`, signWith(jwtSecret, map[string]any{"alg": "none"}, map[string]any{"role": "r", "exp": hour}, "")), nil,
				"Failed to generate JWT signer, check your JWT secret or JWKS configuration", ""},
		}
		for i, tt := range tests {
			topic, ref := fmt.Sprintf("t%d", i), fmt.Sprint(i+1)
			c.joinWithPayload(topic, ref, fmt.Sprintf(`{"config":{},"access_token":%q}`, current))
			c.push(ref, "99", topic, "access_token", tt.payload)
			want := tt.want
			if tt.shut != "" {
				want = shutFrames(ref, topic, tt.shut)
			}
			if diff := cmp.Diff(want, c.rest(), cmpFrames); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
			}
			if got := srv.Conns()[0].ChannelToken(topic); got != tt.token {
				t.Errorf("%s: ChannelToken = %.20q…; want %.20q…", tt.name, got, tt.token)
			}
		}
		// The frames of access_token are recorded, and never answered (c.rest above).
		if n := len(srv.Received()); n == 0 {
			t.Fatal("nothing recorded")
		}

		// At the first token's exp, only the channels still on it are shut; the one that took
		// a fresh token has its check re-armed.
		time.Sleep(30 * time.Second)
		var want []string
		for i, tt := range tests {
			if tt.shut == "" && tt.token == current {
				want = append(want, shutFrames(fmt.Sprint(i+1), fmt.Sprintf("t%d", i), "Token has expired 0 seconds ago")...)
			}
		}
		got := c.rest()
		if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))); diff != "" {
			t.Errorf("at the first token's exp (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"realtime:t5"}, srv.Conns()[0].Topics()); diff != "" {
			t.Errorf("topics (-want +got):\n%s", diff)
		}
		time.Sleep(3*time.Hour - 30*time.Second)
		if diff := cmp.Diff(shutFrames("6", "t5", "Token has expired 0 seconds ago"), c.rest()); diff != "" {
			t.Errorf("at the fresh token's exp (-want +got):\n%s", diff)
		}
		c.open()
	})
}

func TestAccessTokenResubscribesPostgres(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		c := dialAuth(t, srv, userToken(time.Hour), nil)
		c.join("db", "1", `{"postgres_changes":[{"event":"*","schema":"public","table":"todos"}]}`)
		if diff := cmp.Diff([]string{subscribed("1", "db")}, c.rest()); diff != "" {
			t.Errorf("after the join (-want +got):\n%s", diff)
		}
		c.push("1", "2", "db", "access_token", fmt.Sprintf(`{"access_token":%q}`, userToken(2*time.Hour)))
		if diff := cmp.Diff([]string{subscribed("1", "db")}, c.rest()); diff != "" {
			t.Errorf("after a valid access_token (-want +got):\n%s", diff)
		}
		c.push("1", "3", "db", "access_token", `{"access_token":"potato"}`)
		if diff := cmp.Diff(shutFrames("1", "db", "The token provided is not a valid JWT"), c.rest()); diff != "" {
			t.Errorf("after an invalid access_token (-want +got):\n%s", diff)
		}
	})
}

func TestShutChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := dialAuth(t, srv, testKey, nil)
		b := dialAuth(t, srv, testKey, nil)
		a.join("room", "1", `{}`)
		a.join("other", "2", `{}`)
		b.join("room", "5", `{"private":true}`)
		if n := srv.ShutChannels("room", "Too many messages per second"); n != 2 {
			t.Errorf("ShutChannels = %d; want 2", n)
		}
		if diff := cmp.Diff(shutFrames("1", "room", "Too many messages per second"), a.rest()); diff != "" {
			t.Errorf("public channel (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(shutFrames("5", "room", "Too many messages per second"), b.rest()); diff != "" {
			t.Errorf("private channel (-want +got):\n%s", diff)
		}
		a.open()
		b.open()
		if diff := cmp.Diff([]string{"realtime:other"}, srv.Conns()[0].Topics()); diff != "" {
			t.Errorf("topics (-want +got):\n%s", diff)
		}
		if n := srv.ShutChannels("realtime:room", "again"); n != 0 {
			t.Errorf("second ShutChannels = %d; want 0", n)
		}
		a.none()
	})
}

// post sends a POST to srv and returns the status and the trimmed body.
func httpPost(t *testing.T, srv *testutil.Server, url string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestControlShutAndDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dialAuth(t, srv, testKey, nil)
		c.join("room", "1", `{}`)
		base := strings.Replace(srv.HTTPURL(), "/realtime/v1", "/testutil/v1/", 1)
		if status, body := httpPost(t, srv, base+"shut?topic=room&message=Too+many+messages+per+second", nil, ""); status != 200 || body != `{"shut":1}` {
			t.Errorf("POST shut = %d %s; want 200 {\"shut\":1}", status, body)
		}
		if diff := cmp.Diff(shutFrames("1", "room", "Too many messages per second"), c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		for _, q := range []string{"shut?message=x", "shut?topic=room", "join_error_delay?ms=x", "connect_error_delay?ms=x"} {
			if status, _ := httpPost(t, srv, base+q, nil, ""); status != http.StatusBadRequest {
				t.Errorf("POST %s = %d; want 400", q, status)
			}
		}
		if status, _ := httpPost(t, srv, base+"join_error_delay?ms=5000", nil, ""); status != 200 {
			t.Errorf("POST join_error_delay = %d; want 200", status)
		}
		start := time.Now()
		c.join("", "2", `{}`)
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("join error after %v; want 5s", d)
		}
		if status, _ := httpPost(t, srv, base+"connect_error_delay?ms=2000", nil, ""); status != 200 {
			t.Errorf("POST connect_error_delay = %d; want 200", status)
		}
		start = time.Now()
		tryUpgrade(t, srv, "", nil)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("refused upgrade after %v; want 2s", d)
		}
	})
}

func TestRESTAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		valid := userToken(time.Hour)
		batch := srv.HTTPURL() + "/api/broadcast"
		single := srv.HTTPURL() + "/api/broadcast/room/events/e"
		const body = `{"messages":[{"topic":"room","event":"e","payload":{}}]}`
		unauthorized := `{"message":"Unauthorized"}`
		tests := []struct {
			name   string
			header http.Header
			status int
		}{
			{"no token", nil, 401},
			{"bearer not a JWT", http.Header{"Authorization": {"Bearer potato"}}, 401},
			{"bearer expired", http.Header{"Authorization": {"Bearer " + userToken(-time.Second)}}, 401},
			{"bearer without role", http.Header{"Authorization": {"Bearer " + testutil.SignJWT(jwtSecret, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})}}, 401},
			{"bearer bad signature", http.Header{"Authorization": {"Bearer " + testutil.SignJWT("x", map[string]any{"role": "r", "exp": time.Now().Add(time.Hour).Unix()})}}, 401},
			{"bearer", http.Header{"Authorization": {"Bearer " + valid}}, 202},
			{"lowercase bearer", http.Header{"Authorization": {"bearer " + valid}}, 202},
			{"apikey", http.Header{"Apikey": {valid}}, 202},
			{"bearer takes precedence", http.Header{"Authorization": {"Bearer potato"}, "Apikey": {valid}}, 401},
			{"opaque apikey", http.Header{"Apikey": {"sb_publishable_x"}}, 401},
		}
		for _, tt := range tests {
			for _, url := range []string{batch, single} {
				h := http.Header{"Content-Type": {"application/json"}}
				for k, v := range tt.header {
					h[k] = v
				}
				status, got := httpPost(t, srv, url, h, body)
				if status != tt.status || (status == 401 && got != unauthorized) {
					t.Errorf("%s: POST %s = %d %s; want %d", tt.name, url, status, got, tt.status)
				}
			}
		}

		open := testutil.NewServer(t)
		if status, got := httpPost(t, open, open.HTTPURL()+"/api/broadcast", http.Header{"Apikey": {"anything"}}, body); status != 202 {
			t.Errorf("without a secret: POST = %d %s; want 202", status, got)
		}
	})
}
