package testutil_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// pgConfig is a join config with the given postgres_changes items.
func pgConfig(items ...string) string {
	return `{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[` +
		strings.Join(items, ",") + `],"private":false}`
}

// replyIDs returns the ids of the postgres_changes list of a join reply frame.
func replyIDs(t *testing.T, reply string) []int64 {
	t.Helper()
	var p struct {
		Response struct {
			PostgresChanges []struct {
				ID *int64 `json:"id"`
			} `json:"postgres_changes"`
		} `json:"response"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(decode(t, reply).Payload, &p); err != nil || p.Status != "ok" {
		t.Fatalf("not an ok join reply: %s", reply)
	}
	var ids []int64
	for _, b := range p.Response.PostgresChanges {
		if b.ID == nil || *b.ID < 0 || *b.ID >= 1<<27 {
			t.Fatalf("join reply %s: id missing or out of 0..2^27-1", reply)
		}
		ids = append(ids, *b.ID)
	}
	return ids
}

// systemFrame is a system message frame of topic (without "realtime:").
func systemFrame(joinRef, topic, extension, status, message string) string {
	m, _ := json.Marshal(message)
	return fmt.Sprintf(`[%q,null,"realtime:%s","system",{"channel":%q,"extension":%q,"message":%s,"status":%q}]`,
		joinRef, topic, topic, extension, m, status)
}

// subscribed is the system message that a join's bindings are live.
func subscribed(joinRef, topic string) string {
	return systemFrame(joinRef, topic, "postgres_changes", "ok", "Subscribed to PostgreSQL")
}

// changeFrame is a postgres_changes frame.
func changeFrame(topic, data string, ids ...int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf(`[null,null,"realtime:%s","postgres_changes",{"data":%s,"ids":[%s]}]`, topic, data, strings.Join(s, ","))
}

// todoColumns are the columns of public.todos in the tests.
var todoColumns = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"}, {Name: "done", Type: "bool"}}

const todoColumnsJSON = `[{"name": "id", "type": "int8"}, {"name": "title", "type": "text"}, {"name": "done", "type": "bool"}]`

// insertTodo is an INSERT into public.todos of the row {"id": id, "title": title, "done": false}.
func insertTodo(id int, title string) testutil.Change {
	return testutil.Change{
		Type: "INSERT", Schema: "public", Table: "todos", Columns: todoColumns,
		Record:          json.RawMessage(fmt.Sprintf(`{"id": %d, "done": false, "title": %q}`, id, title)),
		CommitTimestamp: "2026-08-21T10:15:30.123Z",
	}
}

func TestPostgresJoinReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		reply := c.join("db", "3", pgConfig(
			`{"event":"INSERT","schema":"public","table":"todos"}`,
			`{"table":"messages","schema":"public","filter":"room_id=eq.7","event":"*"}`,
			`{"event":"INSERT","schema":"public","table":"todos"}`,
			` { "table" : "todos", "event" : "INSERT", "schema" : "public" } `,
			`null`,
			`{"event":"Update","schema":"public","table":"todos","select":["title", "done"]}`,
		))
		ids := replyIDs(t, reply)
		if len(ids) != 5 {
			t.Fatalf("join reply %s: %d bindings; want 5 (null items are dropped)", reply, len(ids))
		}
		if ids[0] != ids[2] || ids[0] != ids[3] {
			t.Errorf("identical items got ids %d, %d, %d; want one id", ids[0], ids[2], ids[3])
		}
		if ids[0] == ids[1] || ids[0] == ids[4] || ids[1] == ids[4] {
			t.Errorf("different items got ids %v; want different ids", ids)
		}
		want := fmt.Sprintf(`["3","3","realtime:db","phx_reply",{"response":{"postgres_changes":[`+
			`{"id":%d,"event":"INSERT","schema":"public","table":"todos"},`+
			`{"id":%d,"event":"*","filter":"room_id=eq.7","schema":"public","table":"messages"},`+
			`{"id":%d,"event":"INSERT","schema":"public","table":"todos"},`+
			`{"id":%d,"event":"INSERT","schema":"public","table":"todos"},`+
			`{"id":%d,"event":"Update","schema":"public","select":["title","done"],"table":"todos"}]},"status":"ok"}]`,
			ids[0], ids[1], ids[2], ids[3], ids[4])
		if reply != want {
			t.Errorf("join reply\n got %s\nwant %s", reply, want)
		}
		if diff := cmp.Diff([]string{subscribed("3", "db")}, c.rest()); diff != "" {
			t.Errorf("after the join (-want +got):\n%s", diff)
		}

		// No bindings: no system message.
		c.join("plain", "4", pgConfig())
		c.none()
	})
}

func TestPostgresReplicationReady(t *testing.T) {
	ready := systemFrame("1", "r", "system", "ok", "Replication connection established")
	tests := []struct {
		name, config string
		want         []string
	}{
		{"true", `{"broadcast":{"replication_ready":true}}`, []string{ready}},
		{"string false is truthy", `{"broadcast":{"replication_ready":"false"}}`, []string{ready}},
		{"false", `{"broadcast":{"replication_ready":false}}`, nil},
		{"null", `{"broadcast":{"replication_ready":null}}`, nil},
		{"absent", `{"broadcast":{}}`, nil},
		{"with bindings", `{"broadcast":{"replication_ready":true},"postgres_changes":[{"event":"*","schema":"public"}]}`,
			[]string{subscribed("1", "r"), ready}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				c := dial(t, srv, transport.V2)
				c.join("r", "1", tt.config)
				time.Sleep(time.Hour) // exactly one message, ever
				if diff := cmp.Diff(tt.want, c.rest(), cmpFrames); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestPostgresSubscriptionErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		// The first binding is fine, the second is not: the whole subscription fails.
		c.join("db", "1", pgConfig(
			`{"event":"*","schema":"public","table":"todos"}`,
			`{"event":"*","schema":"public","table":"todos","filter":"wrong"}`,
			`{"event":"*","schema":"public","table":"todos","filter":"id=in.1"}`,
		))
		want := systemFrame("1", "db", "postgres_changes", "error", "Error parsing `filter` params: [\"wrong\"]")
		if diff := cmp.Diff([]string{want}, c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if n := srv.InjectChange(insertTodo(1, "x")); n != 0 {
			t.Errorf("InjectChange = %d; want 0: the subscription failed", n)
		}
		c.none()

		c.join("db2", "2", pgConfig(`{"event":"*","schema":"public","table":"todos","filter":"id=in.1"}`))
		want = systemFrame("2", "db2", "postgres_changes", "error", "Error parsing `filter` params: `in` filter value must be wrapped by parentheses")
		if diff := cmp.Diff([]string{want}, c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestPostgresReadyDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetPostgresReadyDelay(3 * time.Second)
		c := dial(t, srv, transport.V2)
		c.join("db", "1", pgConfig(`{"event":"*","schema":"public","table":"todos"}`))
		c.join("gone", "2", pgConfig(`{"event":"*","schema":"public","table":"todos"}`))
		c.none()
		if n := srv.InjectChange(insertTodo(1, "early")); n != 0 {
			t.Errorf("InjectChange before the subscription is ready = %d; want 0", n)
		}
		c.push("2", "3", "gone", "phx_leave", `{}`)
		c.rest()

		time.Sleep(3*time.Second - time.Millisecond)
		c.none()
		time.Sleep(time.Millisecond)
		if diff := cmp.Diff([]string{subscribed("1", "db")}, c.rest()); diff != "" {
			t.Errorf("after the delay (-want +got):\n%s", diff)
		}
		if n := srv.InjectChange(insertTodo(2, "late")); n != 1 {
			t.Errorf("InjectChange once ready = %d; want 1", n)
		}
		if got := c.rest(); len(got) != 1 || decode(t, got[0]).Event != "postgres_changes" {
			t.Errorf("got %q; want one change", got)
		}
	})
}

func TestFailPostgres(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		const msg = "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: todos, filters: [], select: nil]"
		srv.FailPostgres("db", msg)
		c := dial(t, srv, transport.V2)
		binding := `{"event":"*","schema":"public","table":"todos"}`
		c.join("db", "1", pgConfig(binding))
		c.join("other", "2", pgConfig(binding))
		want := []string{systemFrame("1", "db", "postgres_changes", "error", msg), subscribed("2", "other")}
		if diff := cmp.Diff(want, c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if n := srv.InjectChange(insertTodo(1, "x")); n != 1 {
			t.Errorf("InjectChange = %d; want 1 (only the channel that subscribed)", n)
		}
		c.rest()

		srv.FailPostgres("", "{:error, \"Too many database timeouts\"}")
		c.join("third", "3", pgConfig(binding))
		if diff := cmp.Diff([]string{systemFrame("3", "third", "postgres_changes", "error", "{:error, \"Too many database timeouts\"}")}, c.rest()); diff != "" {
			t.Errorf("failing every topic (-want +got):\n%s", diff)
		}
		srv.FailPostgres("", "")
		srv.FailPostgres("realtime:db", "")
		c.join("db", "4", pgConfig(binding))
		if diff := cmp.Diff([]string{`["1","1","realtime:db","phx_close",{}]`, subscribed("4", "db")}, c.rest()); diff != "" {
			t.Errorf("after clearing (-want +got):\n%s", diff)
		}
	})
}

func TestPostgresResubscribeOnAccessToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		c.join("db", "1", `{"postgres_changes":[{"event":"*","schema":"public","table":"todos"}]}`)
		c.join("bad", "2", `{"postgres_changes":[{"event":"*","schema":"public","table":"todos","filter":"wrong"}]}`)
		c.join("plain", "3", `{}`)
		c.rest()
		badFilter := systemFrame("2", "bad", "postgres_changes", "error", "Error parsing `filter` params: [\"wrong\"]")
		tests := []struct {
			name, topic, joinRef, payload string
			want                          []string
		}{
			{"new token", "db", "1", `{"access_token":"token-2"}`, []string{subscribed("1", "db")}},
			{"same token", "db", "1", `{"access_token":"token-2"}`, nil},
			{"sb_ token", "db", "1", `{"access_token":"sb_publishable_x"}`, nil},
			{"null", "db", "1", `{"access_token":null}`, nil},
			{"not a string", "db", "1", `{"access_token":5}`, nil},
			{"failed subscription fails again", "bad", "2", `{"access_token":"token-2"}`, []string{badFilter}},
			{"no bindings", "plain", "3", `{"access_token":"token-2"}`, nil},
		}
		for i, tt := range tests {
			c.push(tt.joinRef, fmt.Sprint(10+i), tt.topic, "access_token", tt.payload)
			if diff := cmp.Diff(tt.want, c.rest(), cmpFrames); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}

		// With a ready delay, the subscription stays live while it is re-created.
		srv.SetPostgresReadyDelay(2 * time.Second)
		c.push("1", "20", "db", "access_token", `{"access_token":"token-3"}`)
		c.none()
		if n := srv.InjectChange(insertTodo(1, "x")); n != 1 {
			t.Errorf("InjectChange while re-subscribing = %d; want 1", n)
		}
		c.rest()
		c.push("1", "21", "db", "access_token", `{"access_token":"token-4"}`) // restarts the delay
		time.Sleep(time.Second)
		c.none()
		time.Sleep(time.Second)
		if diff := cmp.Diff([]string{subscribed("1", "db")}, c.rest()); diff != "" {
			t.Errorf("after the delay (-want +got):\n%s", diff)
		}
		time.Sleep(time.Hour)
		c.none()
	})
}

// cmpFrames makes nil and empty lists of frames equal.
var cmpFrames = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") })

func TestInjectChangeRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := dial(t, srv, transport.V2)
		ids := replyIDs(t, a.join("db", "1", pgConfig(
			`{"event":"INSERT","schema":"public","table":"todos"}`,
			`{"event":"*","schema":"public","table":"todos","filter":"id=eq.1"}`,
			`{"event":"UPDATE","schema":"public","table":"todos"}`,
			`{"event":"*","schema":"public","table":"todos","filter":"id=eq.1"}`,
			`{"event":"insert","schema":"public","table":"other"}`,
		)))
		idOf := func(c *wsClient, topic, binding string) int64 {
			return replyIDs(t, c.join(topic, "2", pgConfig(binding)))[0]
		}
		schemaOnly := idOf(a, "schema-only", `{"event":"*","schema":"public"}`)
		tableOnly := idOf(a, "table-only", `{"event":"DELETE","table":"todos"}`)
		wild := idOf(a, "wild", `{"event":"whatever","schema":"*","table":"*"}`)
		otherSchema := idOf(a, "other-schema", `{"event":"*","schema":"private","table":"todos"}`)
		like := idOf(a, "like", `{"event":"*","schema":"pub%","table":"to_os"}`)
		a.join("none", "2", pgConfig())
		b := dial(t, srv, transport.V2)
		bIDs := replyIDs(t, b.join("db", "1", pgConfig(`{"event":"*","schema":"public","table":"todos","filter":"id=eq.2"}`)))
		a.rest()
		b.rest()

		ins := insertTodo(1, "Buy milk")
		if n := srv.InjectChange(ins); n != 4 {
			t.Errorf("InjectChange(INSERT id 1) = %d; want 4", n)
		}
		data := `{"columns":` + todoColumnsJSON + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,` +
			`"record":{"id": 1, "done": false, "title": "Buy milk"},"schema":"public","table":"todos","type":"INSERT"}`
		want := []string{
			// The matching bindings of the channel, last first, duplicates kept.
			changeFrame("db", data, ids[3], ids[1], ids[0]),
			changeFrame("like", data, like),
			changeFrame("schema-only", data, schemaOnly),
			changeFrame("wild", data, wild),
		}
		if diff := cmp.Diff(want, a.rest()); diff != "" {
			t.Errorf("INSERT (-want +got):\n%s", diff)
		}
		b.none()

		// DELETE: filters see the old row.
		del := testutil.Change{Type: "DELETE", Schema: "public", Table: "todos", Columns: todoColumns,
			OldRecord: json.RawMessage(`{"id": 2}`), CommitTimestamp: "2026-08-21T10:15:31.000Z"}
		if n := srv.InjectChange(del); n != 5 {
			t.Errorf("InjectChange(DELETE id 2) = %d; want 5", n)
		}
		data = `{"columns":` + todoColumnsJSON + `,"commit_timestamp":"2026-08-21T10:15:31.000Z","errors":null,` +
			`"old_record":{"id": 2},"schema":"public","table":"todos","type":"DELETE"}`
		want = []string{
			changeFrame("like", data, like),
			changeFrame("schema-only", data, schemaOnly),
			changeFrame("table-only", data, tableOnly),
			changeFrame("wild", data, wild),
		}
		if diff := cmp.Diff(want, a.rest()); diff != "" {
			t.Errorf("DELETE seen by a (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{changeFrame("db", data, bIDs[0])}, b.rest()); diff != "" {
			t.Errorf("DELETE seen by b (-want +got):\n%s", diff)
		}

		// UPDATE of another table in another schema.
		upd := testutil.Change{Type: "update", Schema: "private", Table: "todos", Columns: todoColumns,
			Record: json.RawMessage(`{"id": 1}`), OldRecord: json.RawMessage(`{"id": 1}`), CommitTimestamp: "null"}
		if n := srv.InjectChange(upd); n != 2 {
			t.Errorf("InjectChange(UPDATE private.todos) = %d; want 2", n)
		}
		data = `{"columns":` + todoColumnsJSON + `,"commit_timestamp":null,"errors":null,` +
			`"old_record":{"id": 1},"record":{"id": 1},"schema":"private","table":"todos","type":"update"}`
		want = []string{
			changeFrame("other-schema", data, otherSchema),
			changeFrame("wild", data, wild),
		}
		if diff := cmp.Diff(want, a.rest()); diff != "" {
			t.Errorf("UPDATE (-want +got):\n%s", diff)
		}

		// A channel that left gets nothing.
		b.push("1", "2", "db", "phx_leave", `{}`)
		b.rest()
		if n := srv.InjectChange(testutil.Change{Type: "DELETE", Schema: "public", Table: "todos", OldRecord: json.RawMessage(`{"id": 2}`)}); n != 4 {
			t.Errorf("InjectChange after b left = %d; want 4", n)
		}
		b.none()
	})
}

func TestInjectChangeOperators(t *testing.T) {
	tests := []struct {
		filter string
		insert bool // delivered for the INSERT below
		delete bool // delivered for the DELETE below
	}{
		{"id=eq.9007199254740993", true, false},
		{"id=eq.9007199254740992", false, false},
		{"id=neq.1", true, false},
		{"id=lt.10", false, true},
		{"id=lte.1", false, true},
		{"id=gt.1", true, false},
		{"id=gte.9007199254740993", true, false},
		{"id=in.(1,9007199254740993)", true, true},
		{"id=not.in.(1,2)", true, false},
		{"title=like.Buy%", true, false},
		{"title=ilike.%MILK", true, false},
		{"title=match.^B", true, false},
		{"title=imatch.^b", true, false},
		{"title=is.null", false, true},
		{"title=not.is.null", true, false},
		{"title=eq.Buy milk", true, false},
		{"title=not.eq.Buy milk", false, false}, // NULL on the DELETE's old row
		{"title=isdistinct.Buy milk", false, true},
		{"title=not.isdistinct.Buy milk", true, false},
		{"done=is.false", true, false},
		{"done=is.true", false, true},
		{"amount=eq.12345678901234567890.123456789", true, false},
		{"amount=gt.12345678901234567890.123456788", true, false},
		{"id=gt.0,title=like.%milk", true, false},
		{"id=gt.0,id=lt.2", false, true},
		{"missing=is.null", false, false},
	}
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		topics := map[string]string{} // topic → filter
		for i, tt := range tests {
			topic := fmt.Sprint("case", i)
			topics[topic] = tt.filter
			b, _ := json.Marshal(map[string]string{"event": "*", "schema": "public", "table": "t", "filter": tt.filter})
			c.join(topic, "1", pgConfig(string(b)))
		}
		c.rest()
		columns := []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"}, {Name: "done", Type: "bool"}, {Name: "amount", Type: "numeric"}}
		for _, change := range []struct {
			name string
			c    testutil.Change
			want func(i int) bool
		}{
			{"INSERT", testutil.Change{Type: "INSERT", Schema: "public", Table: "t", Columns: columns,
				Record: json.RawMessage(`{"id": 9007199254740993, "title": "Buy milk", "done": false, "amount": 12345678901234567890.123456789}`)},
				func(i int) bool { return tests[i].insert }},
			{"DELETE", testutil.Change{Type: "DELETE", Schema: "public", Table: "t", Columns: columns,
				Record:    json.RawMessage(`{"id": 9007199254740993, "title": "Buy milk", "done": false}`), // ignored
				OldRecord: json.RawMessage(`{"id": 1, "title": null, "done": true}`)},
				func(i int) bool { return tests[i].delete }},
		} {
			want := 0
			for i := range tests {
				if change.want(i) {
					want++
				}
			}
			if n := srv.InjectChange(change.c); n != want {
				t.Errorf("%s: InjectChange = %d; want %d", change.name, n, want)
			}
			got := map[string]bool{}
			for _, f := range c.rest() {
				got[strings.TrimPrefix(decode(t, f).Topic, "realtime:")] = true
			}
			for i, tt := range tests {
				topic := fmt.Sprint("case", i)
				if got[topic] != change.want(i) {
					t.Errorf("%s with filter %q: delivered %v; want %v", change.name, tt.filter, got[topic], change.want(i))
				}
			}
		}
	})
}

