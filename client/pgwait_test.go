package client_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
)

// pgOptions returns the postgres_changes_options of a join frame, or nil.
func pgOptions(t *testing.T, f testutil.Frame) map[string]any {
	t.Helper()
	var p struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		t.Fatal(err)
	}
	raw, ok := p.Config["postgres_changes_options"]
	if !ok {
		return nil
	}
	var o map[string]any
	_ = json.Unmarshal(raw, &o)
	return o
}

// A channel with bindings joins with wait: Subscribe returns once the server has made the
// bindings live, even when that takes longer than the push timeout, and a change committed
// right after it returns is delivered.
func TestSubscribeReturnsWhenPostgresChangesAreLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetJoinErrorDelay(5 * time.Second)
		srv.SetPostgresReadyDelay(12 * time.Second) // longer than the 10 s push timeout
		c := newClient(t, srv)
		ch, _ := c.Channel("db")
		sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		start := time.Now()
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 12*time.Second {
			t.Errorf("Subscribe returned after %v; want after the subscription is live (12s)", d)
		}
		insertMessage(srv, `{"id":1,"room_id":1}`)
		if ev := recv(t, sub); ev.Gap != nil || !strings.Contains(string(ev.Record), `"id":1`) {
			t.Errorf("first change = %+v", ev)
		}
		ready := ch.PostgresReady()
		if !isSettled(ready) || ready.Err() != nil {
			t.Errorf("PostgresReady not settled ok once Subscribe returned: %v", ready.Err())
		}
		js := joins(srv, "realtime:db")
		if len(js) != 1 {
			t.Fatalf("%d joins; want 1", len(js))
		}
		if o := pgOptions(t, js[0]); o["wait"] != true || o["timeout"] != float64(15000) {
			t.Errorf("postgres_changes_options = %v; want wait and 15000 ms", o)
		}

		// No bindings, or waiting turned off: no options; the timeout is capped at 20 s.
		subscribed(t, c, "plain")
		if o := pgOptions(t, joins(srv, "realtime:plain")[0]); o != nil {
			t.Errorf("a channel without bindings sent postgres_changes_options %v", o)
		}
		nowait, _ := c.Channel("nowait", client.PostgresChangesWait(false, 0))
		_ = nowait.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		capped, _ := c.Channel("capped", client.PostgresChangesWait(true, time.Minute))
		_ = capped.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		for _, x := range []*client.Channel{nowait, capped} {
			if err := x.Subscribe(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if o := pgOptions(t, joins(srv, "realtime:nowait")[0]); o != nil {
			t.Errorf("PostgresChangesWait(false) sent %v", o)
		}
		if o := pgOptions(t, joins(srv, "realtime:capped")[0]); o["timeout"] != float64(20000) {
			t.Errorf("a one-minute wait sent %v; want 20000 ms", o)
		}
	})
}

// A join refused because the bindings cannot work ends the channel for good with the server's
// message: Subscribe and the subscriptions get it, and no further join is sent.
func TestPostgresConfigRefusalEndsTheChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetJoinErrorDelay(5 * time.Second)
		srv.PublishTable("public", "todos", "id", "title")
		ch, _ := newClient(t, srv).Channel("db")
		sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.All, "public", "todos").FilterRaw("nope=eq.1"))
		err := ch.Subscribe(t.Context())
		var pce *client.PostgresConfigError
		if !errors.As(err, &pce) || !errors.Is(err, client.ErrJoinRejected) ||
			!strings.Contains(err.Error(), "RealtimeDisabledForConfiguration: ") ||
			!strings.Contains(pce.Message, "invalid column for filter nope") {
			t.Fatalf("Subscribe = %v; want the configuration refusal", err)
		}
		<-sub.Done()
		if !errors.As(sub.Err(), &pce) {
			t.Errorf("subscription ended with %v", sub.Err())
		}
		time.Sleep(time.Minute)
		if n := len(joins(srv, "realtime:db")); n != 1 {
			t.Errorf("%d joins; want 1 (no rejoin after a configuration refusal)", n)
		}
		if err := ch.Subscribe(t.Context()); !errors.Is(err, client.ErrClosed) || !errors.As(err, &pce) {
			t.Errorf("Subscribe on the ended channel = %v", err)
		}
		if ch.State() != client.ChannelClosed {
			t.Errorf("state %v", ch.State())
		}
	})
}

// A join refused because the subscription was not live in time is retried with backoff, and
// succeeds once the database is back.
func TestPostgresSubscribeTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetJoinErrorDelay(5 * time.Second)
		srv.StallPostgres("db", true)
		ch, _ := newClient(t, srv).Channel("db", client.PostgresChangesWait(true, 2*time.Second))
		states := ch.OnState(t.Context())
		sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		start := time.Now()
		err := ch.Subscribe(t.Context())
		if !errors.Is(err, client.ErrJoinRejected) || !strings.Contains(err.Error(), "PostgresChangesSubscribeTimeout: Timed out after 2000ms") {
			t.Fatalf("Subscribe = %v; want the subscribe timeout", err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("refused after %v; want 7s (the wait, then the error delay)", d)
		}
		srv.StallPostgres("db", false)
		for {
			if sc := recv(t, states); sc.New == client.ChannelJoined {
				break
			} else if sc.New == client.ChannelClosed {
				t.Fatalf("channel closed: %v", sc.Err)
			}
		}
		if n := len(joins(srv, "realtime:db")); n < 2 {
			t.Errorf("%d joins; want a retry", n)
		}
		insertMessage(srv, `{"id":5,"room_id":1}`)
		if ev := recv(t, sub); !strings.Contains(string(ev.Record), `"id":5`) {
			t.Errorf("after the retry: %+v", ev)
		}
	})
}
