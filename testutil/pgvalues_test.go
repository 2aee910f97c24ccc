package testutil_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // America/New_York, whatever the machine has

	"github.com/go-supabase/realtime/internal/pgtest"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// TestPostgresValues checks that the fake server sends the bytes a real one does: for every
// case of pgtest.Cases, in a UTC and a New York session, EncodeValue of the Go value
// pgchanges.Convert reads from PostgreSQL's JSON writes that JSON back byte for byte; Record of
// all of them is PostgreSQL's record; and InjectChange delivers that record unchanged, with and
// without select. It needs the PostgreSQL server binaries.
func TestPostgresValues(t *testing.T) {
	cluster := pgtest.Start(t)
	truth := cluster.Query(t, pgtest.Cases)
	t.Logf("%d cases (%d values in %d time zones) against %s", len(truth.Results), len(pgtest.Cases), len(pgtest.Zones), cluster.Version)
	var columns []pgchanges.Column
	for _, cs := range pgtest.Cases {
		columns = append(columns, pgchanges.Column{Name: cs.Name, Type: cs.Type})
	}
	values := map[string]map[string]any{}
	for _, r := range truth.Results {
		loc, err := time.LoadLocation(r.Zone)
		if err != nil {
			t.Fatal(err)
		}
		v, err := pgchanges.Convert(r.Type, r.Wire)
		if err != nil {
			t.Errorf("%s/%s: Convert(%q, %s): %v", r.Zone, r.Name, r.Type, r.Wire, err)
			continue
		}
		if r.Type == "timestamptz" || r.Type == "_timestamptz" {
			v = inZone(v, loc) // PostgreSQL writes them with the session's offset
		}
		if values[r.Zone] == nil {
			values[r.Zone] = map[string]any{}
		}
		values[r.Zone][r.Name] = v
		got, err := testutil.EncodeValue(r.Type, v)
		if err != nil || string(got) != string(r.Wire) {
			t.Errorf("%s/%s: EncodeValue(%q, %#v) = %s, %v; PostgreSQL wrote %s", r.Zone, r.Name, r.Type, v, got, err, r.Wire)
		}
	}
	for _, zone := range pgtest.Zones {
		got, err := testutil.Record(columns, values[zone])
		if err != nil || string(got) != truth.Records[zone] {
			t.Errorf("%s: Record of every case = %s, %v\nPostgreSQL wrote %s", zone, got, err, truth.Records[zone])
		}
	}

	// The fake server passes PostgreSQL's record through, whole or selected.
	record := truth.Records["UTC"]
	selected := []string{"int8_2p53p1", "numeric_scale", "tstz", "text_escapes", "jsonb_obj", "int4_arr3"}
	var sub map[string]json.RawMessage
	if err := json.Unmarshal([]byte(record), &sub); err != nil {
		t.Fatal(err)
	}
	keep := map[string]any{"bool_t": true} // the primary key
	for _, name := range selected {
		keep[name] = json.RawMessage(sub[name])
	}
	wantSelected, err := testutil.Record(columns, keep)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := dial(t, srv, transport.V2)
		c.join("db", "1", pgConfig(`{"event":"INSERT","schema":"public","table":"all_types"}`))
		c.join("sel", "2", pgConfig(`{"event":"INSERT","schema":"public","table":"all_types","select":`+jsonList(selected)+`}`))
		c.rest()
		n := srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "all_types", Columns: columns,
			PrimaryKey: []string{"bool_t"}, Record: json.RawMessage(record), CommitTimestamp: "2026-08-21T10:15:30.123Z"})
		if n != 2 {
			t.Fatalf("InjectChange reached %d channels; want 2", n)
		}
		for _, f := range c.rest() {
			m := decode(t, f)
			var p struct {
				Data struct {
					Record json.RawMessage `json:"record"`
				} `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatal(err)
			}
			want := record
			if m.Topic == "realtime:sel" {
				want = string(wantSelected)
			}
			if string(p.Data.Record) != want {
				t.Errorf("%s: record %s\nwant %s", m.Topic, p.Data.Record, want)
			}
		}
	})
}

// inZone returns v with its times (at any depth of arrays) in loc.
func inZone(v any, loc *time.Location) any {
	switch x := v.(type) {
	case time.Time:
		return x.In(loc)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = inZone(e, loc)
		}
		return out
	}
	return v
}

// jsonList writes strings as a JSON array.
func jsonList(s []string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestEncodeValue(t *testing.T) {
	i := int32(7)
	for _, tc := range []struct {
		typ  string
		v    any
		want string
	}{
		{"int4", &i, `7`},
		{"int4", (*int32)(nil), `null`},
		{"int8", uint64(1) << 63, `9223372036854775808`},
		{"numeric", 1.25, `1.25`},
		{"numeric", pgchanges.Numeric("-1.50e-2"), `-0.0150`},
		{"numeric", "1e3", `1000`},
		{"float8", -0.0, `0`},
		{"float4", float32(0.1), `0.1`},
		{"timestamptz", time.Date(2026, 8, 21, 10, 15, 30, 1500, time.FixedZone("", 5*3600+30*60)), `"2026-08-21T10:15:30.000002+05:30"`},
		{"timestamp", time.Date(-43, 3, 15, 12, 0, 0, 0, time.UTC), `"0044-03-15T12:00:00 BC"`},
		{"date", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"10000-01-01"`},
		{"date", "infinity", `"infinity"`},
		{"_int4", [][]int32{{1, 2}, {3, 4}}, `[[1, 2], [3, 4]]`},
		{"_text", []*string{nil}, `[null]`},
		{"_bytea", [][]byte{{1}}, `["\\x01"]`},
		{"bytea", []byte{1, 255}, `"01ff"`},
		{"jsonb", map[string]any{"bb": 1, "a": []any{json.Number("1e2")}, "c": "\u2028"}, "{\"a\": [100], \"c\": \"\u2028\", \"bb\": 1}"},
		{"jsonb", json.RawMessage(`{"a":1,"a":2}`), `{"a": 2}`},
		{"mood", "happy", `"happy"`},
		{"text", "a\x00\x7f", `"a\u0000` + "\x7f" + `"`},
	} {
		got, err := testutil.EncodeValue(tc.typ, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("EncodeValue(%q, %#v) = %s, %v; want %s", tc.typ, tc.v, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		typ string
		v   any
	}{
		{"int4", 1.5}, {"bool", 1}, {"numeric", "x"}, {"_int4", 1}, {"date", 1},
	} {
		if got, err := testutil.EncodeValue(tc.typ, tc.v); err == nil {
			t.Errorf("EncodeValue(%q, %#v) = %s; want an error", tc.typ, tc.v, got)
		}
	}
	if _, err := testutil.Record([]pgchanges.Column{{Name: "a", Type: "int4"}}, map[string]any{"a": "x"}); err != nil {
		// a string is sent as a JSON string for every type
		t.Errorf("Record with a string: %v", err)
	}
	if _, err := testutil.Record([]pgchanges.Column{{Name: "a", Type: "int4"}}, map[string]any{"a": 1.5}); err == nil ||
		!strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Record with a float in an int4 column: %v; want an error naming the column", err)
	}
}
