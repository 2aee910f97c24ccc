package presence

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// This file walks JSON that json.Valid has accepted, without decoding it: the parsers need the
// exact bytes of each meta (Raw) and exact, case-sensitive matches on "metas", "joins",
// "leaves", "phx_ref" and "phx_ref_prev" (encoding/json matches struct fields without regard to
// case, so a tracked field "PHX_REF" would be taken for the ref). Every index is bounds-checked,
// so even input that is not valid JSON gives an error, never a panic.

// errTruncated reports input that ended inside a value; it cannot happen after json.Valid.
var errTruncated = errors.New("unexpected end of JSON")

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimJSON returns b without leading and trailing JSON whitespace.
func trimJSON(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// valueEnd returns the index just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errTruncated
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := stringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errTruncated
	default: // number, true, false, null
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i, nil
	}
}

// stringEnd returns the index just past the JSON string that starts at b[i] (a quote).
func stringEnd(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errTruncated
}

// decodeString returns the value of the JSON string s (with its quotes).
func decodeString(s []byte) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	inner := s[1 : len(s)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	// Escapes or invalid UTF-8: let encoding/json decode it, so that the result is exactly
	// what json.Unmarshal gives (invalid bytes become U+FFFD).
	var out string
	err := json.Unmarshal(s, &out)
	return out, err
}

// forEachMember calls fn with the key and the raw value of each member of the JSON object v, in
// order, and stops at the first error. v starts with '{'.
func forEachMember(v []byte, fn func(key string, val []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return errors.New("not a JSON object")
	}
	i := 1
	for {
		i = skipSpace(v, i)
		if i >= len(v) {
			return errTruncated
		}
		switch v[i] {
		case '}':
			return nil
		case ',':
			i++
			continue
		}
		if v[i] != '"' {
			return errors.New("JSON object key is not a string")
		}
		kend, err := stringEnd(v, i)
		if err != nil {
			return err
		}
		key, err := decodeString(v[i:kend])
		if err != nil {
			return err
		}
		i = skipSpace(v, kend)
		if i >= len(v) || v[i] != ':' {
			return errors.New("missing colon in JSON object")
		}
		i = skipSpace(v, i+1)
		vend, err := valueEnd(v, i)
		if err != nil {
			return err
		}
		if vend == i {
			return errors.New("empty JSON value")
		}
		if err := fn(key, v[i:vend]); err != nil {
			return err
		}
		i = vend
	}
}

// forEachElement calls fn with the index and the raw value of each element of the JSON array v,
// in order, and stops at the first error. v starts with '['.
func forEachElement(v []byte, fn func(i int, val []byte) error) error {
	if len(v) == 0 || v[0] != '[' {
		return errors.New("not a JSON array")
	}
	i, n := 1, 0
	for {
		i = skipSpace(v, i)
		if i >= len(v) {
			return errTruncated
		}
		switch v[i] {
		case ']':
			return nil
		case ',':
			i++
			continue
		}
		end, err := valueEnd(v, i)
		if err != nil {
			return err
		}
		if end == i {
			return errors.New("empty JSON value")
		}
		if err := fn(n, v[i:end]); err != nil {
			return err
		}
		n++
		i = end
	}
}
