package transport

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The decoder reads only what routing needs and hands every other JSON value on as raw bytes
// (exact numbers, no float64 round trip). This file is the small validating scanner it uses: it
// finds the extent of a value without building it, and rejects what is not JSON.

// maxDepth bounds the nesting of JSON values the scanner accepts, like encoding/json.
const maxDepth = 10000

// errSyntax is wrapped by every scanner error.
var errSyntax = errors.New("invalid JSON")

func syntaxErr(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("%w: unexpected end of input, %s", errSyntax, what)
	}
	return fmt.Errorf("%w: offset %d: %s", errSyntax, i, what)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipValue returns the index just past the JSON value that starts at b[i] (leading white space
// is skipped), after checking that the value is well-formed JSON.
func SkipValue(b []byte, i int) (int, error) {
	return skipValue(b, skipSpace(b, i), 0)
}

func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(b, i, "want a value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := skipString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	default:
		return 0, syntaxErr(b, i, "want a value")
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, syntaxErr(b, i, "want "+lit)
	}
	return i + len(lit), nil
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, syntaxErr(b, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, syntaxErr(b, start, "bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, syntaxErr(b, start, "bad number")
		}
	}
	return i, nil
}

// skipString returns the index past the string starting at b[i] (which must be '"') and whether
// it contains escapes. Control characters and malformed escapes are errors; invalid UTF-8 is let
// through (it is replaced when the string is unquoted), as the real server does not validate it.
func skipString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	// Eight bytes at a time while none of them is a quote, a backslash or a control
	// character (the common case: most of a payload is plain string bytes).
	for j+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[j:])
		if hasLess(w, 0x20)|hasZero(w^(lsb*'"'))|hasZero(w^(lsb*'\\')) != 0 {
			break
		}
		j += 8
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			j++
			if j >= len(b) {
				return 0, false, syntaxErr(b, j, "unterminated string")
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 || !isHex4(b[j+1:j+5]) {
					return 0, false, syntaxErr(b, j, "bad \\u escape")
				}
				j += 4
			default:
				return 0, false, syntaxErr(b, j, "bad escape")
			}
		case c < 0x20:
			return 0, false, syntaxErr(b, j, "control character in string")
		}
	}
	return 0, false, syntaxErr(b, len(b), "unterminated string")
}

// SWAR helpers (Sean Anderson's bit hacks): a non-zero result means some byte of x matched.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func hasZero(x uint64) uint64 { return (x - lsb) & ^x & msb }

func hasLess(x uint64, n uint64) uint64 { return (x - lsb*n) & ^x & msb }

func isHex4(h []byte) bool {
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, syntaxErr(b, i, "nested too deeply")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxErr(b, i, "want an object key")
		}
		end, _, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, syntaxErr(b, i, "want ':'")
		}
		if i, err = skipValue(b, skipSpace(b, i+1), depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, syntaxErr(b, i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, syntaxErr(b, i, "want ',' or '}'")
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, syntaxErr(b, i, "nested too deeply")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, syntaxErr(b, i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, syntaxErr(b, i, "want ',' or ']'")
		}
	}
}

// ObjectMembers calls fn with the raw key (without quotes, escapes left as they are) and the
// raw value of each top-level member of the JSON object obj, in order, validating the whole
// object. It stops early, returning fn's error, if fn returns one.
func ObjectMembers(obj []byte, fn func(key, value []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return syntaxErr(obj, i, "want an object")
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return trailing(obj, i+1)
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return syntaxErr(obj, i, "want an object key")
		}
		kend, _, err := skipString(obj, i)
		if err != nil {
			return err
		}
		key := obj[i+1 : kend-1]
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return syntaxErr(obj, i, "want ':'")
		}
		vstart := skipSpace(obj, i+1)
		vend, err := skipValue(obj, vstart, 1)
		if err != nil {
			return err
		}
		if err := fn(key, obj[vstart:vend]); err != nil {
			return err
		}
		i = skipSpace(obj, vend)
		if i >= len(obj) {
			return syntaxErr(obj, i, "unterminated object")
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return trailing(obj, i+1)
		default:
			return syntaxErr(obj, i, "want ',' or '}'")
		}
	}
}

// validMembers calls fn with the raw key and value of each top-level member of obj. It is
// meant for objects the scanner has validated already: it only finds boundaries, without
// checking the grammar again. On other input it never panics; it stops where the shape ends.
func validMembers(obj []byte, fn func(key, value []byte)) {
	i := skipSpace(obj, 0) + 1
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return // '}'
		}
		kend := endOfValid(obj, i)
		if kend < i+2 || obj[kend-1] != '"' {
			return
		}
		key := obj[i+1 : kend-1]
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		vstart := skipSpace(obj, i+1)
		vend := endOfValid(obj, vstart)
		fn(key, obj[vstart:vend])
		i = skipSpace(obj, vend)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i++
	}
}

