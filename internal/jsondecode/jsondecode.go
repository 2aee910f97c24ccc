// Package jsondecode decodes JSON into Go values with the results of encoding/json, faster.
//
// It compiles a decoder per type (cached by reflect.Type, as encoding/json caches its field
// lists) that parses by recursive descent straight into the value, validating as it goes,
// with the scanner of internal/jsonscan. It does not try to reproduce all of encoding/json:
//
//   - A type it does not support (see [Decode]) is never decoded here: Decode returns
//     [ErrFallback] at once, decided once per type.
//   - Any doubtful case while decoding (a value of the wrong JSON type for its Go type, an
//     integer that overflows, a string for a json.Number, deep nesting, an interface value
//     holding a pointer, an error from an UnmarshalJSON or UnmarshalText method, ...) also
//     returns ErrFallback, and malformed JSON returns [ErrInvalid]. The caller then decodes
//     with encoding/json, which produces its own results and its exact error.
//
// The fallback may run after this package wrote part of the value. That is harmless because
// decoding a supported type is idempotent, and this package writes only what encoding/json
// writes, in the same places: encoding/json decodes into the existing value (struct fields
// present in the input are overwritten, absent ones kept; a duplicate key decodes into the
// same field again; maps keep their other keys; slices keep their backing array and are cut
// to the input's length; pointers are reused), so decoding the same input twice gives what
// decoding it once gives. The one exception is malformed input ([ErrInvalid]): encoding/json
// then writes nothing, while this package may have written a prefix of the value. Methods
// UnmarshalJSON and UnmarshalText may be called twice with the same bytes when the fallback
// runs (like the methods of encoding/json's own types, they should replace the value), and
// for a value of an input found malformed further on, which encoding/json rejects first.
package jsondecode

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// ErrFallback says that the value must be decoded with encoding/json instead; the value may
// hold writes from this package that encoding/json makes again.
var ErrFallback = errors.New("jsondecode: decode with encoding/json")

// ErrInvalid says that the input is not valid JSON where encoding/json reads it, so that
// encoding/json fails without writing to the value (decode with it for its exact error). This
// package may have written part of the value before it found the error.
var ErrInvalid = errors.New("jsondecode: malformed JSON")

// maxDepth bounds the nesting this package decodes by recursion; deeper values fall back.
const maxDepth = 500

// Decode decodes the JSON value data into v, which must be a non-nil pointer. With useNumber
// false the result is json.Unmarshal(data, v)'s; with useNumber true it is that of a
// json.Decoder over data with UseNumber (numbers into interface values decode as
// json.Number, and what follows the first value is not read). Decode returns nil when it
// decoded v exactly as encoding/json would have, and otherwise ErrFallback or ErrInvalid.
//
// Supported types: bool, string, the integer and floating-point kinds, pointers, structs
// without embedded fields and without the ",string" option, slices and arrays (not byte
// slices), maps with string keys (key types without an UnmarshalText method), empty
// interfaces, json.Number, and named types whose pointer implements json.Unmarshaler or
// encoding.TextUnmarshaler, each built of supported types.
func Decode(data []byte, v any, useNumber bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return ErrFallback
	}
	td := decoderFor(rv.Type().Elem())
	if td.fn == nil {
		return ErrFallback
	}
	var s state
	if useNumber {
		s = stateUseNumber
	}
	start := jsonscan.SkipSpace(data, 0)
	i, err := td.fn(data, start, rv.UnsafePointer(), s)
	if err == nil && jsonscan.SkipSpace(data, i) != len(data) {
		if !useNumber {
			return ErrInvalid
		}
		err = ErrFallback // a json.Decoder stops after the first value
	}
	if err == ErrFallback {
		// The value may have been written, which would be a difference if encoding/json
		// found the input malformed after the point where decoding stopped: it then writes
		// nothing. Say so with ErrInvalid.
		if useNumber {
			_, err := jsonscan.SkipValue(data, start, 0)
			return invalidOr(err, ErrFallback)
		}
		return invalidOr(jsonscan.Check(data), ErrFallback)
	}
	return err
}

