package pgchanges

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Decode decodes c.Record into a T, using each column's type (columns[].type) and the Go type
// of the field it lands in, so that values arrive exactly; see Typed decoding in the package
// documentation. T is usually a struct whose fields are matched to record keys by json tag (or
// name, case-insensitively, as encoding/json does). A map[string]any T gets [Change.Values];
// any other T is decoded by encoding/json with numbers as json.Number.
//
// A nil record gives the zero T. Record keys without a field are ignored. A value that cannot
// be converted is a *ColumnError naming the column, its type and the Go type.
func Decode[T any](c Change) (T, error) {
	var v T
	err := decodeRecord(c, c.Record, reflect.ValueOf(&v).Elem())
	return v, err
}

// DecodeOld is Decode for c.OldRecord (UPDATE and DELETE).
func DecodeOld[T any](c Change) (T, error) {
	var v T
	err := decodeRecord(c, c.OldRecord, reflect.ValueOf(&v).Elem())
	return v, err
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numericType     = reflect.TypeFor[Numeric]()
	jsonNumberType  = reflect.TypeFor[json.Number]()
	bigRatType      = reflect.TypeFor[big.Rat]()
	mapStringAny    = reflect.TypeFor[map[string]any]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeRecord decodes r into rv, which is settable.
func decodeRecord(c Change, r Record, rv reflect.Value) error {
	t := rv.Type()
	switch {
	case t == mapStringAny:
		m, err := c.valuesOf(r)
		if err == nil {
			rv.Set(reflect.ValueOf(m))
		}
		return err
	case t.Kind() == reflect.Pointer:
		if len(r) == 0 {
			return nil
		}
		rv.Set(reflect.New(t.Elem()))
		return decodeRecord(c, r, rv.Elem())
	case t.Kind() != reflect.Struct || t == timeType || t == bigRatType ||
		reflect.PointerTo(t).Implements(unmarshalerType):
		if len(r) == 0 {
			return nil
		}
		return wrapSyntax(r.Decode(rv.Addr().Interface()))
	}
	plan := planFor(t)
	var ferr error
	err := r.each(func(key []byte, esc bool, value []byte) bool {
		if esc {
			key = []byte(decodeString(key, true))
		}
		f := plan.lookup(key)
		if f == nil {
			return true
		}
		typ := c.columnTypeBytes(key)
		fv := rv.FieldByIndex(f.index)
		if err := setValue(fv, f.class, kindOf(typ), typ, value); err != nil {
			ferr = &ColumnError{Column: string(key), Type: typ, GoType: f.typ.String(), Err: err}
			return false
		}
		return true
	})
	if err != nil {
		return wrapSyntax(err)
	}
	return ferr
}

// goClass is how a Go type is decoded.
type goClass uint8

const (
	classFallback goClass = iota // encoding/json, numbers as json.Number
	classTime
	classRawMessage
	classNumeric
	classJSONNumber
	classBigRat
	classPointer
	classBool
	classInt
	classUint
	classFloat
	classString
	classBytes
	classSlice
	classAny
)

// classOf classifies a Go type for decoding.
func classOf(t reflect.Type) goClass {
	switch t {
	case timeType:
		return classTime
	case rawMessageType:
		return classRawMessage
	case numericType:
		return classNumeric
	case jsonNumberType:
		return classJSONNumber
	case bigRatType:
		return classBigRat
	}
	if t.Kind() == reflect.Pointer {
		return classPointer
	}
	if p := reflect.PointerTo(t); p.Implements(unmarshalerType) || p.Implements(textUnmarshaler) {
		return classFallback
	}
	switch t.Kind() {
	case reflect.Bool:
		return classBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return classInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return classUint
	case reflect.Float32, reflect.Float64:
		return classFloat
	case reflect.String:
		return classString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return classBytes
		}
		return classSlice
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return classAny
		}
	}
	return classFallback
}

// fieldPlan is how one struct field is decoded.
type fieldPlan struct {
	name  string
	index []int
	typ   reflect.Type
	class goClass
}

