package testutil_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

const todosBinding = `{"event":"*","schema":"public","table":"todos"}`

// waitConfig is a join config with the given postgres_changes_options and bindings.
func waitConfig(options string, items ...string) string {
	return `{"postgres_changes":[` + strings.Join(items, ",") + `],"postgres_changes_options":` + options + `}`
}

func TestPostgresWaitHoldsTheJoinUntilLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetPostgresReadyDelay(3 * time.Second)
		c := dial(t, srv, transport.V2)
		start := time.Now()
		c.send(`["1","1","realtime:db","phx_join",{"config":` + waitConfig(`{"wait":true}`, todosBinding) + `}]`)
		time.Sleep(time.Second)
		// The socket reads nothing meanwhile (and an in-memory write blocks until it does).
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			c.send(`[null,"hb","phoenix","heartbeat",{}]`)
		}()
		if n := srv.InjectChange(insertTodo(1, "too early")); n != 0 {
			t.Errorf("InjectChange while the join waits = %d; want 0", n)
		}
		c.none()
		reply := c.reply("db", "1")
		<-sent
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("join answered after %v; want 3s (the ready delay)", d)
		}
		if ids := replyIDs(t, reply); len(ids) != 1 {
			t.Errorf("join reply %s; want one binding id", reply)
		}
		want := []string{subscribed("1", "db"), `[null,"hb","phoenix","phx_reply",{"response":{},"status":"ok"}]`}
		if diff := cmp.Diff(want, c.rest()); diff != "" {
			t.Errorf("after the reply (-want +got):\n%s", diff)
		}
		if n := srv.InjectChange(insertTodo(2, "live")); n != 1 {
			t.Errorf("InjectChange after the reply = %d; want 1", n)
		}

		// Without wait, or without bindings, the reply comes at once.
		start = time.Now()
		c.join("nowait", "2", waitConfig(`{"wait":false}`, todosBinding))
		c.join("nobindings", "3", waitConfig(`{"wait":true}`))
		if d := time.Since(start); d != 0 {
			t.Errorf("joins without wait or bindings took %v; want 0", d)
		}
		c.rest()
		time.Sleep(3 * time.Second)
		if diff := cmp.Diff([]string{subscribed("2", "nowait")}, c.rest()); diff != "" {
			t.Errorf("after the ready delay (-want +got):\n%s", diff)
		}
	})
}

func TestPostgresWaitTimeout(t *testing.T) {
	for _, tt := range []struct {
		name, options string
		after         time.Duration // when the error reply comes, with a join error delay of 5 s
		ms            string
	}{
		{"timeout", `{"wait":true,"timeout":2000}`, 7 * time.Second, "2000"},
		{"default", `{"wait":"true"}`, 20 * time.Second, "15000"},
		{"clamped", `{"wait":true,"timeout":60000}`, 25 * time.Second, "20000"},
		{"string", `{"wait":true,"timeout":"1000"}`, 6 * time.Second, "1000"},
		{"not an integer", `{"wait":true,"timeout":1.5}`, 20 * time.Second, "15000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t, testutil.WithJoinErrorDelay(5*time.Second))
				srv.StallPostgres("db", true)
				c := dial(t, srv, transport.V2)
				reason := "PostgresChangesSubscribeTimeout: Timed out after " + tt.ms + "ms waiting for the postgres_changes subscription"
				c.send(`["1","1","realtime:db","phx_join",{"config":` + waitConfig(tt.options, todosBinding) + `}]`)
				time.Sleep(tt.after - time.Millisecond)
				c.none()
				time.Sleep(time.Millisecond)
				if diff := cmp.Diff([]string{joinErrorReply("1", "1", "db", reason)}, c.rest()); diff != "" {
					t.Errorf("after %v (-want +got):\n%s", tt.after, diff)
				}
			})
		})
	}
	t.Run("ready too late", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			srv.SetPostgresReadyDelay(3 * time.Second)
			c := dial(t, srv, transport.V2)
			reason := "PostgresChangesSubscribeTimeout: Timed out after 2000ms waiting for the postgres_changes subscription"
			if got, want := c.join("db", "1", waitConfig(`{"wait":true,"timeout":2000}`, todosBinding)), joinErrorReply("1", "1", "db", reason); got != want {
				t.Errorf("join = %s; want %s", got, want)
			}
			c.none()
		})
	})
}

