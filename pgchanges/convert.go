package pgchanges

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// kind is how a column type's values are converted.
type kind uint8

const (
	kindUnknown     kind = iota // decoded JSON
	kindBool                    // bool
	kindInt                     // int64
	kindFloat                   // float64
	kindNumeric                 // Numeric
	kindJSON                    // decoded JSON
	kindString                  // string
	kindDate                    // time.Time at midnight UTC
	kindTime                    // TimeOfDay
	kindTimestamp               // time.Time, no zone on the wire
	kindTimestamptz             // time.Time
	kindBytea                   // []byte
	kindRange                   // Range
	kindArray                   // []any
)

// kindOf classifies a columns[].type (pg_type.typname; a few SQL spellings are accepted too).
func kindOf(typ string) kind {
	if len(typ) > 1 && typ[0] == '_' {
		return kindArray
	}
	switch typ {
	case "bool", "boolean":
		return kindBool
	case "int2", "int4", "int8", "oid", "smallint", "integer", "int", "bigint":
		return kindInt
	case "float4", "float8", "real", "double precision":
		return kindFloat
	case "numeric", "decimal":
		return kindNumeric
	case "json", "jsonb":
		return kindJSON
	case "text", "varchar", "bpchar", "char", "name", "citext", "uuid", "money",
		"inet", "cidr", "macaddr", "macaddr8", "interval", "bit", "varbit", "xml",
		"tsvector", "tsquery", "point", "line", "lseg", "box", "path", "polygon", "circle",
		"character varying", "character":
		return kindString
	case "date":
		return kindDate
	case "time", "timetz", "time without time zone", "time with time zone":
		return kindTime
	case "timestamp", "timestamp without time zone":
		return kindTimestamp
	case "timestamptz", "timestamp with time zone":
		return kindTimestamptz
	case "bytea":
		return kindBytea
	case "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange":
		return kindRange
	}
	return kindUnknown
}

// Convert converts one value of a record, as sent, to a Go value chosen by its column type
// (columns[].type, pg_type.typname). The table under Values in the package documentation lists
// the conversions; a JSON null is nil for every type. Errors wrap ErrMalformed.
func Convert(pgType string, raw json.RawMessage) (any, error) {
	v, err := convert(kindOf(pgType), pgType, raw)
	if err != nil {
		return nil, malformed("%s value %.64s: %v", cmpOr(pgType, "untyped"), raw, err)
	}
	return v, nil
}

