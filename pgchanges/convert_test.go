package pgchanges_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-supabase/realtime/pgchanges"
)

func TestConvert(t *testing.T) {
	t.Parallel()
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		typ  string
		raw  string
		want any
	}{
		{"bool", `true`, true},
		{"bool", `false`, false},
		{"bool", `"t"`, true},
		{"bool", `"f"`, false},
		{"int2", `-32768`, int64(-32768)},
		{"int4", `2147483647`, int64(2147483647)},
		{"int8", `9007199254740993`, int64(9007199254740993)},
		{"int8", `-9223372036854775808`, int64(math.MinInt64)},
		{"int8", `"42"`, int64(42)},
		{"oid", `4294967295`, int64(4294967295)},
		{"float4", `1.5`, 1.5},
		{"float8", `-2.5e-10`, -2.5e-10},
		{"float8", `"NaN"`, math.NaN()},
		{"float8", `"Infinity"`, math.Inf(1)},
		{"float4", `"-Infinity"`, math.Inf(-1)},
		{"numeric", `12345678901234567890.123456789`, pgchanges.Numeric("12345678901234567890.123456789")},
		{"numeric", `12.50`, pgchanges.Numeric("12.50")},
		{"numeric", `-0.000`, pgchanges.Numeric("-0.000")},
		{"numeric", `"NaN"`, pgchanges.Numeric("NaN")},
		{"numeric", `"Infinity"`, pgchanges.Numeric("Infinity")},
		{"numeric", `"-Infinity"`, pgchanges.Numeric("-Infinity")},
		{"jsonb", `{"a": [1, 2.5, "x", true, null], "b": {}}`, map[string]any{"a": []any{json.Number("1"), json.Number("2.5"), "x", true, nil}, "b": map[string]any{}}},
		{"json", `[1, 9007199254740993]`, []any{json.Number("1"), json.Number("9007199254740993")}},
		{"jsonb", `"123"`, "123"}, // a jsonb string stays a string
		{"jsonb", `"true"`, "true"},
		{"jsonb", `12.50`, json.Number("12.50")},
		{"jsonb", `false`, false},
		{"text", `"Buy milk"`, "Buy milk"},
		{"varchar", `"caf\u00e9"`, "café"},
		{"bpchar", `"ab  "`, "ab  "},
		{"name", `"pg_class"`, "pg_class"},
		{"citext", `"MiXeD"`, "MiXeD"},
		{"uuid", `"6f1c2a4e-8d3b-4c7a-9e2f-000000000042"`, "6f1c2a4e-8d3b-4c7a-9e2f-000000000042"},
		{"money", `"$1,234.50"`, "$1,234.50"},
		{"inet", `"192.168.0.1/24"`, "192.168.0.1/24"},
		{"cidr", `"10.0.0.0/8"`, "10.0.0.0/8"},
		{"macaddr", `"08:00:2b:01:02:03"`, "08:00:2b:01:02:03"},
		{"interval", `"1 day 02:00:00"`, "1 day 02:00:00"},
		{"bit", `"101"`, "101"},
		{"xml", `"<a/>"`, "<a/>"},
		{"tsvector", `"'fat' 'rat'"`, "'fat' 'rat'"},
		{"mood", `"happy"`, "happy"}, // an enum
		{"date", `"2026-08-21"`, date(2026, 8, 21)},
		{"date", `"2024-02-29"`, date(2024, 2, 29)},
		{"date", `"0044-03-15 BC"`, date(-43, 3, 15)},
		{"date", `"infinity"`, "infinity"},
		{"date", `"294276-12-31"`, date(294276, 12, 31)},
		{"timestamptz", `"12026-08-21T10:15:30+00:00"`, time.Date(12026, 8, 21, 10, 15, 30, 0, time.UTC)},
		{"timestamptz", `"0044-03-15T10:00:00+00:00 BC"`, time.Date(-43, 3, 15, 10, 0, 0, 0, time.UTC)},
		{"time", `"10:15:30.123456"`, pgchanges.TimeOfDay{Hour: 10, Minute: 15, Second: 30, Nanosecond: 123456000}},
		{"time", `"24:00:00"`, pgchanges.TimeOfDay{Hour: 24}},
		{"timetz", `"10:15:30+02:00"`, pgchanges.TimeOfDay{Hour: 10, Minute: 15, Second: 30, Offset: 7200, HasOffset: true}},
		{"timetz", `"10:15:30-05:30"`, pgchanges.TimeOfDay{Hour: 10, Minute: 15, Second: 30, Offset: -19800, HasOffset: true}},
		{"timestamp", `"2026-08-21T10:15:30.118532"`, time.Date(2026, 8, 21, 10, 15, 30, 118532000, time.UTC)},
		{"timestamp", `"2026-08-21 10:15:30"`, time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)},
		{"timestamp", `"-infinity"`, "-infinity"},
		{"timestamptz", `"2026-08-21T10:15:30.118532+00:00"`, time.Date(2026, 8, 21, 10, 15, 30, 118532000, time.UTC)},
		{"timestamptz", `"2026-08-21T12:15:30+02:00"`, time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)},
		{"timestamptz", `"2026-08-21T04:45:30-05:30"`, time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)},
		{"timestamptz", `"2026-08-21 10:15:30+00"`, time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)},
		{"bytea", `"0102030405"`, []byte{1, 2, 3, 4, 5}},
		{"bytea", `"\\x0102ff"`, []byte{1, 2, 0xff}},
		{"bytea", `""`, []byte{}},
		{"_int4", `[1, 2, null]`, []any{int64(1), int64(2), nil}},
		{"_int4", `[[1, 2], [3, 4]]`, []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}}},
		{"_int8", `[[[9007199254740993]]]`, []any{[]any{[]any{int64(9007199254740993)}}}},
		{"_text", `["a", "b,c", null]`, []any{"a", "b,c", nil}},
		{"_text", `[]`, []any{}},
		{"_numeric", `[1.50, "NaN"]`, []any{pgchanges.Numeric("1.50"), pgchanges.Numeric("NaN")}},
		{"_float8", `[1.5, "Infinity"]`, []any{1.5, math.Inf(1)}},
		{"_bool", `[true, false]`, []any{true, false}},
		{"_jsonb", `[{"a": 1}, [1, 2], "s"]`, []any{map[string]any{"a": json.Number("1")}, []any{json.Number("1"), json.Number("2")}, "s"}},
		{"_timestamptz", `["2026-08-21T10:15:30+00:00"]`, []any{time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)}},
		{"_date", `["2026-08-21", null]`, []any{date(2026, 8, 21), nil}},
		{"_bytea", `["0102", "\\x03"]`, []any{[]byte{1, 2}, []byte{3}}},
		{"_uuid", `["6f1c2a4e-8d3b-4c7a-9e2f-000000000042"]`, []any{"6f1c2a4e-8d3b-4c7a-9e2f-000000000042"}},
		{"_int4range", `["[1,3)", "empty"]`, []any{pgchanges.Range{Lower: "1", Upper: "3", LowerInclusive: true}, pgchanges.Range{Empty: true}}},
		{"_mood", `["happy", "sad"]`, []any{"happy", "sad"}},
		// The PostgreSQL literal form of arrays.
		{"_int4", `"{1,2}"`, []any{int64(1), int64(2)}},
		{"_int4", `"{{1,2},{3,NULL}}"`, []any{[]any{int64(1), int64(2)}, []any{int64(3), nil}}},
		{"_text", `"{a,\"b,c\",\"NULL\",\"q\\\"x\", spaced out }"`, []any{"a", "b,c", "NULL", `q"x`, "spaced out"}},
		{"_text", `"{}"`, []any{}},
		{"_int4", `"[0:1]={5,6}"`, []any{int64(5), int64(6)}},
		{"_bool", `"{t,f}"`, []any{true, false}},
		{"_jsonb", `"{\"{\\\"a\\\": 1}\",7}"`, []any{map[string]any{"a": json.Number("1")}, json.Number("7")}},
		{"_timestamptz", `"{\"2026-08-21 10:15:30+00\"}"`, []any{time.Date(2026, 8, 21, 10, 15, 30, 0, time.UTC)}},
		{"_bytea", `"{\"\\\\x0102\"}"`, []any{[]byte{1, 2}}},
		{"int4range", `"[1,10)"`, pgchanges.Range{Lower: "1", Upper: "10", LowerInclusive: true}},
		{"int8range", `"empty"`, pgchanges.Range{Empty: true}},
		{"numrange", `"(1.5,2.25]"`, pgchanges.Range{Lower: "1.5", Upper: "2.25", UpperInclusive: true}},
		{"daterange", `"[2026-08-21,)"`, pgchanges.Range{Lower: "2026-08-21", LowerInclusive: true, UpperUnbounded: true}},
		{"int4range", `"(,5)"`, pgchanges.Range{Upper: "5", LowerUnbounded: true}},
		{"int4range", `"(,)"`, pgchanges.Range{LowerUnbounded: true, UpperUnbounded: true}},
		{"tstzrange", `"[\"2026-08-21 10:00:00+00\",\"2026-08-22 10:00:00+00\")"`,
			pgchanges.Range{Lower: "2026-08-21 10:00:00+00", Upper: "2026-08-22 10:00:00+00", LowerInclusive: true}},
		{"tsrange", `"[\"2026-08-21 10:00:00\",infinity]"`, pgchanges.Range{Lower: "2026-08-21 10:00:00", Upper: "infinity", LowerInclusive: true, UpperInclusive: true}},
		{"int4", `null`, nil},
		{"_text", `null`, nil},
		{"jsonb", ` null `, nil},
		{"geometry", `{"type": "Point", "coordinates": [1.5, 2]}`, map[string]any{"type": "Point", "coordinates": []any{json.Number("1.5"), json.Number("2")}}},
		{"", `12345678901234567890`, json.Number("12345678901234567890")},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := pgchanges.Convert(tt.typ, json.RawMessage(tt.raw))
			if err != nil {
				t.Fatalf("Convert(%q, %s) = %v", tt.typ, tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Convert(%q, %s) (-want +got):\n%s", tt.typ, tt.raw, diff)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, raw string }{
		{"bool", `1`}, {"bool", `"maybe"`}, {"bool", `{}`},
		{"int4", `1.5`}, {"int8", `9223372036854775808`}, {"int8", `1e3`}, {"int4", `"x"`}, {"int4", `true`}, {"int4", `[1]`},
		{"float8", `"fast"`}, {"float8", `1e999`}, {"float8", `true`},
		{"numeric", `"12,5"`}, {"numeric", `true`},
		{"text", `1`}, {"uuid", `{}`}, {"text", `true`},
		{"date", `"2026-02-30"`}, {"date", `"2026-08-21T10:00:00"`}, {"date", `20260821`}, {"date", `"0000-01-01 BC"`},
		{"date", `"12345678-01-01"`}, {"date", `"202-01-01"`}, {"date", `"2026-1-01"`},
		{"time", `"25:00:00"`}, {"time", `"10:15"+"`}, {"timetz", `"10:15:30+99"`},
		{"timestamp", `"2026-13-01T00:00:00"`}, {"timestamptz", `"2026-08-21T10:15:30 UTC"`}, {"timestamptz", `"yesterday"`},
		{"bytea", `"0g"`}, {"bytea", `"012"`}, {"bytea", `1`},
		{"_int4", `[1, "x"]`}, {"_int4", `{"a":1}`}, {"_int4", `"{1,2"`}, {"_int4", `"{1,,2}"`}, {"_int4", `"1,2"`}, {"_int4", `[1,`},
		{"_text", `"{a}b"`}, {"_text", `"{\"a}"`},
		{"int4range", `"[1,10"`}, {"int4range", `"1,10"`}, {"int4range", `"[1;10)"`}, {"int4range", `5`},
		{"jsonb", `{"a":}`}, {"jsonb", `1 2`}, {"jsonb", ``}, {"int4", ``}, {"text", `"a"x`},
	}
	for _, tt := range tests {
		got, err := pgchanges.Convert(tt.typ, json.RawMessage(tt.raw))
		if !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("Convert(%q, %s) = %#v, %v; want ErrMalformed", tt.typ, tt.raw, got, err)
		}
	}
}

