// Package jsonscan is the JSON scanner the packages of this module share. It finds the extent
// of JSON values without building them, validating exactly what encoding/json's Valid accepts;
// it walks the members of objects and arrays, unquotes strings as encoding/json decodes them,
// and quotes them as encoding/json encodes them (without the HTML escapes).
//
// Positions are byte offsets into the input. Functions whose name starts with Skip, Walk and
// Check validate what they pass over, and so do Open, Key and Next, the steps of a loop over
// an object or array that needs no callback (Walk is that loop with one). EndOfValid,
// ValidMembers and ValidElements only find boundaries, for input that was validated already;
// on other input they never panic and stop where its shape ends.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of the objects and arrays the scanner accepts, as in
// encoding/json.
const MaxDepth = 10000

// ErrSyntax is wrapped by every error of the scanner.
var ErrSyntax = errors.New("invalid JSON")

// SyntaxError returns an error wrapping [ErrSyntax] that says what was wanted at offset i of b.
func SyntaxError(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("%w: unexpected end of input, %s", ErrSyntax, what)
	}
	return fmt.Errorf("%w: offset %d: %s", ErrSyntax, i, what)
}

// IsSpace reports whether c is JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after b[i] that is not white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && IsSpace(b[i]) {
		i++
	}
	return i
}

// TrimSpace returns b without leading and trailing JSON white space.
func TrimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && IsSpace(b[i]) {
		i++
	}
	for j > i && IsSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// CheckEnd fails unless only white space follows b[i:].
func CheckEnd(b []byte, i int) error {
	if i = SkipSpace(b, i); i != len(b) {
		return SyntaxError(b, i, "data after the value")
	}
	return nil
}

// Check fails unless b holds exactly one JSON value, with white space around it allowed.
func Check(b []byte) error {
	end, err := SkipValue(b, SkipSpace(b, 0), 0)
	if err != nil {
		return err
	}
	return CheckEnd(b, end)
}

// Valid reports whether b holds exactly one JSON value, like encoding/json's Valid.
func Valid(b []byte) bool { return Check(b) == nil }

// SkipValue returns the index just past the JSON value that starts at b[i], after checking
// that it is well-formed. depth is the nesting of the objects and arrays around the value (0
// for a value at the top level).
func SkipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, SyntaxError(b, i, "want a value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := SkipString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return SkipLiteral(b, i, "true")
	case c == 'f':
		return SkipLiteral(b, i, "false")
	case c == 'n':
		return SkipLiteral(b, i, "null")
	case c == '-' || IsDigit(c):
		return SkipNumber(b, i)
	}
	return 0, SyntaxError(b, i, "want a value")
}

// SkipLiteral returns the index past the literal lit (true, false or null) at b[i].
func SkipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, SyntaxError(b, i, "want "+lit)
	}
	return i + len(lit), nil
}

// IsDigit reports whether c is an ASCII digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// SkipNumber returns the index past the number at b[i], which must follow the JSON grammar.
func SkipNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, SyntaxError(b, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		d := i + 1
		if i = skipDigits(b, d); i == d {
			return 0, SyntaxError(b, start, "bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		if i = skipDigits(b, d); i == d {
			return 0, SyntaxError(b, start, "bad number")
		}
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && IsDigit(b[i]) {
		i++
	}
	return i
}

// SkipString returns the index past the string that starts at b[i] (which must be '"') and
// whether it has escapes. Control characters and malformed escapes are errors; bytes that are
// not UTF-8 are let through, as encoding/json lets them through (unquoting replaces them).
func SkipString(b []byte, i int) (end int, escaped bool, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, SyntaxError(b, i, "want a string")
	}
	j := i + 1
	for {
		// Most of a payload is plain string bytes: skip them eight at a time, to the first
		// quote, backslash or control character (in this function, not a helper: most strings
		// are short, and a call costs more than their search).
		for j+8 <= len(b) {
			if m := stopMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				goto stop
			}
			j += 8
		}
		for j < len(b) && !stringStop[b[j]] {
			j++
		}
		if j >= len(b) {
			return 0, false, SyntaxError(b, j, "unterminated string")
		}
	stop:
		switch b[j] {
		case '"':
			return j + 1, escaped, nil
		case '\\':
			escaped = true
			if j+1 >= len(b) {
				return 0, false, SyntaxError(b, j+1, "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if len(b)-j < 6 || !isHex4(b[j+2:j+6]) {
					return 0, false, SyntaxError(b, j, `bad \u escape`)
				}
				j += 6
			default:
				return 0, false, SyntaxError(b, j, "bad escape")
			}
		default:
			return 0, false, SyntaxError(b, j, "control character in string")
		}
	}
}