// convert converts one complete JSON value.
func convert(k kind, typ string, raw []byte) (any, error) {
	s := scanner{data: raw}
	v, err := s.convertValue(k, typ, 0)
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// convertValue converts the value at the scanner's position.
func (s *scanner) convertValue(k kind, typ string, depth int) (any, error) {
	switch c := s.peek(); {
	case c == 'n':
		return nil, s.literal("null")
	case k == kindJSON || k == kindUnknown:
		return s.anyValue(depth)
	case k == kindArray && c == '[':
		return s.arrayValue(typ[1:], depth+1)
	case c == '"':
		str, err := s.stringValue()
		if err != nil {
			return nil, err
		}
		return fromText(k, typ, str, false)
	case c == 't' || c == 'f':
		if k != kindBool {
			return nil, fmt.Errorf("unexpected boolean")
		}
		if c == 't' {
			return true, s.literal("true")
		}
		return false, s.literal("false")
	case c == '-' || isDigit(c):
		lit, err := s.number()
		if err != nil {
			return nil, err
		}
		return fromNumber(k, lit)
	case c == '{':
		return nil, fmt.Errorf("unexpected JSON object")
	case c == '[':
		return nil, fmt.Errorf("unexpected JSON array")
	}
	return nil, s.fail()
}

// arrayValue converts a JSON array of an array type, element by element; nested arrays are
// further dimensions (except for json/jsonb elements, which may be arrays themselves).
func (s *scanner) arrayValue(elem string, depth int) ([]any, error) {
	ek := kindOf(elem)
	out := []any{}
	err := s.elements(depth, func() error {
		var v any
		var err error
		if s.peek() == '[' && ek != kindJSON && ek != kindUnknown && ek != kindArray {
			v, err = s.arrayValue(elem, depth+1)
		} else {
			v, err = s.convertValue(ek, elem, depth)
		}
		out = append(out, v)
		return err
	})
	return out, err
}

// fromNumber converts a JSON number.
func fromNumber(k kind, lit []byte) (any, error) {
	switch k {
	case kindInt:
		if i, ok := atoi64(lit); ok {
			return i, nil
		}
		return nil, fmt.Errorf("not a 64-bit integer")
	case kindFloat:
		f, err := strconv.ParseFloat(string(lit), 64)
		if err != nil {
			return nil, fmt.Errorf("not a float8")
		}
		return f, nil
	case kindNumeric:
		return Numeric(lit), nil
	}
	return nil, fmt.Errorf("unexpected number")
}

// fromText converts a value given as text: a JSON string, or (inLiteral) an element of a
// PostgreSQL array literal, where json and jsonb elements are JSON text.
func fromText(k kind, typ, s string, inLiteral bool) (any, error) {
	switch k {
	case kindBool:
		return parseBoolText(s)
	case kindInt:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a 64-bit integer")
		}
		return i, nil
	case kindFloat:
		return parseFloatText(s)
	case kindNumeric:
		return parseNumeric(s)
	case kindJSON:
		if inLiteral {
			return decodeJSON([]byte(s))
		}
		return s, nil // a jsonb string is a string; realtime-js's re-parse is not copied
	case kindDate, kindTimestamp, kindTimestamptz:
		if isInfinity(s) {
			return s, nil
		}
		t, _, ok := parseTimestamp(s)
		if !ok || (k == kindDate && strings.IndexByte(s, ':') >= 0) {
			return nil, fmt.Errorf("invalid %s", typ)
		}
		return t, nil
	case kindTime:
		return parseTimeOfDay(s)
	case kindBytea:
		return decodeBytea(s)
	case kindRange:
		return parseRange(s)
	case kindArray:
		return parseArrayLiteral(typ[1:], s)
	}
	return s, nil // kindString, kindUnknown
}

// atoi64 parses a JSON integer literal exactly; it fails for fractions, exponents and overflow.
func atoi64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// parseBoolText reads PostgreSQL's boolean text forms.
func parseBoolText(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "t", "true", "y", "yes", "on", "1":
		return true, nil
	case "f", "false", "n", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// parseFloatText reads a float from text, including NaN, Infinity and -Infinity.
func parseFloatText(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("not a float8")
	}
	return f, nil
}

// decodeBytea decodes bytea hex text, with or without the \x prefix.
func decodeBytea(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
	if err != nil {
		return nil, fmt.Errorf("bytea is not hex")
	}
	return b, nil
}

// maxArrayDims bounds the nesting of array literals (PostgreSQL allows 6 dimensions).
const maxArrayDims = 64

// parseArrayLiteral converts a PostgreSQL array literal such as {1,2,NULL} or {{a,"b c"},{d,e}}
// (optionally with a [1:2]= dimension prefix), converting each element from its text form.
func parseArrayLiteral(elem, s string) ([]any, error) {
	if strings.HasPrefix(s, "[") {
		_, after, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("malformed array literal")
		}
		s = after
	}
	p := literalParser{s: s, kind: kindOf(elem), typ: elem}
	p.skip()
	v, err := p.array(0)
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("malformed array literal")
	}
	return v, nil
}

// literalParser reads a PostgreSQL array literal.
type literalParser struct {
	s    string
	i    int
	kind kind
	typ  string
}

func (p *literalParser) skip() {
	for p.i < len(p.s) && isArraySpace(p.s[p.i]) {
		p.i++
	}
}

