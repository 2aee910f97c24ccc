package testutil

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-supabase/realtime/pgchanges"
)

// Record writes a row of Go values as the Realtime server sends a record (and old_record): a
// JSON object in PostgreSQL's jsonb text form (", " and ": " separators, shorter keys first,
// then bytewise), each value written by [EncodeValue] with its column's type from columns. A
// value whose column is not listed is written as jsonb. Use it for [Change].Record and
// [Change].OldRecord to send what a real server would.
func Record(columns []pgchanges.Column, values map[string]any) (json.RawMessage, error) {
	types := make(map[string]string, len(columns))
	for _, c := range columns {
		types[c.Name] = c.Type
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, jsonbKeyOrder)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPGString(b, k)
		b = append(b, ": "...)
		typ, ok := types[k]
		if !ok {
			typ = "jsonb"
		}
		var err error
		if b, err = appendValue(b, typ, values[k], false); err != nil {
			return nil, fmt.Errorf("testutil: column %q (%s): %w", k, typ, err)
		}
	}
	return append(b, '}'), nil
}

// EncodeValue writes v as the Realtime server sends a value of the PostgreSQL type pgType
// (columns[].type, a pg_type name): as PostgreSQL's to_jsonb writes it, byte for byte, except
// bytea, which the server sends as unprefixed hex. It accepts the Go values [pgchanges.Convert]
// returns and the usual Go types:
//
//   - nil and nil pointers as null; pointers by what they point to;
//   - int2, int4, int8: Go integers, json.Number; oid: Go integers, as a string;
//   - float4, float8: Go floats (NaN and the infinities as "NaN", "Infinity", "-Infinity";
//     others in plain decimal notation, as jsonb writes numbers; -0 as 0), json.Number;
//   - numeric: [pgchanges.Numeric], json.Number, Go integers and floats, or a string with a
//     number; exponents are written out as numeric does (1.5e3 as 1500);
//   - date, timestamp: time.Time by its wall clock in its location; timestamptz: time.Time with
//     its location's offset ("+00:00" for UTC, as the server's UTC sessions write it); all
//     rounded to microseconds, with " BC" for years before 1;
//   - time, timetz: [pgchanges.TimeOfDay]; bytea: []byte; ranges: [pgchanges.Range];
//   - arrays (_int4, _text, …): slices of any dimension, elements by the element type;
//   - json, jsonb and types this function does not know (enums, domains, composites): any
//     value encoding/json can marshal, rewritten in jsonb's text form;
//   - for every type, a json.RawMessage, rewritten in jsonb's text form;
//   - for every other type, and for all the types above, a string is sent as a JSON string.
func EncodeValue(pgType string, v any) (json.RawMessage, error) {
	b, err := appendValue(nil, pgType, v, false)
	if err != nil {
		return nil, fmt.Errorf("testutil: %s value %v: %w", pgType, v, err)
	}
	return b, nil
}

// appendValue appends v as a value of type typ; inArray is set for array elements, which
// to_jsonb writes (bytea with its \x prefix) rather than the server.
func appendValue(b []byte, typ string, v any, inArray bool) ([]byte, error) {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return append(b, "null"...), nil
	}
	v = rv.Interface()
	if raw, ok := v.(json.RawMessage); ok {
		return appendJSONB(b, raw)
	}
	if len(typ) > 1 && typ[0] == '_' {
		return appendArray(b, typ[1:], rv)
	}
	switch typ {
	case "json", "jsonb":
		return appendJSONB(b, v)
	}
	switch typ {
	case "bool", "boolean":
		if x, ok := v.(bool); ok {
			return strconv.AppendBool(b, x), nil
		}
	case "oid": // to_jsonb writes oids as strings
		if rv.CanInt() || rv.CanUint() {
			return appendPGString(b, fmt.Sprint(v)), nil
		}
	case "int2", "int4", "int8":
		if rv.CanInt() {
			return strconv.AppendInt(b, rv.Int(), 10), nil
		}
		if rv.CanUint() {
			return strconv.AppendUint(b, rv.Uint(), 10), nil
		}
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				return nil, fmt.Errorf("not an integer")
			}
			return append(b, n...), nil
		}
	case "float4", "float8":
		if rv.CanFloat() {
			bits := 64
			if typ == "float4" {
				bits = 32
			}
			return appendFloat(b, rv.Float(), bits), nil
		}
		if rv.CanInt() || rv.CanUint() {
			return appendNumeric(b, fmt.Sprint(v))
		}
		if n, ok := v.(json.Number); ok {
			return appendNumeric(b, string(n))
		}
	case "numeric":
		switch x := v.(type) {
		case pgchanges.Numeric:
			return appendNumeric(b, string(x))
		case json.Number:
			return appendNumeric(b, string(x))
		case string:
			return appendNumeric(b, x)
		}
		if rv.CanFloat() {
			return appendFloat(b, rv.Float(), 64), nil
		}
		if rv.CanInt() || rv.CanUint() {
			return appendNumeric(b, fmt.Sprint(v))
		}
	case "date", "timestamp", "timestamptz":
		if t, ok := v.(time.Time); ok {
			return appendTime(b, typ, t), nil
		}
	case "time", "timetz":
		if t, ok := v.(pgchanges.TimeOfDay); ok {
			return appendPGString(b, t.String()), nil
		}
	case "bytea":
		if x, ok := v.([]byte); ok {
			s := hex.EncodeToString(x)
			if inArray {
				s = `\x` + s
			}
			return appendPGString(b, s), nil
		}
	case "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange":
		if r, ok := v.(pgchanges.Range); ok {
			return appendPGString(b, r.String()), nil
		}
	default:
		if !knownType(typ) {
			return appendJSONB(b, v)
		}
	}
	if s, ok := v.(string); ok {
		return appendPGString(b, s), nil
	}
	return nil, fmt.Errorf("cannot encode a %T", v)
}

