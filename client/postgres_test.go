package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

var messageColumns = []pgchanges.Column{
	{Name: "id", Type: "int8"}, {Name: "room_id", Type: "int4"}, {Name: "body", Type: "text"},
	{Name: "amount", Type: "numeric"}, {Name: "created_at", Type: "timestamptz"},
}

func insertMessage(srv *testutil.Server, record string) int {
	return srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "messages",
		Record: json.RawMessage(record), Columns: messageColumns, PrimaryKey: []string{"id"},
		CommitTimestamp: "2026-08-21T10:15:30.123Z"})
}

// message is a typed record; int8 and numeric stay exact.
type message struct {
	ID        int64             `json:"id"`
	RoomID    int32             `json:"room_id"`
	Body      string            `json:"body"`
	Amount    pgchanges.Numeric `json:"amount"`
	CreatedAt time.Time         `json:"created_at"`
}

func TestPostgresChangesRoutingAndExactValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("db")
		room42 := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages").Filter(pgchanges.Eq("room_id", 42)))
		updates := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Update, "public", "messages"))
		all := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.All, "public", "*"))
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		ready, err := ch.PostgresReady().Wait(t.Context())
		if err != nil || ready.Message != "Subscribed to PostgreSQL" {
			t.Fatalf("PostgresReady = %+v, %v", ready, err)
		}
		insertMessage(srv, `{"id":9007199254740993,"room_id":42,"body":"hi","amount":12345678901234567890.123456789,"created_at":"2026-08-21T10:15:30.118532+00:00"}`)
		insertMessage(srv, `{"id":2,"room_id":7,"body":"elsewhere","amount":1.50,"created_at":"2026-08-21T10:15:31+00:00"}`)
		srv.InjectChange(testutil.Change{Type: "UPDATE", Schema: "public", Table: "messages",
			Record:    json.RawMessage(`{"id":2,"room_id":7,"body":"edited","amount":1.50,"created_at":"2026-08-21T10:15:31+00:00"}`),
			OldRecord: json.RawMessage(`{"id":2}`), Columns: messageColumns, PrimaryKey: []string{"id"}})

		ev := recv(t, room42)
		m, err := pgchanges.Decode[message](ev.Change)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != 9007199254740993 || m.Amount.String() != "12345678901234567890.123456789" || m.RoomID != 42 {
			t.Errorf("decoded %+v; want the int8 and numeric exact", m)
		}
		if ev.Type != pgchanges.Insert || ev.Schema != "public" || ev.Table != "messages" ||
			!ev.CommitTimestamp.Equal(time.Date(2026, 8, 21, 10, 15, 30, 123e6, time.UTC)) {
			t.Errorf("change %+v", ev.Change)
		}
		if up := recv(t, updates); up.Type != pgchanges.Update || !strings.Contains(string(up.Record), "edited") || string(up.OldRecord) != `{"id":2}` {
			t.Errorf("update = %+v", up.Change)
		}
		var types []string
		for range 3 {
			types = append(types, string(recv(t, all).Type))
		}
		if diff := cmp.Diff([]string{"INSERT", "INSERT", "UPDATE"}, types); diff != "" {
			t.Errorf("the wildcard binding (-want +got):\n%s", diff)
		}
		synctest.Wait()
		none(t, room42) // room 7 was filtered out by the server
		none(t, updates)
	})
}

// Identical bindings collapse to one item in the join; each subscription still gets the change.
func TestPostgresIdenticalBindingsCollapse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		b := pgchanges.On(pgchanges.Insert, "public", "messages")
		one := ch.OnPostgresChanges(t.Context(), b)
		two := ch.OnPostgresChanges(t.Context(), b)
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		var p struct {
			Config struct {
				PostgresChanges []json.RawMessage `json:"postgres_changes"`
			}
		}
		_ = json.Unmarshal(joins(srv, "realtime:db")[0].Payload, &p)
		if len(p.Config.PostgresChanges) != 1 {
			t.Errorf("join config has %d bindings; want 1", len(p.Config.PostgresChanges))
		}
		_, _ = ch.PostgresReady().Wait(t.Context())
		insertMessage(srv, `{"id":1,"room_id":1}`)
		recv(t, one)
		recv(t, two)
	})
}

// A binding added to a joined channel rejoins it with the full set; the gap is marked.
func TestPostgresBindingAddedAfterJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		first := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		second := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Delete, "public", "messages"))
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("State = %v", ch.State())
		}
		js := joins(srv, "realtime:db")
		if len(js) != 2 || !strings.Contains(string(js[1].Payload), `"DELETE"`) || !strings.Contains(string(js[1].Payload), `"INSERT"`) {
			t.Fatalf("joins %d; the second must carry both bindings", len(js))
		}
		if gap := recv(t, first); gap.Gap == nil {
			t.Errorf("first event %+v; want a gap marker for the rejoin", gap)
		}
		_, _ = ch.PostgresReady().Wait(t.Context())
		srv.InjectChange(testutil.Change{Type: "DELETE", Schema: "public", Table: "messages", OldRecord: json.RawMessage(`{"id":5}`),
			Columns: messageColumns, PrimaryKey: []string{"id"}})
		del := recv(t, second)
		if del.Gap != nil {
			del = recv(t, second)
		}
		if del.Type != pgchanges.Delete || del.Record != nil || string(del.OldRecord) != `{"id":5}` {
			t.Errorf("delete = %+v; want only the old record", del.Change)
		}
	})
}

