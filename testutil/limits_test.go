package testutil_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

const (
	tooManyChannels = "ChannelRateLimitReached: Too many channels"
	tooManyJoins    = "ClientJoinRateLimitReached: Too many joins per second"
	tooManyUsers    = "ConnectionRateLimitReached: Too many connected users"
)

// joinOK joins topic and fails unless the answer is the ok reply, at once.
func joinOK(t *testing.T, c *wsClient, topic, joinRef string) {
	t.Helper()
	start := time.Now()
	if got, want := c.join(topic, joinRef, `{}`), joinReply(joinRef, topic); got != want {
		t.Fatalf("join of %s = %s; want %s", topic, got, want)
	}
	if d := time.Since(start); d != 0 {
		t.Errorf("join of %s took %v; want no wait", topic, d)
	}
}

// joinRefused joins topic and fails unless the answer is the error reply with reason, after
// wait.
func joinRefused(t *testing.T, c *wsClient, topic, joinRef, reason string, wait time.Duration) {
	t.Helper()
	start := time.Now()
	if got, want := c.join(topic, joinRef, `{}`), joinErrorReply(joinRef, joinRef, topic, reason); got != want {
		t.Fatalf("join of %s = %s; want %s", topic, got, want)
	}
	if d := time.Since(start); d != wait {
		t.Errorf("join of %s refused after %v; want %v", topic, d, wait)
	}
}

// near reports whether two averages are equal but for rounding.
func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestChannelsPerSocketLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxChannelsPerClient(3), testutil.WithJoinErrorDelay(5*time.Second))
		c := dialAuth(t, srv, testKey, nil)
		other := dial(t, srv, transport.V2)
		for i, topic := range []string{"a", "b", "c"} {
			joinOK(t, c.wsClient, topic, fmt.Sprint(i+1))
		}
		joinRefused(t, c.wsClient, "d", "4", tooManyChannels, 5*time.Second)
		c.open() // the socket is fine
		if got, want := srv.Conns()[0].Topics(), []string{"realtime:a", "realtime:b", "realtime:c"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("topics after the refusal = %v; want %v", got, want)
		}
		// Its channels still work.
		other.join("a", "1", `{"broadcast":{"self":false}}`)
		other.push("1", "2", "a", "broadcast", `{"type":"broadcast","event":"e","payload":{"n":1}}`)
		if got, want := c.next(), `[null,null,"realtime:a","broadcast",{"type":"broadcast","event":"e","payload":{"n":1}}]`; got != want {
			t.Errorf("broadcast on a = %s; want %s", got, want)
		}
		// A duplicate join replaces the old channel: it does not count twice.
		c.send(`["5","5","realtime:c","phx_join",{"config":{}}]`)
		if got, want := c.next(), phxCloseFrame("3", "c"); got != want {
			t.Errorf("after a duplicate join: %s; want %s", got, want)
		}
		if got, want := c.next(), joinReply("5", "c"); got != want {
			t.Errorf("duplicate join reply = %s; want %s", got, want)
		}
		// A leave frees a place.
		c.push("2", "6", "b", "phx_leave", `{}`)
		if got, want := c.next(), okReply("2", "6", "b"); got != want {
			t.Errorf("leave reply = %s; want %s", got, want)
		}
		if got, want := c.next(), phxCloseFrame("2", "b"); got != want {
			t.Errorf("after the leave: %s; want %s", got, want)
		}
		joinOK(t, c.wsClient, "d", "7")
		// The limit is per socket.
		joinOK(t, other, "x", "10")
		joinOK(t, other, "y", "11")
		joinRefused(t, other, "z", "12", tooManyChannels, 5*time.Second)
		// The setter changes it for the next joins.
		srv.SetMaxChannelsPerClient(4)
		joinOK(t, c.wsClient, "e", "8")
		joinRefused(t, c.wsClient, "f", "9", tooManyChannels, 5*time.Second)
		srv.SetMaxChannelsPerClient(0)
		joinOK(t, c.wsClient, "f", "10")
		c.none()
	})
}

func TestJoinsPerSecondLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxJoinsPerSecond(2), testutil.WithJoinErrorDelay(5*time.Second))
		c := dialAuth(t, srv, testKey, nil)
		// A fresh counter ticks at once, then every 5 s; 20 joins before the next tick make
		// its average 20 / 2 buckets / 5 s = 2 per second: the limit trips at that tick.
		for i := range 20 {
			joinOK(t, c.wsClient, fmt.Sprint("t", i), fmt.Sprint(i+1))
		}
		if avg, tripped := srv.JoinRate(); avg != 0 || tripped {
			t.Errorf("JoinRate before the tick = %v, %v; want 0, false", avg, tripped)
		}
		time.Sleep(5 * time.Second)
		if avg, tripped := srv.JoinRate(); avg != 2 || !tripped {
			t.Errorf("JoinRate after the tick = %v, %v; want 2, true", avg, tripped)
		}
		// Upgrades are refused while it is tripped.
		if status, ct, body := tryUpgrade(t, srv, testKey, nil); status != http.StatusTooManyRequests || ct != "application/json" || body != `{"error":"Too many joins per second"}` {
			t.Errorf("upgrade while tripped = %d %q %s; want 429 {\"error\":\"Too many joins per second\"}", status, ct, body)
		}
		// A join is refused, then its socket is closed with 1001.
		joinRefused(t, c.wsClient, "late", "30", tooManyJoins, 5*time.Second)
		if got := c.closeCode(); got != websocket.CloseGoingAway {
			t.Errorf("close code = %d; want 1001", got)
		}
		// The refusal took 5 s: at the tick of 10 s, 20 / 3 buckets / 5 s < 2 and the limit
		// resets (the refused join was not counted).
		if avg, tripped := srv.JoinRate(); !near(avg, 20.0/3/5) || tripped {
			t.Errorf("JoinRate at 10 s = %v, %v; want %v, false", avg, tripped, 20.0/3/5)
		}
		c2 := dialAuth(t, srv, testKey, nil)
		joinOK(t, c2.wsClient, "again", "1")
	})
}

// With a full window the average is over 60 s: a burst keeps the limit tripped until it
// leaves the window, a minute later.
func TestJoinsPerSecondLimitRollingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxJoinsPerSecond(2), testutil.WithMaxChannelsPerClient(0))
		c := dialAuth(t, srv, testKey, nil)
		joinOK(t, c.wsClient, "first", "0") // starts the counter
		time.Sleep(time.Minute)             // 12 ticks: the window is full (of zeros)
		// 120 joins in one tick: 120 / 12 / 5 = 2 per second.
		for i := range 120 {
			joinOK(t, c.wsClient, fmt.Sprint("t", i), fmt.Sprint(i+1))
		}
		time.Sleep(5 * time.Second)
		var trippedFor time.Duration
		for {
			_, tripped := srv.JoinRate()
			if !tripped {
				break
			}
			if trippedFor > 2*time.Minute {
				t.Fatal("still tripped after two minutes")
			}
			time.Sleep(5 * time.Second)
			trippedFor += 5 * time.Second
		}
		if trippedFor != time.Minute {
			t.Errorf("tripped for %v; want 1m0s (until the burst leaves the 12 buckets)", trippedFor)
		}
		joinOK(t, c.wsClient, "after", "200")
	})
}

// A counter idle for one of its 10-minute checks stops; the next join starts a fresh one, on
// which a burst weighs more (few buckets).
func TestJoinsPerSecondFreshCounter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxJoinsPerSecond(2))
		c := dialAuth(t, srv, testKey, nil)
		joinOK(t, c.wsClient, "first", "0")
		time.Sleep(9 * time.Minute)
		for i := range 20 {
			joinOK(t, c.wsClient, fmt.Sprint("a", i), fmt.Sprint(i+1))
		}
		time.Sleep(5 * time.Second)
		if avg, tripped := srv.JoinRate(); !near(avg, 20.0/12/5) || tripped {
			t.Errorf("JoinRate with a full window = %v, %v; want %v, false", avg, tripped, 20.0/12/5)
		}
		time.Sleep(20 * time.Minute) // idle at its check: the counter stops
		if avg, tripped := srv.JoinRate(); avg != 0 || tripped {
			t.Errorf("JoinRate after idling = %v, %v; want 0, false", avg, tripped)
		}
		for i := range 20 {
			joinOK(t, c.wsClient, fmt.Sprint("b", i), fmt.Sprint(100+i))
		}
		time.Sleep(5 * time.Second)
		if avg, tripped := srv.JoinRate(); avg != 2 || !tripped {
			t.Errorf("JoinRate of a fresh counter = %v, %v; want 2, true", avg, tripped)
		}
		// A new limit restarts the counter, as a tenant update does.
		srv.SetMaxJoinsPerSecond(100)
		if _, tripped := srv.JoinRate(); tripped {
			t.Error("still tripped after SetMaxJoinsPerSecond")
		}
	})
}

func TestConcurrentUsersLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithMaxConcurrentUsers(2), testutil.WithJoinErrorDelay(5*time.Second))
		a := dialAuth(t, srv, testKey, nil)
		b := dialAuth(t, srv, testKey, nil)
		c := dialAuth(t, srv, testKey, nil) // sockets count from their first join
		joinOK(t, a.wsClient, "room", "1")
		joinOK(t, b.wsClient, "room", "1")
		joinRefused(t, c.wsClient, "room", "1", tooManyUsers, 5*time.Second)
		c.open()                            // the socket stays open
		joinOK(t, a.wsClient, "other", "2") // a socket already counted may join more
		if status, ct, body := tryUpgrade(t, srv, testKey, nil); status != http.StatusTooManyRequests || ct != "application/json" || body != `{"error":"Too many connected users"}` {
			t.Errorf("upgrade at the limit = %d %q %s; want 429 {\"error\":\"Too many connected users\"}", status, ct, body)
		}
		// A socket that leaves its channels still counts until it closes.
		b.push("1", "2", "room", "phx_leave", `{}`)
		if got, want := b.next(), okReply("1", "2", "room"); got != want {
			t.Fatalf("leave reply = %s; want %s", got, want)
		}
		joinRefused(t, c.wsClient, "room", "3", tooManyUsers, 5*time.Second)
		b.close()
		synctest.Wait()
		joinOK(t, c.wsClient, "room", "4")
		c.none()
		// The setter applies to the next checks.
		srv.SetMaxConcurrentUsers(3)
		if status, _, _ := tryUpgrade(t, srv, testKey, nil); status != http.StatusSwitchingProtocols {
			t.Errorf("upgrade under the new limit = %d; want 101", status)
		}
	})
}

