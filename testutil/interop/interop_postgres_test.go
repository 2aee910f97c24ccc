//go:build interop

package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// TestRealtimeJSPostgres runs the postgres_changes scenario (postgres.js).
func TestRealtimeJSPostgres(t *testing.T) {
	requireRealtimeJS(t)
	t.Parallel()
	t.Run("PostgresChanges", testPostgresChanges)
}

// pgSpec is one postgres_changes binding, given to realtime-js as written and to Go as a
// pgchanges.Binding that must render the same filter.
type pgSpec struct {
	name   string
	event  pgchanges.Event
	table  string // in schema public
	filter string // realtime-js's filter; "" for none
	conds  []pgchanges.Condition
}

func (s pgSpec) binding() pgchanges.Binding {
	return pgchanges.On(s.event, "public", s.table).Filter(s.conds...)
}

// configItem is the config.postgres_changes item the binding should put in the phx_join.
func (s pgSpec) configItem() map[string]any {
	m := map[string]any{"event": string(s.event), "schema": "public", "table": s.table}
	if s.filter != "" {
		m["filter"] = s.filter
	}
	return m
}

// pgCase is a row change to inject, and the bindings that select it.
type pgCase struct {
	name string
	c    testutil.Change
	want []string
}

// The tables of the scenario, their columns in attnum order.
var (
	pgMessageColumns = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "room_id", Type: "int8"}, {Name: "body", Type: "text"},
		{Name: "amount", Type: "numeric"}, {Name: "flagged", Type: "bool"}, {Name: "meta", Type: "jsonb"}, {Name: "created_at", Type: "timestamptz"}}
	pgTodoColumns = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"}, {Name: "done", Type: "bool"},
		{Name: "meta", Type: "jsonb"}, {Name: "due", Type: "timestamptz"}}
)

// pgMessage and pgTodo are the rows as the Go client decodes them with pgchanges.Decode.
type pgMessage struct {
	ID        int64             `json:"id"`
	RoomID    int64             `json:"room_id"`
	Body      string            `json:"body"`
	Amount    pgchanges.Numeric `json:"amount"`
	Flagged   bool              `json:"flagged"`
	Meta      json.RawMessage   `json:"meta"`
	CreatedAt time.Time         `json:"created_at"`
}

type pgTodo struct {
	ID    int64           `json:"id"`
	Title string          `json:"title"`
	Done  bool            `json:"done"`
	Meta  json.RawMessage `json:"meta"`
	Due   time.Time       `json:"due"`
}

const (
	// pgBigNumeric is a numeric a float64 cannot hold.
	pgBigNumeric = "12345678901234567890.123456789"
	// What realtime-js makes of bigID and pgBigNumeric: JSON.parse reads them into float64
	// numbers (JSON.stringify shows them so).
	pgBigIDInJS      = "9007199254740992"
	pgBigNumericInJS = "12345678901234567000"
)