// array reads {elem,elem,…} at the current position.
func (p *literalParser) array(depth int) ([]any, error) {
	if depth > maxArrayDims || p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, fmt.Errorf("malformed array literal")
	}
	p.i++
	out := []any{}
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	for {
		p.skip()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("malformed array literal")
		}
		var v any
		var err error
		switch p.s[p.i] {
		case '{':
			v, err = p.array(depth + 1)
		case '"':
			var text string
			if text, err = p.quoted(); err == nil {
				v, err = fromText(p.kind, p.typ, text, true)
			}
		default:
			var text string
			var null bool
			if text, null, err = p.unquoted(); err == nil && !null {
				v, err = fromText(p.kind, p.typ, text, true)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.skip()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("malformed array literal")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("malformed array literal")
		}
	}
}

// quoted reads a double-quoted element with backslash escapes.
func (p *literalParser) quoted() (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '\\':
			p.i++
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
			}
		case '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("malformed array literal")
}

// unquoted reads an unquoted element up to a delimiter; NULL (any case) is SQL NULL.
func (p *literalParser) unquoted() (string, bool, error) {
	var b strings.Builder
	escaped := false
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		if c == ',' || c == '}' {
			break
		}
		switch c {
		case '\\':
			p.i++
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
			}
			escaped = true
		case '{', '"':
			return "", false, fmt.Errorf("malformed array literal")
		default:
			b.WriteByte(c)
		}
	}
	text := strings.TrimRight(b.String(), " \t\n\r\v\f")
	if text == "" {
		return "", false, fmt.Errorf("malformed array literal")
	}
	return text, !escaped && strings.EqualFold(text, "NULL"), nil
}

// Numeric is an exact PostgreSQL numeric value, kept as its decimal text with its scale
// ("12.50" stays "12.50"), or "NaN", "Infinity" or "-Infinity". The zero value "" stands for
// SQL NULL when decoding.
type Numeric string

// ParseNumeric checks s, a decimal number in JSON syntax or NaN, Infinity or -Infinity (any
// case), and returns it as a Numeric.
func ParseNumeric(s string) (Numeric, error) {
	n, err := parseNumeric(s)
	return n, wrapSyntax(err)
}

// parseNumeric is ParseNumeric with an unwrapped error.
func parseNumeric(s string) (Numeric, error) {
	switch strings.ToLower(s) {
	case "nan":
		return "NaN", nil
	case "infinity", "+infinity", "inf", "+inf":
		return "Infinity", nil
	case "-infinity", "-inf":
		return "-Infinity", nil
	}
	sc := scanner{data: []byte(s)}
	if _, err := sc.number(); err != nil || sc.pos != len(s) {
		return "", fmt.Errorf("invalid numeric %.64q", s)
	}
	return Numeric(s), nil
}

// String returns the decimal text.
func (n Numeric) String() string { return string(n) }

// IsNaN reports whether n is NaN.
func (n Numeric) IsNaN() bool { return n == "NaN" }

// IsInf reports whether n is an infinity: positive if sign > 0, negative if sign < 0, either
// if sign == 0.
func (n Numeric) IsInf(sign int) bool {
	return (sign >= 0 && n == "Infinity") || (sign <= 0 && n == "-Infinity")
}

// Rat returns n as an exact rational, or false for NaN, the infinities, invalid text and
// exponents beyond PostgreSQL's numeric range.
func (n Numeric) Rat() (*big.Rat, bool) {
	if n == "" || n.IsNaN() || n.IsInf(0) || hugeExponent(string(n)) {
		return nil, false
	}
	if _, err := parseNumeric(string(n)); err != nil {
		return nil, false
	}
	return new(big.Rat).SetString(string(n))
}

// maxExponent bounds the exponents Rat accepts: PostgreSQL's numeric has at most 131072
// digits before the point and 16383 after, and larger ones would make big.Rat slow.
const maxExponent = 200_000

// hugeExponent reports whether a number's exponent is beyond maxExponent.
func hugeExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(s[i+1:])
	return err != nil || e > maxExponent || e < -maxExponent
}

// Float64 returns the float64 nearest to n (NaN and ±Inf for the special values).
func (n Numeric) Float64() (float64, error) {
	f, err := parseFloatText(string(n))
	if err != nil {
		return 0, malformed("numeric %q: %v", string(n), err)
	}
	return f, nil
}

