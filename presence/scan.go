package presence

import (
	"bytes"
	"errors"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// The parsers walk JSON that jsonscan.Valid (which accepts what encoding/json's Valid accepts)
// has checked, without decoding it: they need the exact bytes of each meta (Raw) and exact,
// case-sensitive matches on "metas", "joins", "leaves", "phx_ref" and "phx_ref_prev"
// (encoding/json matches struct fields without regard to case, so a tracked field "PHX_REF"
// would be taken for the ref). The walkers of internal/jsonscan only find boundaries; on input
// that is not valid JSON they stop, never panic.

// trimJSON returns b without leading and trailing JSON whitespace.
func trimJSON(b []byte) []byte { return jsonscan.TrimSpace(b) }

// decodeString returns the value of the JSON string s (with its quotes).
func decodeString(s []byte) (string, error) { return jsonscan.Unquote(s) }

// memberKey returns the value of a member's raw key (without quotes, escapes as they are);
// the keys the parsers look for are returned without allocating.
func memberKey(raw []byte) string {
	switch string(raw) {
	case "metas":
		return "metas"
	case "phx_ref":
		return "phx_ref"
	case "phx_ref_prev":
		return "phx_ref_prev"
	case "joins":
		return "joins"
	case "leaves":
		return "leaves"
	}
	return jsonscan.DecodeString(raw, bytes.IndexByte(raw, '\\') >= 0)
}

// errEmpty reports a value that is not there, as in `{"a":}`; it cannot happen after
// jsonscan.Valid.
var errEmpty = errors.New("empty JSON value")

// forEachMember calls fn with the key and the raw value of each member of the JSON object v, in
// order, and stops at the first error. v starts with '{'.
func forEachMember(v []byte, fn func(key string, val []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return errors.New("not a JSON object")
	}
	return jsonscan.ValidMembers(v, func(key, val []byte) error {
		if len(val) == 0 {
			return errEmpty
		}
		return fn(memberKey(key), val)
	})
}

// forEachRawMember is forEachMember with each key as it is in v, without quotes and with its
// escapes (memberKey decodes it).
func forEachRawMember(v []byte, fn func(raw []byte, val []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return errors.New("not a JSON object")
	}
	return jsonscan.ValidMembers(v, func(key, val []byte) error {
		if len(val) == 0 {
			return errEmpty
		}
		return fn(key, val)
	})
}

// forEachElement calls fn with the index and the raw value of each element of the JSON array v,
// in order, and stops at the first error. v starts with '['.
func forEachElement(v []byte, fn func(i int, val []byte) error) error {
	if len(v) == 0 || v[0] != '[' {
		return errors.New("not a JSON array")
	}
	n := 0
	return jsonscan.ValidElements(v, func(val []byte) error {
		n++
		return fn(n-1, val)
	})
}
