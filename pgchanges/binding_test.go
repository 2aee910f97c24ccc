package pgchanges_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/pgchanges"
)

func TestBindingMarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		binding pgchanges.Binding
		want    string
	}{
		{"schema and table", pgchanges.On(pgchanges.Insert, "public", "todos"),
			`{"event":"INSERT","schema":"public","table":"todos"}`},
		{"all events", pgchanges.On(pgchanges.All, "public", "todos"),
			`{"event":"*","schema":"public","table":"todos"}`},
		{"event as given", pgchanges.On("insert", "public", "todos"),
			`{"event":"insert","schema":"public","table":"todos"}`},
		{"schema only", pgchanges.On(pgchanges.All, "public", ""),
			`{"event":"*","schema":"public"}`},
		{"table only", pgchanges.On(pgchanges.Delete, "", "todos"),
			`{"event":"DELETE","table":"todos"}`},
		{"filter", pgchanges.On(pgchanges.All, "public", "messages").Filter(pgchanges.Eq("room_id", 7)),
			`{"event":"*","schema":"public","table":"messages","filter":"room_id=eq.7"}`},
		{"quoted filter", pgchanges.On(pgchanges.All, "public", "m").Filter(pgchanges.Eq("name", `a,"b"`)),
			`{"event":"*","schema":"public","table":"m","filter":"name=eq.\"a,\\\"b\\\"\""}`},
		{"select", pgchanges.On(pgchanges.Update, "public", "t").Select("a", "b"),
			`{"event":"UPDATE","schema":"public","table":"t","select":["a","b"]}`},
		{"empty filter and select omitted", pgchanges.On(pgchanges.Update, "public", "t").Filter().Select(),
			`{"event":"UPDATE","schema":"public","table":"t"}`},
		{"white-space raw filter omitted", pgchanges.On(pgchanges.Update, "public", "t").FilterRaw("  "),
			`{"event":"UPDATE","schema":"public","table":"t"}`},
		{"raw filter as given", pgchanges.On(pgchanges.Update, "public", "t").FilterRaw("id=gt.0, id=lt.9"),
			`{"event":"UPDATE","schema":"public","table":"t","filter":"id=gt.0, id=lt.9"}`},
		{"zero binding", pgchanges.Binding{}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.binding)
			if err != nil {
				t.Fatalf("json.Marshal = %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("json.Marshal = %s; want %s", got, tt.want)
			}
			if strings.Contains(string(got), "null") {
				t.Errorf("json.Marshal = %s; it must never contain null", got)
			}
			// Inside a join payload too.
			payload, _ := json.Marshal(map[string]any{"postgres_changes": []pgchanges.Binding{tt.binding}})
			if strings.Contains(string(payload), "null") {
				t.Errorf("payload %s contains null", payload)
			}
		})
	}
}

func TestBindingAccessors(t *testing.T) {
	t.Parallel()
	cols := []string{"a", "b"}
	b := pgchanges.On(pgchanges.Update, "public", "t").Filter(pgchanges.Eq("id", 1)).Select(cols...)
	cols[0] = "changed"
	b.Columns()[1] = "changed too"
	type view struct {
		Event                 pgchanges.Event
		Schema, Table, Filter string
		Columns               []string
	}
	got := view{b.Event(), b.Schema(), b.Table(), b.FilterString(), b.Columns()}
	want := view{pgchanges.Update, "public", "t", "id=eq.1", []string{"a", "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accessors (-want +got):\n%s", diff)
	}
	// Builders return copies.
	base := pgchanges.On(pgchanges.Insert, "public", "t")
	_ = base.Filter(pgchanges.Eq("id", 1)).Select("x")
	if base.FilterString() != "" || base.Columns() != nil {
		t.Errorf("builder modified its receiver: %s", base)
	}
	// A later Filter replaces the earlier one, valid or not.
	bad := base.Filter(pgchanges.In("x"))
	if err := bad.Validate(); err == nil {
		t.Errorf("Validate() of %s = nil; want an error", bad)
	}
	good := bad.Filter(pgchanges.Eq("x", 1))
	if err := good.Validate(); err != nil {
		t.Errorf("Validate() of %s = %v", good, err)
	}
	if err := bad.FilterRaw("x=eq.1").Validate(); err != nil {
		t.Errorf("Validate() after FilterRaw = %v", err)
	}
}

