package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/go-supabase/realtime/internal/filtersyntax"
)

// The postgres_changes filter, as the real server parses and evaluates it.
//
// Parsing follows Extensions.PostgresCdcRls.Subscriptions.parse_filters of supabase/realtime
// 2.129.8 byte for byte, so that the system error for a bad filter carries the server's text.
// Checks the subscription_check_filters trigger makes without the table's columns follow
// (the is keyword, regular expressions, the in list). Evaluation follows
// realtime.is_visible_through_filters and realtime.check_equality_op: every condition must
// hold (AND); a column missing from the row fails; a NULL fails every operator but is and
// isdistinct; `not.` negates (a NULL or an error stays a failure); values are compared after a
// cast to the column's type:
//
//   - int2, int4, int8, oid (and their SQL names): integers, exactly, with range checks;
//   - numeric, float4, float8: exact decimals (math/big), NaN and ±Infinity ordered as
//     PostgreSQL does (NaN above everything, equal to itself);
//   - bool: PostgreSQL's boolean input (t, true, yes, on, 1, prefixes, …);
//   - date, timestamp, timestamptz: as times (timestamp ignores an offset, timestamptz
//     applies it, a value without offset is UTC as on Supabase), ±infinity included;
//   - citext case-insensitively, bpchar without trailing blanks, uuid in canonical form;
//   - jsonb: equal when the JSON values are equal (numbers numerically, keys in any order);
//   - anything else, text included: as strings, bytewise (the C collation).
//
// A value that does not cast to the column type makes the condition fail, as the error the
// database would raise would. like and ilike use SQL LIKE patterns (% and _, backslash
// escapes; the server passes the value to LIKE as it is, so * is an ordinary character).
// match and imatch use Go's regexp package (RE2), which accepts most, not all, PostgreSQL
// regular expressions. The type of a column comes from the change's columns list; a column
// it does not list is typed from its JSON value (number → numeric, bool → bool, object or
// array → jsonb, anything else → text).

// filterCond is one condition as the server stores it (a realtime.user_defined_filter), plus
// what evaluation needs precomputed.
type filterCond struct {
	column string
	op     string
	value  string // unquoted; for in, the PostgreSQL array literal "{a,b}"
	negate bool

	list []*string      // in: the elements of value, nil for an unquoted NULL
	re   *regexp.Regexp // match, imatch
}

