package presence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// EncodeState returns the presence_state payload for state: {"key":{"metas":[…]},…}, keys in
// sorted order, each meta written as its Raw. It is the inverse of [ParseState], meant for fake
// servers and tests.
//
// Each meta's Raw must be a JSON object whose phx_ref is the meta's Ref and whose phx_ref_prev,
// if any, is its PrevRef (as [NewMeta] builds them); otherwise the error wraps [ErrMalformed].
func EncodeState(state map[string][]Meta) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeEntries(&buf, state); err != nil {
		return nil, malformed("encode state: %v", err)
	}
	return buf.Bytes(), nil
}

// EncodeDiff returns the presence_diff payload for d: {"joins":{…},"leaves":{…}}, each side
// written like [EncodeState] writes a state (a nil side is {}). It is the inverse of
// [ParseDiff], meant for fake servers and tests; metas must be valid as for [EncodeState].
func EncodeDiff(d Diff) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"joins":`)
	if err := encodeEntries(&buf, d.Joins); err != nil {
		return nil, malformed("encode diff: joins: %v", err)
	}
	buf.WriteString(`,"leaves":`)
	if err := encodeEntries(&buf, d.Leaves); err != nil {
		return nil, malformed("encode diff: leaves: %v", err)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encodeEntries writes key → {"metas":[…]} for every key of m, sorted.
func encodeEntries(buf *bytes.Buffer, m map[string][]Meta) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, k)
		buf.WriteString(`:{"metas":[`)
		for j, meta := range m[k] {
			if err := checkMeta(meta); err != nil {
				return fmt.Errorf("key %q: meta %d: %w", k, j, err)
			}
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.Write(trimJSON(meta.Raw))
		}
		buf.WriteString(`]}`)
	}
	buf.WriteByte('}')
	return nil
}

// checkMeta reports whether m.Raw is a JSON object that agrees with m.Ref and m.PrevRef.
func checkMeta(m Meta) error {
	if !json.Valid(m.Raw) {
		return errors.New("the Raw field is not valid JSON")
	}
	raw := trimJSON(m.Raw)
	if raw[0] != '{' {
		return errors.New("the Raw field is not a JSON object")
	}
	got, err := scanMeta(raw)
	if err != nil {
		return fmt.Errorf("the Raw field: %w", err)
	}
	if got.Ref != m.Ref || got.PrevRef != m.PrevRef {
		return fmt.Errorf("the Raw field has phx_ref %q, phx_ref_prev %q; the Meta has Ref %q, PrevRef %q",
			got.Ref, got.PrevRef, m.Ref, m.PrevRef)
	}
	return nil
}