func TestBindingValidate(t *testing.T) {
	t.Parallel()
	valid := []pgchanges.Binding{
		pgchanges.On(pgchanges.Insert, "public", "t"),
		pgchanges.On("delete", "public", "t"),
		pgchanges.On(pgchanges.All, "public", ""),
		pgchanges.On(pgchanges.All, "", "t"),
		pgchanges.On(pgchanges.All, "*", "*"),
		pgchanges.On(pgchanges.All, "public", "t").Filter(pgchanges.Eq("id", 1), pgchanges.Not(pgchanges.Is("x", pgchanges.IsNull))),
		pgchanges.On(pgchanges.All, "public", "t").FilterRaw(`name=eq."a,b",id=in.(1,2)`),
		pgchanges.On(pgchanges.All, "public", "t").Select("a"),
		pgchanges.On(pgchanges.All, "", "t").Select("a"),
	}
	for _, b := range valid {
		if err := b.Validate(); err != nil {
			t.Errorf("Validate() of %s = %v", b, err)
		}
	}
	invalid := []struct {
		name    string
		binding pgchanges.Binding
	}{
		{"zero", pgchanges.Binding{}},
		{"empty event", pgchanges.On("", "public", "t")},
		{"unknown event", pgchanges.On("TRUNCATE", "public", "t")},
		{"no schema and table", pgchanges.On(pgchanges.All, "", "")},
		{"filter without table", pgchanges.On(pgchanges.All, "public", "").Filter(pgchanges.Eq("id", 1))},
		{"filter without schema", pgchanges.On(pgchanges.All, "", "t").FilterRaw("id=eq.1")},
		{"select on wildcard table", pgchanges.On(pgchanges.All, "public", "*").Select("a")},
		{"select on wildcard schema", pgchanges.On(pgchanges.All, "*", "t").Select("a")},
		{"select on all tables", pgchanges.On(pgchanges.All, "public", "").Select("a")},
		{"select empty column", pgchanges.On(pgchanges.All, "public", "t").Select("a", "")},
		{"bad condition", pgchanges.On(pgchanges.All, "public", "t").Filter(pgchanges.Eq("", 1))},
		{"in without values", pgchanges.On(pgchanges.All, "public", "t").Filter(pgchanges.In("x"))},
		{"raw unknown operator", pgchanges.On(pgchanges.All, "public", "t").FilterRaw("x=foo.1")},
		{"raw empty segment", pgchanges.On(pgchanges.All, "public", "t").FilterRaw("x=eq.1,,y=eq.2")},
		{"raw empty column", pgchanges.On(pgchanges.All, "public", "t").FilterRaw("=eq.1")},
		{"raw in without parens", pgchanges.On(pgchanges.All, "public", "t").FilterRaw("x=in.1,2")},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.binding.Validate()
			if !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Errorf("Validate() of %s = %v; want ErrInvalidArgument", tt.binding, err)
			}
		})
	}
}

func TestBindingKey(t *testing.T) {
	t.Parallel()
	on := pgchanges.On
	f := func(b pgchanges.Binding, c ...pgchanges.Condition) pgchanges.Binding { return b.Filter(c...) }
	equal := [][2]pgchanges.Binding{
		{on(pgchanges.Insert, "public", "t"), on(pgchanges.Insert, "public", "t")},
		{f(on(pgchanges.All, "public", "t"), pgchanges.Eq("id", 1)), on(pgchanges.All, "public", "t").FilterRaw("id=eq.1")},
		{on(pgchanges.All, "public", "t").Filter(), on(pgchanges.All, "public", "t").FilterRaw(" ")},
		{on(pgchanges.All, "public", "t").Select("a", "b"), on(pgchanges.All, "public", "t").Select("a", "b")},
	}
	for _, p := range equal {
		if p[0].Key() != p[1].Key() {
			t.Errorf("Key() differs for %s and %s: %s, %s", p[0], p[1], p[0].Key(), p[1].Key())
		}
	}
	base := on(pgchanges.Insert, "public", "t")
	different := []pgchanges.Binding{
		on("insert", "public", "t"), // the server hashes the raw event
		on(pgchanges.Update, "public", "t"),
		on(pgchanges.Insert, "other", "t"),
		on(pgchanges.Insert, "public", "u"),
		on(pgchanges.Insert, "", "t"),
		base.Filter(pgchanges.Eq("id", 1)),
		base.FilterRaw("id=eq.1 "),
		base.Select("a"),
		base.Select("b", "a").Filter(),
	}
	keys := map[string]pgchanges.Binding{base.Key(): base}
	for _, b := range different {
		if prev, dup := keys[b.Key()]; dup {
			t.Errorf("Key() of %s equals that of %s: %s", b, prev, b.Key())
		}
		keys[b.Key()] = b
	}
}

