package pgchanges_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/pgchanges"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		insertData, updateData, deleteData, everyType, benchData,
		`{"columns":[],"commit_timestamp":null,"errors":["Error 401: Unauthorized"],"record":{},"schema":"public","table":"t","type":"INSERT"}`,
		`{"data":` + insertData + `,"ids":[1,"2"]}`,
		`{"t\u0079pe":"INSERT","schema":"caf\u00e9","record":{"a\"b":[1,{"c":null}]}}`,
		`{"type":"INSERT","record":{"a":1e5,"b":-0.5E-3,"c":"\ud83d\ude00\ud800"}}`,
		`{"type":"INSERT","commit_timestamp":"0044-03-15T10:00:00 BC"}`,
	} {
		f.Add([]byte(s))
	}
	var shared pgchanges.Parser // reused across inputs, as a client would
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := pgchanges.Parse(data)
		if err != nil && !errors.Is(err, pgchanges.ErrMalformed) {
			t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
		}
		if err == nil && !json.Valid(data) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		for _, p := range []*pgchanges.Parser{new(pgchanges.Parser), &shared, &shared} {
			c2, err2 := p.Parse(data)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("Parse = %v but Parser.Parse = %v", err, err2)
			}
			if diff := cmp.Diff(c, c2); diff != "" {
				t.Fatalf("Parse and Parser.Parse differ (-Parse +Parser):\n%s", diff)
			}
		}
		if _, _, err := pgchanges.ParsePayload(data); err != nil && !errors.Is(err, pgchanges.ErrMalformed) {
			t.Fatalf("ParsePayload error %v does not wrap ErrMalformed", err)
		}
		if err != nil {
			return
		}
		_ = c.String()
		for _, values := range []func() (map[string]any, error){c.Values, c.OldValues} {
			if _, err := values(); err != nil && !errors.Is(err, pgchanges.ErrMalformed) {
				t.Fatalf("Values error %v does not wrap ErrMalformed", err)
			}
		}
		for _, col := range c.Columns {
			_, _ = c.Value(col.Name)
		}
		// Untyped, the values are exactly what encoding/json makes of the record.
		if c.Record != nil {
			var want map[string]any
			if err := c.Record.Decode(&want); err != nil {
				t.Fatalf("encoding/json rejects the record %s: %v", c.Record, err)
			}
			untyped := c
			untyped.Columns = nil
			got, err := untyped.Values()
			if err != nil {
				t.Fatalf("Values() without column types = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Values() without column types differs from encoding/json (-json +Values):\n%s", diff)
			}
		}
		_, _ = pgchanges.Decode[everything](c)
		_, _ = pgchanges.DecodeOld[map[string]any](c)
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"room_id=eq.42", "id=gt.0,id=lt.100", "status=not.in.(draft,archived)", `name=eq."a,b"`,
		`name=in.("a,b",c,"d\"e","")`, "d=is.null", "v=eq.f(a,b)", `v=eq."abc`, `a=eq.1,b=eq.x"y`,
		"  ", "id=eq.1,,id=eq.2", "x=foo.1", "=eq.1", "id=in.1,2", "n=isdistinct.5,m=imatch.^a",
		`p=like."%, (sic)"`, "s=in.( a , NULL )", "t=eq.\u00a0x\u00a0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		conds, err := pgchanges.ParseFilter(filter)
		if err != nil {
			if !errors.Is(err, pgchanges.ErrInvalidArgument) {
				t.Fatalf("ParseFilter(%q) error %v does not wrap ErrInvalidArgument", filter, err)
			}
			return
		}
		b := pgchanges.On(pgchanges.All, "public", "t").Filter(conds...)
		if err := b.Validate(); err != nil {
			t.Fatalf("ParseFilter(%q) gave conditions the builder rejects: %v", filter, err)
		}
		again, err := pgchanges.ParseFilter(b.FilterString())
		if err != nil {
			t.Fatalf("ParseFilter(%q) = %v, rebuilt from ParseFilter(%q)", b.FilterString(), err, filter)
		}
		if diff := cmp.Diff(conds, again); diff != "" {
			t.Fatalf("round trip of %q through %q (-first +second):\n%s", filter, b.FilterString(), diff)
		}
		raw := pgchanges.On(pgchanges.All, "public", "t").FilterRaw(filter)
		if err := raw.Validate(); err != nil {
			t.Fatalf("FilterRaw(%q).Validate() = %v, but ParseFilter accepts it", filter, err)
		}
	})
}

