package pgchanges_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-supabase/realtime/internal/pgtest"
	"github.com/go-supabase/realtime/pgchanges"
)

// TestPostgresValues checks Convert, Change.Value, Change.OldValues, Decode and DecodeOld
// against the values a real PostgreSQL writes: for every case of pgtest.Cases, in a UTC and a
// non-UTC session, the JSON the Realtime server would send (to_jsonb) is converted and compared
// with the Go value derived from PostgreSQL's reference forms of the same value (text output,
// epoch, hex, range bounds, array dimensions). It needs the PostgreSQL server binaries.
func TestPostgresValues(t *testing.T) {
	cluster := pgtest.Start(t)
	truth := cluster.Query(t, pgtest.Cases)
	t.Logf("%d cases (%d values in %d time zones) against %s", len(truth.Results), len(pgtest.Cases), len(pgtest.Zones), cluster.Version)
	converted := map[string]map[string]any{}
	for _, r := range truth.Results {
		t.Run(r.Zone+"/"+r.Name, func(t *testing.T) {
			v := checkValue(t, r)
			if converted[r.Zone] == nil {
				converted[r.Zone] = map[string]any{}
			}
			converted[r.Zone][r.Name] = v
		})
	}
	// The record of a row holding every case, as PostgreSQL writes it.
	for _, zone := range pgtest.Zones {
		var cols []string
		for _, cs := range pgtest.Cases {
			cols = append(cols, fmt.Sprintf(`{"name": %q, "type": %q}`, cs.Name, cs.Type))
		}
		c := parseChange(t, "["+strings.Join(cols, ", ")+"]", truth.Records[zone])
		got, err := c.Values()
		if err != nil {
			t.Fatalf("%s: Values of the record of every case: %v", zone, err)
		}
		if diff := cmp.Diff(converted[zone], got, cmpOpts...); diff != "" {
			t.Errorf("%s: Values of the record of every case (-individually +together):\n%s", zone, diff)
		}
	}
}

// cmpOpts compare converted values exactly: NaN equals NaN, and times must be equal instants in
// the same location.
var cmpOpts = []cmp.Option{
	cmpopts.EquateNaNs(),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }),
	cmp.FilterPath(func(p cmp.Path) bool { return p.Last().Type() == reflect.TypeFor[json.RawMessage]() },
		cmp.Comparer(func(a, b json.RawMessage) bool { return jsonEqual(a, b) })),
}

// jsonEqual reports whether two JSON texts hold the same value, numbers compared as written.
func jsonEqual(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	return da.Decode(&x) == nil && db.Decode(&y) == nil && reflect.DeepEqual(x, y)
}

// fallbackTypes are the cases' types that Convert does not know (enums, domains, composites):
// their values are decoded JSON.
var fallbackTypes = map[string]bool{"mood": true, "pair": true, "bigid": true, "price": true, "stamp": true, "posint": true, "label": true}

