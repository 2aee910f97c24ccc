// Package pgchanges holds the pure parts of Supabase Realtime's Postgres changes: bindings and
// their filters, the change a subscription receives, and exact, column-type-aware decoding of
// its rows. It does no I/O and imports only the standard library; the client package sends
// bindings in the join payload and routes parsed changes to subscriptions.
//
// A [Binding] selects changes by event, schema, table, filter and selected columns:
//
//	b := pgchanges.On(pgchanges.Insert, "public", "messages").
//		Filter(pgchanges.Eq("room_id", 42))
//
// Its JSON form is one item of the join payload's config.postgres_changes. The join reply
// echoes each item with an id ([ParseReplyBindings], [MatchReply]); each change carries the ids
// of the bindings it is for, and a binding fires when its id is listed and
// [Binding.MatchesEvent] holds for the change's type.
//
// [Parse] (or a [Parser], for many changes) reads the data object of a postgres_changes message
// into a [Change] with one hand-written scan. The rows stay raw JSON ([Record]) until they are
// converted by [Change.Value], [Change.Values] or [Decode].
//
// # Filters
//
// A filter is a list of conditions in the server's syntax, `column=[not.]op.value`, joined with
// commas and combined with AND: `room_id=eq.42,status=not.in.(draft,archived)`. The operators
// are eq, neq, lt, lte, gt, gte ([Eq], [Neq], [Lt], [Lte], [Gt], [Gte]), like and ilike
// ([Like], [ILike]), match and imatch (POSIX regular expressions: [Match], [IMatch]),
// isdistinct ([IsDistinct]), in ([In], a list) and is ([Is]: null, true, false or unknown).
// [Not] negates any of them. These need a 2026 server; older ones accept only eq to in, and a
// single condition.
//
// Values are formatted for PostgreSQL to cast to the column type: strings as they are, integers
// exactly, floats in the shortest form that reads back the same (NaN, Infinity, -Infinity
// spelled as PostgreSQL does), booleans as true and false, json.Number and [Numeric] as they
// are, time.Time in RFC 3339 with nanoseconds, time.Duration as an ISO 8601 interval, []byte as
// bytea hex (\x0102), *big.Rat as an exact decimal, anything else with a String method by it.
// A nil value is an error: use Is(column, IsNull). A value containing , ( ) " \ or white space
// is double-quoted PostgREST-style, with " and \ escaped by a backslash: `name=eq."a,b"`.
// Elements of an in list are also quoted when empty, NULL, or containing { or }, since the
// server turns the list into a PostgreSQL array literal.
//
// [ParseFilter] reads a filter string back into conditions the way the server does, so
// ParseFilter(b.FilterString()) returns the conditions b was built from.
//
// # Values
//
// The server writes every value with PostgreSQL's to_jsonb, so values arrive as typed JSON.
// [Convert] turns one into the Go value below, chosen by the column's columns[].type. SQL NULL
// is nil for every type. Values are exact: no integer or decimal goes through a float64.
//
//	| columns[].type                             | wire                     | Go value                          |
//	|--------------------------------------------|--------------------------|-----------------------------------|
//	| bool                                       | true                     | bool                              |
//	| int2, int4, int8, oid                      | 9007199254740993, "42"   | int64 (exact beyond 2^53)         |
//	| float4, float8                             | 1.5, "NaN", "Infinity"   | float64 (NaN, ±Inf included)      |
//	| numeric                                    | 12.50, "NaN"             | Numeric ("12.50", scale kept)     |
//	| json, jsonb                                | any JSON                 | decoded: map[string]any, []any,   |
//	|                                            |                          | string, json.Number, bool         |
//	| text, varchar, bpchar, char, name, citext, | "…"                      | string                            |
//	| uuid, money, inet, cidr, macaddr(8),       |                          |                                   |
//	| interval, bit, varbit, xml, tsvector,      |                          |                                   |
//	| tsquery, geometric types                   |                          |                                   |
//	| date                                       | "2026-08-21"             | time.Time, midnight UTC           |
//	| time, timetz                               | "10:15:30.5", "…+02"     | TimeOfDay                         |
//	| timestamp                                  | "2026-08-21T10:15:30.1"  | time.Time, read as UTC            |
//	| timestamptz                                | "…T10:15:30.1+02:00"     | time.Time, converted to UTC       |
//	| date, timestamp, timestamptz infinities    | "infinity", "-infinity"  | string, unchanged                 |
//	| bytea                                      | "0102ff" (or "\\x0102ff")| []byte                            |
//	| _<elem> (arrays, any dimension)            | [[1,2],[3,4]], "{1,2}"   | []any, elements as <elem>         |
//	| int4range, int8range, numrange, daterange, | "[1,10)", "empty"        | Range                             |
//	| tsrange, tstzrange                         |                          |                                   |
//	| enums and any other type                   | any JSON                 | decoded JSON (strings stay string)|
//
// A json or jsonb string stays a string (realtime-js re-parses it; this package does not). An
// array may also arrive as a PostgreSQL literal string ("{1,2,NULL}"); its elements are then
// converted from their text form. Dates and times cover PostgreSQL's whole range: years up to
// 5874897 for dates and 294276 for timestamps, and years before 1 with its " BC" suffix
// ("0044-03-15 BC" is time.Date(-43, 3, 15, …)).
//
// These conversions are checked against a real PostgreSQL 15, in a UTC and a non-UTC session.
// What to_jsonb loses cannot be recovered, and some types arrive under names this package does
// not know:
//
//   - float4 and float8 values are written as jsonb numbers, which have no negative zero: -0
//     arrives as 0. (Large and small floats arrive in plain decimal notation, which Convert reads
//     back to the same float64.)
//   - A column of a domain type has the domain's own name in columns[].type, so its values are
//     converted as an unknown type: json.Number for a domain over a number type, a string for
//     one over a date, time or text type. Decode into a field of the base type's Go type gets
//     the exact value: an int64 from a domain over int8, a [Numeric], json.Number or string (the
//     decimal text) from one over numeric, a time.Time from one over timestamptz.
//   - An array's lower bounds are dropped ('[0:2]={7,8,9}' arrives as [7, 8, 9]), a jsonb
//     'null' arrives as null like SQL NULL, and char(n) values keep their padding.
//
// [Change.Value] and [Change.Values] apply Convert to a record's columns.
//
// # Typed decoding
//
// [Decode] and [DecodeOld] decode a record into a struct, field by field, matching record keys
// to fields as encoding/json does (json tags, then names case-insensitively), and converting
// each value by its column type and the field's Go type, where plain encoding/json would lose
// precision or fail:
//
//   - int, int8…int64, uint…uint64 from int2/int4/int8/oid and integral numerics, exactly,
//     with an overflow check;
//   - float32 and float64 from float4/float8, including NaN and ±Inf;
//   - [Numeric], json.Number, big.Rat and string from numeric, exactly (a string field gets
//     the number's text as sent; json.Number and big.Rat reject NaN and the infinities);
//   - time.Time from date, timestamp (read as UTC) and timestamptz (in UTC);
//   - []byte from bytea hex (encoding/json would expect base64); from json/jsonb, the JSON text;
//   - slices from arrays, any dimension ([]int64, []string, [][]int32, []*string for arrays
//     with NULLs, []time.Time, []any with nested []any, …), from a JSON array or a PostgreSQL
//     array literal;
//   - json.RawMessage, map[string]any and other types from json/jsonb, by encoding/json;
//   - any (interface{}) fields get the [Convert] value;
//   - [Range] and [TimeOfDay] from ranges and times; any type with an UnmarshalJSON or
//     UnmarshalText method by that method.
//
// Pointer fields are allocated for values and set to nil for SQL NULL; other fields are left at
// their zero value for NULL. Record keys without a field are ignored, and a value that cannot be
// converted fails the decode with a [*ColumnError] naming the column and both types. Fields of
// embedded struct pointers are not decoded.
package pgchanges