func TestPostgresWaitFailures(t *testing.T) {
	const disabled = "RealtimeDisabledForConfiguration: "
	for _, tt := range []struct {
		name    string
		setup   func(*testutil.Server)
		binding string
		reason  string
	}{
		{"FailPostgres", func(s *testutil.Server) { s.FailPostgres("db", "boom") }, todosBinding, disabled + "boom"},
		{"parse error", func(*testutil.Server) {}, `{"event":"*","schema":"public","table":"todos","filter":"wrong"}`,
			disabled + "Error parsing `filter` params: [\"wrong\"]"},
		{"unpublished table", func(s *testutil.Server) { s.PublishTable("public", "todos", "id", "title") },
			`{"event":"*","schema":"public","table":"doesnotexist"}`,
			disabled + "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: doesnotexist, filters: [], select: nil]"},
		{"unknown column", func(s *testutil.Server) { s.PublishTable("public", "todos", "id", "title") },
			`{"event":"INSERT","schema":"public","table":"todos","filter":"notacolumn=eq.1"}`,
			disabled + `Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: [event: INSERT, schema: public, table: todos, filters: [{"notacolumn", "eq", "1", false}], select: nil]. Exception: ERROR P0001 (raise_exception) invalid column for filter notacolumn`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t, testutil.WithJoinErrorDelay(5*time.Second))
				tt.setup(srv)
				c := dial(t, srv, transport.V2)
				start := time.Now()
				if got, want := c.join("db", "1", waitConfig(`{"wait":true}`, tt.binding)), joinErrorReply("1", "1", "db", tt.reason); got != want {
					t.Errorf("join = %s\nwant %s", got, want)
				}
				if d := time.Since(start); d != 5*time.Second {
					t.Errorf("refused after %v; want 5s (at once, then the join error delay)", d)
				}
				// Without wait, the same failure is the system error after an ok reply.
				c.join("db2", "2", waitConfig(`{"wait":false}`, tt.binding))
				msg := strings.TrimPrefix(tt.reason, disabled)
				if tt.name == "FailPostgres" {
					msg = "" // it was set for topic db only
				}
				var want []string
				if msg != "" {
					want = []string{systemFrame("2", "db2", "postgres_changes", "error", msg)}
				} else {
					want = []string{subscribed("2", "db2")}
				}
				if diff := cmp.Diff(want, c.rest(), cmpFrames); diff != "" {
					t.Errorf("without wait (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestPublishedTables(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.PublishTable("public", "todos", "id", "title", "done")
		c := dial(t, srv, transport.V2)
		for i, b := range []string{
			todosBinding,
			`{"event":"*","schema":"public","table":"todos","filter":"done=eq.true"}`,
			`{"event":"*","schema":"public","table":"to%"}`, // a LIKE pattern that matches
			`{"event":"*","schema":"public"}`,               // every table of the schema: not checked
		} {
			ref := string(rune('1' + i))
			c.join("ok"+ref, ref, waitConfig(`{"wait":true}`, b))
			if diff := cmp.Diff([]string{subscribed(ref, "ok"+ref)}, c.rest()); diff != "" {
				t.Errorf("binding %s (-want +got):\n%s", b, diff)
			}
		}
	})
}

func TestStallPostgres(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.StallPostgres("", true)
		c := dial(t, srv, transport.V2)
		c.join("db", "1", pgConfig(todosBinding))
		time.Sleep(time.Hour)
		c.none() // nothing announced, not even an error
		if n := srv.InjectChange(insertTodo(1, "x")); n != 0 {
			t.Errorf("InjectChange while stalled = %d; want 0", n)
		}
		// A waiting join completes when the stall ends.
		start := time.Now()
		c.send(`["2","2","realtime:wait","phx_join",{"config":` + waitConfig(`{"wait":true,"timeout":10000}`, todosBinding) + `}]`)
		time.Sleep(4 * time.Second)
		c.none()
		srv.StallPostgres("", false)
		reply := c.reply("wait", "2")
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("waiting join answered after %v; want 4s", d)
		}
		replyIDs(t, reply)
		want := []string{subscribed("1", "db"), subscribed("2", "wait")}
		if diff := cmp.Diff(want, c.rest()); diff != "" {
			t.Errorf("after the stall (-want +got):\n%s", diff)
		}
		if n := srv.InjectChange(insertTodo(2, "y")); n != 2 {
			t.Errorf("InjectChange after the stall = %d; want 2", n)
		}
		// A connection that closes while its join waits ends the wait.
		srv.StallPostgres("gone", true)
		d := dial(t, srv, transport.V2)
		d.send(`["1","1","realtime:gone","phx_join",{"config":` + waitConfig(`{"wait":true}`, todosBinding) + `}]`)
		time.Sleep(time.Second)
		d.close()
		synctest.Wait()
	})
}