// The limits come after the faults of the server's earlier checks and before the token.
func TestLimitsCheckOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret), testutil.WithMaxChannelsPerClient(1))
		c := dialAuth(t, srv, userToken(time.Hour), nil)
		if got, want := c.join("a", "1", `{}`), joinReply("1", "a"); got != want {
			t.Fatalf("join = %s; want %s", got, want)
		}
		expired := `{"config":{},"access_token":"` + userToken(-time.Minute) + `"}`
		if got, want := c.joinWithPayload("b", "2", expired), joinErrorReply("2", "2", "b", tooManyChannels); got != want {
			t.Errorf("join with an expired token over the limit = %s; want %s", got, want)
		}
		srv.FailJoins("b", 1, "RealtimeRestarting: Realtime is restarting, please standby")
		if got, want := c.join("b", "3", `{}`), joinErrorReply("3", "3", "b", "RealtimeRestarting: Realtime is restarting, please standby"); got != want {
			t.Errorf("join with a fault of an earlier check = %s; want %s", got, want)
		}
		if got, want := c.join("b", "4", `{}`), joinErrorReply("4", "4", "b", tooManyChannels); got != want {
			t.Errorf("join over the limit = %s; want %s", got, want)
		}
		c.none()
	})
}

func TestControlLimitsAndPostgres(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		base := strings.Replace(srv.HTTPURL(), "/realtime/v1", "/testutil/v1/", 1)
		post := func(route, want string) {
			t.Helper()
			if status, body := httpPost(t, srv, base+route, nil, ""); status != http.StatusOK || body != want {
				t.Errorf("POST %s = %d %s; want 200 %s", route, status, body, want)
			}
		}
		post("limits?max_channels=1&max_joins=0&max_users=5", `{"join_limit_tripped":false,"join_rate":0}`)
		if status, _ := httpPost(t, srv, base+"limits?max_channels=x", nil, ""); status != http.StatusBadRequest {
			t.Errorf("POST limits?max_channels=x = %d; want 400", status)
		}
		c := dial(t, srv, transport.V2)
		c.join("a", "1", `{}`)
		if got, want := c.join("b", "2", `{}`), joinErrorReply("2", "2", "b", tooManyChannels); got != want {
			t.Errorf("join over the limit set by the control API = %s; want %s", got, want)
		}
		post("limits?max_channels=0", `{"join_limit_tripped":false,"join_rate":0}`)

		post("postgres_stall?topic=db", `{"ok":true}`)
		c.join("db", "3", pgConfig(todosBinding))
		c.none()
		post("postgres_delay?ms=1000", `{"ok":true}`)
		post("postgres_stall?topic=db&on=false", `{"ok":true}`)
		time.Sleep(time.Second)
		if diff := cmp.Diff([]string{subscribed("3", "db")}, c.rest()); diff != "" {
			t.Errorf("after the stall (-want +got):\n%s", diff)
		}
		post("postgres_delay?ms=0", `{"ok":true}`)
		post("postgres_fail?topic=db2&message=boom", `{"ok":true}`)
		if got, want := c.join("db2", "4", waitConfig(`{"wait":true}`, todosBinding)), joinErrorReply("4", "4", "db2", "RealtimeDisabledForConfiguration: boom"); got != want {
			t.Errorf("join = %s; want %s", got, want)
		}
		post("postgres_fail?topic=db2", `{"ok":true}`)
		post("publish_table?table=todos&columns=id,title", `{"ok":true}`)
		c.join("db3", "5", pgConfig(`{"event":"*","schema":"public","table":"todos","filter":"done=eq.true"}`))
		if got := c.rest(); len(got) != 1 || !strings.Contains(got[0], "invalid column for filter done") {
			t.Errorf("after a join with an unknown column: %q", got)
		}
		post("persistence?on=true", `{"ok":true}`)
		c.join("p", "6", `{"broadcast":{"ack":true},"private":true}`)
		c.push("6", "7", "p", "broadcast", `{"type":"broadcast","event":"e","payload":{}}`)
		if id := ackID(t, c.next()); id == "" {
			t.Error("no id in the ack after POST persistence?on=true")
		}
	})
}