// checkValue checks one result and returns its converted value.
func checkValue(t *testing.T, r pgtest.Result) any {
	t.Helper()
	if r.Typname != r.Type {
		t.Errorf("pg_typeof is %s; the case says %s", r.Typname, r.Type)
	}
	refType := r.Type
	if r.Base != "" {
		refType = r.Base
	}
	var want any
	if string(r.Wire) != "null" {
		want = expect(t, refType, r.Refs)
	}
	base := want // the value of the base type, for a domain
	if fallbackTypes[r.Type] {
		want = decodeJSON(t, r.Wire)
		if r.Type == "pair" { // a composite: decoded into JSON
			base = want
		}
	}
	if r.Name == "float8_negzero" {
		// A documented limit: to_jsonb writes -0 as 0 (jsonb numbers are numerics).
		if f, _ := want.(float64); string(r.Wire) != "0" || f != 0 || !math.Signbit(f) {
			t.Errorf("float8 -0 arrives as %s with reference %v; the package documentation says it arrives as 0", r.Wire, want)
		}
		want = 0.0
	}

	got, err := pgchanges.Convert(r.Type, r.Wire)
	if err != nil {
		t.Errorf("Convert(%q, %s): %v", r.Type, r.Wire, err)
	} else if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("Convert(%q, %s) (-want +got):\n%s", r.Type, r.Wire, diff)
	}
	if !bytes.Equal(r.ToJSONB, r.Wire) { // bytea: to_jsonb writes \x-prefixed hex
		if got, err := pgchanges.Convert(r.Type, r.ToJSONB); err != nil || !cmp.Equal(want, got, cmpOpts...) {
			t.Errorf("Convert(%q, %s) = %#v, %v; want %#v", r.Type, r.ToJSONB, got, err, want)
		}
	}

	switch got.(type) {
	case pgchanges.TimeOfDay, pgchanges.Range, pgchanges.Numeric:
		// They write themselves as PostgreSQL does.
		if b, err := got.(json.Marshaler).MarshalJSON(); err != nil || !bytes.Equal(b, r.Wire) {
			t.Errorf("%T.MarshalJSON() = %s, %v; PostgreSQL wrote %s", got, b, err, r.Wire)
		}
	}

	c := parseChange(t, fmt.Sprintf(`[{"name": "v", "type": %q}]`, r.Type), `{"v": `+string(r.Wire)+`}`)
	if got, err := c.Value("v"); err != nil || !cmp.Equal(want, got, cmpOpts...) {
		t.Errorf("Value = %#v, %v; want %#v", got, err, want)
	}
	if got, err := c.OldValues(); err != nil || !cmp.Equal(map[string]any{"v": want}, got, cmpOpts...) {
		t.Errorf("OldValues = %#v, %v; want v: %#v", got, err, want)
	}
	if got, err := pgchanges.Decode[row[any]](c); err != nil || !cmp.Equal(want, got.V, cmpOpts...) {
		t.Errorf("Decode into any = %#v, %v; want %#v", got.V, err, want)
	}
	if got, err := pgchanges.DecodeOld[row[any]](c); err != nil || !cmp.Equal(want, got.V, cmpOpts...) {
		t.Errorf("DecodeOld into any = %#v, %v; want %#v", got.V, err, want)
	}

	// Decode into the Go type a user would choose (a domain's: its base type's).
	gt := goType(refType, base)
	dec, ok := decoders[gt]
	if !ok {
		t.Fatalf("no decoder registered for %v", gt)
	}
	wantTyped, ok := shape(gt, base)
	if !ok {
		t.Fatalf("%#v does not fit %v", base, gt)
	}
	checkDecode(t, c, gt, dec, wantTyped.Interface())
	if strings.HasPrefix(refType, "_") && base != nil {
		// Any array, of any dimension, into a []any.
		checkDecode(t, c, reflect.TypeFor[[]any](), decoders[reflect.TypeFor[[]any]()], want)
	}
	if r.Base == "numeric" {
		// A domain over numeric into a string field: the decimal text.
		n := string(base.(pgchanges.Numeric))
		checkDecode(t, c, reflect.TypeFor[*string](), decoders[reflect.TypeFor[*string]()], &n)
	}
	return got
}

// checkDecode checks Decode and DecodeOld into a row of type gt.
func checkDecode(t *testing.T, c pgchanges.Change, gt reflect.Type, dec func(pgchanges.Change, bool) (any, error), want any) {
	t.Helper()
	for _, old := range []bool{false, true} {
		got, err := dec(c, old)
		if err != nil {
			t.Errorf("Decode (old %v) into %v: %v", old, gt, err)
		} else if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Errorf("Decode (old %v) into %v (-want +got):\n%s", old, gt, diff)
		}
	}
}