// pgCases are the changes of testPostgresChanges, in injection order. Records are written the
// way PostgreSQL's jsonb prints them. The last one selects msg-update, which the test waits for.
func pgCases() []pgCase {
	msg := func(typ string, rec, old string) testutil.Change {
		return testutil.Change{Type: typ, Schema: "public", Table: "messages", Columns: pgMessageColumns, PrimaryKey: []string{"id"},
			Record: pgRaw(rec), OldRecord: pgRaw(old)}
	}
	todo := func(typ string, rec, old string) testutil.Change {
		return testutil.Change{Type: typ, Schema: "public", Table: "todos", Columns: pgTodoColumns, PrimaryKey: []string{"id"},
			Record: pgRaw(rec), OldRecord: pgRaw(old)}
	}
	msgRow := func(id string, room int, body, amount string, flagged bool, meta string) string {
		return fmt.Sprintf(`{"id": %s, "body": %q, "meta": %s, "amount": %s, "flagged": %t, "room_id": %d, "created_at": "2026-08-21T10:15:30.118532+00:00"}`,
			id, body, meta, amount, flagged, room)
	}
	todoRow := func(id int, done bool, title, meta string) string {
		return fmt.Sprintf(`{"id": %d, "due": "2026-08-22T09:00:00+00:00", "done": %t, "meta": %s, "title": %q}`, id, done, meta, title)
	}
	unauthorized := testutil.Change{Type: "UPDATE", Schema: "public", Table: "messages", CommitTimestamp: "null",
		Errors: []string{"Error 401: Unauthorized"}} // columns [], record {}, old_record {}
	cases := []pgCase{
		{"insert message room 42", msg("INSERT", msgRow(bigID, 42, "hello", pgBigNumeric, false, `{"n": 1, "tags": ["a", "b"]}`), ""), []string{"msg-insert-42"}},
		{"insert message room 43", msg("INSERT", msgRow("102", 43, "elsewhere", "1", false, `null`), ""), nil},
		{"update message room 42", msg("UPDATE", msgRow(bigID, 42, "edited", "0.10", true, `[]`), `{"id": `+bigID+`}`), []string{"msg-update"}},
		{"insert done todo", todo("INSERT", todoRow(1, true, "ship it", `"42"`), ""), []string{"todo-done"}},
		{"insert open todo", todo("INSERT", todoRow(2, false, "test it", `{}`), ""), nil},
		// Filters read the new row of an UPDATE: done was true, is false.
		{"reopen todo", todo("UPDATE", todoRow(1, false, "ship it", `"42"`), todoRow(1, true, "ship it", `"42"`)), nil},
		{"close todo", todo("UPDATE", todoRow(2, true, "test it", `{}`), todoRow(2, false, "test it", `{}`)), []string{"todo-done"}},
		// Filters read the old row of a DELETE (REPLICA IDENTITY FULL here).
		{"delete done todo", todo("DELETE", "", todoRow(2, true, "test it", `{}`)), []string{"todo-delete", "todo-done"}},
		// Only the primary key: the done filter's column is missing, so it fails.
		{"delete todo by key", todo("DELETE", "", `{"id": 1}`), []string{"todo-delete"}},
		{"delete message", msg("DELETE", "", `{"id": 102}`), nil},
		{"update message unauthorized", unauthorized, []string{"msg-update"}},
		// msg-insert-7's filter holds, but its event is INSERT.
		{"update message room 7", msg("UPDATE", msgRow("103", 7, "moved", "-1.5e3", false, `{"a": null}`), `{"id": 103}`), []string{"msg-update"}},
	}
	for i := range cases {
		if cases[i].c.CommitTimestamp == "" {
			cases[i].c.CommitTimestamp = fmt.Sprintf("2026-08-21T10:16:%02d.%03dZ", i, 100+i)
		}
	}
	return cases
}

func pgRaw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// pgGoChange is what the Go client delivered, in comparable form.
type pgGoChange struct {
	Type, Schema, Table string
	Commit              string // RFC 3339, "" when null
	Columns             []pgchanges.Column
	Record, OldRecord   string // raw bytes; "" when absent, null or {}
	Errors              []string
}