// endOfValid returns the index past the JSON value at b[i], skipping strings eight bytes at a
// time and counting brackets; the result is at most len(b), whatever b holds.
func endOfValid(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			j := i + 1
			for j+8 <= len(b) {
				w := binary.LittleEndian.Uint64(b[j:])
				if hasZero(w^(lsb*'"'))|hasZero(w^(lsb*'\\')) != 0 {
					break
				}
				j += 8
			}
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			i = min(j+1, len(b))
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar, before its parent's close
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return min(i, len(b))
}

func trailing(b []byte, i int) error {
	if i = skipSpace(b, i); i != len(b) {
		return syntaxErr(b, i, "data after the value")
	}
	return nil
}

// IsObject reports whether raw is a JSON object (it looks only at the first byte that is not
// white space; use it on values the scanner already validated).
func IsObject(raw []byte) bool {
	i := skipSpace(raw, 0)
	return i < len(raw) && raw[i] == '{'
}

// IsNull reports whether raw is absent or the JSON literal null.
func IsNull(raw []byte) bool {
	i := skipSpace(raw, 0)
	return i == len(raw) || (len(raw)-i >= 4 && string(raw[i:i+4]) == "null")
}

// unquote turns the raw JSON string v into a Go string. null gives "" and ok. Strings without
// escapes are converted directly; the rare escaped ones go through encoding/json.
func unquote(v []byte) (string, bool, error) {
	if len(v) == 4 && string(v) == "null" {
		return "", true, nil
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false, fmt.Errorf("%w: want a string", errSyntax)
	}
	inner := v[1 : len(v)-1]
	if !hasEscapeOrInvalid(inner) {
		return string(inner), false, nil
	}
	return unquoteSlow(v)
}

// unquoteSlow decodes an escaped string. It is apart so that its pointer to s, which escapes
// into encoding/json, does not make every call of unquote allocate.
func unquoteSlow(v []byte) (string, bool, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, fmt.Errorf("%w: %v", errSyntax, err)
	}
	return s, false, nil
}

// unquoteInto is unquote for the hot path: strings without escapes that equal one of the
// interned values are returned without allocating.
func (d *Decoder) unquoteInto(v []byte) (string, bool, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		if !hasEscapeOrInvalid(inner) {
			return d.intern(inner), false, nil
		}
	}
	return unquote(v)
}

// hasEscapeOrInvalid reports whether the raw string body s needs the slow unquoting path: it
// holds an escape, or bytes that are not valid UTF-8 (which encoding/json replaces).
func hasEscapeOrInvalid(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c == '\\' {
			return true
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return !ascii && !utf8.Valid(s)
}

// UnquoteString decodes the raw JSON string v; null gives "".
func UnquoteString(v []byte) (string, error) {
	s, _, err := unquote(v)
	return s, err
}

// AppendQuote appends s to dst as a JSON string, escaping like encoding/json (without the
// HTML escapes).
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigit[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigit = "0123456789abcdef"

// parseIntList parses a JSON array of integers (or of decimal strings holding integers).
func parseIntList(v []byte, dst []int64) ([]int64, error) {
	i := skipSpace(v, 0)
	if IsNull(v) {
		return dst, nil
	}
	if i >= len(v) || v[i] != '[' {
		return dst, syntaxErr(v, i, "want an array of integers")
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return dst, nil
	}
	for {
		start := i
		end, err := skipValue(v, i, 1)
		if err != nil {
			return dst, err
		}
		el := v[start:end]
		if len(el) > 0 && el[0] == '"' {
			el = el[1 : len(el)-1]
		}
		n, err := strconv.ParseInt(string(el), 10, 64)
		if err != nil {
			return dst, fmt.Errorf("%w: want an integer, got %.40q", errSyntax, v[start:end])
		}
		dst = append(dst, n)
		i = skipSpace(v, end)
		if i >= len(v) {
			return dst, syntaxErr(v, i, "unterminated array")
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case ']':
			return dst, nil
		default:
			return dst, syntaxErr(v, i, "want ',' or ']'")
		}
	}
}

// ParseIntList parses a JSON array of integers (such as the ids of a postgres_changes
// payload), appending them to dst. Decimal strings holding integers are accepted too.
func ParseIntList(v []byte, dst []int64) ([]int64, error) { return parseIntList(v, dst) }

// peekPhoenix reports whether a text frame is on topic "phoenix" (the topic of heartbeat
// replies), looking only at the envelope up to the topic and trusting nothing: a malformed
// frame gives false and is decoded, and dropped, where it is handed on.
func peekPhoenix(v Version, frame []byte) bool {
	const phoenix = `"phoenix"`
	if v == V1 {
		i := skipSpace(frame, 0)
		if i >= len(frame) || frame[i] != '{' {
			return false
		}
		found := false
		validMembers(frame, func(k, val []byte) {
			if string(k) == "topic" && string(val) == phoenix {
				found = true
			}
		})
		return found
	}
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '[' {
		return false
	}
	i++
	for range 2 { // join_ref, ref
		i = endOfValid(frame, skipSpace(frame, i))
		i = skipSpace(frame, i)
		if i >= len(frame) || frame[i] != ',' {
			return false
		}
		i++
	}
	i = skipSpace(frame, i)
	return len(frame)-i >= len(phoenix) && string(frame[i:i+len(phoenix)]) == phoenix
}
