package testutil_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

// filterRow is the row the evaluator tests filter, typed by filterColumns. Column extra is not
// in the columns list, so it is typed from its JSON value.
const filterRow = `{"id": 42, "big": 9007199254740993, "amount": 12345678901234567890.123456789,
 "title": "Buy milk", "done": false, "deleted_at": null, "due": "2026-08-22T09:00:00+00:00",
 "day": "2026-08-22", "local": "2026-08-22T09:00:00", "meta": {"p": 1, "q": [1, 2]}, "code": "AB  ",
 "email": "Bob@Example.com", "uid": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "ratio": 1.5,
 "nan": "NaN", "name": "O'Brien, Jr.", "small": 7, "extra": 5.0, "kind": "b"}`

var filterColumns = []pgchanges.Column{
	{Name: "id", Type: "int8"}, {Name: "big", Type: "int8"}, {Name: "amount", Type: "numeric"},
	{Name: "title", Type: "text"}, {Name: "done", Type: "bool"}, {Name: "deleted_at", Type: "timestamptz"},
	{Name: "due", Type: "timestamptz"}, {Name: "day", Type: "date"}, {Name: "local", Type: "timestamp"},
	{Name: "meta", Type: "jsonb"}, {Name: "code", Type: "bpchar"}, {Name: "email", Type: "citext"},
	{Name: "uid", Type: "uuid"}, {Name: "ratio", Type: "float8"}, {Name: "nan", Type: "float8"},
	{Name: "name", Type: "varchar"}, {Name: "small", Type: "int2"}, {Name: "kind", Type: "my_enum"},
}

