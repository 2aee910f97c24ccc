package pgtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Case is one value to ask PostgreSQL about.
type Case struct {
	Name string // unique; also the column name in the record of all cases
	Type string // the value's pg_type.typname, as columns[].type sends it
	Expr string // an SQL expression of that type
	Base string // for a domain: the typname of its base type, whose references are given
}

// Setup creates the enum, domain and composite types the cases use.
const Setup = `
CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s "ok"');
CREATE DOMAIN bigid AS int8;
CREATE DOMAIN price AS numeric(12,2);
CREATE DOMAIN stamp AS timestamptz;
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN label AS text;
CREATE TYPE pair AS (a int4, b text);
CREATE EXTENSION citext;
`

// Zones are the session time zones every case is asked in: the real server's sessions use UTC.
var Zones = []string{"UTC", "America/New_York"}

// Cases lists a value of every type the pgchanges package documents, with edge values.
var Cases = []Case{
	{"bool_t", "bool", "true", ""},
	{"bool_f", "bool", "false", ""},
	{"int2_min", "int2", "int2 '-32768'", ""},
	{"int2_max", "int2", "int2 '32767'", ""},
	{"int4_min", "int4", "int4 '-2147483648'", ""},
	{"int4_max", "int4", "int4 '2147483647'", ""},
	{"int8_min", "int8", "int8 '-9223372036854775808'", ""},
	{"int8_max", "int8", "int8 '9223372036854775807'", ""},
	{"int8_2p53p1", "int8", "int8 '9007199254740993'", ""},
	{"oid_max", "oid", "oid '4294967295'", ""},
	{"float8_frac", "float8", "float8 '1.5'", ""},
	{"float8_tenth", "float8", "float8 '0.1'", ""},
	{"float8_2p53p1", "float8", "float8 '9007199254740993'", ""},
	{"float8_1e15", "float8", "float8 '1e15'", ""},
	{"float8_1e16", "float8", "float8 '-1e16'", ""},
	{"float8_1e-5", "float8", "float8 '1.25e-5'", ""},
	{"float8_max", "float8", "float8 '1.7976931348623157e308'", ""},
	{"float8_tiny", "float8", "float8 '5e-324'", ""},
	{"float8_nan", "float8", "float8 'NaN'", ""},
	{"float8_inf", "float8", "float8 'Infinity'", ""},
	{"float8_neginf", "float8", "float8 '-Infinity'", ""},
	{"float8_negzero", "float8", "float8 '-0'", ""},
	{"float4_frac", "float4", "float4 '1.1'", ""},
	{"float4_max", "float4", "float4 '3.4028235e38'", ""},
	{"float4_1e7", "float4", "float4 '1e7'", ""},
	{"float4_nan", "float4", "float4 'NaN'", ""},
	{"numeric_scale", "numeric", "numeric '12.50'", ""},
	{"numeric_big", "numeric", "numeric '123456789012345678901234567890.123456789'", ""},
	{"numeric_small", "numeric", "numeric '-0.000000000000000000001'", ""},
	{"numeric_exp", "numeric", "numeric '1.5e3'", ""},
	{"numeric_negzero", "numeric", "numeric '-0.00'", ""},
	{"numeric_typmod", "numeric", "12.345::numeric(10,2)", ""},
	{"numeric_2p53p1", "numeric", "numeric '9007199254740993'", ""},
	{"numeric_nan", "numeric", "numeric 'NaN'", ""},
	{"numeric_inf", "numeric", "numeric 'Infinity'", ""},
	{"numeric_neginf", "numeric", "numeric '-Infinity'", ""},
	{"text", "text", "text 'Buy milk'", ""},
	{"text_escapes", "text", `E'q"b\\s\n\t\r\b\f\x01\x1f/é😀\u2028<>&'::text`, ""},
	{"text_empty", "text", "text ''", ""},
	{"varchar", "varchar", "'abc'::varchar(5)", ""},
	{"bpchar", "bpchar", "'ab'::char(4)", ""},
	{"char", "char", `'x'::"char"`, ""},
	{"name", "name", "'pg_class'::name", ""},
	{"citext", "citext", "'MiXeD'::citext", ""},
	{"uuid", "uuid", "uuid 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", ""},
	{"money", "money", "money '-1234.5'", ""},
	{"inet", "inet", "inet '192.168.0.1/24'", ""},
	{"inet6", "inet", "inet '::ffff:1.2.3.4'", ""},
	{"cidr", "cidr", "cidr '10.1'", ""},
	{"macaddr", "macaddr", "macaddr '08-00-2B-01-02-03'", ""},
	{"macaddr8", "macaddr8", "macaddr8 '08:00:2b:01:02:03:04:05'", ""},
	{"interval", "interval", "interval '1 year 2 mons -3 days 04:05:06.7'", ""},
	{"interval_neg", "interval", "interval '-1 microsecond'", ""},
	{"bit", "bit", "B'1010'::bit(4)", ""},
	{"varbit", "varbit", "B'101'::varbit", ""},
	{"xml", "xml", "'<a b=\"1\">x &amp; y</a>'::xml", ""},
	{"tsvector", "tsvector", "'a fat cat sat'::tsvector", ""},
	{"tsquery", "tsquery", "'fat & (rat | cat)'::tsquery", ""},
	{"point", "point", "point '(1.5,-2)'", ""},
	{"line", "line", "line '{1,-1,0}'", ""},
	{"lseg", "lseg", "lseg '[(0,0),(1,1)]'", ""},
	{"box", "box", "box '(1,1),(0,0)'", ""},
	{"path", "path", "path '[(0,0),(1,1),(2,0)]'", ""},
	{"polygon", "polygon", "polygon '((0,0),(1,1),(2,0))'", ""},
	{"circle", "circle", "circle '<(0,0),2>'", ""},
	{"json_obj", "json", `'{"b":1,"aa":2,"a":[1e2,1.50,-0,1E-3,true,null,"x"]}'::json`, ""},
	{"json_dupkey", "json", `'{"a":1,"a":{"z":[]}}'::json`, ""},
	{"jsonb_obj", "jsonb", `'{"b":{"y":"é\u0001","x":{}},"a":12345678901234567890.5}'::jsonb`, ""},
	{"jsonb_string", "jsonb", `'"123"'::jsonb`, ""},
	{"jsonb_number", "jsonb", `'12.50'::jsonb`, ""},
	{"jsonb_array", "jsonb", `'[1,"a",[],{}]'::jsonb`, ""},
	{"jsonb_false", "jsonb", `'false'::jsonb`, ""},
	{"jsonb_null", "jsonb", `'null'::jsonb`, ""},
	{"date", "date", "date '2026-08-21'", ""},
	{"date_leap", "date", "date '2024-02-29'", ""},
	{"date_y1", "date", "date '0001-01-01'", ""},
	{"date_1bc", "date", "date '0001-12-31 BC'", ""},
	{"date_bc", "date", "date '0044-03-15 BC'", ""},
	{"date_min", "date", "date '4713-11-24 BC'", ""},
	{"date_10000", "date", "date '10000-01-01'", ""},
	{"date_max", "date", "date '5874897-12-31'", ""},
	{"date_inf", "date", "date 'infinity'", ""},
	{"date_neginf", "date", "date '-infinity'", ""},
	{"ts", "timestamp", "timestamp '2026-08-21 10:15:30.118532'", ""},
	{"ts_whole", "timestamp", "timestamp '2026-08-21 10:15:30'", ""},
	{"ts_epoch", "timestamp", "timestamp '1970-01-01 00:00:00'", ""},
	{"ts_bc", "timestamp", "timestamp '0044-03-15 12:00:00.5 BC'", ""},
	{"ts_min", "timestamp", "timestamp '4713-11-24 00:00:00 BC'", ""},
	{"ts_10000", "timestamp", "timestamp '10000-01-01 00:00:00.000001'", ""},
	{"ts_max", "timestamp", "timestamp '294276-12-31 23:59:59.999999'", ""},
	{"ts_inf", "timestamp", "timestamp 'infinity'", ""},
	{"ts_neginf", "timestamp", "timestamp '-infinity'", ""},
	{"tstz", "timestamptz", "timestamptz '2026-08-21 10:15:30.118532+00'", ""},
	{"tstz_offset", "timestamptz", "timestamptz '2026-08-21 10:15:30.5+05:30'", ""},
	{"tstz_winter", "timestamptz", "timestamptz '2026-01-15 12:00:00Z'", ""},
	{"tstz_dst", "timestamptz", "timestamptz '2026-03-08 07:30:00Z'", ""},
	{"tstz_lmt", "timestamptz", "timestamptz '1800-01-01 00:00:00Z'", ""},
	{"tstz_bc", "timestamptz", "timestamptz '0044-03-15 12:00:00.5+00 BC'", ""},
	{"tstz_10000", "timestamptz", "timestamptz '10000-01-01 00:00:00+00'", ""},
	{"tstz_max", "timestamptz", "timestamptz '294276-12-31 23:59:59.999999+00'", ""},
	{"tstz_inf", "timestamptz", "timestamptz 'infinity'", ""},
	{"tstz_neginf", "timestamptz", "timestamptz '-infinity'", ""},
	{"time", "time", "time '10:15:30.118532'", ""},
	{"time_midnight", "time", "time '00:00'", ""},
	{"time_24", "time", "time '24:00'", ""},
	{"timetz", "timetz", "timetz '10:15:30.5+02'", ""},
	{"timetz_neg", "timetz", "timetz '23:59:59.999999-05:30'", ""},
	{"timetz_sec", "timetz", "timetz '10:15:30+02:30:15'", ""},
	{"timetz_utc", "timetz", "timetz '00:00:00+00'", ""},
	{"bytea", "bytea", `'\x00ff10'::bytea`, ""},
	{"bytea_empty", "bytea", `''::bytea`, ""},
	{"bytea_text", "bytea", `'hello'::bytea`, ""},
	{"int4_arr", "_int4", "'{1,NULL,3}'::int4[]", ""},
	{"int4_arr2", "_int4", "'{{1,2,3},{4,5,6}}'::int4[]", ""},
	{"int4_arr3", "_int4", "'{{{1,2},{3,4}},{{5,6},{7,NULL}}}'::int4[]", ""},
	{"int4_arr_lb", "_int4", "'[0:2]={7,8,9}'::int4[]", ""},
	{"int4_arr_empty", "_int4", "'{}'::int4[]", ""},
	{"int2_arr", "_int2", "'{-32768,32767}'::int2[]", ""},
	{"int8_arr", "_int8", "'{9007199254740993,-9223372036854775808}'::int8[]", ""},
	{"text_arr", "_text", `'{"a\"b",NULL,"NULL",""," x ","a,b","{}","\\"}'::text[]`, ""},
	{"text_arr2", "_text", `'{{a,b},{"c d",NULL}}'::text[]`, ""},
	{"varchar_arr", "_varchar", `'{x,"y z"}'::varchar[]`, ""},
	{"bool_arr", "_bool", "'{t,f,NULL}'::bool[]", ""},
	{"float8_arr", "_float8", "'{1.5,NaN,Infinity,-Infinity,1e300}'::float8[]", ""},
	{"float4_arr", "_float4", "'{1.1,-0.5}'::float4[]", ""},
	{"numeric_arr", "_numeric", "'{12.50,NaN,1e3,-Infinity}'::numeric[]", ""},
	{"numeric_arr2", "_numeric", "'{{1.0,2.00},{3,NULL}}'::numeric[]", ""},
	{"date_arr", "_date", "'{2026-08-21,infinity,0044-03-15 BC,5874897-12-31}'::date[]", ""},
	{"ts_arr", "_timestamp", `'{"2026-08-21 10:15:30.5",-infinity}'::timestamp[]`, ""},
	{"tstz_arr", "_timestamptz", `'{"2026-08-21 10:15:30.5+00",NULL,"1800-01-01 00:00Z"}'::timestamptz[]`, ""},
	{"time_arr", "_time", "'{10:15:30,24:00:00}'::time[]", ""},
	{"timetz_arr", "_timetz", "'{10:15:30+02,00:00-05:30}'::timetz[]", ""},
	{"uuid_arr", "_uuid", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid[]", ""},
	{"interval_arr", "_interval", "ARRAY[interval '1 day', interval '-2 hours']", ""},
	{"jsonb_arr", "_jsonb", `ARRAY['{"b":1,"a":2}'::jsonb, '[1,2]', '"s"', 'null']`, ""},
	{"json_arr", "_json", `ARRAY['{"a":1}'::json, '3']`, ""},
	{"bytea_arr", "_bytea", `ARRAY['\x01ff'::bytea, NULL, '']`, ""},
	{"int4range_arr", "_int4range", "ARRAY[int4range(1,5), 'empty']", ""},
	{"mood_arr", "_mood", `'{happy,"it''s \"ok\""}'::mood[]`, ""},
	{"int4range", "int4range", "int4range(1, 10)", ""},
	{"int4range_incl", "int4range", "'[1,10]'::int4range", ""},
	{"int4range_empty", "int4range", "'empty'::int4range", ""},
	{"int8range_unb", "int8range", "'(,9007199254740993]'::int8range", ""},
	{"numrange", "numrange", "'[1.5,2.50]'::numrange", ""},
	{"numrange_unb", "numrange", "'(,)'::numrange", ""},
	{"daterange", "daterange", "'[2026-08-21,2026-08-31)'::daterange", ""},
	{"daterange_inf", "daterange", "'[0044-03-15 BC,infinity)'::daterange", ""},
	{"tsrange", "tsrange", `'["2026-08-21 10:00","2026-08-22 10:00:00.5")'::tsrange`, ""},
	{"tstzrange", "tstzrange", `'["2026-08-21 10:00Z","2026-08-22 10:00Z")'::tstzrange`, ""},
	{"tstzrange_unb", "tstzrange", `'["2026-08-21 10:00Z",)'::tstzrange`, ""},
	{"enum", "mood", "'happy'::mood", ""},
	{"enum_quote", "mood", `'it''s "ok"'::mood`, ""},
	{"domain_int8", "bigid", "'9007199254740993'::bigid", "int8"},
	{"domain_numeric", "price", "12.5::price", "numeric"},
	{"domain_tstz", "stamp", "'2026-08-21 10:15:30.5Z'::stamp", "timestamptz"},
	{"domain_int4", "posint", "5::posint", "int4"},
	{"domain_text", "label", "'x y'::label", "text"},
	{"composite", "pair", `ROW(1, 'x "y"')::pair`, ""},
	{"null_int4", "int4", "NULL::int4", ""},
	{"null_text", "text", "NULL::text", ""},
	{"null_tstz", "timestamptz", "NULL::timestamptz", ""},
	{"null_arr", "_int4", "NULL::int4[]", ""},
	{"null_jsonb", "jsonb", "NULL::jsonb", ""},
	{"null_range", "int4range", "NULL::int4range", ""},
}

// Result is what PostgreSQL printed for a case in one session time zone.
type Result struct {
	Case
	Zone    string
	Typname string          // pg_typeof(value)'s typname
	Wire    json.RawMessage // the JSON the Realtime server sends: to_jsonb(value) (null for NULL), bytea as unprefixed hex
	ToJSONB json.RawMessage // to_jsonb(value)::text (null for NULL)
	Refs    json.RawMessage // reference forms, a JSON array; see refs
}

// Truth is the answer for all cases in all zones.
type Truth struct {
	Results []Result
	// Records maps a zone to the jsonb text of the record holding every case, keyed by name:
	// the record the Realtime server would send for a row of all these columns.
	Records map[string]string
}

// Query asks the cluster about every case in every zone, with one psql run.
func (c *Cluster) Query(t testing.TB, cases []Case) Truth {
	t.Helper()
	var b strings.Builder
	b.WriteString(Setup)
	b.WriteString("SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1;\n")
	for _, zone := range Zones {
		fmt.Fprintf(&b, "SET TimeZone = %s;\n", quote(zone))
		b.WriteString("WITH r(n, typ, wire, tj, refs) AS (\n")
		for i, cs := range cases {
			if i > 0 {
				b.WriteString("  UNION ALL\n")
			}
			wire := "to_jsonb(x)"
			if cs.Type == "bytea" {
				wire = "to_jsonb(encode(x, 'hex'))"
			}
			refType, x := cs.Type, "x"
			if cs.Base != "" {
				refType, x = cs.Base, "x::"+cs.Base
			}
			fmt.Fprintf(&b, "  SELECT %s, (SELECT typname::text FROM pg_type WHERE oid = pg_typeof(x)), coalesce(%s, 'null'), coalesce(to_jsonb(x), 'null'), %s FROM (SELECT %s AS x) s\n",
				quote(cs.Name), wire, refs(refType, x), cs.Expr)
		}
		fmt.Fprintf(&b, ")\nSELECT json_build_array(%s, n, typ, wire::text, tj::text, refs::text) FROM r\n", quote(zone))
		fmt.Fprintf(&b, "UNION ALL SELECT json_build_array(%s, '', '', jsonb_object_agg(n, wire)::text, NULL, NULL) FROM r;\n", quote(zone))
	}
	out := c.Exec(t, b.String())
	byName := map[string]Case{}
	for _, cs := range cases {
		byName[cs.Name] = cs
	}
	tr := Truth{Records: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var row [6]*string
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("psql printed %q: %v", line, err)
		}
		zone, name := *row[0], *row[1]
		if name == "" {
			tr.Records[zone] = *row[3]
			continue
		}
		tr.Results = append(tr.Results, Result{Case: byName[name], Zone: zone, Typname: *row[2],
			Wire: json.RawMessage(*row[3]), ToJSONB: json.RawMessage(*row[4]), Refs: json.RawMessage(*row[5])})
	}
	if want := len(cases) * len(Zones); len(tr.Results) != want {
		t.Fatalf("psql printed %d results; want %d", len(tr.Results), want)
	}
	return tr
}