func TestNumeric(t *testing.T) {
	t.Parallel()
	n := pgchanges.Numeric("12345678901234567890.123456789")
	r, ok := n.Rat()
	want, _ := new(big.Rat).SetString("12345678901234567890123456789/1000000000")
	if !ok || r.Cmp(want) != 0 {
		t.Errorf("Rat() = %v, %v", r, ok)
	}
	if f, err := pgchanges.Numeric("12.50").Float64(); err != nil || f != 12.5 {
		t.Errorf("Float64() = %v, %v", f, err)
	}
	if f, err := pgchanges.Numeric("NaN").Float64(); err != nil || !math.IsNaN(f) {
		t.Errorf("Float64(NaN) = %v, %v", f, err)
	}
	if f, err := pgchanges.Numeric("-Infinity").Float64(); err != nil || !math.IsInf(f, -1) {
		t.Errorf("Float64(-Infinity) = %v, %v", f, err)
	}
	if _, ok := pgchanges.Numeric("NaN").Rat(); ok {
		t.Errorf("Rat(NaN) succeeded")
	}
	if !pgchanges.Numeric("NaN").IsNaN() || pgchanges.Numeric("1").IsNaN() {
		t.Errorf("IsNaN is wrong")
	}
	if !pgchanges.Numeric("Infinity").IsInf(1) || pgchanges.Numeric("Infinity").IsInf(-1) || !pgchanges.Numeric("-Infinity").IsInf(0) {
		t.Errorf("IsInf is wrong")
	}
	if s := n.String(); s != "12345678901234567890.123456789" {
		t.Errorf("String() = %q", s)
	}

	type row struct {
		A, B, C, D pgchanges.Numeric
	}
	in := `{"A":12.50,"B":"NaN","C":"-Infinity","D":null}`
	var got row
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(row{A: "12.50", B: "NaN", C: "-Infinity"}, got); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}
	out, err := json.Marshal(got)
	if err != nil || string(out) != `{"A":12.50,"B":"NaN","C":"-Infinity","D":null}` {
		t.Errorf("json.Marshal = %s, %v", out, err)
	}
	for _, bad := range []string{`"x"`, `true`, `{}`, `1.`} {
		var n pgchanges.Numeric
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("json.Unmarshal(%s) = %q; want an error", bad, n)
		}
	}
	if _, err := json.Marshal(pgchanges.Numeric("1,5")); err == nil {
		t.Errorf("json.Marshal of an invalid Numeric succeeded")
	}
	for in, want := range map[string]pgchanges.Numeric{"nan": "NaN", "-inf": "-Infinity", "+Infinity": "Infinity", "-1.5e3": "-1.5e3"} {
		if got, err := pgchanges.ParseNumeric(in); err != nil || got != want {
			t.Errorf("ParseNumeric(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRangeString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"empty", "[1,10)", "(1,10]", "(,5)", "[5,)", "(,)", `["2026-08-21 10:00:00+00","2026-08-22 10:00:00+00")`,
		`["","a\"b\\c")`,
	} {
		r, err := pgchanges.ParseRange(s)
		if err != nil {
			t.Fatalf("ParseRange(%q) = %v", s, err)
		}
		if got := r.String(); got != s {
			t.Errorf("ParseRange(%q).String() = %q", s, got)
		}
		j, _ := json.Marshal(r)
		var back pgchanges.Range
		if err := json.Unmarshal(j, &back); err != nil || back != r {
			t.Errorf("JSON round trip of %q = %+v, %v", s, back, err)
		}
	}
	// PostgreSQL's own forms that print differently.
	for in, want := range map[string]string{"EMPTY": "empty", "[,5]": "(,5]", `["a""b",c)`: `["a\"b",c)`, " [1,2) ": "[1,2)"} {
		r, err := pgchanges.ParseRange(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRange(%q).String() = %q, %v; want %q", in, r.String(), err, want)
		}
	}
}

func TestTimeOfDay(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10:15:30":           "10:15:30",
		"10:15:30.500":       "10:15:30.5",
		"10:15:30.123456":    "10:15:30.123456",
		"10:15":              "10:15:00",
		"10:15:30+02":        "10:15:30+02",
		"10:15:30-05:30":     "10:15:30-05:30",
		"10:15:30Z":          "10:15:30+00",
		"23:59:59.999999+14": "23:59:59.999999+14",
		"00:00:00+05:30:15":  "00:00:00+05:30:15",
	} {
		tod, err := pgchanges.ParseTimeOfDay(in)
		if err != nil {
			t.Errorf("ParseTimeOfDay(%q) = %v", in, err)
			continue
		}
		if got := tod.String(); got != want {
			t.Errorf("ParseTimeOfDay(%q).String() = %q; want %q", in, got, want)
		}
		j, _ := json.Marshal(tod)
		var back pgchanges.TimeOfDay
		if err := json.Unmarshal(j, &back); err != nil || back != tod {
			t.Errorf("JSON round trip of %q = %+v, %v", in, back, err)
		}
	}
	tod, _ := pgchanges.ParseTimeOfDay("01:02:03.5")
	if got, want := tod.Duration(), time.Hour+2*time.Minute+3500*time.Millisecond; got != want {
		t.Errorf("Duration() = %v; want %v", got, want)
	}
	for _, bad := range []string{"", "1:02", "24:00:01", "10:60:00", "10:15:30+", "10:15:30 UTC", "ab:cd"} {
		if _, err := pgchanges.ParseTimeOfDay(bad); !errors.Is(err, pgchanges.ErrMalformed) {
			t.Errorf("ParseTimeOfDay(%q) = %v; want ErrMalformed", bad, err)
		}
	}
}
