package pgchanges

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-supabase/realtime/internal/filtersyntax"
)

// The operators of the server's filter syntax.
const (
	opEq         = "eq"
	opNeq        = "neq"
	opLt         = "lt"
	opLte        = "lte"
	opGt         = "gt"
	opGte        = "gte"
	opLike       = "like"
	opILike      = "ilike"
	opMatch      = "match"
	opIMatch     = "imatch"
	opIsDistinct = "isdistinct"
	opIn         = "in"
	opIs         = "is"
)

// knownOp reports whether op is an operator the server accepts (case-sensitive, as there).
func knownOp(op string) bool { return filtersyntax.KnownOp(op) }

// IsValue is the operand of the is operator.
type IsValue string

// The values the is operator accepts.
const (
	IsNull    IsValue = "null"
	IsTrue    IsValue = "true"
	IsFalse   IsValue = "false"
	IsUnknown IsValue = "unknown"
)

// validIs reports whether v is an operand of is; PostgreSQL reads them case-insensitively.
func validIs(v string) bool {
	for _, w := range []IsValue{IsNull, IsTrue, IsFalse, IsUnknown} {
		if strings.EqualFold(v, string(w)) {
			return true
		}
	}
	return false
}

// Condition is one comparison of a filter, `column=[not.]op.value`. Build it with [Eq] and its
// siblings, or get it from [ParseFilter]. It is an immutable value, safe for concurrent use;
// the zero Condition is invalid.
type Condition struct {
	column  string
	op      string
	negated bool
	values  []string // unquoted; one for every operator but in
	err     error    // set by the constructors for a bad column or value
}

// newCondition builds a condition with one formatted value.
func newCondition(op, column string, value any) Condition {
	c := Condition{column: column, op: op}
	s, err := formatValue(value)
	if err != nil {
		c.err = invalid("filter %s on column %q: %v", op, column, err)
	}
	c.values = []string{s}
	return c
}

// Eq matches rows whose column equals value (`column=eq.value`). The value is formatted as
// described under Filters in the package documentation.
func Eq(column string, value any) Condition { return newCondition(opEq, column, value) }

// Neq matches rows whose column differs from value (`column=neq.value`).
func Neq(column string, value any) Condition { return newCondition(opNeq, column, value) }

// Lt matches rows whose column is less than value (`column=lt.value`).
func Lt(column string, value any) Condition { return newCondition(opLt, column, value) }

// Lte matches rows whose column is at most value (`column=lte.value`).
func Lte(column string, value any) Condition { return newCondition(opLte, column, value) }

// Gt matches rows whose column is greater than value (`column=gt.value`).
func Gt(column string, value any) Condition { return newCondition(opGt, column, value) }

// Gte matches rows whose column is at least value (`column=gte.value`).
func Gte(column string, value any) Condition { return newCondition(opGte, column, value) }

// Like matches rows whose column matches the SQL LIKE pattern (`column=like.pattern`).
func Like(column string, pattern any) Condition { return newCondition(opLike, column, pattern) }

// ILike matches rows whose column matches the case-insensitive ILIKE pattern.
func ILike(column string, pattern any) Condition { return newCondition(opILike, column, pattern) }

// Match matches rows whose column matches the POSIX regular expression (`~`).
func Match(column string, pattern any) Condition { return newCondition(opMatch, column, pattern) }

// IMatch matches rows whose column matches the case-insensitive POSIX regular expression (`~*`).
func IMatch(column string, pattern any) Condition { return newCondition(opIMatch, column, pattern) }

// IsDistinct matches rows whose column IS DISTINCT FROM value, which treats NULL as a value.
func IsDistinct(column string, value any) Condition {
	return newCondition(opIsDistinct, column, value)
}

// In matches rows whose column equals one of values (`column=in.(a,b,c)`). At least one value
// is required.
func In(column string, values ...any) Condition {
	c := Condition{column: column, op: opIn, values: make([]string, len(values))}
	for i, v := range values {
		s, err := formatValue(v)
		if err != nil && c.err == nil {
			c.err = invalid("filter in on column %q, value %d: %v", column, i, err)
		}
		c.values[i] = s
	}
	return c
}

// Is matches rows whose column IS NULL, TRUE, FALSE or UNKNOWN (`column=is.null`).
func Is(column string, value IsValue) Condition {
	c := Condition{column: column, op: opIs, values: []string{string(value)}}
	if !validIs(string(value)) {
		c.err = invalid("filter is on column %q: %q is not one of null, true, false, unknown", column, value)
	}
	return c
}

// Not negates c (`column=not.op.value`). Not(Not(c)) is c.
func Not(c Condition) Condition {
	c.negated = !c.negated
	return c
}

// Column returns the column the condition tests.
func (c Condition) Column() string { return c.column }

// Op returns the operator without the not. prefix: eq, neq, lt, lte, gt, gte, like, ilike,
// match, imatch, isdistinct, in or is.
func (c Condition) Op() string { return c.op }

// Negated reports whether the condition has the not. prefix.
func (c Condition) Negated() bool { return c.negated }