// refs returns an SQL expression for the jsonb array of reference forms of x, of type typ:
//
//	date, timestamp, timestamptz  [isfinite, days since 1970-01-01 and seconds since midnight, both in UTC, text]
//	time                          [seconds since midnight]
//	timetz                        [seconds since midnight, zone offset in seconds east of UTC]
//	bytea                         [hex]
//	ranges                        [isempty, lower_inf, upper_inf, lower_inc, upper_inc, lower, upper]
//	json, jsonb                   [the jsonb text]
//	arrays                        [array_dims, [element refs or null, …] in storage order]
//	anything else                 [text output]
func refs(typ, x string) string {
	if strings.HasPrefix(typ, "_") {
		return fmt.Sprintf("jsonb_build_array(array_dims(%s), (SELECT coalesce(jsonb_agg(CASE WHEN e IS NULL THEN 'null'::jsonb ELSE %s END ORDER BY o), '[]') FROM unnest(%s) WITH ORDINALITY AS u(e, o)))",
			x, refs(typ[1:], "e"), x)
	}
	var forms []string
	switch typ {
	case "date":
		forms = []string{"isfinite(%[1]s)::text", "CASE WHEN isfinite(%[1]s) THEN (%[1]s - date '1970-01-01')::text END", "'0'::text", "%[1]s::text"}
	case "timestamp":
		forms = []string{"isfinite(%[1]s)::text", "CASE WHEN isfinite(%[1]s) THEN (%[1]s::date - date '1970-01-01')::text END",
			"extract(epoch FROM %[1]s::time)::text", "%[1]s::text"}
	case "timestamptz":
		forms = []string{"isfinite(%[1]s)::text", "CASE WHEN isfinite(%[1]s) THEN ((%[1]s AT TIME ZONE 'UTC')::date - date '1970-01-01')::text END",
			"extract(epoch FROM (%[1]s AT TIME ZONE 'UTC')::time)::text", "%[1]s::text"}
	case "time":
		forms = []string{"extract(epoch FROM %[1]s)::text"}
	case "timetz":
		forms = []string{"extract(epoch FROM %[1]s::time)::text", "extract(timezone FROM %[1]s)::text"}
	case "bytea":
		forms = []string{"encode(%[1]s, 'hex')"}
	case "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange":
		forms = []string{"isempty(%[1]s)::text", "lower_inf(%[1]s)::text", "upper_inf(%[1]s)::text",
			"lower_inc(%[1]s)::text", "upper_inc(%[1]s)::text", "lower(%[1]s)::text", "upper(%[1]s)::text"}
	case "json", "jsonb":
		forms = []string{"%[1]s::jsonb::text"}
	default:
		forms = []string{"format('%%s', %[1]s)"} // the output function (a cast to text may differ)
	}
	for i, f := range forms {
		if strings.Contains(f, "%") {
			forms[i] = fmt.Sprintf(f, x)
		}
	}
	return "jsonb_build_array(" + strings.Join(forms, ", ") + ")"
}

// quote writes s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