// structPlan maps record keys to the fields of a struct type.
type structPlan struct {
	fields []fieldPlan
	byName map[string]int
}

// lookup finds the field for a key: an exact name first, then case-insensitively.
func (p *structPlan) lookup(key []byte) *fieldPlan {
	if i, ok := p.byName[string(key)]; ok {
		return &p.fields[i]
	}
	for i := range p.fields {
		if strings.EqualFold(p.fields[i].name, string(key)) {
			return &p.fields[i]
		}
	}
	return nil
}

// plans caches a *structPlan per struct type.
var plans sync.Map

// planFor returns the plan of a struct type.
func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	p := buildPlan(t)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*structPlan)
}

// candidate is a field found while walking a struct and its embedded structs.
type candidate struct {
	fieldPlan
	depth  int
	tagged bool
}

// buildPlan collects the fields encoding/json would decode into, with its rules for names and
// embedded structs (the shallowest field wins; at equal depth a single tagged one, else none).
// Fields of embedded pointers to structs are not decoded.
func buildPlan(t reflect.Type) *structPlan {
	var cands []candidate
	collectFields(t, nil, &cands)
	byName := map[string][]candidate{}
	var order []string
	for _, c := range cands {
		if _, seen := byName[c.name]; !seen {
			order = append(order, c.name)
		}
		byName[c.name] = append(byName[c.name], c)
	}
	p := &structPlan{byName: map[string]int{}}
	for _, name := range order {
		cs := byName[name]
		minDepth := slices.MinFunc(cs, func(a, b candidate) int { return a.depth - b.depth }).depth
		var best []candidate
		for _, c := range cs {
			if c.depth == minDepth {
				best = append(best, c)
			}
		}
		if len(best) > 1 {
			best = slices.DeleteFunc(best, func(c candidate) bool { return !c.tagged })
		}
		if len(best) != 1 {
			continue
		}
		p.byName[name] = len(p.fields)
		p.fields = append(p.fields, best[0].fieldPlan)
	}
	return p
}

// collectFields walks the fields of t, whose index path is index.
func collectFields(t reflect.Type, index []int, out *[]candidate) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		idx := append(slices.Clone(index), i)
		if f.Anonymous {
			if f.Type.Kind() == reflect.Pointer {
				continue
			}
			if name == "" && f.Type.Kind() == reflect.Struct {
				collectFields(f.Type, idx, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = f.Name
		}
		*out = append(*out, candidate{
			fieldPlan: fieldPlan{name: name, index: idx, typ: f.Type, class: classOf(f.Type)},
			depth:     len(idx),
			tagged:    tagged,
		})
	}
}

