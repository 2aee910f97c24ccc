package pgchanges_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/pgchanges"
)

type status string

type stringer struct{}

func (stringer) String() string { return "from String" }

func TestConditionString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cond pgchanges.Condition
		want string
	}{
		{"eq int", pgchanges.Eq("room_id", 42), "room_id=eq.42"},
		{"neq string", pgchanges.Neq("status", "draft"), "status=neq.draft"},
		{"lt", pgchanges.Lt("n", -3), "n=lt.-3"},
		{"lte", pgchanges.Lte("n", uint8(7)), "n=lte.7"},
		{"gt int64", pgchanges.Gt("id", int64(9007199254740993)), "id=gt.9007199254740993"},
		{"gte uint64", pgchanges.Gte("id", uint64(math.MaxUint64)), "id=gte.18446744073709551615"},
		{"like", pgchanges.Like("name", "Jo%"), "name=like.Jo%"},
		{"ilike", pgchanges.ILike("name", "%jo%"), "name=ilike.%jo%"},
		{"match", pgchanges.Match("name", "^a.*z$"), "name=match.^a.*z$"},
		{"imatch", pgchanges.IMatch("name", "^A"), "name=imatch.^A"},
		{"isdistinct", pgchanges.IsDistinct("owner", "bob"), "owner=isdistinct.bob"},
		{"in", pgchanges.In("status", "draft", "archived"), "status=in.(draft,archived)"},
		{"in ints", pgchanges.In("id", 1, 2, 3), "id=in.(1,2,3)"},
		{"in quoted", pgchanges.In("name", "a,b", "", "NULL", "x y", "{z}", `q"`), `name=in.("a,b","","NULL","x y","{z}","q\"")`},
		{"is null", pgchanges.Is("deleted_at", pgchanges.IsNull), "deleted_at=is.null"},
		{"is true", pgchanges.Is("done", pgchanges.IsTrue), "done=is.true"},
		{"is false", pgchanges.Is("done", pgchanges.IsFalse), "done=is.false"},
		{"is unknown", pgchanges.Is("done", pgchanges.IsUnknown), "done=is.unknown"},
		{"not in", pgchanges.Not(pgchanges.In("status", "draft", "archived")), "status=not.in.(draft,archived)"},
		{"not eq", pgchanges.Not(pgchanges.Eq("id", 1)), "id=not.eq.1"},
		{"not is", pgchanges.Not(pgchanges.Is("x", pgchanges.IsNull)), "x=not.is.null"},
		{"not not", pgchanges.Not(pgchanges.Not(pgchanges.Eq("id", 1))), "id=eq.1"},
		{"comma", pgchanges.Eq("name", "a,b"), `name=eq."a,b"`},
		{"parens", pgchanges.Eq("name", "f(x)"), `name=eq."f(x)"`},
		{"quote", pgchanges.Eq("name", `say "hi"`), `name=eq."say \"hi\""`},
		{"backslash", pgchanges.Eq("path", `C:\tmp`), `path=eq."C:\\tmp"`},
		{"space", pgchanges.Eq("name", "a b"), `name=eq."a b"`},
		{"leading space", pgchanges.Eq("name", " a"), `name=eq." a"`},
		{"trailing tab", pgchanges.Eq("name", "a\t"), "name=eq.\"a\t\""},
		{"dots need no quotes", pgchanges.Eq("v", "1.2.3"), "v=eq.1.2.3"},
		{"empty string", pgchanges.Eq("v", ""), "v=eq."},
		{"bool", pgchanges.Eq("done", true), "done=eq.true"},
		{"float", pgchanges.Eq("score", 1.5), "score=eq.1.5"},
		{"float integral", pgchanges.Eq("score", 1e6), "score=eq.1000000"},
		{"float huge", pgchanges.Eq("score", 1e300), "score=eq.1e+300"},
		{"float tiny", pgchanges.Eq("score", 1e-9), "score=eq.1e-09"},
		{"float32", pgchanges.Eq("score", float32(0.1)), "score=eq.0.1"},
		{"NaN", pgchanges.Eq("score", math.NaN()), "score=eq.NaN"},
		{"Inf", pgchanges.Eq("score", math.Inf(-1)), "score=eq.-Infinity"},
		{"json.Number", pgchanges.Eq("n", json.Number("12345678901234567890.5")), "n=eq.12345678901234567890.5"},
		{"Numeric", pgchanges.Eq("n", pgchanges.Numeric("12.50")), "n=eq.12.50"},
		{"big.Rat", pgchanges.Eq("n", big.NewRat(5, 4)), "n=eq.1.25"},
		{"big.Float", pgchanges.Eq("n", big.NewFloat(2.5)), "n=eq.2.5"},
		{"time", pgchanges.Gt("at", time.Date(2026, 8, 21, 10, 15, 30, 123000000, time.UTC)), "at=gt.2026-08-21T10:15:30.123Z"},
		{"time zone", pgchanges.Gt("at", time.Date(2026, 8, 21, 10, 0, 0, 0, time.FixedZone("", 2*3600))), "at=gt.2026-08-21T10:00:00+02:00"},
		{"duration", pgchanges.Gt("wait", 90*time.Minute+500*time.Millisecond), "wait=gt.PT5400.5S"},
		{"bytes", pgchanges.Eq("blob", []byte{1, 2, 0xff}), `blob=eq."\\x0102ff"`},
		{"named string", pgchanges.Eq("status", status("open")), "status=eq.open"},
		{"pointer", pgchanges.Eq("n", new(int)), "n=eq.0"},
		{"stringer", pgchanges.Eq("s", stringer{}), `s=eq."from String"`},
		{"unicode", pgchanges.Eq("name", "café"), "name=eq.café"},
		{"no-break space", pgchanges.Eq("name", "a\u00a0"), "name=eq.\"a\u00a0\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.cond.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			if got := tt.cond.String(); got != tt.want {
				t.Errorf("String() = %q; want %q", got, tt.want)
			}
			// Whatever the builder writes, the parser reads back.
			conds, err := pgchanges.ParseFilter(tt.want)
			if err != nil {
				t.Fatalf("ParseFilter(%q) = %v", tt.want, err)
			}
			if diff := cmp.Diff([]pgchanges.Condition{tt.cond}, conds); diff != "" {
				t.Errorf("ParseFilter(%q) (-want +got):\n%s", tt.want, diff)
			}
		})
	}
}