// parseFilters parses a filter string like Subscriptions.parse_filters, whose splitting of the
// string into `column=[not.]op.value` segments it shares with the client. The error's text is
// what the server puts after "Error parsing `filter` params: ".
func parseFilters(filter string) ([]filterCond, error) {
	segs, err := filtersyntax.Parse(filter)
	if se := (*filtersyntax.SegmentError)(nil); errors.As(err, &se) && se.Kind != filtersyntax.EmptySegment {
		return nil, errors.New(inspectStrings(se.Parts...))
	}
	if err != nil {
		return nil, err
	}
	var conds []filterCond
	for _, seg := range segs {
		c := filterCond{column: seg.Column, op: seg.Op, negate: seg.Negated}
		if c.op == "in" {
			v := seg.Value
			if len(v) < 2 || v[0] != '(' || v[len(v)-1] != ')' {
				return nil, errors.New("`in` filter value must be wrapped by parentheses")
			}
			c.value = "{" + v[1:len(v)-1] + "}"
		} else {
			c.value = filtersyntax.UnquoteValue(seg.Value)
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// dbError is an exception the tenant database raises while creating a subscription, in
// Postgrex's format: "ERROR <code> (<name>) <message>".
type dbError struct{ code, name, msg string }

func (e *dbError) Error() string { return "ERROR " + e.code + " (" + e.name + ") " + e.msg }

func raiseException(format string, args ...any) *dbError {
	return &dbError{code: "P0001", name: "raise_exception", msg: fmt.Sprintf(format, args...)}
}

// checkFilters does what the subscription_check_filters trigger can do without knowing the
// table: the is keyword, the regular expression of match and imatch, the in list's syntax and
// length. It fills list and re. (The column names and the other values' casts depend on the
// table, which the fake server only learns from each injected change.)
func checkFilters(conds []filterCond) error {
	for i := range conds {
		c := &conds[i]
		switch c.op {
		case "in":
			list, err := parseArrayLiteral(c.value)
			if err != nil {
				return &dbError{code: "22P02", name: "invalid_text_representation", msg: fmt.Sprintf("malformed array literal: %q", c.value)}
			}
			if len(list) > 100 {
				return raiseException("too many values for `in` filter. Maximum 100")
			}
			c.list = list
		case "is":
			switch c.value {
			case "null", "true", "false", "unknown":
			default:
				return raiseException("invalid value for is filter: must be null, true, false, or unknown")
			}
		case "match", "imatch":
			expr := c.value
			if c.op == "imatch" {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return raiseException("invalid regular expression for %s filter: invalid regular expression: %v", c.op, err)
			}
			c.re = re
		}
	}
	return nil
}

// parseArrayLiteral reads a one-dimensional PostgreSQL array literal, {a,"b,c",NULL}:
// elements separated by commas, white space around them ignored, double quotes and backslash
// escapes allowed, an unquoted NULL (any case) is SQL NULL.
func parseArrayLiteral(s string) ([]*string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errors.New("missing braces")
	}
	s = s[1 : len(s)-1]
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	skip()
	if i == len(s) {
		return []*string{}, nil
	}
	var out []*string
	for {
		skip()
		var b strings.Builder
		quoted := i < len(s) && s[i] == '"'
		if quoted {
			closed := false
			for i++; i < len(s) && !closed; i++ {
				switch ch := s[i]; {
				case ch == '\\' && i+1 < len(s):
					i++
					b.WriteByte(s[i])
				case ch == '"':
					closed = true
				default:
					b.WriteByte(ch)
				}
			}
			if !closed {
				return nil, errors.New("unterminated quoted element")
			}
		} else {
			end := 0 // length of b up to its last character that is not white space
			for ; i < len(s) && s[i] != ','; i++ {
				ch := s[i]
				switch {
				case ch == '"' || ch == '{' || ch == '}':
					return nil, fmt.Errorf("unexpected %q", ch)
				case ch == '\\':
					if i+1 == len(s) {
						return nil, errors.New("trailing backslash")
					}
					i++
					b.WriteByte(s[i])
					end = b.Len()
					continue
				}
				b.WriteByte(ch)
				if !isSpace(ch) {
					end = b.Len()
				}
			}
			if end == 0 {
				return nil, errors.New("empty element")
			}
			el := b.String()[:end]
			b.Reset()
			b.WriteString(el)
		}
		el := b.String()
		skip()
		if !quoted && strings.EqualFold(el, "null") {
			out = append(out, nil)
		} else {
			out = append(out, &el)
		}
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q after an element", s[i])
		}
		i++
	}
}

// inspectStrings formats strings as Elixir's inspect formats a list of them: ["a", "b"].
func inspectStrings(ss ...string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(inspectString(s))
	}
	b.WriteByte(']')
	return b.String()
}