// SWAR (SIMD within a register), after Sean Anderson's bit hacks: the masks below have the
// high bit set in each byte of a word that matches, and the lowest set bit is always a true
// match (a borrow only runs upwards from a matching byte), so it locates the first one.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func zeroMask(x uint64) uint64 { return (x - lsb) & ^x & msb }

// stopMask marks the bytes of w that end a run of plain string bytes: a quote, a backslash
// or a control character.
func stopMask(w uint64) uint64 {
	return (w-lsb*0x20)&^w&msb | zeroMask(w^(lsb*'"')) | zeroMask(w^(lsb*'\\'))
}

// quoteMask marks the quotes and backslashes of w.
func quoteMask(w uint64) uint64 { return zeroMask(w^(lsb*'"')) | zeroMask(w^(lsb*'\\')) }

// stringStop marks the bytes stopMask marks, for the tail shorter than a word.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// quoteEnd returns the index of the first quote or backslash at or after b[j], or len(b).
func quoteEnd(b []byte, j int) int {
	for j+8 <= len(b) {
		if m := quoteMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		j++
	}
	return j
}

func isHex(c byte) bool { return IsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func isHex4(h []byte) bool { return isHex(h[0]) && isHex(h[1]) && isHex(h[2]) && isHex(h[3]) }

// Open begins the object or array that starts at b[i], at nesting depth depth (1 for one at
// the top level). If it has members or elements, Open returns the index where the first one
// starts (after white space) and true; if it is empty, the index past it and false. With
// [Key] and [Next] it makes a loop over a container that needs no callback:
//
//	i, more, err := Open(b, i, depth)
//	for more {
//		if i, err = SkipValue(b, i, depth); err != nil { // or read the value
//			break
//		}
//		i, more, err = Next(b, i, ']')
//	}
//
// For an object, each turn starts with Key.
func Open(b []byte, i, depth int) (int, bool, error) {
	// Compact JSON first: no white space after the opening byte, and not empty.
	if i+1 < len(b) && (b[i] == '{' || b[i] == '[') && b[i+1] > ' ' && b[i+1] != b[i]+2 && depth <= MaxDepth {
		return i + 1, true, nil
	}
	return open(b, i, depth)
}

func open(b []byte, i, depth int) (int, bool, error) {
	if i >= len(b) || (b[i] != '{' && b[i] != '[') {
		return 0, false, SyntaxError(b, i, "want an object or an array")
	}
	if depth > MaxDepth {
		return 0, false, SyntaxError(b, i, "nested too deeply")
	}
	closer := b[i] + 2 // '}' or ']'
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, false, nil
	}
	return i, true, nil
}

// Key reads the key of the object member that starts at b[i] and the ':' after it. It
// returns the raw key, without quotes and with its escapes as they are, whether it has any,
// and the index where the member's value starts (after white space).
func Key(b []byte, i int) (key []byte, escaped bool, v int, err error) {
	end, escaped, err := SkipString(b, i)
	if err != nil {
		if i >= len(b) || b[i] != '"' {
			err = SyntaxError(b, i, "want an object key")
		}
		return nil, false, 0, err
	}
	if v = SkipSpace(b, end); v >= len(b) || b[v] != ':' {
		return nil, false, 0, SyntaxError(b, v, "want ':'")
	}
	return b[i+1 : end-1], escaped, SkipSpace(b, v+1), nil
}

// Next reads what follows a member's or element's value that ends at b[i]: a ',' or closer,
// the byte that closes the container ('}' or ']'). After a ',' it returns the index where the
// next member or element starts (after white space) and true; after closer, the index past
// it and false.
func Next(b []byte, i int, closer byte) (int, bool, error) {
	if i+1 < len(b) && b[i] == ',' && b[i+1] > ' ' { // compact JSON first: no white space
		return i + 1, true, nil
	}
	return next(b, i, closer)
}

func next(b []byte, i int, closer byte) (int, bool, error) {
	if i = SkipSpace(b, i); i >= len(b) {
		return 0, false, SyntaxError(b, i, "unterminated object or array")
	}
	switch b[i] {
	case ',':
		return SkipSpace(b, i+1), true, nil
	case closer:
		return i + 1, false, nil
	}
	return 0, false, SyntaxError(b, i, "want ',' or '"+string(closer)+"'")
}