func TestInjectChangeShapes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		id := replyIDs(t, c.join("db", "1", pgConfig(`{"event":"*","schema":"public","table":"todos"}`)))[0]
		c.rest()
		cols := []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "amount", Type: "numeric"}}
		colsJSON := `[{"name": "id", "type": "int8"}, {"name": "amount", "type": "numeric"}]`
		rec := `{"id": 9007199254740993, "amount": 12345678901234567890.123456789}`
		old := `{"id": 9007199254740993}`
		tests := []struct {
			name   string
			change testutil.Change
			data   string
		}{
			{"INSERT, commit_timestamp now", testutil.Change{Type: "INSERT", Schema: "public", Table: "todos", Columns: cols, Record: json.RawMessage(rec)},
				`{"columns":` + colsJSON + `,"commit_timestamp":"2000-01-01T00:00:00.000Z","errors":null,"record":` + rec + `,"schema":"public","table":"todos","type":"INSERT"}`},
			{"UPDATE", testutil.Change{Type: "UPDATE", Schema: "public", Table: "todos", Columns: cols, Record: json.RawMessage(rec), OldRecord: json.RawMessage(old), CommitTimestamp: "2026-08-21T10:15:30.123Z"},
				`{"columns":` + colsJSON + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"old_record":` + old + `,"record":` + rec + `,"schema":"public","table":"todos","type":"UPDATE"}`},
			{"DELETE", testutil.Change{Type: "DELETE", Schema: "public", Table: "todos", Columns: cols, Record: json.RawMessage(rec), OldRecord: json.RawMessage(old), CommitTimestamp: "2026-08-21T10:15:30.123Z"},
				`{"columns":` + colsJSON + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"old_record":` + old + `,"schema":"public","table":"todos","type":"DELETE"}`},
			{"error payload", testutil.Change{Type: "INSERT", Schema: "public", Table: "todos", Columns: []pgchanges.Column{}, Record: json.RawMessage(`{}`), CommitTimestamp: "null", Errors: []string{"Error 401: Unauthorized"}},
				`{"columns":[],"commit_timestamp":null,"errors":["Error 401: Unauthorized"],"record":{},"schema":"public","table":"todos","type":"INSERT"}`},
			{"nil records and columns", testutil.Change{Type: "UPDATE", Schema: "public", Table: "todos", CommitTimestamp: "2026-08-21T10:15:30.123Z", Errors: []string{}},
				`{"columns":[],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"old_record":{},"record":{},"schema":"public","table":"todos","type":"UPDATE"}`},
		}
		for _, tt := range tests {
			if n := srv.InjectChange(tt.change); n != 1 {
				t.Errorf("%s: InjectChange = %d; want 1", tt.name, n)
			}
			if diff := cmp.Diff([]string{changeFrame("db", tt.data, id)}, c.rest()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}

		if n := srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "todos", Record: json.RawMessage(`{`)}); n != 0 {
			t.Errorf("InjectChange with invalid JSON = %d; want 0", n)
		}

		// Version 1.0.0: the same payload in an object envelope.
		v1 := dial(t, srv, transport.V1)
		v1.send(`{"topic":"realtime:db","event":"phx_join","payload":{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"todos"}]}},"ref":"1","join_ref":"1"}`)
		v1.rest()
		srv.InjectChange(testutil.Change{Type: "DELETE", Schema: "public", Table: "todos", OldRecord: json.RawMessage(`{"id": 1}`), CommitTimestamp: "2026-08-21T10:15:30.123Z"})
		want := fmt.Sprintf(`{"event":"postgres_changes","payload":{"data":{"columns":[],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"old_record":{"id": 1},"schema":"public","table":"todos","type":"DELETE"},"ids":[%d]},"ref":null,"topic":"realtime:db"}`, id)
		if diff := cmp.Diff([]string{want}, v1.rest()); diff != "" {
			t.Errorf("V1 (-want +got):\n%s", diff)
		}
	})
}