// invalidOr returns ErrInvalid for a scanner error, otherwise or.
func invalidOr(scanErr, or error) error {
	if scanErr != nil {
		return ErrInvalid
	}
	return or
}

// Supported reports whether Decode can decode into a value of type t (a pointer type's
// element type) without falling back for the type alone.
func Supported(t reflect.Type) bool { return decoderFor(t).fn != nil }

// state is the nesting depth of the value being decoded, shifted left by one, and
// stateUseNumber. It travels as an argument so that decoding needs no heap state.
type state uint32

const stateUseNumber state = 1

func (s state) depth() int      { return int(s >> 1) }
func (s state) deeper() state   { return s + 2 }
func (s state) useNumber() bool { return s&stateUseNumber != 0 }
func (s state) tooDeep() bool   { return s.depth() > maxDepth }

// decodeFunc decodes the JSON value starting at b[i] (after white space) into the value of
// its type at p and returns the index just past the JSON value.
type decodeFunc func(b []byte, i int, p unsafe.Pointer, s state) (int, error)

// typeDec is the compiled decoder of a type; fn is nil for a type that is not supported. A
// recursive type refers to its own typeDec, whose fn is set when its compilation ends.
type typeDec struct{ fn decodeFunc }

var cache sync.Map // reflect.Type → *typeDec

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

func decoderFor(t reflect.Type) *typeDec {
	if td, ok := cache.Load(t); ok {
		return td.(*typeDec)
	}
	c := compiler{seen: map[reflect.Type]*typeDec{}}
	td := c.typ(t)
	if c.failed {
		// A type inside may have been compiled on the assumption that t was supported.
		td, _ := cache.LoadOrStore(t, &typeDec{})
		return td.(*typeDec)
	}
	for st, sd := range c.seen {
		cache.LoadOrStore(st, sd)
	}
	got, _ := cache.Load(t)
	if got == nil {
		return td
	}
	return got.(*typeDec)
}

type compiler struct {
	seen   map[reflect.Type]*typeDec
	failed bool
}

func (c *compiler) typ(t reflect.Type) *typeDec {
	if td, ok := c.seen[t]; ok {
		return td
	}
	td := &typeDec{}
	c.seen[t] = td
	td.fn = c.build(t)
	if td.fn == nil {
		c.failed = true
	}
	return td
}

func (c *compiler) build(t reflect.Type) decodeFunc {
	if t.Kind() != reflect.Pointer && t.Name() != "" {
		// encoding/json looks for the methods on the value's address.
		pt := reflect.PointerTo(t)
		if pt.Implements(jsonUnmarshalerType) {
			return unmarshalerDecoder(t)
		}
		if pt.Implements(textUnmarshalerType) {
			return textUnmarshalerDecoder(t)
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return decodeBool
	case reflect.String:
		if t == numberType {
			return decodeNumber
		}
		return decodeString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intDecoder(t)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintDecoder(t)
	case reflect.Float32:
		return decodeFloat32
	case reflect.Float64:
		return decodeFloat64
	case reflect.Pointer:
		if t.Name() != "" {
			return nil // encoding/json does not look for methods through a named pointer type
		}
		return pointerDecoder(t, c.typ(t.Elem()))
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil
		}
		return decodeInterface
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64
		}
		return sliceDecoder(t, c.typ(t.Elem()))
	case reflect.Array:
		return arrayDecoder(t, c.typ(t.Elem()))
	case reflect.Map:
		kt := t.Key()
		if kt.Kind() != reflect.String || reflect.PointerTo(kt).Implements(textUnmarshalerType) {
			return nil
		}
		return mapDecoder(t, c.typ(t.Elem()))
	case reflect.Struct:
		return c.structDecoder(t)
	}
	return nil
}

// invalid maps a scanner error to ErrInvalid.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return ErrInvalid
}

// skipNull handles a JSON value of the wrong type for a value that null leaves as it is: it
// returns the index past null, or ErrFallback for anything else (a type error for
// encoding/json) or ErrInvalid.
func skipNull(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrInvalid
	}
	if b[i] == 'n' {
		end, err := jsonscan.SkipLiteral(b, i, "null")
		return end, invalid(err)
	}
	return 0, ErrFallback
}