func TestConditionAccessors(t *testing.T) {
	t.Parallel()
	type view struct {
		Column, Op string
		Negated    bool
		Values     []string
	}
	of := func(c pgchanges.Condition) view { return view{c.Column(), c.Op(), c.Negated(), c.Values()} }
	tests := []struct {
		cond pgchanges.Condition
		want view
	}{
		{pgchanges.Eq("name", "a,b"), view{"name", "eq", false, []string{"a,b"}}},
		{pgchanges.Not(pgchanges.In("s", "x y", 2)), view{"s", "in", true, []string{"x y", "2"}}},
		{pgchanges.Is("d", pgchanges.IsNull), view{"d", "is", false, []string{"null"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, of(tt.cond)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.cond, diff)
		}
	}
	c := pgchanges.In("s", "a")
	c.Values()[0] = "changed"
	if got := c.Values()[0]; got != "a" {
		t.Errorf("Values() shares its slice: after a write it is %q", got)
	}
}

func TestConditionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cond pgchanges.Condition
	}{
		{"zero", pgchanges.Condition{}},
		{"empty column", pgchanges.Eq("", 1)},
		{"column with comma", pgchanges.Eq("a,b", 1)},
		{"column with equals", pgchanges.Eq("a=b", 1)},
		{"column with paren", pgchanges.Eq("f(x)", 1)},
		{"column with quote", pgchanges.Eq(`"a"`, 1)},
		{"column with space around", pgchanges.Eq(" a", 1)},
		{"nil value", pgchanges.Eq("a", nil)},
		{"nil pointer", pgchanges.Eq("a", (*int)(nil))},
		{"unsupported type", pgchanges.Eq("a", map[string]int{})},
		{"struct", pgchanges.Eq("a", struct{}{})},
		{"in without values", pgchanges.In("a")},
		{"in with nil", pgchanges.In("a", 1, nil)},
		{"is other", pgchanges.Is("a", "maybe")},
		{"inexact rat", pgchanges.Eq("a", big.NewRat(1, 3))},
		{"negated bad", pgchanges.Not(pgchanges.In("a"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cond.Err()
			if !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Errorf("Err() = %v; want ErrInvalidArgument", err)
			}
			b := pgchanges.On(pgchanges.Insert, "public", "t").Filter(pgchanges.Eq("ok", 1), tt.cond)
			if err := b.Validate(); !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Errorf("Validate() = %v; want ErrInvalidArgument", err)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   []pgchanges.Condition
	}{
		{"", nil},
		{"   \t", nil},
		{"room_id=eq.42", []pgchanges.Condition{pgchanges.Eq("room_id", 42)}},
		{"  room_id=eq.42  ", []pgchanges.Condition{pgchanges.Eq("room_id", 42)}},
		{"id=gt.0,id=lt.100", []pgchanges.Condition{pgchanges.Gt("id", 0), pgchanges.Lt("id", 100)}},
		{"id=gt.0 , id=lt.100", []pgchanges.Condition{pgchanges.Gt("id", 0), pgchanges.Lt("id", 100)}},
		{"status=not.in.(draft,archived)", []pgchanges.Condition{pgchanges.Not(pgchanges.In("status", "draft", "archived"))}},
		{"status=in.( a , b )", []pgchanges.Condition{pgchanges.In("status", "a", "b")}},
		{`name=in.("a,b",c,"d\"e","")`, []pgchanges.Condition{pgchanges.In("name", "a,b", "c", `d"e`, "")}},
		{`name=eq."a,b",id=eq.1`, []pgchanges.Condition{pgchanges.Eq("name", "a,b"), pgchanges.Eq("id", 1)}},
		{`name=eq."a\"b\\c"`, []pgchanges.Condition{pgchanges.Eq("name", `a"b\c`)}},
		{`name=eq." padded "`, []pgchanges.Condition{pgchanges.Eq("name", " padded ")}},
		{"v=eq.1.2.3", []pgchanges.Condition{pgchanges.Eq("v", "1.2.3")}},
		{"v=eq.a=b", []pgchanges.Condition{pgchanges.Eq("v", "a=b")}},
		{"v=eq.", []pgchanges.Condition{pgchanges.Eq("v", "")}},
		{"v=eq.not.x", []pgchanges.Condition{pgchanges.Eq("v", "not.x")}},
		{"d=is.NULL", []pgchanges.Condition{pgchanges.Is("d", "NULL")}},
		{`d=is."null"`, []pgchanges.Condition{pgchanges.Is("d", pgchanges.IsNull)}},
		{"d=not.is.true", []pgchanges.Condition{pgchanges.Not(pgchanges.Is("d", pgchanges.IsTrue))}},
		{"n=isdistinct.5,m=imatch.^a,o=match.b$,p=ilike.%c,q=like.d%,r=neq.1,s=lte.2,u=gte.3",
			[]pgchanges.Condition{
				pgchanges.IsDistinct("n", 5), pgchanges.IMatch("m", "^a"), pgchanges.Match("o", "b$"), pgchanges.ILike("p", "%c"),
				pgchanges.Like("q", "d%"), pgchanges.Neq("r", 1), pgchanges.Lte("s", 2), pgchanges.Gte("u", 3),
			}},
		// As on the server: parentheses protect commas even outside in lists, and a value
		// that starts with a quote but is not well-formed is kept as it is.
		{"v=eq.f(a,b)", []pgchanges.Condition{pgchanges.Eq("v", "f(a,b)")}},
		{`v=eq."abc`, []pgchanges.Condition{pgchanges.Eq("v", `"abc`)}},
		{`v=eq."a"b`, []pgchanges.Condition{pgchanges.Eq("v", `"a"b`)}},
		// A quote after a segment-ending comma does not open a quoted section.
		{`a=eq.1,b=eq.x"y`, []pgchanges.Condition{pgchanges.Eq("a", 1), pgchanges.Eq("b", `x"y`)}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			got, err := pgchanges.ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q) = %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFilter(%q) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	for _, filter := range []string{
		"id=eq.1,,id=eq.2",          // empty segment
		"id=eq.1,",                  // trailing comma
		",id=eq.1",                  // leading comma
		"id=eq.1, ,id=eq.2",         // blank segment
		"undefined",                 // no =
		"subject=foo.hey",           // unknown operator
		"id=EQ.1",                   // operators are case-sensitive
		"id=not.foo.1",              // unknown negated operator
		"id=not.not.eq.1",           // double negation
		"id=eq",                     // no value
		"id=not.eq",                 // no value
		"=eq.1",                     // empty column
		"a b =eq.1",                 // column with trailing space
		"id=in.1,2",                 // in without parentheses
		"id=in.(1,2",                // unbalanced
		"id=in.()",                  // in with no values
		"id=in.(  )",                // in with no values
		"id=in.(1,,2)",              // empty element
		"id=in.(1,)",                // trailing comma in list
		`id=in.("a"b)`,              // junk after a quoted element
		`id=in.("a)`,                // unterminated quoted element
		`id=in.(a"b)`,               // quote inside an unquoted element
		"id=in.({1,2})",             // braces
		`id=in.(a\,b)`,              // backslash outside quotes
		"d=is.maybe",                // is with other values
		"d=is.",                     // is with nothing
		"id=eq.1,subject=bogus.hey", // one bad segment of several
	} {
		t.Run(filter, func(t *testing.T) {
			t.Parallel()
			if _, err := pgchanges.ParseFilter(filter); !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Errorf("ParseFilter(%q) = %v; want ErrInvalidArgument", filter, err)
			}
			b := pgchanges.On(pgchanges.All, "public", "t").FilterRaw(filter)
			if err := b.Validate(); !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Errorf("FilterRaw(%q).Validate() = %v; want ErrInvalidArgument", filter, err)
			}
		})
	}
}

func TestFilterRoundTrip(t *testing.T) {
	t.Parallel()
	conds := []pgchanges.Condition{
		pgchanges.Eq("room_id", 42),
		pgchanges.Not(pgchanges.In("status", "draft", "a,b", "(x)", `"q"`, `\`, " s ", "NULL", "")),
		pgchanges.Like("name", "%, (sic)"),
		pgchanges.Is("deleted_at", pgchanges.IsNull),
		pgchanges.Eq("note", "tab\there\nnewline"),
	}
	filter := pgchanges.On(pgchanges.All, "public", "t").Filter(conds...).FilterString()
	got, err := pgchanges.ParseFilter(filter)
	if err != nil {
		t.Fatalf("ParseFilter(%q) = %v", filter, err)
	}
	if diff := cmp.Diff(conds, got); diff != "" {
		t.Errorf("ParseFilter(%q) (-want +got):\n%s", filter, diff)
	}
}