// skipObject returns the index past the object at b[i], checking it, at nesting depth depth.
// It and skipArray are Open, Key and Next written out, as they carry most of the scanning.
func skipObject(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, SyntaxError(b, i, "nested too deeply")
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, SyntaxError(b, i, "want an object key")
		}
		end, _, err := SkipString(b, i)
		if err != nil {
			return 0, err
		}
		if i = SkipSpace(b, end); i >= len(b) || b[i] != ':' {
			return 0, SyntaxError(b, i, "want ':'")
		}
		if i, err = SkipValue(b, SkipSpace(b, i+1), depth); err != nil {
			return 0, err
		}
		if i = SkipSpace(b, i); i >= len(b) {
			return 0, SyntaxError(b, i, "unterminated object or array")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, SyntaxError(b, i, "want ',' or '}'")
		}
	}
}

// skipArray returns the index past the array at b[i], checking it, at nesting depth depth.
func skipArray(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, SyntaxError(b, i, "nested too deeply")
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = SkipValue(b, i, depth); err != nil {
			return 0, err
		}
		if i = SkipSpace(b, i); i >= len(b) {
			return 0, SyntaxError(b, i, "unterminated object or array")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, SyntaxError(b, i, "want ',' or ']'")
		}
	}
}

// Walk scans the object or array that starts at b[i], at nesting depth depth (1 for one at the
// top level), checking its syntax, and returns the index past it. For each member or element
// it calls visit with the index v where the value starts (after white space); visit must
// return the index just past that value, or an error that ends the walk. For an object, key is
// the member's raw key, without quotes and with its escapes as they are, and escaped tells
// whether it has any; for an array, key is nil. A nil visit skips every value with SkipValue.
// Hot paths use [Open], [Key] and [Next] instead, which need no callback.
func Walk(b []byte, i, depth int, visit func(key []byte, escaped bool, v int) (int, error)) (int, error) {
	if i >= len(b) || (b[i] != '{' && b[i] != '[') {
		return 0, SyntaxError(b, i, "want an object or an array")
	}
	obj := b[i] == '{'
	if visit == nil {
		if obj {
			return skipObject(b, i, depth)
		}
		return skipArray(b, i, depth)
	}
	closer := b[i] + 2
	i, more, err := Open(b, i, depth)
	for more {
		var key []byte
		escaped := false
		if obj {
			if key, escaped, i, err = Key(b, i); err != nil {
				return 0, err
			}
		}
		if i, err = visit(key, escaped, i); err != nil {
			return 0, err
		}
		i, more, err = Next(b, i, closer)
	}
	return i, err
}

// ObjectMembers calls fn with the raw key (without quotes, escapes left as they are) and the
// raw value of each member of the JSON object obj, in order, validating the whole of obj (white
// space around the object is allowed). It stops early, returning fn's error, if fn returns one.
func ObjectMembers(obj []byte, fn func(key, value []byte) error) error {
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return SyntaxError(obj, i, "want an object")
	}
	i, more, err := Open(obj, i, 1)
	for more {
		var key []byte
		if key, _, i, err = Key(obj, i); err != nil {
			return err
		}
		var end int
		if end, err = SkipValue(obj, i, 1); err != nil {
			return err
		}
		if err = fn(key, obj[i:end]); err != nil {
			return err
		}
		i, more, err = Next(obj, end, '}')
	}
	if err != nil {
		return err
	}
	return CheckEnd(obj, i)
}

// EndOfValid returns the index past the JSON value at b[i], which must be valid: it skips
// strings eight bytes at a time and counts brackets without checking the grammar. The result
// is at most len(b), whatever b holds.
func EndOfValid(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = stringEndOfValid(b, i+1)
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

// stringEndOfValid returns the index past the closing quote of a string whose contents start
// at b[j], or len(b).
func stringEndOfValid(b []byte, j int) int {
	for {
		if j = quoteEnd(b, j); j >= len(b) {
			return len(b)
		}
		if b[j] == '"' {
			return j + 1
		}
		j += 2 // an escape; a \u escape goes on with plain bytes
	}
}

// ValidMembers calls fn with the raw key (without quotes, escapes left as they are) and the
// raw value of each member of obj, an object that was validated already (white space around
// it is allowed). It stops at fn's first error and returns it.
func ValidMembers(obj []byte, fn func(key, value []byte) error) error {
	i := SkipSpace(obj, 0) + 1
	for {
		i = SkipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil // '}'
		}
		kend := stringEndOfValid(obj, i+1)
		if kend < i+2 || obj[kend-1] != '"' {
			return nil
		}
		key := obj[i+1 : kend-1]
		if i = SkipSpace(obj, kend); i >= len(obj) || obj[i] != ':' {
			return nil
		}
		vstart := SkipSpace(obj, i+1)
		vend := EndOfValid(obj, vstart)
		if err := fn(key, obj[vstart:vend]); err != nil {
			return err
		}
		if i = SkipSpace(obj, vend); i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i++
	}
}

