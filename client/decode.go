package client

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/go-supabase/realtime/internal/jsondecode"
)

// decodeJSON decodes the JSON value data into v (a pointer) the way a json.Decoder with
// UseNumber does: numbers that land in an interface value decode as json.Number. When nothing
// reachable from v's type is an interface, UseNumber cannot change the result, and it decodes
// as json.Unmarshal does (which, unlike a Decoder, rejects data after the value).
//
// The work is done by jsondecode, whose results are encoding/json's, and by encoding/json
// itself where jsondecode falls back. One difference remains: for malformed data,
// encoding/json leaves v untouched, while jsondecode may have written part of it before it
// found the error (the error is encoding/json's). decodeJSONFresh removes it.
func decodeJSON(data []byte, v any) error {
	useNumber := holdsInterfaceValue(v)
	if err := jsondecode.Decode(data, v, useNumber); err == nil {
		return nil
	}
	return decodeStd(data, v, useNumber)
}

// decodeJSONFresh is decodeJSON for a v that points to a zero value, which it zeroes again
// for malformed data, so that its results are exactly encoding/json's.
func decodeJSONFresh(data []byte, v any) error {
	useNumber := holdsInterfaceValue(v)
	switch err := jsondecode.Decode(data, v, useNumber); err {
	case nil:
		return nil
	case jsondecode.ErrInvalid:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv.Elem().SetZero()
		}
	}
	return decodeStd(data, v, useNumber)
}

// decodeStd decodes with encoding/json: a json.Decoder with UseNumber, or json.Unmarshal.
func decodeStd(data []byte, v any, useNumber bool) error {
	if !useNumber {
		return json.Unmarshal(data, v)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

func holdsInterfaceValue(v any) bool {
	t := reflect.TypeOf(v)
	return t == nil || holdsInterface(t)
}

// interfaceFree caches holdsInterface by type.
var interfaceFree sync.Map // reflect.Type → bool (true: holds an interface)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// holdsInterface reports whether encoding/json may store a decoded number in an interface
// value somewhere inside a value of type t. A type that decodes itself (json.Unmarshaler or
// encoding.TextUnmarshaler) is opaque: it sees the same bytes either way.
func holdsInterface(t reflect.Type) bool {
	if v, ok := interfaceFree.Load(t); ok {
		return v.(bool)
	}
	r := walkInterface(t, map[reflect.Type]bool{})
	interfaceFree.Store(t, r)
	return r
}

func walkInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a recursive type: its other paths are being walked
	}
	seen[t] = true
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(t)
		if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return walkInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if walkInterface(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