// inspectString formats s as Elixir's inspect formats a string.
func inspectString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\v':
			b.WriteString(`\v`)
		case '\b':
			b.WriteString(`\b`)
		case '\a':
			b.WriteString(`\a`)
		case 0x1b:
			b.WriteString(`\e`)
		case 0:
			b.WriteString(`\0`)
		case '#':
			if strings.HasPrefix(s[i:], "#{") {
				b.WriteString(`\#`)
			} else {
				b.WriteByte('#')
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// A tri-state SQL result: true, false, or NULL (which includes an error: both fail a filter
// whatever the negation).
type sqlBool int8

const (
	sqlFalse sqlBool = iota
	sqlTrue
	sqlNull
)

func sqlOf(b bool) sqlBool {
	if b {
		return sqlTrue
	}
	return sqlFalse
}

// matchFilters reports whether row passes every condition, as is_visible_through_filters
// does. types maps column names to their columns[].type; row maps column names to their raw
// JSON values.
func matchFilters(conds []filterCond, row map[string]json.RawMessage, types map[string]string) bool {
	for i := range conds {
		raw, ok := row[conds[i].column]
		if !ok {
			return false // every filter column must be in the row
		}
		if evalCond(&conds[i], raw, types[conds[i].column]) != sqlTrue {
			return false
		}
	}
	return true
}

// evalCond evaluates one condition on a raw JSON value, like check_equality_op on
// `col.value #>> '{}'`.
func evalCond(c *filterCond, raw json.RawMessage, typ string) sqlBool {
	text, isNull := jsonText(raw)
	class := typeClass(typ, raw)
	switch c.op {
	case "is":
		var r sqlBool
		switch {
		case c.value == "null":
			r = sqlOf(isNull)
		case class != classBool:
			return sqlNull // IS TRUE/FALSE/UNKNOWN need a boolean: an error
		case c.value == "unknown":
			r = sqlOf(isNull)
		case isNull:
			r = sqlFalse
		default:
			b, ok := parseBool(text)
			if !ok {
				return sqlNull
			}
			r = sqlOf(b == (c.value == "true"))
		}
		if c.negate {
			r = 1 - r // IS NOT …, never NULL
		}
		return r
	case "isdistinct":
		rhs, err := castText(class, typ, c.value)
		if err != nil {
			return sqlNull
		}
		var distinct bool
		if isNull {
			distinct = true
		} else {
			lhs, err := castText(class, typ, text)
			if err != nil {
				return sqlNull
			}
			eq, ok := equalValues(class, lhs, rhs)
			if !ok {
				return sqlNull
			}
			distinct = !eq
		}
		return sqlOf(distinct != c.negate)
	}
	if isNull {
		return sqlNull
	}
	var r sqlBool
	switch c.op {
	case "like", "ilike":
		m, ok := likeMatch(text, c.value, '\\', c.op == "ilike")
		if !ok {
			return sqlNull
		}
		r = sqlOf(m)
	case "match", "imatch":
		if c.re == nil {
			return sqlNull
		}
		r = sqlOf(c.re.MatchString(text))
	case "in":
		lhs, err := castText(class, typ, text)
		if err != nil {
			return sqlNull
		}
		r = sqlFalse
		for _, el := range c.list {
			if el == nil {
				if r == sqlFalse {
					r = sqlNull // x = ANY('{…,NULL}') is NULL when nothing else matches
				}
				continue
			}
			v, err := castText(class, typ, *el)
			if err != nil {
				return sqlNull
			}
			if eq, ok := equalValues(class, lhs, v); ok && eq {
				r = sqlTrue
				break
			}
		}
	default: // eq, neq, lt, lte, gt, gte
		lhs, err := castText(class, typ, text)
		if err != nil {
			return sqlNull
		}
		rhs, err := castText(class, typ, c.value)
		if err != nil {
			return sqlNull
		}
		if c.op == "eq" || c.op == "neq" {
			eq, ok := equalValues(class, lhs, rhs)
			if !ok {
				return sqlNull
			}
			r = sqlOf(eq == (c.op == "eq"))
			break
		}
		n, ok := compareValues(class, lhs, rhs)
		if !ok {
			return sqlNull
		}
		switch c.op {
		case "lt":
			r = sqlOf(n < 0)
		case "lte":
			r = sqlOf(n <= 0)
		case "gt":
			r = sqlOf(n > 0)
		case "gte":
			r = sqlOf(n >= 0)
		}
	}
	if c.negate && r != sqlNull {
		r = 1 - r
	}
	return r
}

// jsonText returns `value #>> '{}'`: a string's contents, a number's or literal's text, an
// object's or array's JSON; null is SQL NULL.
func jsonText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, false
		}
	}
	return string(raw), false
}

// The comparison classes of column types.
const (
	classText = iota
	classInt
	classNumeric
	classFloat
	classBool
	classDate
	classTimestamp
	classTimestamptz
	classCitext
	classBpchar
	classUUID
	classJSONB
)

// typeClass maps a columns[].type (pg_type.typname, or an SQL name) to a comparison class. An
// unknown column is typed from its JSON value.
func typeClass(typ string, raw json.RawMessage) int {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "int2", "int4", "int8", "oid", "smallint", "integer", "int", "bigint", "serial", "bigserial", "smallserial":
		return classInt
	case "numeric", "decimal":
		return classNumeric
	case "float4", "float8", "real", "double precision", "float":
		return classFloat
	case "bool", "boolean":
		return classBool
	case "date":
		return classDate
	case "timestamp", "timestamp without time zone":
		return classTimestamp
	case "timestamptz", "timestamp with time zone":
		return classTimestamptz
	case "citext":
		return classCitext
	case "bpchar", "char", "character":
		return classBpchar
	case "uuid":
		return classUUID
	case "jsonb":
		return classJSONB
	case "":
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return classText
		}
		switch raw[0] {
		case '"', 'n':
			return classText
		case 't', 'f':
			return classBool
		case '{', '[':
			return classJSONB
		default:
			return classNumeric
		}
	}
	return classText
}