// Values returns a copy of the condition's operands, unquoted: one value for every operator
// but in, which has one per list element.
func (c Condition) Values() []string { return slices.Clone(c.values) }

// Equal reports whether c and o are the same condition: same column, operator, negation and
// values.
func (c Condition) Equal(o Condition) bool {
	return c.column == o.column && c.op == o.op && c.negated == o.negated && slices.Equal(c.values, o.values)
}

// Err returns why the condition is invalid (wrapping ErrInvalidArgument), or nil.
func (c Condition) Err() error {
	if c.err != nil {
		return c.err
	}
	if err := checkColumn(c.column); err != nil {
		return invalid("filter %s: %v", c.op, err)
	}
	switch {
	case !knownOp(c.op):
		return invalid("filter on column %q: unknown operator %q", c.column, c.op)
	case c.op == opIn && len(c.values) == 0:
		return invalid("filter in on column %q: no values", c.column)
	case c.op != opIn && len(c.values) != 1:
		return invalid("filter %s on column %q: want one value, have %d", c.op, c.column, len(c.values))
	case c.op == opIs && !validIs(c.values[0]):
		return invalid("filter is on column %q: %q is not one of null, true, false, unknown", c.column, c.values[0])
	}
	return nil
}

// String returns the condition in the server's syntax, quoting values PostgREST-style where
// needed: `room_id=eq.42`, `name=eq."a,b"`, `status=not.in.(draft,archived)`.
func (c Condition) String() string {
	return string(c.appendTo(nil))
}

// appendTo appends the condition's server syntax to b.
func (c Condition) appendTo(b []byte) []byte {
	b = append(b, c.column...)
	b = append(b, '=')
	if c.negated {
		b = append(b, "not."...)
	}
	b = append(b, c.op...)
	b = append(b, '.')
	switch c.op {
	case opIn:
		b = append(b, '(')
		for i, v := range c.values {
			if i > 0 {
				b = append(b, ',')
			}
			if listNeedsQuotes(v) {
				b = appendQuoted(b, v)
			} else {
				b = append(b, v...)
			}
		}
		b = append(b, ')')
	default:
		for _, v := range c.values { // one value
			if valueNeedsQuotes(v) {
				b = appendQuoted(b, v)
			} else {
				b = append(b, v...)
			}
		}
	}
	return b
}

// checkColumn rejects column names the filter syntax cannot carry: empty, with surrounding
// white space (the server trims it), or with one of = , ( ) " (which the server's splitter
// would read as syntax).
func checkColumn(col string) error {
	switch {
	case col == "":
		return errors.New("empty column name")
	case strings.TrimSpace(col) != col:
		return fmt.Errorf("column name %q has surrounding white space", col)
	case strings.ContainsAny(col, `=,()"`):
		return fmt.Errorf("column name %q contains one of = , ( ) \"", col)
	}
	return nil
}

// valueNeedsQuotes reports whether a scalar value must be quoted to survive the server's
// splitter and trimming: it contains , ( ) " \ or white space, or a control character.
func valueNeedsQuotes(v string) bool {
	for _, r := range v {
		switch r {
		case ',', '(', ')', '"', '\\':
			return true
		}
		if r < 0x20 || r == 0x7f || unicode.IsSpace(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// listNeedsQuotes reports whether an element of an in list must be quoted: the server turns
// the list into a PostgreSQL array literal, where { } are syntax too, an empty element is an
// error and an unquoted NULL means SQL NULL.
func listNeedsQuotes(v string) bool {
	return v == "" || strings.EqualFold(v, "null") || strings.ContainsAny(v, "{}") || valueNeedsQuotes(v)
}

// appendQuoted appends v in double quotes, escaping " and \ with a backslash.
func appendQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, v[i])
	}
	return append(b, '"')
}

// formatValue renders a filter operand in a form PostgreSQL casts correctly to the column type.
func formatValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("nil value (use Is(column, IsNull) to match NULL)")
	case string:
		return x, nil
	case []byte:
		return `\x` + hex.EncodeToString(x), nil // bytea hex input
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return formatFloat(x, 64), nil
	case float32:
		return formatFloat(float64(x), 32), nil
	case json.Number:
		return string(x), nil
	case Numeric:
		return string(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case time.Duration:
		return formatDuration(x), nil
	case *big.Rat:
		if x == nil {
			return "", errors.New("nil *big.Rat")
		}
		return formatRat(x)
	case *big.Float:
		if x == nil {
			return "", errors.New("nil *big.Float")
		}
		return x.Text('g', -1), nil
	case fmt.Stringer:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return "", fmt.Errorf("nil %T", v)
		}
		return x.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32:
		return formatFloat(rv.Float(), 32), nil
	case reflect.Float64:
		return formatFloat(rv.Float(), 64), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return "", fmt.Errorf("nil %T (use Is(column, IsNull) to match NULL)", v)
		}
		return formatValue(rv.Elem().Interface())
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}

// formatFloat writes f the way PostgreSQL reads float and numeric input: plain decimals in
// the usual range, exponent form outside it, and NaN, Infinity, -Infinity.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strconv.FormatFloat(f, 'e', -1, bits)
}

