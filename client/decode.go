package client

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// decodeJSON decodes the JSON value data into v (a pointer) the way a json.Decoder with
// UseNumber does: numbers that land in an interface value decode as json.Number. When nothing
// reachable from v's type is an interface, UseNumber cannot change the result, and
// json.Unmarshal, which needs no Decoder and no copy of data, does the same work.
func decodeJSON(data []byte, v any) error {
	if t := reflect.TypeOf(v); t != nil && !holdsInterface(t) {
		return json.Unmarshal(data, v)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
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