// knownType reports whether typ is one of the types appendValue writes by its own rules, or
// a type written as a string.
func knownType(typ string) bool {
	switch typ {
	case "text", "varchar", "bpchar", "char", "name", "citext", "uuid", "money", "inet", "cidr",
		"macaddr", "macaddr8", "interval", "bit", "varbit", "xml", "tsvector", "tsquery", "point",
		"line", "lseg", "box", "path", "polygon", "circle":
		return true
	}
	return false
}

// appendArray appends a slice as a JSON array of elements of type elem; nested slices are
// further dimensions.
func appendArray(b []byte, elem string, rv reflect.Value) ([]byte, error) {
	if rv.Kind() == reflect.String {
		return appendPGString(b, rv.String()), nil
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("cannot encode a %s as an array", rv.Type())
	}
	if rv.Kind() == reflect.Slice && rv.IsNil() {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range rv.Len() {
		if i > 0 {
			b = append(b, ", "...)
		}
		e := rv.Index(i)
		for e.Kind() == reflect.Interface && !e.IsNil() {
			e = e.Elem()
		}
		var err error
		if (e.Kind() == reflect.Slice || e.Kind() == reflect.Array) && !(elem == "bytea" && e.Type().Elem().Kind() == reflect.Uint8) &&
			elem != "json" && elem != "jsonb" {
			b, err = appendArray(b, elem, e) // a further dimension
		} else if !e.IsValid() || e.Kind() == reflect.Interface {
			b = append(b, "null"...)
		} else {
			b, err = appendValue(b, elem, e.Interface(), true)
		}
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return append(b, ']'), nil
}

// appendFloat appends a float as to_jsonb writes a float4 (bits 32) or float8: its shortest
// decimal form, in plain notation.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	b, _ = appendNumeric(b, strconv.FormatFloat(f, 'e', -1, bits))
	return b
}

// appendNumeric appends a number as PostgreSQL's numeric writes it: in plain notation with the
// scale the input implies (1.50 stays 1.50, 1.5e3 is 1500, 1e-3 is 0.001), zero without sign,
// and NaN and the infinities as strings.
func appendNumeric(b []byte, s string) ([]byte, error) {
	switch strings.ToLower(s) {
	case "nan":
		return append(b, `"NaN"`...), nil
	case "infinity", "+infinity", "inf", "+inf":
		return append(b, `"Infinity"`...), nil
	case "-infinity", "-inf":
		return append(b, `"-Infinity"`...), nil
	}
	bad := fmt.Errorf("invalid number %q", s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		var err error
		if exp, err = strconv.Atoi(expText); err != nil || exp > 1<<20 || exp < -(1<<20) {
			return nil, bad
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, bad
	}
	e := exp - len(frac) // the value is digits × 10^e
	if e >= 0 {
		intPart, frac = digits+strings.Repeat("0", e), ""
	} else {
		if len(digits) <= -e {
			digits = strings.Repeat("0", -e-len(digits)+1) + digits
		}
		intPart, frac = digits[:len(digits)+e], digits[len(digits)+e:]
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if neg && strings.Trim(intPart+frac, "0") != "" {
		b = append(b, '-')
	}
	b = append(b, intPart...)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return b, nil
}

// appendTime appends a date, timestamp or timestamptz as to_jsonb writes it.
func appendTime(b []byte, typ string, t time.Time) []byte {
	t = t.Round(time.Microsecond)
	year, month, day := t.Date()
	bc := year <= 0
	if bc {
		year = 1 - year
	}
	var s []byte
	if year < 1000 {
		s = fmt.Appendf(s, "%04d", year)
	} else {
		s = strconv.AppendInt(s, int64(year), 10)
	}
	s = fmt.Appendf(s, "-%02d-%02d", int(month), day)
	if typ != "date" {
		s = fmt.Appendf(s, "T%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
		if us := t.Nanosecond() / 1000; us != 0 {
			s = append(s, '.')
			s = append(s, strings.TrimRight(fmt.Sprintf("%06d", us), "0")...)
		}
		if typ == "timestamptz" {
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			s = fmt.Appendf(s, "%c%02d:%02d", sign, off/3600, off/60%60)
			if off%60 != 0 {
				s = fmt.Appendf(s, ":%02d", off%60)
			}
		}
	}
	if bc {
		s = append(s, " BC"...)
	}
	return appendPGString(b, string(s))
}

// appendJSONB appends a value in jsonb's text form: v is JSON text (json.RawMessage, []byte)
// or a value encoding/json marshals.
func appendJSONB(b []byte, v any) ([]byte, error) {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var tree any
	if err := d.Decode(&tree); err != nil {
		return nil, err
	}
	return appendJSONBTree(b, tree)
}

// appendJSONBTree appends a decoded JSON value (numbers as json.Number) as jsonb writes it.
func appendJSONBTree(b []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendPGString(b, x), nil
	case json.Number:
		return appendNumeric(b, string(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			if b, err = appendJSONBTree(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, jsonbKeyOrder)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPGString(b, k)
			b = append(b, ": "...)
			if b, err = appendJSONBTree(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("cannot encode a %T", v)
}

// jsonbKeyOrder orders object keys as jsonb stores them: shorter first, then bytewise.
func jsonbKeyOrder(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// appendPGString appends s as a JSON string escaped as PostgreSQL does: \" \\ \b \f \n \r \t,
// other control characters as \u00XX, everything else (including non-ASCII) as it is. Invalid
// UTF-8, which PostgreSQL text cannot hold, becomes U+FFFD.
func appendPGString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