func FuzzConvert(f *testing.F) {
	for _, s := range [][2]string{
		{"int8", `9007199254740993`}, {"numeric", `12.50`}, {"numeric", `"NaN"`}, {"float8", `"-Infinity"`},
		{"bool", `true`}, {"jsonb", `{"a":[1,"x",null]}`}, {"text", `"x"`}, {"date", `"2026-08-21"`},
		{"time", `"10:15:30.5"`}, {"timetz", `"10:15:30+02:00"`}, {"timestamp", `"2026-08-21T10:15:30.118532"`},
		{"timestamptz", `"2026-08-21T10:15:30.118532+00:00"`}, {"bytea", `"0102"`}, {"bytea", `"\\x0102"`},
		{"_int4", `[[1,2],[3,null]]`}, {"_text", `"{a,\"b,c\",NULL}"`}, {"_jsonb", `"{\"{}\",1}"`},
		{"int4range", `"[1,10)"`}, {"tstzrange", `"[\"2026-08-21 10:00:00+00\",)"`}, {"mood", `"happy"`},
		{"_date", `"[1:1]={2026-08-21}"`}, {"_numeric", `[1.5,"Infinity"]`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		if _, err := pgchanges.Convert(typ, raw); err != nil && !errors.Is(err, pgchanges.ErrMalformed) {
			t.Fatalf("Convert error %v does not wrap ErrMalformed", err)
		}
		if !json.Valid(raw) {
			return
		}
		// The same value through typed decoding, into many Go types.
		data, _ := json.Marshal(map[string]any{
			"type": "INSERT", "columns": []map[string]string{{"name": "v", "type": typ}},
			"record": map[string]json.RawMessage{"v": raw},
		})
		c, err := pgchanges.Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", data, err)
		}
		_, _ = c.Value("v")
		decodeAs[struct{ V int64 }](t, c)
		decodeAs[struct{ V *uint8 }](t, c)
		decodeAs[struct{ V float32 }](t, c)
		decodeAs[struct{ V bool }](t, c)
		decodeAs[struct{ V string }](t, c)
		decodeAs[struct{ V []byte }](t, c)
		decodeAs[struct{ V time.Time }](t, c)
		decodeAs[struct{ V []int64 }](t, c)
		decodeAs[struct{ V [][]*string }](t, c)
		decodeAs[struct{ V []time.Time }](t, c)
		decodeAs[struct{ V any }](t, c)
		decodeAs[struct{ V pgchanges.Numeric }](t, c)
		decodeAs[struct{ V json.Number }](t, c)
		decodeAs[struct{ V *big.Rat }](t, c)
		decodeAs[struct{ V json.RawMessage }](t, c)
		decodeAs[struct{ V map[string]any }](t, c)
		decodeAs[struct{ V pgchanges.Range }](t, c)
		decodeAs[struct{ V pgchanges.TimeOfDay }](t, c)
		decodeAs[struct{ V []pgchanges.Range }](t, c)
	})
}

// decodeAs decodes c into a T and checks that a failure is a *ColumnError.
func decodeAs[T any](t *testing.T, c pgchanges.Change) {
	t.Helper()
	if _, err := pgchanges.Decode[T](c); err != nil {
		var ce *pgchanges.ColumnError
		if !errors.As(err, &ce) || ce.Column != "v" {
			t.Fatalf("Decode[%T] = %v; want a *ColumnError for v", *new(T), err)
		}
	}
}