func TestBindingString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		b    pgchanges.Binding
		want string
	}{
		{pgchanges.On(pgchanges.Insert, "public", "messages").Filter(pgchanges.Eq("room_id", 42)), "INSERT on public.messages where room_id=eq.42"},
		{pgchanges.On(pgchanges.All, "public", "todos").Select("id", "title"), "* on public.todos select id,title"},
		{pgchanges.On(pgchanges.Delete, "", "todos"), "DELETE on public.todos"},
		{pgchanges.On(pgchanges.Update, "audit", ""), "UPDATE on audit.*"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}

func TestBindingMatchesEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		event, change pgchanges.Event
		want          bool
	}{
		{pgchanges.All, pgchanges.Insert, true},
		{pgchanges.All, pgchanges.Delete, true},
		{pgchanges.Insert, pgchanges.Insert, true},
		{"insert", pgchanges.Insert, true},
		{pgchanges.Insert, "insert", true},
		{pgchanges.Insert, pgchanges.Update, false},
		{pgchanges.Delete, pgchanges.Update, false},
	}
	for _, tt := range tests {
		if got := pgchanges.On(tt.event, "public", "t").MatchesEvent(tt.change); got != tt.want {
			t.Errorf("On(%q).MatchesEvent(%q) = %v; want %v", tt.event, tt.change, got, tt.want)
		}
	}
}

func TestBindingMatchesReply(t *testing.T) {
	t.Parallel()
	b := pgchanges.On(pgchanges.All, "public", "messages")
	tests := []struct {
		name    string
		binding pgchanges.Binding
		item    pgchanges.ReplyBinding
		want    bool
	}{
		{"same", b, pgchanges.ReplyBinding{ID: 1, Event: "*", Schema: "public", Table: "messages"}, true},
		{"absent filter equals empty", b.FilterRaw(""), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Filter: ""}, true},
		{"filter", b.Filter(pgchanges.Eq("room_id", 7)), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Filter: "room_id=eq.7"}, true},
		{"filter missing in echo", b.Filter(pgchanges.Eq("room_id", 7)), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages"}, false},
		{"filter differs", b.Filter(pgchanges.Eq("room_id", 7)), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Filter: "room_id=eq.8"}, false},
		{"event exact", pgchanges.On("insert", "public", "messages"), pgchanges.ReplyBinding{Event: "INSERT", Schema: "public", Table: "messages"}, false},
		{"schema", b, pgchanges.ReplyBinding{Event: "*", Schema: "private", Table: "messages"}, false},
		{"table", b, pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "other"}, false},
		{"select as set", b.Select("a", "b", "a"), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Select: []string{"b", "a"}}, true},
		{"select differs", b.Select("a"), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Select: []string{"b"}}, false},
		{"select missing in echo", b.Select("a"), pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages"}, false},
		{"empty select equals absent", b, pgchanges.ReplyBinding{Event: "*", Schema: "public", Table: "messages", Select: []string{}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.binding.MatchesReply(tt.item); got != tt.want {
				t.Errorf("%s.MatchesReply(%+v) = %v; want %v", tt.binding, tt.item, got, tt.want)
			}
		})
	}
}

func TestParseReplyBindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		response string
		want     []pgchanges.ReplyBinding
		wantOK   bool
	}{
		{"missing key", `{}`, nil, false},
		{"null", `{"postgres_changes":null}`, nil, false},
		{"empty", `{"postgres_changes":[]}`, []pgchanges.ReplyBinding{}, true},
		{"numbers", `{"postgres_changes":[
			{"id":31186290,"event":"INSERT","schema":"public","table":"todos"},
			{"id":96213457,"event":"*","filter":"room_id=eq.7","schema":"public","table":"messages"}]}`,
			[]pgchanges.ReplyBinding{
				{ID: 31186290, Event: "INSERT", Schema: "public", Table: "todos"},
				{ID: 96213457, Event: "*", Schema: "public", Table: "messages", Filter: "room_id=eq.7"},
			}, true},
		{"numeric strings", `{"postgres_changes":[{"id":"31186290","event":"*","schema":"public"}]}`,
			[]pgchanges.ReplyBinding{{ID: 31186290, Event: "*", Schema: "public"}}, true},
		{"null filter and select", `{"postgres_changes":[{"id":1,"event":"*","schema":"s","table":"t","filter":null,"select":null}]}`,
			[]pgchanges.ReplyBinding{{ID: 1, Event: "*", Schema: "s", Table: "t"}}, true},
		{"select", `{"postgres_changes":[{"id":1,"event":"*","schema":"s","table":"t","select":["a","b"]}]}`,
			[]pgchanges.ReplyBinding{{ID: 1, Event: "*", Schema: "s", Table: "t", Select: []string{"a", "b"}}}, true},
		{"legacy", `{"postgres_changes":[{"id":134217727,"schema":"public","table":"todos"}]}`,
			[]pgchanges.ReplyBinding{{ID: 134217727, Schema: "public", Table: "todos"}}, true},
		{"other keys", `{"other":1,"postgres_changes":[{"id":5,"event":"*","schema":"s","extra":true}]}`,
			[]pgchanges.ReplyBinding{{ID: 5, Event: "*", Schema: "s"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := pgchanges.ParseReplyBindings([]byte(tt.response))
			if err != nil {
				t.Fatalf("ParseReplyBindings = %v", err)
			}
			if ok != tt.wantOK {
				t.Errorf("ParseReplyBindings ok = %v; want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReplyBindings (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{
		``, `"payload_size_exceeded"`, `[]`,
		`{"postgres_changes":{}}`,
		`{"postgres_changes":[{"event":"*"}]}`,
		`{"postgres_changes":[{"id":1.5}]}`,
		`{"postgres_changes":[{"id":"x"}]}`,
		`{"postgres_changes":[{"id":true}]}`,
		`{"postgres_changes":[{"id":99999999999999999999}]}`,
		`{"postgres_changes":[{"id":1,"event":5}]}`,
		`{"postgres_changes":[{"id":1,"select":"a"}]}`,
	} {
		if _, _, err := pgchanges.ParseReplyBindings([]byte(bad)); !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("ParseReplyBindings(%s) = %v; want ErrMalformed", bad, err)
		}
	}
}

func TestMatchReply(t *testing.T) {
	t.Parallel()
	todos := pgchanges.On(pgchanges.Insert, "public", "todos")
	msgs := pgchanges.On(pgchanges.All, "public", "messages").Filter(pgchanges.Eq("room_id", 7))
	reply := []pgchanges.ReplyBinding{
		{ID: 31186290, Event: "INSERT", Schema: "public", Table: "todos"},
		{ID: 96213457, Event: "*", Schema: "public", Table: "messages", Filter: "room_id=eq.7"},
	}
	ids, err := pgchanges.MatchReply([]pgchanges.Binding{todos, msgs}, reply)
	if err != nil {
		t.Fatalf("MatchReply = %v", err)
	}
	if diff := cmp.Diff([]int64{31186290, 96213457}, ids); diff != "" {
		t.Errorf("MatchReply (-want +got):\n%s", diff)
	}
	// Reordered: matched by value.
	ids, err = pgchanges.MatchReply([]pgchanges.Binding{msgs, todos}, reply)
	if err != nil {
		t.Fatalf("MatchReply(reordered) = %v", err)
	}
	if diff := cmp.Diff([]int64{96213457, 31186290}, ids); diff != "" {
		t.Errorf("MatchReply(reordered) (-want +got):\n%s", diff)
	}
	// A binding the server did not echo.
	other := pgchanges.On(pgchanges.Delete, "public", "todos")
	_, err = pgchanges.MatchReply([]pgchanges.Binding{todos, other}, reply)
	if !errors.Is(err, pgchanges.ErrMismatch) || !strings.Contains(err.Error(), "DELETE on public.todos") {
		t.Errorf("MatchReply(mismatch) = %v; want ErrMismatch naming the binding", err)
	}
	_, err = pgchanges.MatchReply([]pgchanges.Binding{todos, msgs, other}, reply)
	if !errors.Is(err, pgchanges.ErrMismatch) {
		t.Errorf("MatchReply(missing) = %v; want ErrMismatch", err)
	}
}
