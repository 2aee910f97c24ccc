//go:build interop

package interop_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// TestRealtimeJSLimits runs realtime-js into the server's channel limit (limits.js) and joins
// that wait for their postgres_changes subscription (pgwait.js).
func TestRealtimeJSLimits(t *testing.T) {
	requireRealtimeJS(t)
	t.Run("ChannelLimit", testChannelLimit)
	t.Run("PostgresWait", testPostgresWait)
	t.Run("PostgresWaitTimeout", testPostgresWaitRefused(func(srv *testutil.Server, topic string) { srv.StallPostgres(topic, true) },
		"PostgresChangesSubscribeTimeout: Timed out after 1000ms waiting for the postgres_changes subscription"))
	t.Run("PostgresWaitDisabled", testPostgresWaitRefused(func(srv *testutil.Server, topic string) { srv.FailPostgres(topic, "boom") },
		"RealtimeDisabledForConfiguration: boom"))
}

// testChannelLimit: with a limit of 3 channels per socket, realtime-js joins 4 on its socket:
// the first 3 reach SUBSCRIBED, the 4th gets CHANNEL_ERROR with the server's reason; the
// socket stays open and the 3 channels receive broadcasts.
func testChannelLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetMaxChannelsPerClient(3)
	js := startNode(t, srv, "limits.js", "--url", srv.URL(), "--key", apiKey, "--count", "4")
	var settled struct {
		Subscribed []string          `json:"subscribed"`
		Errors     map[string]string `json:"errors"`
	}
	js.waitFor("every channel settled", kind("settled")).decode(t, &settled)
	wantSubscribed := []string{"realtime:interop:limit:0", "realtime:interop:limit:1", "realtime:interop:limit:2"}
	if diff := cmp.Diff(wantSubscribed, settled.Subscribed); diff != "" {
		t.Errorf("SUBSCRIBED channels (-want +got):\n%s", diff)
	}
	wantErrors := map[string]string{"realtime:interop:limit:3": "ChannelRateLimitReached: Too many channels"}
	if diff := cmp.Diff(wantErrors, settled.Errors); diff != "" {
		t.Errorf("CHANNEL_ERROR channels (-want +got):\n%s", diff)
	}
	conns := srv.Conns()
	if len(conns) != 1 || !slices.Equal(conns[0].Topics(), wantSubscribed) {
		t.Fatalf("server connections %v; want one with %v", describeServer(srv), wantSubscribed)
	}
	// The joined channels still work.
	for i := range 3 {
		u := fmt.Sprintf("%s/api/broadcast/interop:limit:%d/events/ping", srv.HTTPURL(), i)
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		req.Header.Set("apikey", apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s = %d; want 202", u, resp.StatusCode)
		}
		topic := fmt.Sprintf("realtime:interop:limit:%d", i)
		js.waitFor("a broadcast on "+topic, func(l line) bool {
			var b struct {
				Topic string `json:"topic"`
			}
			_ = json.Unmarshal(l.Raw, &b)
			return l.Kind == "broadcast" && l.Event == "ping" && b.Topic == topic
		})
	}
	for _, l := range js.linesOf("socket") {
		if l.Event == "close" {
			t.Errorf("the socket closed: %s", l.Raw)
		}
	}
	js.finish()
}

// testPostgresWait: realtime-js sends postgres_changes_options {wait: true, timeout}; with a
// subscription that takes 1.5 s to become live, the server answers the join only then, so a
// change injected as soon as realtime-js reports SUBSCRIBED reaches it (a server that ignored
// wait would answer at once and drop that change). "Subscribed to PostgreSQL" follows.
func testPostgresWait(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetPostgresReadyDelay(1500 * time.Millisecond)
	const topic = "interop:pgwait"
	js := startNode(t, srv, "pgwait.js", "--url", srv.URL(), "--key", apiKey, "--topic", topic, "--wait-timeout", "5000")
	js.waitFor("SUBSCRIBED", kind("subscribed"))
	change := testutil.Change{Type: "INSERT", Schema: "public", Table: "todos",
		Columns: []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"}},
		Record:  json.RawMessage(`{"id": 1, "title": "right after SUBSCRIBED"}`)}
	if n := srv.InjectChange(change); n != 1 {
		t.Errorf("InjectChange right after SUBSCRIBED reached %d channels; want 1 (the subscription is live when the join is answered)", n)
	}
	js.waitFor("the change", kind("change"))
	js.waitFor("Subscribed to PostgreSQL", func(l line) bool {
		return l.Kind == "system" && strings.Contains(string(l.Raw), "Subscribed to PostgreSQL")
	})
	joins := framesOf(srv, "realtime:"+topic, transport.EventJoin)
	if len(joins) != 1 {
		t.Fatalf("server received %d phx_join; want 1", len(joins))
	}
	var p struct {
		Config struct {
			Options json.RawMessage `json:"postgres_changes_options"`
		} `json:"config"`
	}
	if err := json.Unmarshal(joins[0].Payload, &p); err != nil || string(p.Config.Options) != `{"wait":true,"timeout":5000}` {
		t.Errorf("phx_join postgres_changes_options = %s (%v); want {\"wait\":true,\"timeout\":5000}", p.Config.Options, err)
	}
	// The system message comes after the reply that made realtime-js report SUBSCRIBED.
	js.mu.Lock()
	sub, sys := -1, -1
	for i, l := range js.lines {
		switch {
		case l.Kind == "subscribed" && sub < 0:
			sub = i
		case l.Kind == "system" && sys < 0:
			sys = i
		}
	}
	js.mu.Unlock()
	if sys < sub {
		t.Errorf("the system message (line %d) came before SUBSCRIBED (line %d)", sys, sub)
	}
	js.finish()
}

// testPostgresWaitRefused: a join with wait whose subscription hangs or cannot work gets
// CHANNEL_ERROR with the server's reason (after the join error delay).
func testPostgresWaitRefused(setup func(*testutil.Server, string), reason string) func(*testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		srv.SetJoinErrorDelay(500 * time.Millisecond)
		const topic = "interop:pgwait:refused"
		setup(srv, topic)
		js := startNode(t, srv, "pgwait.js", "--url", srv.URL(), "--key", apiKey, "--topic", topic, "--wait-timeout", "1000")
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		js.waitFor("CHANNEL_ERROR", kind("status")).decode(t, &st)
		if st.Status != "CHANNEL_ERROR" || st.Error != reason {
			t.Errorf("realtime-js status %+v; want CHANNEL_ERROR %q", st, reason)
		}
		if n := len(srv.Conns()); n != 1 {
			t.Errorf("server has %d connections; want 1", n)
		}
		js.finish()
	}
}