func decodeBool(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
	if i < len(b) {
		switch b[i] {
		case 't':
			end, err := jsonscan.SkipLiteral(b, i, "true")
			if err != nil {
				return 0, ErrInvalid
			}
			*(*bool)(p) = true
			return end, nil
		case 'f':
			end, err := jsonscan.SkipLiteral(b, i, "false")
			if err != nil {
				return 0, ErrInvalid
			}
			*(*bool)(p) = false
			return end, nil
		}
	}
	return skipNull(b, i)
}

func decodeString(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
	if i < len(b) && b[i] == '"' {
		end, escaped, err := jsonscan.SkipString(b, i)
		if err != nil {
			return 0, ErrInvalid
		}
		*(*string)(p) = jsonscan.DecodeString(b[i+1:end-1], escaped)
		return end, nil
	}
	return skipNull(b, i)
}

// decodeNumber decodes a json.Number from a number literal. encoding/json also accepts a
// string holding a valid number: that case falls back.
func decodeNumber(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
	if i < len(b) && (b[i] == '-' || jsonscan.IsDigit(b[i])) {
		end, err := jsonscan.SkipNumber(b, i)
		if err != nil {
			return 0, ErrInvalid
		}
		*(*string)(p) = string(b[i:end])
		return end, nil
	}
	return skipNull(b, i)
}

// scanInt reads the number at b[i] when it is an integer literal of at most 18 digits, the
// common case, and returns its value. ok is false for other numbers (a fraction or exponent,
// or more digits), which the caller parses as encoding/json does; end is then the index past
// the number. err is ErrInvalid for a malformed number.
func scanInt(b []byte, i int) (n uint64, neg bool, end int, ok bool, err error) {
	j := i
	if j < len(b) && b[j] == '-' {
		neg = true
		j++
	}
	start := j
	if j < len(b) && b[j] == '0' {
		j++
	} else {
		for j < len(b) && b[j]-'0' <= 9 {
			n = n*10 + uint64(b[j]-'0')
			j++
		}
	}
	if j == start {
		return 0, false, 0, false, ErrInvalid
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') || j-start > 18 {
		end, err := jsonscan.SkipNumber(b, i)
		return 0, neg, end, false, invalid(err)
	}
	return n, neg, j, true, nil
}

func intDecoder(t reflect.Type) decodeFunc {
	bits := t.Bits()
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	store := intStore(t.Kind())
	return func(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
		if i >= len(b) || (b[i] != '-' && !jsonscan.IsDigit(b[i])) {
			return skipNull(b, i)
		}
		u, neg, end, ok, err := scanInt(b, i)
		if err != nil {
			return 0, err
		}
		var n int64
		if ok {
			n = int64(u)
			if neg {
				n = -n
			}
		} else {
			var perr error
			if n, perr = strconv.ParseInt(string(b[i:end]), 10, 64); perr != nil {
				return 0, ErrFallback
			}
		}
		if n < lo || n > hi {
			return 0, ErrFallback
		}
		store(p, n)
		return end, nil
	}
}

func intStore(k reflect.Kind) func(unsafe.Pointer, int64) {
	switch k {
	case reflect.Int8:
		return func(p unsafe.Pointer, n int64) { *(*int8)(p) = int8(n) }
	case reflect.Int16:
		return func(p unsafe.Pointer, n int64) { *(*int16)(p) = int16(n) }
	case reflect.Int32:
		return func(p unsafe.Pointer, n int64) { *(*int32)(p) = int32(n) }
	case reflect.Int:
		return func(p unsafe.Pointer, n int64) { *(*int)(p) = int(n) }
	}
	return func(p unsafe.Pointer, n int64) { *(*int64)(p) = n }
}

