package presence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/go-supabase/realtime/internal/jsondecode"
	"github.com/go-supabase/realtime/internal/jsonscan"
)

// Meta is one presence of a key: one tracked device, tab or connection. Several metas under one
// key are told apart by Ref.
//
// Raw is the whole meta object as the server sent it: the fields the client tracked plus
// phx_ref. Numbers in it are kept exactly; use [Meta.Decode], [DecodeMeta] or [DecodeMetas] to
// read the tracked fields. The join half of an update arrives with phx_ref_prev too; the
// parsers keep it ([ParseDiff]), but a [State] drops it from the metas it holds (see the
// package documentation).
//
// Metas handed out by this package share Raw's bytes with the states they come from: treat Raw
// as read-only, like a string.
type Meta struct {
	// Ref is the meta's phx_ref, an opaque string the server generates per track. realtime-js
	// calls it presence_ref.
	Ref string
	// PrevRef is the meta's phx_ref_prev: the Ref this meta replaces. The server sets it on
	// the join half of an update. It is set in parsed payloads and in a Join's New metas, and
	// always empty in the metas of a State.
	PrevRef string
	// Raw is the meta object as received, with every field.
	Raw json.RawMessage
}

// Decode decodes the meta's JSON object into v, as json.Unmarshal would, except that numbers
// decoded into an interface value become json.Number, so that large integers stay exact.
// phx_ref and phx_ref_prev are part of the object, so a map or a struct with matching fields
// receives them too. The results and errors are those of a json.Decoder with UseNumber,
// except that for a Raw that is not valid JSON, v may have been partly written.
func (m Meta) Decode(v any) error { return m.decodeWrap(v, false) }

func (m Meta) decodeWrap(v any, fresh bool) error {
	if err := m.decode(v, fresh); err != nil {
		return fmt.Errorf("presence: decode meta %q: %w", m.Ref, err)
	}
	return nil
}

// decode decodes Raw into v with numbers as json.Number, with jsondecode and, where it falls
// back, encoding/json. fresh says that v points to a zero value: it is zeroed again when Raw
// is malformed, as encoding/json would have left it.
func (m Meta) decode(v any, fresh bool) error {
	switch err := jsondecode.Decode(m.Raw, v, true); err {
	case nil:
		return nil
	case jsondecode.ErrInvalid:
		if rv := reflect.ValueOf(v); fresh && rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv.Elem().SetZero()
		}
	}
	dec := json.NewDecoder(bytes.NewReader(m.Raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// DecodeMeta decodes one meta into a T; see [Meta.Decode]. For a malformed meta it returns
// a zero T.
func DecodeMeta[T any](m Meta) (T, error) {
	var v T
	err := m.decodeWrap(&v, true)
	return v, err
}

// DecodeMetas decodes every meta into a T, in order; see [Meta.Decode]. It stops at the first
// error, which names the index of the meta that failed.
func DecodeMetas[T any](ms []Meta) ([]T, error) {
	out := make([]T, len(ms))
	for i, m := range ms {
		if err := m.decode(&out[i], true); err != nil {
			return nil, fmt.Errorf("presence: decode meta %d (%q): %w", i, m.Ref, err)
		}
	}
	return out, nil
}

// NewMeta builds the meta a server would send for a track of fields: Raw is the JSON object
// fields encodes to, with phx_ref set to ref and, if prevRef is not empty, phx_ref_prev set to
// prevRef (existing fields of those names are replaced). fields must encode to a JSON object or
// null; nil gives a meta with no tracked fields. The keys are written like the Realtime server
// writes them: phx_ref, then phx_ref_prev, then the tracked fields in sorted order.
//
// NewMeta is meant for fake servers and tests; clients get their metas from [ParseState] and
// [ParseDiff].
func NewMeta(ref, prevRef string, fields any) (Meta, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return Meta{}, fmt.Errorf("presence: new meta: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Meta{}, fmt.Errorf("presence: new meta: fields must encode to a JSON object: %w", err)
	}
	delete(obj, "phx_ref")
	delete(obj, "phx_ref_prev")
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var buf bytes.Buffer
	buf.WriteString(`{"phx_ref":`)
	writeJSONString(&buf, ref)
	if prevRef != "" {
		buf.WriteString(`,"phx_ref_prev":`)
		writeJSONString(&buf, prevRef)
	}
	for _, k := range keys {
		buf.WriteByte(',')
		writeJSONString(&buf, k)
		buf.WriteByte(':')
		buf.Write(obj[k])
	}
	buf.WriteByte('}')
	return Meta{Ref: ref, PrevRef: prevRef, Raw: buf.Bytes()}, nil
}

// writeJSONString writes s as a JSON string.
func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// stored returns m as a state keeps it: without phx_ref_prev, which only says what a join
// replaced and means nothing once the meta is in the state (realtime-js drops it too). Raw
// loses the member (the other members keep their bytes; the white space between members
// goes) and PrevRef is cleared. A meta without the member is returned with Raw shared, and
// fresh false; with it, Raw is a new slice and fresh is true.
func stored(m Meta) (_ Meta, fresh bool) {
	m.PrevRef = ""
	if len(m.Raw) == 0 || (!bytes.Contains(m.Raw, prevKey) && bytes.IndexByte(m.Raw, '\\') < 0) {
		return m, false
	}
	obj := trimJSON(m.Raw)
	if len(obj) == 0 || obj[0] != '{' {
		return m, false
	}
	found := false
	_ = forEachMember(obj, func(key string, _ []byte) error {
		if key == "phx_ref_prev" {
			found = true
		}
		return nil
	})
	if !found {
		return m, false
	}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	_ = jsonscan.ValidMembers(obj, func(key, val []byte) error {
		if memberKey(key) == "phx_ref_prev" {
			return nil
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		// key and val are slices of obj: copy from the key's opening quote to the value's end.
		start := cap(obj) - cap(key) - 1
		end := cap(obj) - cap(val) + len(val)
		out = append(out, obj[start:end]...)
		return nil
	})
	m.Raw = append(out, '}')
	return m, true
}

var prevKey = []byte("phx_ref_prev")