// MarshalJSON writes n as a JSON number, the special values as strings, and "" as null.
func (n Numeric) MarshalJSON() ([]byte, error) {
	switch {
	case n == "":
		return []byte("null"), nil
	case n.IsNaN() || n.IsInf(0):
		return appendJSONString(nil, string(n)), nil
	}
	if _, err := ParseNumeric(string(n)); err != nil {
		return nil, err
	}
	return []byte(n), nil
}

// UnmarshalJSON reads a JSON number, or a string with a number or NaN, Infinity, -Infinity.
// null leaves n unchanged.
func (n *Numeric) UnmarshalJSON(b []byte) error {
	sc := scanner{data: b}
	switch c := sc.peek(); {
	case c == 'n':
		return wrapSyntax(sc.end2(sc.literal("null")))
	case c == '"':
		s, err := sc.stringValue()
		if err = sc.end2(err); err != nil {
			return wrapSyntax(err)
		}
		v, err := ParseNumeric(s)
		if err != nil {
			return err
		}
		*n = v
		return nil
	}
	lit, err := sc.number()
	if err = sc.end2(err); err != nil {
		return wrapSyntax(err)
	}
	*n = Numeric(lit)
	return nil
}

// end2 returns err, or the result of end when err is nil.
func (s *scanner) end2(err error) error {
	if err != nil {
		return err
	}
	return s.end()
}

// wrapSyntax wraps a scanner error with ErrMalformed unless it already is.
func wrapSyntax(err error) error {
	if err == nil || errors.Is(err, ErrMalformed) {
		return err
	}
	return malformed("%v", err)
}

// Range is a PostgreSQL range value (int4range, int8range, numrange, daterange, tsrange,
// tstzrange) with its bounds as PostgreSQL writes them: "[1,10)" is
// Range{Lower: "1", Upper: "10", LowerInclusive: true}.
type Range struct {
	Lower, Upper                   string // the bounds' text; "" when unbounded
	LowerInclusive, UpperInclusive bool   // [ or ] rather than ( or )
	LowerUnbounded, UpperUnbounded bool   // the side has no bound ("(,10)")
	Empty                          bool   // the range is "empty"; every other field is zero
}

// ParseRange parses a range in PostgreSQL's text form: "[1,10)", "empty", "(,5]",
// ["2026-08-21 10:00:00+00","2026-08-22 10:00:00+00").
func ParseRange(s string) (Range, error) {
	r, err := parseRange(s)
	return r, wrapSyntax(err)
}

// parseRange is ParseRange with an unwrapped error.
func parseRange(s string) (Range, error) {
	var r Range
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "empty") {
		return Range{Empty: true}, nil
	}
	bad := fmt.Errorf("invalid range %.64q", s)
	if len(t) < 3 {
		return r, bad
	}
	switch t[0] {
	case '[':
		r.LowerInclusive = true
	case '(':
	default:
		return r, bad
	}
	i := 1
	var ok bool
	r.Lower, r.LowerUnbounded, i, ok = rangeBound(t, i)
	if !ok || i >= len(t) || t[i] != ',' {
		return Range{}, bad
	}
	r.Upper, r.UpperUnbounded, i, ok = rangeBound(t, i+1)
	if !ok || i != len(t)-1 {
		return Range{}, bad
	}
	switch t[i] {
	case ']':
		r.UpperInclusive = true
	case ')':
	default:
		return Range{}, bad
	}
	r.LowerInclusive = r.LowerInclusive && !r.LowerUnbounded
	r.UpperInclusive = r.UpperInclusive && !r.UpperUnbounded
	return r, nil
}

// rangeBound reads one bound starting at i, up to the next unquoted , ) or ]. An empty
// unquoted bound is unbounded.
func rangeBound(t string, i int) (bound string, unbounded bool, next int, ok bool) {
	if i < len(t) && (t[i] == ',' || t[i] == ')' || t[i] == ']') {
		return "", true, i, true
	}
	var b strings.Builder
	quoted := false
	for ; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '\\':
			i++
			if i >= len(t) {
				return "", false, i, false
			}
			b.WriteByte(t[i])
		case c == '"' && quoted && i+1 < len(t) && t[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ')' || c == ']'):
			return b.String(), false, i, true
		default:
			b.WriteByte(c)
		}
	}
	return "", false, i, false
}