// ValidElements calls fn with the raw value of each element of arr, an array that was
// validated already (white space around it is allowed). It stops at fn's first error and
// returns it.
func ValidElements(arr []byte, fn func(value []byte) error) error {
	i := SkipSpace(arr, 0) + 1
	for {
		start := SkipSpace(arr, i)
		if start >= len(arr) {
			return nil
		}
		end := EndOfValid(arr, start)
		if end == start {
			return nil // ']', or not an array
		}
		if err := fn(arr[start:end]); err != nil {
			return err
		}
		if i = SkipSpace(arr, end); i >= len(arr) || arr[i] != ',' {
			return nil
		}
		i++
	}
}

// IsObject reports whether raw starts, after white space, with '{'. Use it on values that were
// validated already.
func IsObject(raw []byte) bool {
	i := SkipSpace(raw, 0)
	return i < len(raw) && raw[i] == '{'
}

// IsNull reports whether raw is empty or white space, or starts, after white space, with the
// literal null.
func IsNull(raw []byte) bool {
	i := SkipSpace(raw, 0)
	return i == len(raw) || (len(raw)-i >= 4 && string(raw[i:i+4]) == "null")
}

// Unquote returns the value of the JSON string v (quotes included, no white space around),
// exactly as encoding/json decodes it: bytes that are not UTF-8 and unpaired surrogates become
// U+FFFD.
func Unquote(v []byte) (string, error) {
	end, escaped, err := SkipString(v, 0)
	if err != nil {
		return "", err
	}
	if end != len(v) {
		return "", SyntaxError(v, end, "data after the string")
	}
	return DecodeString(v[1:end-1], escaped), nil
}

// NeedsDecoding reports whether the contents of a string (between its quotes) differ from its
// value: they have an escape, or bytes that are not UTF-8.
func NeedsDecoding(raw []byte) bool {
	ascii := true
	for _, c := range raw {
		if c == '\\' {
			return true
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return !ascii && !utf8.Valid(raw)
}

// DecodeString returns the value of a string whose contents (between its quotes, as
// SkipString validated them) are raw; escaped says whether raw has escapes. Like
// encoding/json, it replaces bytes that are not UTF-8 and unpaired surrogates with U+FFFD.
// It does not panic on contents that were not validated.
func DecodeString(raw []byte, escaped bool) string {
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
			b = utf8.AppendRune(b, r) // RuneError for bytes that are not UTF-8
			i += n
		}
	}
	return string(b)
}

// decodeEscapedRune decodes the \uXXXX escape at the start of b, and a low surrogate escape
// after a high one, returning the rune and the bytes used.
func decodeEscapedRune(b []byte) (rune, int) {
	if len(b) < 6 || !isHex4(b[2:6]) {
		return utf8.RuneError, 2
	}
	r := hex4(b[2:6])
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' && isHex4(b[8:12]) {
		if dec := utf16.DecodeRune(r, hex4(b[8:12])); dec != utf8.RuneError {
			return dec, 12
		}
	}
	return utf8.RuneError, 6
}

// hex4 decodes four hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		d := c - '0'
		if d > 9 {
			d = c | 0x20 - 'a' + 10
		}
		r = r<<4 | rune(d)
	}
	return r
}

// ParseInt parses an integer written as a JSON number or as a JSON string holding one
// (escapes decoded, no white space inside the string). White space around raw is allowed.
func ParseInt(raw []byte) (int64, bool) {
	raw = TrimSpace(raw)
	var lit []byte
	if len(raw) > 0 && raw[0] == '"' {
		s, err := Unquote(raw)
		if err != nil {
			return 0, false
		}
		lit = []byte(s)
	} else {
		if end, err := SkipNumber(raw, 0); err != nil || end != len(raw) {
			return 0, false
		}
		lit = raw
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	return n, err == nil
}

// AppendQuote appends s to dst as a JSON string, escaped as encoding/json escapes it but
// without the HTML escapes: bytes that are not UTF-8 become \ufffd, and U+2028 and U+2029 are
// escaped.
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