func TestInjectChangeSelect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		ids := replyIDs(t, c.join("db", "1", pgConfig(
			`{"event":"*","schema":"public","table":"todos","select":["title"]}`,
			`{"event":"*","schema":"public","table":"todos"}`,
			`{"event":"UPDATE","schema":"public","table":"todos","select":["title"]}`,
			`{"event":"*","schema":"public","table":"todos","select":["done","title"]}`,
		)))
		c.rest()
		change := testutil.Change{Type: "UPDATE", Schema: "public", Table: "todos", Columns: todoColumns, PrimaryKey: []string{"id"},
			Record:          json.RawMessage(`{"id": 1, "title": "x", "done": true}`),
			OldRecord:       json.RawMessage(`{"id": 1, "title": "y", "done": false}`),
			CommitTimestamp: "2026-08-21T10:15:30.123Z"}
		if n := srv.InjectChange(change); n != 1 {
			t.Errorf("InjectChange = %d; want 1", n)
		}
		all := `{"columns":` + todoColumnsJSON + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,` +
			`"old_record":{"id": 1, "title": "y", "done": false},"record":{"id": 1, "title": "x", "done": true},"schema":"public","table":"todos","type":"UPDATE"}`
		doneTitle := `{"columns":` + todoColumnsJSON + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,` +
			`"old_record":{"id": 1, "title": "y", "done": false},"record":{"id": 1, "title": "x", "done": true},"schema":"public","table":"todos","type":"UPDATE"}`
		title := `{"columns":[{"name": "id", "type": "int8"}, {"name": "title", "type": "text"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,` +
			`"old_record":{"id": 1, "title": "y"},"record":{"id": 1, "title": "x"},"schema":"public","table":"todos","type":"UPDATE"}`
		want := []string{
			// One frame per selection: all columns first, then by the selected names.
			changeFrame("db", all, ids[1]),
			changeFrame("db", doneTitle, ids[3]),
			changeFrame("db", title, ids[2], ids[0]),
		}
		if diff := cmp.Diff(want, c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestControlPostgresChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		id := replyIDs(t, c.join("db", "1", pgConfig(`{"event":"INSERT","schema":"public","table":"todos","filter":"id=eq.9007199254740993"}`)))[0]
		c.rest()
		controlURL := strings.Replace(srv.HTTPURL(), "/realtime/v1", "/testutil/v1/postgres_changes", 1)
		post := func(body string) (int, string) {
			t.Helper()
			resp, err := srv.HTTPClient().Post(controlURL, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, strings.TrimSpace(string(b))
		}

		status, body := post(`{"type":"INSERT","schema":"public","table":"todos",
			"record":{"id": 9007199254740993, "amount": 12345678901234567890.123456789},
			"columns":[{"name":"id","type":"int8"},{"name":"amount","type":"numeric"}],
			"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null}`)
		if status != http.StatusOK || body != `{"delivered":1}` {
			t.Errorf("POST = %d %s; want 200 {\"delivered\":1}", status, body)
		}
		data := `{"columns":[{"name": "id", "type": "int8"}, {"name": "amount", "type": "numeric"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,` +
			`"record":{"id": 9007199254740993, "amount": 12345678901234567890.123456789},"schema":"public","table":"todos","type":"INSERT"}`
		if diff := cmp.Diff([]string{changeFrame("db", data, id)}, c.rest()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}

		status, body = post(`{"type":"INSERT","schema":"public","table":"todos","record":{"id": 1},"commit_timestamp":null}`)
		if status != http.StatusOK || body != `{"delivered":0}` {
			t.Errorf("POST of a change nobody wants = %d %s; want 200 {\"delivered\":0}", status, body)
		}
		if status, _ := post(`{"type":`); status != http.StatusBadRequest {
			t.Errorf("POST of a bad body = %d; want 400", status)
		}
		if status, _ := post(`{"type":"INSERT","commit_timestamp":5}`); status != http.StatusBadRequest {
			t.Errorf("POST with a numeric commit_timestamp = %d; want 400", status)
		}
		c.none()
	})
}
