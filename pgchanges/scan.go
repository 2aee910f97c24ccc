package pgchanges

import (
	"encoding/json"
	"fmt"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// scanner reads one JSON text at a position, without reflection, on top of internal/jsonscan.
// It validates everything it passes over and never copies unless a string has escapes.
type scanner struct {
	data []byte
	pos  int
}

// fail returns a syntax error at the current position.
func (s *scanner) fail() error {
	return fmt.Errorf("%w at offset %d", jsonscan.ErrSyntax, s.pos)
}

// ws skips JSON whitespace.
func (s *scanner) ws() { s.pos = jsonscan.SkipSpace(s.data, s.pos) }

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
	s.ws()
	start := s.pos
	end, escaped, err := jsonscan.SkipString(s.data, start)
	if err != nil {
		return nil, false, err
	}
	s.pos = end
	return s.data[start+1 : end-1], escaped, nil
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
	start := s.pos
	end, err := jsonscan.SkipNumber(s.data, start)
	if err != nil {
		return nil, err
	}
	s.pos = end
	return s.data[start:end], nil
}

// literal consumes the keyword lit (true, false or null).
func (s *scanner) literal(lit string) error {
	s.ws()
	end, err := jsonscan.SkipLiteral(s.data, s.pos, lit)
	if err != nil {
		return err
	}
	s.pos = end
	return nil
}

// null consumes a null if one is next and reports whether it did.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null") == nil
}

// value skips one value, validating it; depth is the nesting around it.
func (s *scanner) value(depth int) error {
	s.ws()
	end, err := jsonscan.SkipValue(s.data, s.pos, depth)
	if err != nil {
		return err
	}
	s.pos = end
	return nil
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
	if s.peek() != '{' {
		return s.fail()
	}
	return s.value(depth - 1)
}

// walk scans the object or array at the current position, at nesting depth depth, calling
// visit for each member or element with the scanner at its value, which visit must consume.
func (s *scanner) walk(depth int, visit func(key []byte, escaped bool) error) error {
	end, err := jsonscan.Walk(s.data, s.pos, depth, func(key []byte, escaped bool, v int) (int, error) {
		s.pos = v
		err := visit(key, escaped)
		return s.pos, err
	})
	if err != nil {
		return err
	}
	s.pos = end
	return nil
}

// members iterates an object's members: for each it scans the key and calls fn with the
// (still escaped) key, which must consume the value.
func (s *scanner) members(depth int, fn func(key []byte, escaped bool) error) error {
	if s.peek() != '{' {
		return s.fail()
	}
	return s.walk(depth, fn)
}

// elements iterates an array; fn must consume one element.
func (s *scanner) elements(depth int, fn func() error) error {
	if s.peek() != '[' {
		return s.fail()
	}
	return s.walk(depth, func([]byte, bool) error { return fn() })
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
		err := s.walk(depth+1, func(key []byte, esc bool) error {
			v, err := s.anyValue(depth + 1)
			m[decodeString(key, esc)] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := s.walk(depth+1, func([]byte, bool) error {
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
func validJSON(data []byte) bool { return jsonscan.Valid(data) }

// decodeString turns the content of a scanned string into a Go string. Like encoding/json it
// replaces invalid UTF-8 and unpaired surrogates with U+FFFD.
func decodeString(raw []byte, escaped bool) string { return jsonscan.DecodeString(raw, escaped) }

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte { return jsonscan.AppendQuote(b, s) }

// trimJSONSpace trims JSON whitespace from both ends.
func trimJSONSpace(b []byte) []byte { return jsonscan.TrimSpace(b) }

func isDigit(c byte) bool { return jsonscan.IsDigit(c) }

// parseID parses a binding id: a JSON integer, or a string holding one.
func parseID(raw []byte) (int64, error) {
	id, ok := jsonscan.ParseInt(raw)
	if !ok {
		return 0, malformed("binding id %s is not an integer", raw)
	}
	return id, nil
}