// After a reconnect the bindings are re-subscribed and re-mapped, the subscriptions stay open,
// and a gap marker tells when changes may have been missed.
func TestPostgresAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, _ = ch.PostgresReady().Wait(t.Context())
		insertMessage(srv, `{"id":1}`)
		recv(t, sub)
		srv.DropConnections()
		synctest.Wait()
		if n := insertMessage(srv, `{"id":2}`); n != 0 { // lost: nobody is subscribed
			t.Fatalf("delivered to %d channels while down", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		gap := recv(t, sub)
		if gap.Gap == nil || gap.Gap.LastCommit.IsZero() || !gap.Gap.Until.After(gap.Gap.Since) || !errors.Is(gap.Gap.Cause, client.ErrDisconnected) {
			t.Fatalf("after the reconnect: %+v; want a gap marker with its times, watermark and cause", gap)
		}
		if _, err := ch.PostgresReady().Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		insertMessage(srv, `{"id":3}`)
		if ev := recv(t, sub); !strings.Contains(string(ev.Record), `"id":3`) {
			t.Errorf("after the rejoin: %s", ev.Record)
		}
	})
}

// Without waiting, the server's error about a binding settles the readiness future and
// reaches OnSystem.
func TestPostgresSubscriptionError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.FailPostgres("db", "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: nope, filters: []]")
		ch, _ := newClient(t, srv).Channel("db", client.PostgresChangesWait(false, 0))
		sys := ch.OnSystem(t.Context())
		_ = ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.All, "public", "nope"))
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err := ch.PostgresReady().Wait(t.Context())
		if !errors.Is(err, client.ErrServerError) || !strings.Contains(err.Error(), "Unable to subscribe") {
			t.Errorf("PostgresReady = %v", err)
		}
		if s := recv(t, sys); s.Extension != "postgres_changes" || !s.IsError() {
			t.Errorf("system = %+v", s)
		}
	})
}

// Invalid bindings are refused before anything is sent.
func TestPostgresInvalidBinding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		for _, b := range []pgchanges.Binding{
			pgchanges.On("TRUNCATE", "public", "t"),
			pgchanges.On(pgchanges.Insert, "public", "t").FilterRaw("id=zz.1"),
			pgchanges.On(pgchanges.Insert, "public", "t").Filter(pgchanges.In("id")),
		} {
			sub := ch.OnPostgresChanges(t.Context(), b)
			<-sub.Done()
			if !errors.Is(sub.Err(), client.ErrInvalidArgument) {
				t.Errorf("%v: Err = %v; want invalid_argument", b, sub.Err())
			}
		}
		if len(srv.Received()) != 0 {
			t.Errorf("frames were sent: %v", srv.Received())
		}
	})
}

// Error payloads (§7.3) are delivered, not dropped.
func TestPostgresErrorPayloadsDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.All, "public", "messages"), subscribe.WithBuffer(4))
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, _ = ch.PostgresReady().Wait(t.Context())
		srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "messages", Record: json.RawMessage(`{}`),
			Columns: []pgchanges.Column{}, CommitTimestamp: "null", Errors: []string{"Error 401: Unauthorized"}})
		ev := recv(t, sub)
		if diff := cmp.Diff([]string{"Error 401: Unauthorized"}, ev.Errors); diff != "" || !ev.CommitTimestamp.IsZero() {
			t.Errorf("error payload (-want +got):\n%s (commit %v)", diff, ev.CommitTimestamp)
		}
	})
}

// A join reply whose echoed bindings do not match is an error naming the binding, and the
// channel leaves.
func TestPostgresBindingMismatch(t *testing.T) {
	up := websocket.Upgrader{}
	left := make(chan string, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var m transport.Message
			if transport.Decode(transport.V2, transport.ServerSide, false, data, &m) != nil {
				continue
			}
			reply := transport.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: "phx_reply", Status: "ok", Data: []byte("{}")}
			switch m.Event {
			case "phx_join":
				reply.Data = []byte(`{"postgres_changes":[{"id":1,"event":"UPDATE","schema":"public","table":"other"}]}`)
			case "phx_leave":
				left <- m.JoinRef
			}
			out, _, _ := transport.Encode(nil, transport.V2, transport.ServerSide, &reply)
			_ = ws.WriteMessage(websocket.TextMessage, out)
		}
	}))
	defer hs.Close()
	c, err := client.New("ws"+strings.TrimPrefix(hs.URL, "http")+"/realtime/v1", testKey, client.WithLogger(suiteLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, _ := c.Channel("db")
	sub := ch.OnPostgresChanges(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"))
	err = ch.Subscribe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "mismatch") || !strings.Contains(err.Error(), "public.messages") {
		t.Fatalf("Subscribe = %v; want a mismatch naming the binding", err)
	}
	<-left
	<-sub.Done()
	if ch.State() != client.ChannelClosed || sub.Err() == nil {
		t.Errorf("State %v, subscription Err %v; want closed with the error", ch.State(), sub.Err())
	}
}