// setValue decodes raw, one complete and valid JSON value of a column of kind k and type typ,
// into v, a settable value of class cls.
func setValue(v reflect.Value, cls goClass, k kind, typ string, raw []byte) error {
	raw = trimJSONSpace(raw)
	if string(raw) == "null" {
		v.SetZero()
		return nil
	}
	switch cls {
	case classPointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return setValue(v.Elem(), classOf(v.Type().Elem()), k, typ, raw)
	case classRawMessage:
		v.SetBytes(bytes.Clone(raw))
		return nil
	case classAny:
		x, err := convert(k, typ, raw)
		if err != nil {
			return wrapSyntax(err)
		}
		if x == nil {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(x))
		}
		return nil
	case classSlice:
		return setSlice(v, k, typ, raw)
	case classFallback:
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		return d.Decode(v.Addr().Interface())
	}
	if cls == classTime {
		if raw[0] != '"' {
			return errWant("a date/time string")
		}
		var t time.Time
		var err error
		if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
			t, err = timeFromText(inner) // without copying the string
		} else {
			_, _, str := token(raw)
			t, err = timeFromText(str)
		}
		if err != nil {
			return err
		}
		*v.Addr().Interface().(*time.Time) = t // without boxing t
		return nil
	}
	// Scalars: a JSON number, string or boolean.
	tok, lit, str := token(raw)
	switch cls {
	case classNumeric:
		n, err := numericOf(tok, lit, str)
		if err != nil {
			return err
		}
		v.SetString(string(n))
	case classJSONNumber:
		n, err := numericOf(tok, lit, str)
		if err != nil || n.IsNaN() || n.IsInf(0) {
			return errWant("a finite number")
		}
		v.SetString(string(n))
	case classBigRat:
		n, err := numericOf(tok, lit, str)
		if err != nil {
			return err
		}
		r, ok := n.Rat()
		if !ok {
			return errWant("a finite number")
		}
		v.Set(reflect.ValueOf(r).Elem())
	case classBool:
		switch tok {
		case 't':
			v.SetBool(true)
		case 'f':
			v.SetBool(false)
		case '"':
			b, err := parseBoolText(str)
			if err != nil {
				return err
			}
			v.SetBool(b)
		default:
			return errWant("a boolean")
		}
	case classInt:
		i, err := intOf(tok, lit, str)
		if err != nil {
			return err
		}
		if v.OverflowInt(i) {
			return fmt.Errorf("%d overflows %s", i, v.Type())
		}
		v.SetInt(i)
	case classUint:
		u, err := uintOf(tok, lit, str)
		if err != nil {
			return err
		}
		if v.OverflowUint(u) {
			return fmt.Errorf("%d overflows %s", u, v.Type())
		}
		v.SetUint(u)
	case classFloat:
		var f float64
		var err error
		switch tok {
		case '0':
			f, err = strconv.ParseFloat(string(lit), v.Type().Bits())
		case '"':
			f, err = parseFloatText(str)
		default:
			return errWant("a number")
		}
		if err != nil || (!math.IsInf(f, 0) && v.OverflowFloat(f)) {
			return errWant("a float that fits")
		}
		v.SetFloat(f)
	case classString:
		switch tok {
		case '"':
			v.SetString(str)
		default: // numbers exactly as sent, true/false, JSON text of objects and arrays
			v.SetString(string(raw))
		}
	case classBytes:
		switch {
		case tok == '"' && k == kindBytea:
			b, err := decodeBytea(str)
			if err != nil {
				return err
			}
			v.SetBytes(b)
		case tok == '"' && k != kindJSON:
			v.SetBytes([]byte(str))
		default: // the JSON text of json/jsonb values, numbers, booleans
			v.SetBytes(bytes.Clone(raw))
		}
	default:
		return fmt.Errorf("internal error: class %d", cls)
	}
	return nil
}

// errWant reports a value of the wrong JSON shape.
func errWant(what string) error { return fmt.Errorf("want %s", what) }

// token classifies a valid JSON value: '0' for a number (lit is its literal), '"' for a string
// (str is its value), 't' or 'f' for booleans, '{' or '[' for containers.
func token(raw []byte) (tok byte, lit []byte, str string) {
	switch c := raw[0]; {
	case c == '"':
		s := scanner{data: raw}
		str, _ = s.stringValue()
		return '"', nil, str
	case c == '-' || isDigit(c):
		return '0', raw, ""
	default:
		return c, nil, ""
	}
}

// numericOf reads an exact number from a JSON number or string.
func numericOf(tok byte, lit []byte, str string) (Numeric, error) {
	switch tok {
	case '0':
		return Numeric(lit), nil
	case '"':
		return parseNumeric(str)
	}
	return "", errWant("a number")
}

// intOf reads an exact integer; an integral decimal such as 12.00 is accepted.
func intOf(tok byte, lit []byte, str string) (int64, error) {
	switch tok {
	case '0':
	case '"':
		lit = []byte(strings.TrimSpace(str))
	default:
		return 0, errWant("an integer")
	}
	if i, ok := atoi64(lit); ok {
		return i, nil
	}
	if r, ok := integral(lit); ok && r.IsInt64() {
		return r.Int64(), nil
	}
	return 0, fmt.Errorf("%.64s is not a 64-bit integer", lit)
}