// pgWantGo is what the Go client should deliver for c: everything exactly as injected.
func pgWantGo(t *testing.T, c testutil.Change) pgGoChange {
	t.Helper()
	w := pgGoChange{Type: c.Type, Schema: c.Schema, Table: c.Table, Columns: c.Columns, Errors: c.Errors}
	if c.CommitTimestamp != "null" {
		ts, err := time.Parse(time.RFC3339Nano, c.CommitTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		w.Commit = ts.UTC().Format(time.RFC3339Nano)
	}
	if c.Type == "INSERT" || c.Type == "UPDATE" {
		w.Record = string(c.Record)
	}
	if c.Type == "UPDATE" || c.Type == "DELETE" {
		w.OldRecord = string(c.OldRecord)
	}
	return w
}

func pgGotGo(ev client.PostgresEvent) pgGoChange {
	g := pgGoChange{Type: string(ev.Type), Schema: ev.Schema, Table: ev.Table, Record: string(ev.Record), OldRecord: string(ev.OldRecord), Errors: ev.Errors}
	if len(ev.Columns) > 0 {
		g.Columns = ev.Columns
	}
	if !ev.CommitTimestamp.IsZero() {
		g.Commit = ev.CommitTimestamp.UTC().Format(time.RFC3339Nano)
	}
	return g
}

// pgWantJS is the payload realtime-js should hand a postgres_changes callback for c (docs/protocol.md
// §7.4), decoded as encoding/json decodes into any (numbers as float64, as JavaScript holds
// them): {schema, table, commit_timestamp, eventType, new, old, errors}, new and old converted
// by realtime-js's convertChangeData from the columns' types. Of its conversions only one
// changes the values sent here: a jsonb string is JSON.parse'd (jsonb "42" becomes 42).
func pgWantJS(t *testing.T, c testutil.Change) any {
	t.Helper()
	convert := func(raw json.RawMessage) map[string]any {
		out := map[string]any{}
		if len(raw) == 0 {
			return out
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		for _, col := range c.Columns {
			if s, ok := out[col.Name].(string); ok && (col.Type == "jsonb" || col.Type == "json") {
				var v any
				if json.Unmarshal([]byte(s), &v) == nil {
					out[col.Name] = v
				}
			}
		}
		return out
	}
	w := map[string]any{"schema": c.Schema, "table": c.Table, "eventType": c.Type, "new": map[string]any{}, "old": map[string]any{},
		"commit_timestamp": nil, "errors": nil}
	if c.CommitTimestamp != "null" {
		w["commit_timestamp"] = c.CommitTimestamp
	}
	if len(c.Errors) > 0 {
		var errs []any
		for _, e := range c.Errors {
			errs = append(errs, e)
		}
		w["errors"] = errs
	}
	if c.Type == "INSERT" || c.Type == "UPDATE" {
		w["new"] = convert(c.Record)
	}
	if c.Type == "UPDATE" || c.Type == "DELETE" {
		w["old"] = convert(c.OldRecord)
	}
	return w
}

// pgJSChangeLine is a {"kind":"change"} line of postgres.js.
type pgJSChangeLine struct {
	Binding     string          `json:"binding"`
	Payload     json.RawMessage `json:"payload"`
	PayloadKeys []string        `json:"payload_keys"`
	Types       struct {
		New map[string]string `json:"new"`
		Old map[string]string `json:"old"`
	} `json:"types"`
}

// pgJSONMember returns the raw JSON of the member at path in obj, numbers as written.
func pgJSONMember(t *testing.T, obj json.RawMessage, path ...string) string {
	t.Helper()
	v := obj
	for _, k := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		v = m[k]
	}
	return string(v)
}

// testPostgresChanges: realtime-js and a Go client, each on its own channel, bind the same
// five postgres_changes (one of which never matches). Once both report the subscription ready,
// twelve changes are injected. Each client receives, per binding and in order, exactly the
// changes that binding selects (event, then the filter on the new row, or the old row of a
// DELETE); realtime-js hands its callbacks the transformed payload, Go gets the records byte
// for byte and decodes int8 and numeric exactly. Both clients' phx_join carry the same
// postgres_changes config items.
func testPostgresChanges(t *testing.T) {
	srv := newServer(t)
	const jsSub, goSub = "interop:pg:js", "interop:pg:go"
	ctx := t.Context()

	specs := []pgSpec{
		{name: "msg-insert-42", event: pgchanges.Insert, table: "messages", filter: "room_id=eq.42", conds: []pgchanges.Condition{pgchanges.Eq("room_id", 42)}},
		{name: "msg-update", event: pgchanges.Update, table: "messages"},
		{name: "todo-delete", event: pgchanges.Delete, table: "todos"},
		{name: "todo-done", event: pgchanges.All, table: "todos", filter: "done=is.true", conds: []pgchanges.Condition{pgchanges.Is("done", pgchanges.IsTrue)}},
		{name: "msg-insert-7", event: pgchanges.Insert, table: "messages", filter: "room_id=eq.7", conds: []pgchanges.Condition{pgchanges.Eq("room_id", 7)}},
	}
	type jsBinding struct {
		Name   string `json:"name"`
		Event  string `json:"event"`
		Schema string `json:"schema"`
		Table  string `json:"table"`
		Filter string `json:"filter,omitempty"`
	}
	var jsBindings []jsBinding
	for _, s := range specs {
		jsBindings = append(jsBindings, jsBinding{s.name, string(s.event), "public", s.table, s.filter})
	}
	bindingsArg, err := json.Marshal(jsBindings)
	if err != nil {
		t.Fatal(err)
	}
	js := startNode(t, srv, "postgres.js", "--url", srv.URL(), "--key", apiKey, "--topic", jsSub, "--bindings", string(bindingsArg))

	c := newGoClient(t, srv)
	ch, err := c.Channel(goSub)
	if err != nil {
		t.Fatalf("Channel(%q) = %v", goSub, err)
	}
	subs := map[string]*subscribe.Subscription[client.PostgresEvent]{}
	for _, s := range specs {
		subs[s.name] = ch.OnPostgresChanges(ctx, s.binding(), subscribe.WithBuffer(64))
	}
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := ch.Subscribe(wctx); err != nil {
		t.Fatalf("Subscribe(%q) = %v", goSub, err)
	}

	// Ready: Go's PostgresReady, realtime-js's SUBSCRIBED plus the system message.
	sys, err := ch.PostgresReady().Wait(wctx)
	if err != nil {
		t.Fatalf("PostgresReady().Wait = %v", err)
	}
	if sys.Status != "ok" || sys.Extension != "postgres_changes" || sys.Message != "Subscribed to PostgreSQL" || sys.Channel != goSub {
		t.Errorf("Go PostgresReady settled with %+v; want status ok, extension postgres_changes, message \"Subscribed to PostgreSQL\", channel %q", sys, goSub)
	}
	var ready struct {
		BindingIDs     []json.RawMessage `json:"binding_ids"`
		BindingIDTypes []string          `json:"binding_id_types"`
	}
	js.waitFor("ready (SUBSCRIBED and \"Subscribed to PostgreSQL\")", kind("ready")).decode(t, &ready)
	var system struct {
		Payload     map[string]any `json:"payload"`
		PayloadKeys []string       `json:"payload_keys"`
	}
	js.waitFor("the system message", kind("system")).decode(t, &system)
	wantSystem := map[string]any{"channel": jsSub, "extension": "postgres_changes", "message": "Subscribed to PostgreSQL", "status": "ok"}
	if diff := cmp.Diff(wantSystem, system.Payload); diff != "" {
		t.Errorf("realtime-js system listener payload mismatch (-want +got):\n%s", diff)
	}
	if want := []string{"channel", "extension", "message", "status"}; !slices.Equal(system.PayloadKeys, want) {
		t.Errorf("realtime-js system payload keys %q; want %q", system.PayloadKeys, want)
	}
	// realtime-js keeps the ids of the join reply as they came: JSON numbers (its types say
	// string), one per binding, distinct here since the bindings differ.
	if len(ready.BindingIDs) != len(specs) {
		t.Errorf("realtime-js has %d binding ids %s; want %d", len(ready.BindingIDs), ready.BindingIDs, len(specs))
	}
	seenIDs := map[string]bool{}
	for i, id := range ready.BindingIDs {
		var n int64
		if json.Unmarshal(id, &n) != nil || ready.BindingIDTypes[i] != "number" || n < 0 || n >= 1<<27 {
			t.Errorf("realtime-js binding %d id %s (typeof %s); want an integer number in [0, 2^27)", i, id, ready.BindingIDTypes[i])
		}
		if seenIDs[string(id)] {
			t.Errorf("realtime-js binding id %s repeated", id)
		}
		seenIDs[string(id)] = true
	}

	// Both joins carry the same postgres_changes items, the bindings as written.
	var wantItems []map[string]any
	for _, s := range specs {
		wantItems = append(wantItems, s.configItem())
	}
	for _, sub := range []string{jsSub, goSub} {
		joins := framesOf(srv, "realtime:"+sub, transport.EventJoin)
		if len(joins) != 1 {
			t.Fatalf("server received %d phx_join on realtime:%s; want 1", len(joins), sub)
		}
		var p struct {
			Config struct {
				PostgresChanges []map[string]any `json:"postgres_changes"`
			} `json:"config"`
		}
		if err := json.Unmarshal(joins[0].Payload, &p); err != nil {
			t.Fatalf("phx_join payload %s: %v", joins[0].Payload, err)
		}
		if diff := cmp.Diff(wantItems, p.Config.PostgresChanges); diff != "" {
			t.Errorf("phx_join on realtime:%s: config.postgres_changes mismatch (-want +got):\n%s", sub, diff)
		}
	}

	// Inject. A change reaches both channels, or neither.
	cases := pgCases()
	for _, pc := range cases {
		want := 0
		if len(pc.want) > 0 {
			want = 2
		}
		if got := srv.InjectChange(pc.c); got != want {
			t.Errorf("InjectChange(%s) reached %d channels; want %d", pc.name, got, want)
		}
	}
	wantByBinding := map[string][]pgCase{}
	for _, pc := range cases {
		for _, b := range pc.want {
			wantByBinding[b] = append(wantByBinding[b], pc)
		}
	}
	last := cases[len(cases)-1]
	if !slices.Equal(last.want, []string{"msg-update"}) {
		t.Fatalf("the last case must select msg-update only")
	}

	// Go: per binding, exactly its changes, in order, exactly as injected.
	gotGo := map[string][]client.PostgresEvent{}
	for _, s := range specs {
		sub := subs[s.name]
		timer := time.NewTimer(waitTimeout)
		for len(gotGo[s.name]) < len(wantByBinding[s.name]) {
			select {
			case ev, ok := <-sub.C():
				if !ok {
					t.Fatalf("Go %s: subscription closed: %v", s.name, sub.Err())
				}
				gotGo[s.name] = append(gotGo[s.name], ev)
			case <-timer.C:
				t.Fatalf("Go %s: %d of %d changes within %v\n%s", s.name, len(gotGo[s.name]), len(wantByBinding[s.name]), waitTimeout, describeServer(srv))
			}
		}
		timer.Stop()
	}
	// The last change (msg-update) is routed after every other, so anything more is here now.
	for _, s := range specs {
		select {
		case ev := <-subs[s.name].C():
			t.Errorf("Go %s received an extra change: %+v", s.name, pgGotGo(ev))
		default:
		}
		if n := subs[s.name].Pending(); n != 0 {
			t.Errorf("Go %s has %d more changes pending", s.name, n)
		}
	}
	for _, s := range specs {
		var want, got []pgGoChange
		for _, pc := range wantByBinding[s.name] {
			want = append(want, pgWantGo(t, pc.c))
		}
		for _, ev := range gotGo[s.name] {
			if ev.Gap != nil {
				t.Errorf("Go %s received a gap marker %+v", s.name, ev.Gap)
			}
			got = append(got, pgGotGo(ev))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Go %s received changes mismatch (-want +got):\n%s", s.name, diff)
		}
	}

	// Go: typed decoding keeps int8 beyond 2^53 and numeric beyond float64 exact.
	if evs := gotGo["msg-insert-42"]; len(evs) == 1 {
		got, err := pgchanges.Decode[pgMessage](evs[0].Change)
		if err != nil {
			t.Errorf("Decode[pgMessage](insert message room 42) = %v", err)
		}
		want := pgMessage{ID: 9007199254740993, RoomID: 42, Body: "hello", Amount: pgBigNumeric, Meta: json.RawMessage(`{"n": 1, "tags": ["a", "b"]}`),
			CreatedAt: time.Date(2026, 8, 21, 10, 15, 30, 118532000, time.UTC)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode[pgMessage](insert message room 42) mismatch (-want +got):\n%s", diff)
		}
		if raw, _ := evs[0].Record.Get("id"); string(raw) != bigID {
			t.Errorf("Record.Get(\"id\") = %s; want %s", raw, bigID)
		}
	}
	if evs := gotGo["msg-update"]; len(evs) == 3 {
		got, err := pgchanges.Decode[pgMessage](evs[0].Change)
		if err != nil || got.Amount != "0.10" || got.ID != 9007199254740993 {
			t.Errorf("Decode[pgMessage](update message room 42) = %+v, %v; want amount 0.10 (scale kept), id %s", got, err, bigID)
		}
		old, err := pgchanges.DecodeOld[pgMessage](evs[0].Change)
		if err != nil || old.ID != 9007199254740993 {
			t.Errorf("DecodeOld[pgMessage](update message room 42) = %+v, %v; want id %s", old, err, bigID)
		}
		if got, err := pgchanges.Decode[pgMessage](evs[2].Change); err != nil || got.Amount != "-1.5e3" {
			t.Errorf("Decode[pgMessage](update message room 7) = %+v, %v; want amount -1.5e3 as sent", got, err)
		}
		if e := evs[1]; len(e.Errors) != 1 || e.Record != nil || e.OldRecord != nil || !e.CommitTimestamp.IsZero() {
			t.Errorf("unauthorized change: %+v; want Errors, nil records, zero CommitTimestamp", pgGotGo(e))
		}
	}
	if evs := gotGo["todo-done"]; len(evs) == 3 {
		got, err := pgchanges.Decode[pgTodo](evs[0].Change)
		want := pgTodo{ID: 1, Title: "ship it", Done: true, Meta: json.RawMessage(`"42"`), Due: time.Date(2026, 8, 22, 9, 0, 0, 0, time.UTC)}
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("Decode[pgTodo](insert done todo) = %+v, %v; want %+v (jsonb \"42\" stays a string)", got, err, want)
		}
		old, err := pgchanges.DecodeOld[pgTodo](evs[2].Change)
		if err != nil || old.ID != 2 || !old.Done {
			t.Errorf("DecodeOld[pgTodo](delete done todo) = %+v, %v; want id 2, done", old, err)
		}
	}

	// realtime-js: wait for the last change, then compare everything.
	n := 0
	js.waitFor("the last change ("+last.name+")", func(l line) bool {
		if l.Kind == "change" && strings.Contains(string(l.Raw), `"binding":"msg-update"`) {
			n++
		}
		return n == len(wantByBinding["msg-update"])
	})
	gotJS := map[string][]pgJSChangeLine{}
	for _, l := range js.linesOf("change") {
		var cl pgJSChangeLine
		l.decode(t, &cl)
		gotJS[cl.Binding] = append(gotJS[cl.Binding], cl)
	}
	wantKeys := []string{"commit_timestamp", "errors", "eventType", "new", "old", "schema", "table"}
	for _, s := range specs {
		var want, got []any
		for _, pc := range wantByBinding[s.name] {
			want = append(want, pgWantJS(t, pc.c))
		}
		for _, cl := range gotJS[s.name] {
			var v any
			if err := json.Unmarshal(cl.Payload, &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
			if !slices.Equal(cl.PayloadKeys, wantKeys) {
				t.Errorf("realtime-js %s callback payload keys %q; want %q", s.name, cl.PayloadKeys, wantKeys)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("realtime-js %s received changes mismatch (-want +got):\n%s", s.name, diff)
		}
	}

	// What realtime-js does to the values: int8 and numeric become JavaScript numbers (the
	// digits beyond float64 are lost; numeric's scale too), jsonb strings are JSON.parse'd.
	if cls := gotJS["msg-insert-42"]; len(cls) == 1 {
		p := cls[0].Payload
		if got := pgJSONMember(t, p, "new", "id"); got != pgBigIDInJS {
			t.Errorf("realtime-js new.id = %s; want %s (%s read into a float64)", got, pgBigIDInJS, bigID)
		}
		if got := pgJSONMember(t, p, "new", "amount"); got != pgBigNumericInJS {
			t.Errorf("realtime-js new.amount = %s; want %s (%s read into a float64)", got, pgBigNumericInJS, pgBigNumeric)
		}
		wantTypes := map[string]string{"id": "number", "room_id": "number", "body": "string", "amount": "number", "flagged": "boolean", "meta": "object", "created_at": "string"}
		if diff := cmp.Diff(wantTypes, cls[0].Types.New); diff != "" {
			t.Errorf("realtime-js types of new (insert message room 42) mismatch (-want +got):\n%s", diff)
		}
	}
	if cls := gotJS["msg-update"]; len(cls) == 3 {
		if got := pgJSONMember(t, cls[0].Payload, "new", "amount"); got != "0.1" {
			t.Errorf("realtime-js new.amount = %s; want 0.1 (numeric 0.10 read as a number)", got)
		}
		if got := pgJSONMember(t, cls[0].Payload, "old", "id"); got != pgBigIDInJS {
			t.Errorf("realtime-js old.id = %s; want %s", got, pgBigIDInJS)
		}
		if got := pgJSONMember(t, cls[2].Payload, "new", "amount"); got != "-1500" {
			t.Errorf("realtime-js new.amount = %s; want -1500 (numeric -1.5e3)", got)
		}
	}
	if cls := gotJS["todo-done"]; len(cls) == 3 {
		if got := pgJSONMember(t, cls[0].Payload, "new", "meta"); got != "42" {
			t.Errorf("realtime-js new.meta = %s; want 42 (the jsonb string \"42\" JSON.parse'd)", got)
		}
	}
	js.finish()
}