func uintDecoder(t reflect.Type) decodeFunc {
	hi := uint64(1)<<(t.Bits()-1)<<1 - 1
	k := t.Kind()
	return func(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
		if i >= len(b) || (b[i] != '-' && !jsonscan.IsDigit(b[i])) {
			return skipNull(b, i)
		}
		n, neg, end, ok, err := scanInt(b, i)
		if err != nil {
			return 0, err
		}
		if neg {
			return 0, ErrFallback // strconv.ParseUint takes no sign, not even for -0
		}
		if !ok {
			var perr error
			if n, perr = strconv.ParseUint(string(b[i:end]), 10, 64); perr != nil {
				return 0, ErrFallback
			}
		}
		if n > hi {
			return 0, ErrFallback
		}
		switch k {
		case reflect.Uint8:
			*(*uint8)(p) = uint8(n)
		case reflect.Uint16:
			*(*uint16)(p) = uint16(n)
		case reflect.Uint32:
			*(*uint32)(p) = uint32(n)
		case reflect.Uint:
			*(*uint)(p) = uint(n)
		case reflect.Uintptr:
			*(*uintptr)(p) = uintptr(n)
		default:
			*(*uint64)(p) = n
		}
		return end, nil
	}
}

// parseFloat parses the number at b[i] as strconv.ParseFloat with bitSize does, as
// encoding/json parses it; ok is false where encoding/json reports an error.
func parseFloat(b []byte, i, bitSize int) (f float64, end int, err error) {
	u, neg, end, ok, err := scanInt(b, i)
	if err != nil {
		return 0, 0, err
	}
	if ok && u < 1<<53 { // exact in a float64: one rounding to float32 at most
		f = float64(u)
		if neg {
			f = -f
		}
		return f, end, nil
	}
	f, perr := strconv.ParseFloat(string(b[i:end]), bitSize)
	if perr != nil {
		return 0, 0, ErrFallback
	}
	return f, end, nil
}

func decodeFloat64(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
	if i >= len(b) || (b[i] != '-' && !jsonscan.IsDigit(b[i])) {
		return skipNull(b, i)
	}
	f, end, err := parseFloat(b, i, 64)
	if err != nil {
		return 0, err
	}
	*(*float64)(p) = f
	return end, nil
}

func decodeFloat32(b []byte, i int, p unsafe.Pointer, _ state) (int, error) {
	if i >= len(b) || (b[i] != '-' && !jsonscan.IsDigit(b[i])) {
		return skipNull(b, i)
	}
	f, end, err := parseFloat(b, i, 32)
	if err != nil {
		return 0, err
	}
	*(*float32)(p) = float32(f)
	return end, nil
}

// setNull decodes null into a pointer, map, slice or interface of type t: it sets it to nil.
// enter opens the array or object at b[i] one level deeper than s, and returns the index of
// its first member or element, whether it has one, and the state inside it. Beyond maxDepth it
// falls back.
func enter(b []byte, i int, s state) (int, bool, state, error) {
	if s = s.deeper(); s.tooDeep() {
		return 0, false, s, ErrFallback
	}
	i, more, err := jsonscan.Open(b, i, s.depth())
	if err != nil {
		return 0, false, s, ErrInvalid
	}
	return i, more, s, nil
}

func setNull(b []byte, i int, p unsafe.Pointer, t reflect.Type) (int, error) {
	end, err := jsonscan.SkipLiteral(b, i, "null")
	if err != nil {
		return 0, ErrInvalid
	}
	reflect.NewAt(t, p).Elem().SetZero()
	return end, nil
}

func pointerDecoder(t reflect.Type, elem *typeDec) decodeFunc {
	et := t.Elem()
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		if i >= len(b) {
			return 0, ErrInvalid
		}
		if b[i] == 'n' {
			end, err := jsonscan.SkipLiteral(b, i, "null")
			if err != nil {
				return 0, ErrInvalid
			}
			*(*unsafe.Pointer)(p) = nil
			return end, nil
		}
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			q = reflect.New(et).UnsafePointer()
			*(*unsafe.Pointer)(p) = q
		}
		return elem.fn(b, i, q, s)
	}
}