func TestFilterEvaluation(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		// eq, neq, lt, lte, gt, gte on integers: compared as numbers, exactly.
		{"id=eq.42", true},
		{"id=eq.042", true},
		{"id=eq. 42 ", true},
		{"id=eq.42.0", false}, // not an integer: the cast fails
		{"id=neq.42", false},
		{"id=neq.7", true},
		{"id=lt.43", true},
		{"id=lt.42", false},
		{"id=lte.42", true},
		{"id=gt.42", false},
		{"id=gt.9", true}, // numerically, not as text
		{"id=gte.42", true},
		{"big=eq.9007199254740993", true},
		{"big=eq.9007199254740992", false},
		{"big=gt.9007199254740992", true},
		{"big=eq.9223372036854775808", false}, // out of int8's range
		{"small=eq.70000", false},             // out of int2's range
		// numeric, exactly; float with NaN and infinities.
		{"amount=eq.12345678901234567890.123456789", true},
		{"amount=eq.12345678901234567890.12345678", false},
		{"amount=eq.12345678901234567890.1234567890", true},
		{"amount=gt.12345678901234567890.123456788", true},
		{"amount=lt.1e20", true},
		{"ratio=eq.1.5", true},
		{"ratio=eq.15e-1", true},
		{"ratio=gt.1.4999", true},
		{"ratio=lt.Infinity", true},
		{"nan=eq.NaN", true},
		{"nan=gt.1e308", true},
		{"nan=gt.Infinity", true},
		{"ratio=eq.abc", false},
		{"extra=eq.5", true}, // not in columns: a JSON number is compared as numeric
		// text: bytewise.
		{"title=eq.Buy milk", true},
		{`title=eq."Buy milk"`, true},
		{"title=eq.buy milk", false},
		{"title=lt.C", true},
		{"title=gt.Buy", true},
		{"title=gte.Buy milk", true},
		{`name=eq."O'Brien, Jr."`, true},
		{"kind=eq.b", true},
		// in, with quoting and NULL elements.
		{`title=in.(Eggs,"Buy milk")`, true},
		{"title=in.(Eggs,Bread)", false},
		{"title=not.in.(Eggs,Bread)", true},
		{"title=in.( Eggs , Buy milk )", true},
		{`name=in.("O'Brien, Jr.",x)`, true},
		{"id=in.(1,42)", true},
		{"id=in.(1,2)", false},
		{"id=in.(1,42,NULL)", true},
		{"id=in.(1,NULL)", false},
		{"id=not.in.(1,NULL)", false}, // NOT NULL is NULL
		{`title=in.("NULL")`, false},
		{"id=in.()", false},
		// like and ilike: % and _, backslash escapes; * is an ordinary character.
		{"title=like.Buy%", true},
		{"title=like.buy%", false},
		{"title=ilike.buy%", true},
		{"title=ilike.BUY_MILK", true},
		{"title=like.Buy_milk", true},
		{"title=like.%milk", true},
		{"title=like.%mil", false},
		{"title=like.Buy*", false},
		{"title=like.Buy milk*", false},
		{"title=not.like.%milk", false},
		{"title=not.ilike.%MILK%", false},
		{`title=like.Buy\_milk`, false},
		{`title=like.Buy milk\`, false}, // a pattern ending in the escape is an error
		// match and imatch: regular expressions, unanchored.
		{"title=match.^B.y", true},
		{"title=match.^b", false},
		{"title=imatch.^b.Y", true},
		{"title=match.milk$", true},
		{"title=not.match.^X", true},
		// is.
		{"done=is.false", true},
		{"done=is.true", false},
		{"done=not.is.true", true},
		{"done=is.unknown", false},
		{"done=is.null", false},
		{"done=not.is.null", true},
		{"deleted_at=is.null", true},
		{"deleted_at=not.is.null", false},
		{"deleted_at=is.unknown", false}, // IS UNKNOWN needs a boolean column: an error
		{"title=is.true", false},
		// bool values: PostgreSQL's boolean input.
		{"done=eq.false", true},
		{"done=eq.f", true},
		{"done=eq.no", true},
		{"done=eq.off", true},
		{"done=eq.0", true},
		{"done=eq.true", false},
		{"done=neq.TRUE", true},
		{"done=eq.maybe", false},
		{"done=lt.true", true},
		// NULL fails every operator but is and isdistinct, negated or not.
		{"deleted_at=eq.2026-01-01", false},
		{"deleted_at=not.eq.2026-01-01", false},
		{"deleted_at=neq.2026-01-01", false},
		{"deleted_at=in.(2026-01-01)", false},
		{"deleted_at=not.in.(2026-01-01)", false},
		{"deleted_at=like.%", false},
		{"deleted_at=not.like.x", false},
		{"deleted_at=match..", false},
		{"deleted_at=isdistinct.2026-01-01", true},
		{"deleted_at=not.isdistinct.2026-01-01", false},
		// isdistinct on values.
		{"id=isdistinct.42", false},
		{"id=isdistinct.41", true},
		{"id=not.isdistinct.42", true},
		// times.
		{"due=eq.2026-08-22 09:00:00Z", true},
		{"due=eq.2026-08-22T11:00:00+02:00", true},
		{"due=eq.2026-08-22T09:00:00", true}, // no offset: UTC
		{"due=lt.2026-08-22T09:00:00.001Z", true},
		{"due=gt.infinity", false},
		{"due=gt.-infinity", true},
		{"due=eq.not a time", false},
		{"local=eq.2026-08-22T09:00:00+05:00", true}, // timestamp ignores the offset
		{"day=eq.2026-08-22", true},
		{"day=eq.2026-08-22 23:59:59", true},
		{"day=gt.2026-08-21", true},
		// citext, bpchar, uuid, jsonb.
		{"email=eq.bob@example.com", true},
		{"code=eq.AB", true},
		{"code=eq.AB ", true},
		{"uid=eq.a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},
		{"uid=eq.{a0eebc999c0b4ef8bb6d6bb9bd380a11}", true},
		{`meta=eq."{\"q\": [1, 2], \"p\": 1.0}"`, true},
		{`meta=eq."{\"q\": [2, 1], \"p\": 1}"`, false},
		// Conditions are ANDed; a missing column fails.
		{"id=gt.0,id=lt.100", true},
		{"id=gt.0,id=lt.10", false},
		{"id=gt.0, title=eq.Buy milk", true},
		{"missing=eq.1", false},
		{"missing=is.null", false},
		{"missing=not.eq.1", false},
		// No filter.
		{"", true},
		{"   ", true},
	}
	for _, tt := range tests {
		got, err := testutil.MatchFilterForTest(tt.filter, json.RawMessage(filterRow), filterColumns)
		if err != nil {
			t.Errorf("filter %q: %v", tt.filter, err)
			continue
		}
		if got != tt.want {
			t.Errorf("filter %q = %v; want %v", tt.filter, got, tt.want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		filter, want string
	}{
		{"wrong", "Error parsing `filter` params: [\"wrong\"]"},
		{"id=foo.1", "Error parsing `filter` params: [\"foo\", \"1\"]"},
		{"id=eq", "Error parsing `filter` params: [\"eq\"]"},
		{"id=not.eq", "Error parsing `filter` params: [\"eq\"]"},
		{"undefined", "Error parsing `filter` params: [\"undefined\"]"},
		{`id="a#{b}"`, "Error parsing `filter` params: [\"\\\"a\\#{b}\\\"\"]"},
		{"id=in.1", "Error parsing `filter` params: `in` filter value must be wrapped by parentheses"},
		{"id=in.(1,2", "Error parsing `filter` params: `in` filter value must be wrapped by parentheses"},
		{"id=eq.1,", "Error parsing `filter` params: filter must not contain empty segments (check for extra commas)"},
		{"id=eq.1,,id=eq.2", "Error parsing `filter` params: filter must not contain empty segments (check for extra commas)"},
		{`name=eq.O'Brien\, Jr.`, "Error parsing `filter` params: [\"Jr.\"]"}, // \, is no escape
		{"id=EQ.1", "Error parsing `filter` params: [\"EQ\", \"1\"]"},
		{"id=is.NULL", "ERROR P0001 (raise_exception) invalid value for is filter: must be null, true, false, or unknown"},
		{"id=is.nothing", "ERROR P0001 (raise_exception) invalid value for is filter: must be null, true, false, or unknown"},
		{"id=in.(1,,2)", `ERROR 22P02 (invalid_text_representation) malformed array literal: "{1,,2}"`},
		{`id=in.(a"b)`, `ERROR 22P02 (invalid_text_representation) malformed array literal: "{a\"b}"`},
		{"title=match.(", "ERROR P0001 (raise_exception) invalid regular expression for match filter: invalid regular expression: error parsing regexp: missing closing ): `(`"},
	}
	for _, tt := range tests {
		_, err := testutil.MatchFilterForTest(tt.filter, json.RawMessage(filterRow), filterColumns)
		got := "<nil>"
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("filter %q: error %s\nwant %s", tt.filter, got, tt.want)
		}
	}
	many := "id=in.("
	for i := range 101 {
		if i > 0 {
			many += ","
		}
		many += "1"
	}
	if _, err := testutil.MatchFilterForTest(many+")", json.RawMessage(filterRow), filterColumns); err == nil || err.Error() != "ERROR P0001 (raise_exception) too many values for `in` filter. Maximum 100" {
		t.Errorf("101 values in in: %v", err)
	}
}

