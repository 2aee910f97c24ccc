package pgchanges

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON values, as encoding/json does.
const maxDepth = 10000

// errSyntax is the cause of every scanner failure; callers wrap it with a position.
var errSyntax = errors.New("invalid JSON")

// errTooDeep reports JSON nested deeper than maxDepth.
var errTooDeep = errors.New("JSON nested too deeply")

// stringStop marks the bytes that end the fast path of a string scan: the closing quote, a
// backslash, and the control characters that JSON forbids inside strings.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// lsb has the low bit of every byte of a word set.
const lsb = 0x0101010101010101

// hasZero reports (as a non-zero word) whether a byte of x is zero.
func hasZero(x uint64) uint64 { return (x - lsb) & ^x & (lsb * 0x80) }

// hasLess reports (as a non-zero word) whether a byte of x is less than n (n <= 128).
func hasLess(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) & ^x & (lsb * 0x80) }

// scanner reads one JSON text without reflection. It validates everything it passes over and
// never copies unless a string has escapes.
type scanner struct {
	data []byte
	pos  int
}

// fail returns a syntax error at the current position.
func (s *scanner) fail() error {
	return fmt.Errorf("%w at offset %d", errSyntax, s.pos)
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) && d[i] <= ' ' && isJSONSpace(d[i]) {
		i++
	}
	s.pos = i
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// expect consumes c after whitespace.
func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.fail()
	}
	s.pos++
	return nil
}

// str scans a string at the current position (after whitespace) and returns its content
// without the quotes, still escaped, and whether it has escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, s.fail()
	}
	d := s.data
	i := s.pos + 1
	start := i
	for {
		// Eight bytes at a time while none of them is a quote, a backslash or a control
		// character, then byte by byte.
		for i+8 <= len(d) {
			x := binary.LittleEndian.Uint64(d[i:])
			if hasLess(x, 0x20)|hasZero(x^(lsb*'"'))|hasZero(x^(lsb*'\\')) != 0 {
				break
			}
			i += 8
		}
		for i < len(d) && !stringStop[d[i]] {
			i++
		}
		if i >= len(d) {
			s.pos = i
			return nil, false, s.fail()
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return d[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				s.pos = i
				return nil, false, s.fail()
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					s.pos = i
					return nil, false, s.fail()
				}
				i += 6
			default:
				s.pos = i
				return nil, false, s.fail()
			}
		default: // a control character
			s.pos = i
			return nil, false, s.fail()
		}
	}
}

// stringValue scans a string and returns it decoded.
func (s *scanner) stringValue() (string, error) {
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	return decodeString(raw, esc), nil
}

// number scans a number per the JSON grammar and returns its literal.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	d := s.data
	start := s.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		s.pos = i
		return nil, s.fail()
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			s.pos = i
			return nil, s.fail()
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			s.pos = i
			return nil, s.fail()
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.pos = i
	return d[start:i], nil
}

// literal consumes the keyword lit (true, false or null).
func (s *scanner) literal(lit string) error {
	s.ws()
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail()
	}
	s.pos += len(lit)
	return nil
}

// null consumes a null if one is next and reports whether it did.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

// value skips one value, validating it.
func (s *scanner) value(depth int) error {
	switch c := s.peek(); c {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case '"':
		_, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, err := s.number()
		return err
	}
}

// rawValue skips one value and returns its bytes.
func (s *scanner) rawValue() ([]byte, error) {
	s.ws()
	start := s.pos
	if err := s.value(0); err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}

// object skips an object.
func (s *scanner) object(depth int) error {
	return s.members(depth, func([]byte, bool) error { return s.value(depth) })
}

// members iterates an object's members: for each it scans the key and calls fn with the
// (still escaped) key, which must consume the value.
func (s *scanner) members(depth int, fn func(key []byte, escaped bool) error) error {
	if depth > maxDepth {
		return errTooDeep
	}
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, esc, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key, esc); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail()
		}
	}
}

// array skips an array.
func (s *scanner) array(depth int) error {
	return s.elements(depth, func() error { return s.value(depth) })
}

// elements iterates an array; fn must consume one element.
func (s *scanner) elements(depth int, fn func() error) error {
	if depth > maxDepth {
		return errTooDeep
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail()
		}
	}
}

// end checks that only whitespace is left.
func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.data) {
		return s.fail()
	}
	return nil
}

// anyValue decodes one value the way encoding/json does into an any with UseNumber:
// map[string]any, []any, string, json.Number, bool or nil.
func (s *scanner) anyValue(depth int) (any, error) {
	switch c := s.peek(); c {
	case '{':
		m := map[string]any{}
		err := s.members(depth+1, func(key []byte, esc bool) error {
			v, err := s.anyValue(depth + 1)
			m[decodeString(key, esc)] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := s.elements(depth+1, func() error {
			v, err := s.anyValue(depth + 1)
			a = append(a, v)
			return err
		})
		return a, err
	case '"':
		return s.stringValue()
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	default:
		lit, err := s.number()
		return json.Number(lit), err
	}
}

// decodeJSON decodes a complete JSON text into an any (see anyValue).
func decodeJSON(data []byte) (any, error) {
	s := scanner{data: data}
	v, err := s.anyValue(0)
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// validJSON reports whether data is exactly one JSON value.
func validJSON(data []byte) bool {
	s := scanner{data: data}
	return s.value(0) == nil && s.end() == nil
}

// decodeString turns the content of a scanned string into a Go string. Like encoding/json it
// replaces invalid UTF-8 and unpaired surrogates with U+FFFD.
func decodeString(raw []byte, escaped bool) string {
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			switch raw[i+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, n := decodeEscapedRune(raw[i:])
				b = utf8.AppendRune(b, r)
				i += n
				continue
			default: // '"', '\\', '/'
				b = append(b, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			i += n
		}
	}
	return string(b)
}

// decodeEscapedRune decodes a \uXXXX escape (and a following low surrogate) at the start of
// b, which the scanner has validated, and returns the rune and the bytes used.
func decodeEscapedRune(b []byte) (rune, int) {
	r := rune(hex4(b[2:6]))
	if utf16.IsSurrogate(r) {
		if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' && isHex(b[8]) && isHex(b[9]) && isHex(b[10]) && isHex(b[11]) {
			if dec := utf16.DecodeRune(r, rune(hex4(b[8:12]))); dec != utf8.RuneError {
				return dec, 12
			}
		}
		return utf8.RuneError, 6
	}
	return r, 6
}

// hex4 decodes four hex digits.
func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		n = n<<4 | int(unhex(c))
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unhex returns the value of a hex digit (0 for other bytes).
func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// trimJSONSpace trims JSON whitespace from both ends.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseID parses a binding id: a JSON integer, or a string holding one.
func parseID(raw []byte) (int64, error) {
	s := scanner{data: raw}
	var lit []byte
	var err error
	if s.peek() == '"' {
		var str string
		if str, err = s.stringValue(); err == nil {
			lit = []byte(str)
		}
	} else {
		lit, err = s.number()
	}
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return 0, malformed("binding id %s is not an integer", raw)
	}
	id, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return 0, malformed("binding id %s is not an integer", raw)
	}
	return id, nil
}