// intBits is the size of each integer type, for range checks.
func intBits(typ string) int {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "int2", "smallint", "smallserial":
		return 16
	case "int4", "integer", "int", "serial":
		return 32
	case "oid":
		return 33 // unsigned 32 bits; checked below
	}
	return 64
}

// number is a numeric or float value: a finite rational, or ±Infinity or NaN.
type number struct {
	rat     *big.Rat
	special int8 // 0 finite, -1 -Infinity, 1 +Infinity, 2 NaN
}

var (
	intSyntax     = regexp.MustCompile(`^[+-]?[0-9]+$`)
	decimalSyntax = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
)

// castText casts a value's text to its column's class, like `'text'::type`; an error is what
// PostgreSQL would raise.
func castText(class int, typ, text string) (any, error) {
	switch class {
	case classInt:
		t := strings.TrimSpace(text)
		if !intSyntax.MatchString(t) {
			return nil, fmt.Errorf("invalid input syntax for type integer: %q", text)
		}
		n, _ := new(big.Int).SetString(strings.TrimPrefix(t, "+"), 10)
		switch bits := intBits(typ); bits {
		case 33:
			if n.Sign() < 0 || n.BitLen() > 32 {
				return nil, errors.New("out of range")
			}
		default:
			limit := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
			if n.Cmp(limit) >= 0 || n.Cmp(new(big.Int).Neg(limit)) < 0 {
				return nil, errors.New("out of range")
			}
		}
		return number{rat: new(big.Rat).SetInt(n)}, nil
	case classNumeric, classFloat:
		t := strings.TrimSpace(text)
		switch strings.ToLower(t) {
		case "nan":
			return number{special: 2}, nil
		case "infinity", "+infinity", "inf", "+inf":
			return number{special: 1}, nil
		case "-infinity", "-inf":
			return number{special: -1}, nil
		}
		if !decimalSyntax.MatchString(t) {
			return nil, fmt.Errorf("invalid input syntax for type numeric: %q", text)
		}
		r, ok := new(big.Rat).SetString(strings.TrimPrefix(t, "+"))
		if !ok {
			return nil, fmt.Errorf("invalid input syntax for type numeric: %q", text)
		}
		return number{rat: r}, nil
	case classBool:
		b, ok := parseBool(text)
		if !ok {
			return nil, fmt.Errorf("invalid input syntax for type boolean: %q", text)
		}
		return b, nil
	case classDate, classTimestamp, classTimestamptz:
		return parseTime(class, text)
	case classCitext:
		return strings.ToLower(text), nil
	case classBpchar:
		return strings.TrimRight(text, " "), nil
	case classUUID:
		u := strings.ToLower(strings.NewReplacer("-", "", "{", "", "}", "").Replace(strings.TrimSpace(text)))
		if len(u) != 32 || strings.Trim(u, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("invalid input syntax for type uuid: %q", text)
		}
		return u, nil
	case classJSONB:
		d := json.NewDecoder(strings.NewReader(text))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid input syntax for type json: %v", err)
		}
		return jsonValue{v}, nil
	}
	return text, nil
}

// jsonValue is a decoded jsonb value (numbers as json.Number).
type jsonValue struct{ v any }

// parseBool reads PostgreSQL's boolean input: t/true, f/false, y/yes, n/no, on, off, 1, 0, in
// any case, any unique prefix, surrounded by white space.
func parseBool(s string) (bool, bool) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return false, false
	}
	switch t {
	case "1", "on":
		return true, true
	case "0", "off", "of":
		return false, t != "of"
	}
	for _, w := range []string{"true", "yes"} {
		if strings.HasPrefix(w, t) {
			return true, true
		}
	}
	for _, w := range []string{"false", "no"} {
		if strings.HasPrefix(w, t) {
			return false, true
		}
	}
	return false, false
}