// String writes r in PostgreSQL's text form, quoting bounds that need it.
func (r Range) String() string {
	if r.Empty {
		return "empty"
	}
	b := make([]byte, 0, len(r.Lower)+len(r.Upper)+4)
	if r.LowerInclusive && !r.LowerUnbounded {
		b = append(b, '[')
	} else {
		b = append(b, '(')
	}
	if !r.LowerUnbounded {
		b = appendRangeBound(b, r.Lower)
	}
	b = append(b, ',')
	if !r.UpperUnbounded {
		b = appendRangeBound(b, r.Upper)
	}
	if r.UpperInclusive && !r.UpperUnbounded {
		b = append(b, ']')
	} else {
		b = append(b, ')')
	}
	return string(b)
}

// appendRangeBound appends a bound, double-quoted when empty or holding syntax or space.
func appendRangeBound(b []byte, v string) []byte {
	if v != "" && !strings.ContainsAny(v, "\"\\,()[] \t\n\r\v\f") {
		return append(b, v...)
	}
	return appendQuoted(b, v)
}

// MarshalJSON writes r as a JSON string (see String).
func (r Range) MarshalJSON() ([]byte, error) {
	return appendJSONString(nil, r.String()), nil
}

// UnmarshalJSON reads a JSON string with a range; null leaves r unchanged.
func (r *Range) UnmarshalJSON(b []byte) error {
	s, isNull, err := jsonStringArg(b)
	if err != nil || isNull {
		return err
	}
	v, err := ParseRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Value returns the named column of Record converted by its column type (see [Convert]): nil
// for SQL NULL, an error wrapping ErrNoColumn when the record has no such column (not
// selected, an unchanged TOAST value, or no record), and a *ColumnError when the value does not
// fit its type. A column the change does not list in Columns is decoded as plain JSON.
func (c Change) Value(column string) (any, error) { return c.valueOf(c.Record, column) }

// OldValue is Value for OldRecord.
func (c Change) OldValue(column string) (any, error) { return c.valueOf(c.OldRecord, column) }

// Values returns all of Record converted by column type (see [Convert]); an absent record gives
// an empty map. A value that does not fit its type is a *ColumnError.
func (c Change) Values() (map[string]any, error) { return c.valuesOf(c.Record) }

// OldValues is Values for OldRecord.
func (c Change) OldValues() (map[string]any, error) { return c.valuesOf(c.OldRecord) }

func (c Change) valueOf(r Record, column string) (any, error) {
	raw, ok := r.Get(column)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoColumn, column)
	}
	typ, _ := c.ColumnType(column)
	v, err := convert(kindOf(typ), typ, raw)
	if err != nil {
		return nil, &ColumnError{Column: column, Type: typ, Err: wrapSyntax(err)}
	}
	return v, nil
}

func (c Change) valuesOf(r Record) (map[string]any, error) {
	m := map[string]any{}
	var cerr error
	err := r.each(func(key []byte, esc bool, value []byte) bool {
		name := decodeString(key, esc)
		typ, _ := c.ColumnType(name)
		v, err := convert(kindOf(typ), typ, value)
		if err != nil {
			cerr = &ColumnError{Column: name, Type: typ, Err: wrapSyntax(err)}
			return false
		}
		m[name] = v
		return true
	})
	if err != nil {
		return nil, wrapSyntax(err)
	}
	if cerr != nil {
		return nil, cerr
	}
	return m, nil
}

// timeFromText converts the text of a date, timestamp or timestamptz to a time.Time.
func timeFromText[T text](s T) (time.Time, error) {
	if isInfinity(string(s)) {
		return time.Time{}, fmt.Errorf("%s cannot be represented as a time.Time", s)
	}
	t, _, ok := parseTimestamp(s)
	if !ok {
		return time.Time{}, fmt.Errorf("invalid timestamp %.64q", s)
	}
	return t, nil
}
