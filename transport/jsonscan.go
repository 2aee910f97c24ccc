package transport

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// The decoder reads only what routing needs and hands every other JSON value on as raw bytes
// (exact numbers, no float64 round trip). The scanner it uses, in internal/jsonscan, finds the
// extent of a value without building it and rejects what is not JSON; this file holds the
// transport's own uses of it.

// SkipValue returns the index just past the JSON value that starts at b[i] (leading white space
// is skipped), after checking that the value is well-formed JSON.
func SkipValue(b []byte, i int) (int, error) {
	return jsonscan.SkipValue(b, jsonscan.SkipSpace(b, i), 0)
}

// ObjectMembers calls fn with the raw key (without quotes, escapes left as they are) and the
// raw value of each top-level member of the JSON object obj, in order, validating the whole
// object. It stops early, returning fn's error, if fn returns one.
func ObjectMembers(obj []byte, fn func(key, value []byte) error) error {
	return jsonscan.ObjectMembers(obj, fn)
}

// IsObject reports whether raw is a JSON object (it looks only at the first byte that is not
// white space; use it on values the scanner already validated).
func IsObject(raw []byte) bool { return jsonscan.IsObject(raw) }

// IsNull reports whether raw is absent or the JSON literal null.
func IsNull(raw []byte) bool { return jsonscan.IsNull(raw) }

// unquote turns the raw JSON string v into a Go string. null gives "" and ok.
func unquote(v []byte) (string, bool, error) {
	if len(v) == 4 && string(v) == "null" {
		return "", true, nil
	}
	s, err := jsonscan.Unquote(v)
	return s, false, err
}

// unquoteInto is unquote for the hot path: strings without escapes that equal one of the
// interned values are returned without allocating.
func (d *Decoder) unquoteInto(v []byte) (string, bool, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		if !jsonscan.NeedsDecoding(inner) {
			return d.intern(inner), false, nil
		}
	}
	s, null, err := unquote(v)
	if err == nil && strings.ContainsRune(s, utf8.RuneError) && !literalReplacement(v) {
		return "", false, errNotUTF8
	}
	return s, null, err
}

// errNotUTF8 reports a name (a topic, an event) that is not valid UTF-8: such a name is
// refused, not silently changed, since no server that follows the protocol sends one.
var errNotUTF8 = errors.New("not valid UTF-8")

// literalReplacement reports whether the raw JSON string v holds U+FFFD itself (the character
// or its escape), so that the U+FFFD of its value is not a replacement made in decoding it.
func literalReplacement(v []byte) bool {
	return bytes.Contains(v, []byte(string(utf8.RuneError))) || bytes.Contains(bytes.ToLower(v), []byte(`\ufffd`))
}

// UnquoteString decodes the raw JSON string v; null gives "".
func UnquoteString(v []byte) (string, error) {
	s, _, err := unquote(v)
	return s, err
}

// AppendQuote appends s to dst as a JSON string, escaping like encoding/json (without the
// HTML escapes).
func AppendQuote(dst []byte, s string) []byte { return jsonscan.AppendQuote(dst, s) }

// ParseIntList parses a JSON array of integers (such as the ids of a postgres_changes
// payload), appending them to dst. Decimal strings holding integers are accepted too.
func ParseIntList(v []byte, dst []int64) ([]int64, error) {
	if IsNull(v) {
		return dst, nil
	}
	i := jsonscan.SkipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return dst, jsonscan.SyntaxError(v, i, "want an array of integers")
	}
	i, more, err := jsonscan.Open(v, i, 1)
	for more {
		var end int
		if end, err = jsonscan.SkipValue(v, i, 1); err != nil {
			return dst, err
		}
		n, ok := jsonscan.ParseInt(v[i:end])
		if !ok {
			return dst, fmt.Errorf("%w: want an integer, got %.40q", jsonscan.ErrSyntax, v[i:end])
		}
		dst = append(dst, n)
		i, more, err = jsonscan.Next(v, end, ']')
	}
	if err != nil {
		return dst, err
	}
	return dst, jsonscan.CheckEnd(v, i)
}

// peekPhoenix reports whether a text frame is on topic "phoenix" (the topic of heartbeat
// replies), looking only at the envelope up to the topic and trusting nothing: a malformed
// frame gives false and is decoded, and dropped, where it is handed on.
func peekPhoenix(v Version, frame []byte) bool {
	const phoenix = `"phoenix"`
	if v == V1 {
		i := jsonscan.SkipSpace(frame, 0)
		if i >= len(frame) || frame[i] != '{' {
			return false
		}
		found := false
		_ = jsonscan.ValidMembers(frame, func(k, val []byte) error {
			if string(k) == "topic" && string(val) == phoenix {
				found = true
			}
			return nil
		})
		return found
	}
	i := jsonscan.SkipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '[' {
		return false
	}
	i++
	for range 2 { // join_ref, ref
		i = jsonscan.EndOfValid(frame, jsonscan.SkipSpace(frame, i))
		i = jsonscan.SkipSpace(frame, i)
		if i >= len(frame) || frame[i] != ',' {
			return false
		}
		i++
	}
	i = jsonscan.SkipSpace(frame, i)
	return len(frame)-i >= len(phoenix) && string(frame[i:i+len(phoenix)]) == phoenix
}