// parseChange parses an UPDATE whose record and old_record are both record.
func parseChange(t *testing.T, columns, record string) pgchanges.Change {
	t.Helper()
	data := `{"columns":` + columns + `,"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"old_record":` +
		record + `,"record":` + record + `,"schema":"public","table":"t","type":"UPDATE"}`
	c, err := pgchanges.Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// row is a record with one column, v.
type row[T any] struct {
	V T `json:"v"`
}

// decoders decode the v column of a change into a row of a Go type, by Decode or DecodeOld.
var decoders = map[reflect.Type]func(c pgchanges.Change, old bool) (any, error){}

func register[T any]() {
	decoders[reflect.TypeFor[T]()] = func(c pgchanges.Change, old bool) (any, error) {
		var r row[T]
		var err error
		if old {
			r, err = pgchanges.DecodeOld[row[T]](c)
		} else {
			r, err = pgchanges.Decode[row[T]](c)
		}
		return r.V, err
	}
}

func init() {
	register[*bool]()
	register[*int64]()
	register[*float64]()
	register[*pgchanges.Numeric]()
	register[*string]()
	register[json.RawMessage]()
	register[*time.Time]()
	register[*pgchanges.TimeOfDay]()
	register[[]byte]()
	register[*pgchanges.Range]()
	register[[]*bool]()
	register[[]*int64]()
	register[[][]*int64]()
	register[[][][]*int64]()
	register[[]*float64]()
	register[[]*pgchanges.Numeric]()
	register[[][]*pgchanges.Numeric]()
	register[[]*string]()
	register[[][]*string]()
	register[[]*time.Time]()
	register[[]*pgchanges.TimeOfDay]()
	register[[][]byte]()
	register[[]*pgchanges.Range]()
	register[[]json.RawMessage]()
	register[[]any]()
}

// goType is the Go type to decode a value of a PostgreSQL type into; infinite dates and times
// go into strings.
func goType(typ string, v any) reflect.Type {
	if strings.HasPrefix(typ, "_") {
		t := reflect.SliceOf(goType(typ[1:], nil))
		for d := depth(v); d > 1; d-- {
			t = reflect.SliceOf(t)
		}
		if hasInfinity(v) {
			t = reflect.TypeFor[[]any]()
		}
		return t
	}
	var t reflect.Type
	switch typ {
	case "bool":
		t = reflect.TypeFor[bool]()
	case "int2", "int4", "int8", "oid":
		t = reflect.TypeFor[int64]()
	case "float4", "float8":
		t = reflect.TypeFor[float64]()
	case "numeric":
		t = reflect.TypeFor[pgchanges.Numeric]()
	case "json", "jsonb", "pair":
		return reflect.TypeFor[json.RawMessage]()
	case "date", "timestamp", "timestamptz":
		if _, inf := v.(string); inf {
			t = reflect.TypeFor[string]()
		} else {
			t = reflect.TypeFor[time.Time]()
		}
	case "time", "timetz":
		t = reflect.TypeFor[pgchanges.TimeOfDay]()
	case "bytea":
		return reflect.TypeFor[[]byte]()
	case "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange":
		t = reflect.TypeFor[pgchanges.Range]()
	default:
		t = reflect.TypeFor[string]()
	}
	return reflect.PointerTo(t)
}

// depth returns the number of dimensions of a converted array.
func depth(v any) int {
	a, ok := v.([]any)
	if !ok {
		return 0
	}
	for _, e := range a {
		if e != nil {
			return 1 + depth(e)
		}
	}
	return 1
}

// hasInfinity reports whether an array holds an infinite date or time.
func hasInfinity(v any) bool {
	a, _ := v.([]any)
	for _, e := range a {
		if _, ok := e.(string); ok {
			return true
		}
	}
	return false
}

// shape returns v, a converted value, as a value of type t (a pointer, slice or scalar type).
func shape(t reflect.Type, v any) (reflect.Value, bool) {
	out := reflect.New(t).Elem()
	if v == nil {
		return out, true
	}
	switch {
	case t == reflect.TypeFor[json.RawMessage]():
		b, err := json.Marshal(v)
		if err != nil {
			return out, false
		}
		// the raw JSON as PostgreSQL wrote it is compared by rawEqual
		out.Set(reflect.ValueOf(json.RawMessage(b)))
		return out, true
	case t.Kind() == reflect.Pointer:
		e, ok := shape(t.Elem(), v)
		if !ok {
			return out, false
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		out.Set(p)
		return out, true
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		a, ok := v.([]any)
		if !ok {
			return out, false
		}
		s := reflect.MakeSlice(t, len(a), len(a))
		for i, e := range a {
			ev, ok := shape(t.Elem(), e)
			if !ok {
				return out, false
			}
			s.Index(i).Set(ev)
		}
		out.Set(s)
		return out, true
	}
	rv := reflect.ValueOf(v)
	if !rv.Type().ConvertibleTo(t) {
		return out, false
	}
	out.Set(rv.Convert(t))
	return out, true
}

// expect derives the Go value Convert should return for a value of type typ from PostgreSQL's
// reference forms (see pgtest's refs).
func expect(t *testing.T, typ string, refs json.RawMessage) any {
	t.Helper()
	var forms []json.RawMessage
	if err := json.Unmarshal(refs, &forms); err != nil {
		t.Fatalf("references %s: %v", refs, err)
	}
	str := func(i int) string {
		var s string
		if err := json.Unmarshal(forms[i], &s); err != nil {
			t.Fatalf("reference %d of %s: %v", i, refs, err)
		}
		return s
	}
	if strings.HasPrefix(typ, "_") {
		var elems []json.RawMessage
		if err := json.Unmarshal(forms[1], &elems); err != nil {
			t.Fatal(err)
		}
		flat := make([]any, len(elems))
		for i, e := range elems {
			if string(e) != "null" {
				flat[i] = expect(t, typ[1:], e)
			}
		}
		if string(forms[0]) == "null" { // no dimensions: empty
			return []any{}
		}
		var dims []int
		for _, d := range strings.Split(strings.Trim(str(0), "[]"), "][") {
			lo, hi, _ := strings.Cut(d, ":")
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			dims = append(dims, h-l+1)
		}
		v, rest := reshape(dims, flat)
		if len(rest) != 0 {
			t.Fatalf("array dimensions %s do not fit %d elements", str(0), len(flat))
		}
		return v
	}
	switch typ {
	case "bool":
		return str(0) == "true" || str(0) == "t"
	case "int2", "int4", "int8", "oid":
		i, err := strconv.ParseInt(str(0), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return i
	case "float4", "float8":
		switch s := str(0); s {
		case "NaN":
			return math.NaN()
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		default:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	case "numeric":
		return pgchanges.Numeric(str(0))
	case "json", "jsonb":
		return decodeJSON(t, []byte(str(0)))
	case "date", "timestamp", "timestamptz":
		if str(0) != "true" {
			return str(3) // infinity, -infinity
		}
		days, err := strconv.ParseInt(str(1), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		us := seconds(t, str(2), 1e6).Int64()
		return time.Unix(days*86400+us/1e6, us%1e6*1000).UTC()
	case "time", "timetz":
		us := seconds(t, str(0), 1e6).Int64()
		tod := pgchanges.TimeOfDay{Hour: int(us / 3600e6), Minute: int(us / 60e6 % 60), Second: int(us / 1e6 % 60), Nanosecond: int(us%1e6) * 1000}
		if typ == "timetz" {
			tod.Offset, tod.HasOffset = int(seconds(t, str(1), 1).Int64()), true
		}
		return tod
	case "bytea":
		b, err := hex.DecodeString(str(0))
		if err != nil {
			t.Fatal(err)
		}
		return b
	case "int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange":
		if str(0) == "true" {
			return pgchanges.Range{Empty: true}
		}
		r := pgchanges.Range{LowerUnbounded: str(1) == "true", UpperUnbounded: str(2) == "true",
			LowerInclusive: str(3) == "true", UpperInclusive: str(4) == "true"}
		if !r.LowerUnbounded {
			r.Lower = str(5)
		}
		if !r.UpperUnbounded {
			r.Upper = str(6)
		}
		return r
	}
	return str(0)
}

// seconds parses a decimal number of seconds and returns it times scale, which must make it
// an integer.
func seconds(t *testing.T, s string, scale int64) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("seconds %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		t.Fatalf("%s seconds is not a whole number of 1/%d s", s, scale)
	}
	return r.Num()
}

// reshape builds nested []any of the given dimensions from flat elements in storage order.
func reshape(dims []int, flat []any) (any, []any) {
	out := make([]any, dims[0])
	for i := range out {
		if len(dims) == 1 {
			out[i], flat = flat[0], flat[1:]
		} else {
			out[i], flat = reshape(dims[1:], flat)
		}
	}
	return out, flat
}

// decodeJSON decodes JSON with numbers as json.Number.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}