// formatRat writes r as an exact decimal; it fails for fractions such as 1/3 that have none.
func formatRat(r *big.Rat) (string, error) {
	if r.IsInt() {
		return r.Num().String(), nil
	}
	d := new(big.Int).Set(r.Denom())
	var twos, fives int
	two, five, zero, m := big.NewInt(2), big.NewInt(5), big.NewInt(0), new(big.Int)
	for m.Mod(d, two).Cmp(zero) == 0 {
		d.Quo(d, two)
		twos++
	}
	for m.Mod(d, five).Cmp(zero) == 0 {
		d.Quo(d, five)
		fives++
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return "", fmt.Errorf("%s has no exact decimal form", r)
	}
	return r.FloatString(max(twos, fives)), nil
}

// formatDuration writes d as an ISO 8601 interval ("PT1H30M0.5S" is written "PT5400.5S"),
// which PostgreSQL's interval input accepts.
func formatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		d = -d
	}
	secs := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := d % time.Second; frac != 0 {
		secs += "." + strings.TrimRight(strconv.Itoa(1_000_000_000 + int(frac))[1:], "0")
	}
	return "PT" + sign + secs + "S"
}

// ParseFilter parses a filter string in the server's syntax into its conditions, the way the
// Realtime server does: the string is split at commas outside parentheses and double quotes
// (the conditions are ANDed), each segment is `column=[not.]op.value`, a double-quoted value
// is unquoted with backslash escapes, and an in list `(a,"b,c")` is read as the PostgreSQL
// array literal the server makes of it. An empty or white-space-only filter has no conditions.
//
// Errors wrap ErrInvalidArgument: an empty segment, a segment without = or operator, an
// unknown operator, an empty or unusable column name, an in value not wrapped in parentheses
// or with no elements, an is value other than null, true, false or unknown.
//
// Like the server, ParseFilter keeps a value that starts with a double quote but is not a
// well-formed quoted string as it is.
func ParseFilter(filter string) ([]Condition, error) {
	segs, err := filtersyntax.Parse(filter)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if len(segs) == 0 {
		return nil, nil
	}
	conds := make([]Condition, 0, len(segs))
	for _, seg := range segs {
		c, err := parseSegment(seg)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// parseSegment checks one `column=[not.]op.value` and unquotes its value.
func parseSegment(seg filtersyntax.Segment) (Condition, error) {
	t, col, op, value := seg.Text, seg.Column, seg.Op, seg.Value
	c := Condition{column: col, op: op, negated: seg.Negated}
	if err := checkColumn(col); err != nil {
		return Condition{}, invalid("filter segment %q: %v", t, err)
	}
	switch op {
	case opIn:
		if len(value) < 2 || value[0] != '(' || value[len(value)-1] != ')' {
			return Condition{}, invalid("filter segment %q: `in` filter value must be wrapped by parentheses", t)
		}
		vals, err := parseList(value[1 : len(value)-1])
		if err != nil {
			return Condition{}, invalid("filter segment %q: %v", t, err)
		}
		if len(vals) == 0 {
			return Condition{}, invalid("filter segment %q: `in` list is empty", t)
		}
		c.values = vals
	case opIs:
		v := filtersyntax.UnquoteValue(value)
		if !validIs(v) {
			return Condition{}, invalid("filter segment %q: `is` takes null, true, false or unknown", t)
		}
		c.values = []string{v}
	default:
		c.values = []string{filtersyntax.UnquoteValue(value)}
	}
	return c, nil
}

// isArraySpace reports the white space PostgreSQL's array parser skips.
func isArraySpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// parseList reads the inside of an in list as the elements of a one-dimensional PostgreSQL
// array literal: comma-separated, white space around elements ignored, double-quoted elements
// with backslash escapes. Braces, backslashes and quotes inside unquoted elements, and empty
// elements, are rejected (PostgreSQL would reject or reinterpret them).
func parseList(s string) ([]string, error) {
	i := 0
	skip := func() {
		for i < len(s) && isArraySpace(s[i]) {
			i++
		}
	}
	skip()
	if i == len(s) {
		return nil, nil
	}
	var out []string
	for {
		skip()
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) && !closed {
				switch ch := s[i]; {
				case ch == '\\' && i+1 < len(s):
					b.WriteByte(s[i+1])
					i += 2
				case ch == '"':
					closed = true
					i++
				default:
					b.WriteByte(ch)
					i++
				}
			}
			if !closed {
				return nil, errors.New("unterminated quoted element in `in` list")
			}
			out = append(out, b.String())
			skip()
		} else {
			start := i
			for i < len(s) && s[i] != ',' {
				if strings.IndexByte(`"{}\`, s[i]) >= 0 {
					return nil, fmt.Errorf("unexpected %q in unquoted `in` list element", s[i])
				}
				i++
			}
			end := i
			for end > start && isArraySpace(s[end-1]) {
				end--
			}
			if end == start {
				return nil, errors.New("empty element in `in` list")
			}
			out = append(out, s[start:end])
		}
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("unexpected %q after quoted `in` list element", s[i])
		}
		i++
	}
}