// unmarshalerDecoder calls the UnmarshalJSON method of the value's address with the value's
// bytes (after checking them), null included, as encoding/json does.
func unmarshalerDecoder(t reflect.Type) decodeFunc {
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		end, err := jsonscan.SkipValue(b, i, s.depth())
		if err != nil {
			return 0, ErrInvalid
		}
		u := reflect.NewAt(t, p).Interface().(json.Unmarshaler)
		if u.UnmarshalJSON(b[i:end]) != nil {
			return 0, ErrFallback
		}
		return end, nil
	}
}

// textUnmarshalerDecoder calls the UnmarshalText method of the value's address with the
// value of a JSON string. null sets a map or slice to nil and leaves other kinds; any other
// JSON value is a type error for encoding/json.
func textUnmarshalerDecoder(t reflect.Type) decodeFunc {
	k := t.Kind()
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		if i >= len(b) {
			return 0, ErrInvalid
		}
		switch b[i] {
		case '"':
			end, escaped, err := jsonscan.SkipString(b, i)
			if err != nil {
				return 0, ErrInvalid
			}
			raw := b[i+1 : end-1]
			if escaped || !utf8.Valid(raw) {
				raw = []byte(jsonscan.DecodeString(raw, escaped))
			}
			u := reflect.NewAt(t, p).Interface().(encoding.TextUnmarshaler)
			if u.UnmarshalText(raw) != nil {
				return 0, ErrFallback
			}
			return end, nil
		case 'n':
			if k == reflect.Map || k == reflect.Slice {
				return setNull(b, i, p, t)
			}
			return skipNull(b, i)
		}
		return 0, ErrFallback
	}
}

func sliceDecoder(t reflect.Type, elem *typeDec) decodeFunc {
	size := t.Elem().Size()
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		if i >= len(b) {
			return 0, ErrInvalid
		}
		if b[i] != '[' {
			if b[i] == 'n' {
				return setNull(b, i, p, t)
			}
			return 0, ErrFallback
		}
		i, more, s, err := enter(b, i, s)
		if err != nil {
			return 0, err
		}
		sv := reflect.NewAt(t, p).Elem()
		n := 0
		for more {
			// As encoding/json: grow by one element at a time, decoding into the elements
			// the slice's backing array already has.
			if n >= sv.Cap() {
				sv.Grow(1)
			}
			if n >= sv.Len() {
				sv.SetLen(n + 1)
			}
			if i, err = elem.fn(b, i, unsafe.Add(sv.UnsafePointer(), uintptr(n)*size), s); err != nil {
				return 0, err
			}
			n++
			if i, more, err = jsonscan.Next(b, i, ']'); err != nil {
				return 0, ErrInvalid
			}
		}
		if n < sv.Len() {
			sv.SetLen(n)
		}
		if n == 0 {
			sv.Set(reflect.MakeSlice(t, 0, 0))
		}
		return i, nil
	}
}

func arrayDecoder(t reflect.Type, elem *typeDec) decodeFunc {
	size, length := t.Elem().Size(), t.Len()
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		if i >= len(b) || b[i] != '[' {
			return skipNull(b, i)
		}
		i, more, s, err := enter(b, i, s)
		if err != nil {
			return 0, err
		}
		n := 0
		for more {
			if n < length {
				i, err = elem.fn(b, i, unsafe.Add(p, uintptr(n)*size), s)
			} else {
				i, err = jsonscan.SkipValue(b, i, s.depth())
				err = invalid(err)
			}
			if err != nil {
				return 0, err
			}
			n++
			if i, more, err = jsonscan.Next(b, i, ']'); err != nil {
				return 0, ErrInvalid
			}
		}
		if n < length {
			av := reflect.NewAt(t, p).Elem()
			for ; n < length; n++ {
				av.Index(n).SetZero()
			}
		}
		return i, nil
	}
}