// TestFilterAgreesWithPgchanges checks that the server-side parser reads the filters the
// pgchanges builders write as pgchanges.ParseFilter reads them.
func TestFilterAgreesWithPgchanges(t *testing.T) {
	b := pgchanges.On(pgchanges.All, "public", "t").Filter(
		pgchanges.Eq("name", "a,b"),
		pgchanges.Eq("q", `say "hi" \o/`),
		pgchanges.Not(pgchanges.In("status", "draft", "archived")),
		pgchanges.In("s", "a b", `q"x`, "NULL", "", "{x}", "(y)"),
		pgchanges.Is("deleted_at", pgchanges.IsNull),
		pgchanges.Not(pgchanges.Is("flag", pgchanges.IsTrue)),
		pgchanges.Like("title", "%milk%"),
		pgchanges.ILike("title", "a_b"),
		pgchanges.Match("code", `^[A-Z]+\d*$`),
		pgchanges.IMatch("code", "x|y"),
		pgchanges.IsDistinct("n", 5),
		pgchanges.Gte("ts", time.Date(2026, 8, 21, 10, 0, 0, 500, time.UTC)),
		pgchanges.Lt("amount", json.Number("12345678901234567890.5")),
		pgchanges.Neq("sp", " padded "),
	)
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	filter := b.FilterString()
	want, err := pgchanges.ParseFilter(filter)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.ParseFilterForTest(filter)
	if err != nil {
		t.Fatalf("ParseFilterForTest(%q): %v", filter, err)
	}
	var wantConds []testutil.FilterCondForTest
	for _, c := range want {
		wantConds = append(wantConds, testutil.FilterCondForTest{Column: c.Column(), Op: c.Op(), Negated: c.Negated(), Values: c.Values()})
	}
	if diff := cmp.Diff(wantConds, got); diff != "" {
		t.Errorf("filter %s (-pgchanges +server):\n%s", filter, diff)
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, pattern string
		fold       bool
		want, ok   bool
	}{
		{"", "%", false, true, true},
		{"", "", false, true, true},
		{"abc", "", false, false, true},
		{"abc", "abc", false, true, true},
		{"abc", "a_c", false, true, true},
		{"abc", "a_", false, false, true},
		{"abc", "%c", false, true, true},
		{"abc", "%b%", false, true, true},
		{"abc", "%%%", false, true, true},
		{"abcbc", "%bc", false, true, true},
		{"abcbd", "a%b_", false, true, true},
		{"aXbXc", "a%b%c", false, true, true},
		{"a%", `a\%`, false, true, true},
		{"ab", `a\%`, false, false, true},
		{`a\`, `a\\`, false, true, true},
		{"ab", `ab\`, false, false, false},
		{"ABC", "a%", false, false, true},
		{"ABC", "a%", true, true, true},
		{"Ééa", "éé_", true, true, true},
		{"日本語", "日_語", false, true, true},
		{"a*c", "a*c", false, true, true},
		{"abc", "a*c", false, false, true},
	}
	for _, tt := range tests {
		got, ok := testutil.LikeForTest(tt.s, tt.pattern, tt.fold)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LIKE(%q, %q, fold %v) = %v, %v; want %v, %v", tt.s, tt.pattern, tt.fold, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBindingErrors(t *testing.T) {
	tests := []struct {
		item, want string
	}{
		{`{"event":"*","schema":"public","table":"todos"}`, ""},
		{`{"event":"insert","schema":"public"}`, ""},
		{`{"table":"todos"}`, ""},
		{`{"event":"whatever","schema":"*","table":"*"}`, ""},
		{`{"event":"*","schema":"public","table":"todos","filter":"wrong"}`, "Error parsing `filter` params: [\"wrong\"]"},
		{`{"event":"*","schema":"public","table":"todos","filter":null}`,
			"No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: " +
				`%{"event" => "*", "filter" => nil, "schema" => "public", "table" => "todos"}`},
		{`{"event":"*","table":"todos","filter":"id=eq.1"}`,
			"No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: " +
				`%{"event" => "*", "filter" => "id=eq.1", "table" => "todos"}`},
		{`{"event":"*","n":1.0,"m":1e20,"k":[true,7]}`,
			"No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: " +
				`%{"event" => "*", "k" => [true, 7], "m" => 1.0e20, "n" => 1.0}`},
		{`{}`, "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %{}"},
		{`{"user_token":"secret"}`, "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: <redacted>"},
		{`{"schema":"public","table":"todos","select":"id"}`,
			"Error parsing `select` params: expected a list of column name strings, e.g. select: [\"col1\", \"col2\"]"},
		{`{"schema":"public","select":["id"]}`,
			"Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name."},
		{`{"schema":"public","table":"todos","select":[]}`, ""},
		{`{"event":"DELETE","schema":"public","table":"todos","filter":"id=is.NULL","select":["b","a"]}`,
			"Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: " +
				`[event: DELETE, schema: public, table: todos, filters: [{"id", "is", "NULL", false}], select: ["b", "a"]]. ` +
				"Exception: ERROR P0001 (raise_exception) invalid value for is filter: must be null, true, false, or unknown"},
		{`{"event":"*","schema":"public","table":"todos","filter":"id=not.in.(1,,2)"}`,
			"Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: " +
				`[event: *, schema: public, table: todos, filters: [{"id", "in", "{1,,2}", true}], select: nil]. ` +
				`Exception: ERROR 22P02 (invalid_text_representation) malformed array literal: "{1,,2}"`},
	}
	for _, tt := range tests {
		if got := testutil.BindingErrorForTest(tt.item); got != tt.want {
			t.Errorf("binding %s:\n got %s\nwant %s", tt.item, got, tt.want)
		}
	}
}