// pgTime is a date or timestamp value: an instant, or ±infinity.
type pgTime struct {
	t   time.Time
	inf int8 // -1 -infinity, 1 infinity
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a date or timestamp in the ISO forms PostgreSQL writes and reads. A value
// without an offset is UTC (Supabase's TimeZone); timestamp keeps the wall clock and ignores
// an offset, as PostgreSQL does; date keeps the day.
func parseTime(class int, s string) (pgTime, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "infinity", "+infinity":
		return pgTime{inf: 1}, nil
	case "-infinity":
		return pgTime{inf: -1}, nil
	}
	for _, layout := range timeLayouts {
		v, err := time.Parse(layout, t)
		if err != nil {
			continue
		}
		switch class {
		case classTimestamp:
			v = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
		case classDate:
			v = time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC)
		}
		return pgTime{t: v}, nil
	}
	return pgTime{}, fmt.Errorf("invalid input syntax for type timestamp: %q", s)
}

// equalValues compares two cast values of one class for equality; ok is false when they do
// not compare.
func equalValues(class int, a, b any) (bool, bool) {
	if class == classJSONB {
		x, ok1 := a.(jsonValue)
		y, ok2 := b.(jsonValue)
		return ok1 && ok2 && jsonEqual(x.v, y.v), ok1 && ok2
	}
	if class == classBool {
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		return x == y, ok1 && ok2
	}
	n, ok := compareValues(class, a, b)
	return n == 0, ok
}

// compareValues orders two cast values of one class.
func compareValues(class int, a, b any) (int, bool) {
	switch x := a.(type) {
	case number:
		y, ok := b.(number)
		if !ok {
			return 0, false
		}
		rank := func(n number) int8 {
			if n.special == 0 {
				return 0
			}
			return n.special
		}
		rx, ry := rank(x), rank(y)
		if rx == 2 || ry == 2 { // NaN: equal to itself, above everything
			return cmpInt(int(b2i(rx == 2)), int(b2i(ry == 2))), true
		}
		if rx != 0 || ry != 0 {
			return cmpInt(int(rx), int(ry)), true
		}
		return x.rat.Cmp(y.rat), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		return cmpInt(int(b2i(x)), int(b2i(y))), true
	case pgTime:
		y, ok := b.(pgTime)
		if !ok {
			return 0, false
		}
		if x.inf != 0 || y.inf != 0 {
			return cmpInt(int(x.inf), int(y.inf)), true
		}
		return x.t.Compare(y.t), true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case jsonValue:
		y, ok := b.(jsonValue)
		if !ok {
			return 0, false
		}
		if jsonEqual(x.v, y.v) {
			return 0, true
		}
		xb, _ := json.Marshal(x.v)
		yb, _ := json.Marshal(y.v)
		return bytes.Compare(xb, yb), true
	}
	return 0, false
}

func b2i(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// jsonEqual compares decoded JSON values like jsonb equality: numbers by value, objects
// whatever their key order.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// likeMatch reports whether s matches the SQL LIKE pattern: % matches any run of characters,
// _ any one character, and escape (0 for none) makes the next character literal. fold makes
// it ILIKE. ok is false for a pattern that ends with the escape character, which PostgreSQL
// rejects.
func likeMatch(s, pattern string, escape rune, fold bool) (match, ok bool) {
	if fold {
		s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	}
	// Tokens: a literal rune, or one of the wildcards.
	type token struct {
		r    rune
		kind byte // 0 literal, '%', '_'
	}
	var toks []token
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch r := pr[i]; {
		case escape != 0 && r == escape:
			if i+1 == len(pr) {
				return false, false
			}
			i++
			toks = append(toks, token{r: pr[i]})
		case r == '%':
			toks = append(toks, token{kind: '%'})
		case r == '_':
			toks = append(toks, token{kind: '_'})
		default:
			toks = append(toks, token{r: r})
		}
	}
	sr := []rune(s)
	// Greedy matching with backtracking to the last %.
	si, ti := 0, 0
	starT, starS := -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && toks[ti].kind == '%':
			starT, starS = ti, si
			ti++
		case ti < len(toks) && (toks[ti].kind == '_' || (toks[ti].kind == 0 && toks[ti].r == sr[si])):
			si++
			ti++
		case starT >= 0:
			starS++
			si, ti = starS, starT+1
		default:
			return false, true
		}
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks), true
}