// mapDecoder decodes an object into a map with string keys: as encoding/json, it makes the
// map if it is nil and sets each member's key to a value decoded into a zero element.
func mapDecoder(t reflect.Type, elem *typeDec) decodeFunc {
	kt, et := t.Key(), t.Elem()
	return func(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
		if i >= len(b) {
			return 0, ErrInvalid
		}
		if b[i] != '{' {
			if b[i] == 'n' {
				return setNull(b, i, p, t)
			}
			return 0, ErrFallback
		}
		i, more, s, err := enter(b, i, s)
		if err != nil {
			return 0, err
		}
		mv := reflect.NewAt(t, p).Elem()
		if mv.IsNil() {
			mv.Set(reflect.MakeMap(t))
		}
		var ev, kv reflect.Value
		for more {
			key, escaped, vi, err := jsonscan.Key(b, i)
			if err != nil {
				return 0, ErrInvalid
			}
			if !ev.IsValid() {
				ev, kv = reflect.New(et).Elem(), reflect.New(kt).Elem()
			} else {
				ev.SetZero()
			}
			if i, err = elem.fn(b, vi, ev.Addr().UnsafePointer(), s); err != nil {
				return 0, err
			}
			kv.SetString(jsonscan.DecodeString(key, escaped))
			mv.SetMapIndex(kv, ev)
			if i, more, err = jsonscan.Next(b, i, '}'); err != nil {
				return 0, ErrInvalid
			}
		}
		return i, nil
	}
}

// decodeInterface decodes into an empty interface value: a fresh map[string]any, []any,
// string, bool, float64 or json.Number (with UseNumber), or nil. encoding/json decodes into
// the value an interface holds when it is a pointer: that case falls back.
func decodeInterface(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
	ip := (*any)(p)
	if *ip != nil && reflect.TypeOf(*ip).Kind() == reflect.Pointer {
		return 0, ErrFallback
	}
	v, end, err := anyValue(b, i, s)
	if err != nil {
		return 0, err
	}
	*ip = v
	return end, nil
}

func anyValue(b []byte, i int, s state) (any, int, error) {
	if i >= len(b) {
		return nil, 0, ErrInvalid
	}
	switch c := b[i]; {
	case c == '"':
		end, escaped, err := jsonscan.SkipString(b, i)
		if err != nil {
			return nil, 0, ErrInvalid
		}
		return jsonscan.DecodeString(b[i+1:end-1], escaped), end, nil
	case c == '{':
		i, more, s, err := enter(b, i, s)
		if err != nil {
			return nil, 0, err
		}
		m := map[string]any{}
		for more {
			key, escaped, vi, err := jsonscan.Key(b, i)
			if err != nil {
				return nil, 0, ErrInvalid
			}
			var v any
			if v, i, err = anyValue(b, vi, s); err != nil {
				return nil, 0, err
			}
			m[jsonscan.DecodeString(key, escaped)] = v
			if i, more, err = jsonscan.Next(b, i, '}'); err != nil {
				return nil, 0, ErrInvalid
			}
		}
		return m, i, nil
	case c == '[':
		i, more, s, err := enter(b, i, s)
		if err != nil {
			return nil, 0, err
		}
		a := []any{}
		for more {
			var v any
			if v, i, err = anyValue(b, i, s); err != nil {
				return nil, 0, err
			}
			a = append(a, v)
			if i, more, err = jsonscan.Next(b, i, ']'); err != nil {
				return nil, 0, ErrInvalid
			}
		}
		return a, i, nil
	case c == 't':
		end, err := jsonscan.SkipLiteral(b, i, "true")
		return true, end, invalid(err)
	case c == 'f':
		end, err := jsonscan.SkipLiteral(b, i, "false")
		return false, end, invalid(err)
	case c == 'n':
		end, err := jsonscan.SkipLiteral(b, i, "null")
		return nil, end, invalid(err)
	case c == '-' || jsonscan.IsDigit(c):
		if s.useNumber() {
			end, err := jsonscan.SkipNumber(b, i)
			if err != nil {
				return nil, 0, ErrInvalid
			}
			return json.Number(b[i:end]), end, nil
		}
		f, end, err := parseFloat(b, i, 64)
		if err != nil {
			return nil, 0, err
		}
		return f, end, nil
	}
	return nil, 0, ErrInvalid
}

// field is a struct field that JSON object members decode into.
type field struct {
	name   string
	offset uintptr
	dec    *typeDec
}