// integral returns the value of a decimal number without fraction, such as 12.00 or 1e3.
func integral(lit []byte) (*big.Int, bool) {
	n, err := parseNumeric(string(lit))
	if err != nil {
		return nil, false
	}
	r, ok := n.Rat()
	if !ok || !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
}

// uintOf reads an exact unsigned integer.
func uintOf(tok byte, lit []byte, str string) (uint64, error) {
	switch tok {
	case '0':
	case '"':
		lit = []byte(strings.TrimSpace(str))
	default:
		return 0, errWant("an integer")
	}
	if u, err := strconv.ParseUint(string(lit), 10, 64); err == nil {
		return u, nil
	}
	if r, ok := integral(lit); ok && r.IsUint64() {
		return r.Uint64(), nil
	}
	return 0, fmt.Errorf("%.64s is not an unsigned 64-bit integer", lit)
}

// setSlice decodes an array into a slice: a JSON array (nested arrays fill nested slices) or
// a PostgreSQL array literal string. Each element is converted by the array's element type.
func setSlice(v reflect.Value, k kind, typ string, raw []byte) error {
	if raw[0] == '"' && k == kindArray {
		_, _, str := token(raw)
		j, err := literalToJSON(typ[1:], str)
		if err != nil {
			return err
		}
		raw = j
	}
	if raw[0] != '[' {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		return d.Decode(v.Addr().Interface())
	}
	var stack [16][]byte
	items, err := arrayItems(raw, stack[:0])
	if err != nil {
		return err
	}
	elemType := v.Type().Elem()
	ecls := classOf(elemType)
	ek, elem := kindUnknown, ""
	if k == kindArray {
		elem = typ[1:]
		ek = kindOf(elem)
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		ev := s.Index(i)
		var err error
		if item[0] == '[' && k == kindArray && ek != kindJSON && (ecls == classSlice || ecls == classAny ||
			ecls == classPointer && elemType.Elem().Kind() == reflect.Slice) {
			err = setValue(ev, ecls, k, typ, item) // a further dimension ([]any for an any element)
		} else {
			err = setValue(ev, ecls, ek, elem, item)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	v.Set(s)
	return nil
}

// arrayItems appends the elements of the JSON array raw to buf.
func arrayItems(raw []byte, buf [][]byte) ([][]byte, error) {
	s := scanner{data: raw}
	if err := s.expect('['); err != nil {
		return nil, err
	}
	if s.peek() == ']' {
		return buf, nil
	}
	for {
		item, err := s.rawValue()
		if err != nil {
			return nil, err
		}
		buf = append(buf, item)
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			return buf, nil
		default:
			return nil, s.fail()
		}
	}
}

// literalToJSON rewrites a PostgreSQL array literal as a JSON array: elements become JSON
// strings (json/jsonb elements stay JSON text) and NULL becomes null.
func literalToJSON(elem, s string) ([]byte, error) {
	tree, err := parseArrayLiteral("text", s)
	if err != nil {
		return nil, err
	}
	jsonElems := kindOf(elem) == kindJSON
	var appendTree func(b []byte, v any) ([]byte, error)
	appendTree = func(b []byte, v any) ([]byte, error) {
		switch x := v.(type) {
		case nil:
			return append(b, "null"...), nil
		case string:
			if jsonElems {
				if !validJSON([]byte(x)) {
					return nil, fmt.Errorf("invalid JSON element %.64q", x)
				}
				return append(b, x...), nil
			}
			return appendJSONString(b, x), nil
		case []any:
			b = append(b, '[')
			for i, e := range x {
				if i > 0 {
					b = append(b, ',')
				}
				var err error
				if b, err = appendTree(b, e); err != nil {
					return nil, err
				}
			}
			return append(b, ']'), nil
		}
		return nil, fmt.Errorf("internal error: %T in array literal", v)
	}
	return appendTree(nil, tree)
}