type structDec struct {
	fields []field        // in the order of the struct
	exact  map[string]int // name → index in fields
	folded map[string]int // foldName(name) → index of the first field with that folded name
}

// structDecoder lists a struct's fields with encoding/json's rules (typeFields), for structs
// without embedded fields: unexported fields and those tagged "-" are ignored; a valid tag
// name replaces the field's name; among fields of the same name, a tagged one wins if it is
// the only tagged one, and otherwise none of them is decoded.
func (c *compiler) structDecoder(t reflect.Type) decodeFunc {
	type cand struct {
		name   string
		tagged bool
		index  int
	}
	var cands []cand
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := cutComma(tag)
		if tagHas(opts, "string") {
			return nil
		}
		if !isValidTag(name) {
			name = ""
		}
		tagged := name != ""
		if name == "" {
			name = sf.Name
		}
		cands = append(cands, cand{name, tagged, i})
	}
	byName := map[string][]cand{}
	for _, cd := range cands {
		byName[cd.name] = append(byName[cd.name], cd)
	}
	sd := &structDec{exact: map[string]int{}, folded: map[string]int{}}
	for _, cd := range cands {
		same := byName[cd.name]
		if len(same) > 1 {
			ntagged := 0
			for _, o := range same {
				if o.tagged {
					ntagged++
				}
			}
			if ntagged != 1 || !cd.tagged {
				continue
			}
		}
		sf := t.Field(cd.index)
		sd.fields = append(sd.fields, field{name: cd.name, offset: sf.Offset, dec: c.typ(sf.Type)})
	}
	for j, f := range sd.fields {
		sd.exact[f.name] = j
		fk := string(appendFoldedName(nil, []byte(f.name)))
		if _, ok := sd.folded[fk]; !ok {
			sd.folded[fk] = j
		}
	}
	return sd.decode
}

func (sd *structDec) decode(b []byte, i int, p unsafe.Pointer, s state) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return skipNull(b, i)
	}
	i, more, s, err := enter(b, i, s)
	if err != nil {
		return 0, err
	}
	next := 0
	for more {
		key, escaped, vi, err := jsonscan.Key(b, i)
		if err != nil {
			return 0, ErrInvalid
		}
		j := -1
		if !escaped && next < len(sd.fields) && string(key) == sd.fields[next].name {
			j = next // members in the struct's order: the usual case
		} else {
			j = sd.lookup(key, escaped)
		}
		if j < 0 {
			i, err = jsonscan.SkipValue(b, vi, s.depth())
			err = invalid(err)
		} else {
			f := &sd.fields[j]
			i, err = f.dec.fn(b, vi, unsafe.Add(p, f.offset), s)
			next = j + 1
		}
		if err != nil {
			return 0, err
		}
		if i, more, err = jsonscan.Next(b, i, '}'); err != nil {
			return 0, ErrInvalid
		}
	}
	return i, nil
}

// lookup finds the field of a key as encoding/json does: the field of that exact name, or
// else the first field whose name equals it under case folding (bytes.EqualFold). Keys are
// compared after unquoting, and bytes that are not UTF-8 in a key become U+FFFD; since field
// names are UTF-8 and fold the same way, a key without escapes needs no unquoting.
func (sd *structDec) lookup(key []byte, escaped bool) int {
	if escaped {
		key = []byte(jsonscan.DecodeString(key, true))
	}
	if j, ok := sd.exact[string(key)]; ok {
		return j
	}
	var buf [64]byte
	if j, ok := sd.folded[string(appendFoldedName(buf[:0], key))]; ok {
		return j
	}
	return -1
}

// appendFoldedName is encoding/json's: foldName(x) == foldName(y) exactly when
// bytes.EqualFold(x, y).
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// cutComma splits a json tag into its name and its options.
func cutComma(tag string) (name, opts string, found bool) {
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			return tag[:i], tag[i+1:], true
		}
	}
	return tag, "", false
}

// tagHas reports whether the comma-separated options opts include opt.
func tagHas(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = cutComma(opts)
		if o == opt {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's test of a tag name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case containsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}
