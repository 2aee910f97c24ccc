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

// open begins the object or array at the current position, which peek found, at nesting
// depth depth, and reports whether a member or element follows; the scanner is then at it,
// or past the empty container.
func (s *scanner) open(depth int) (more bool, err error) {
	s.pos, more, err = jsonscan.Open(s.data, s.pos, depth)
	return more, err
}

// key reads an object member's key and the ':' after it, returning the key without quotes,
// still escaped, and whether it has escapes; the scanner is then at the value.
func (s *scanner) key() (key []byte, escaped bool, err error) {
	key, escaped, s.pos, err = jsonscan.Key(s.data, s.pos)
	return key, escaped, err
}

// next reads the ',' or the closer ('}' or ']') after a member or element and reports
// whether another one follows.
func (s *scanner) next(closer byte) (more bool, err error) {
	s.pos, more, err = jsonscan.Next(s.data, s.pos, closer)
	return more, err
}

// members iterates an object's members: for each it scans the key and calls fn with the
// (still escaped) key, which must consume the value.
func (s *scanner) members(depth int, fn func(key []byte, escaped bool) error) error {
	if s.peek() != '{' {
		return s.fail()
	}
	more, err := s.open(depth)
	for more && err == nil {
		var key []byte
		var esc bool
		if key, esc, err = s.key(); err != nil {
			break
		}
		if err = fn(key, esc); err != nil {
			break
		}
		more, err = s.next('}')
	}
	return err
}

// elements iterates an array; fn must consume one element.
func (s *scanner) elements(depth int, fn func() error) error {
	if s.peek() != '[' {
		return s.fail()
	}
	more, err := s.open(depth)
	for more && err == nil {
		if err = fn(); err != nil {
			break
		}
		more, err = s.next(']')
	}
	return err
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
		more, err := s.open(depth + 1)
		for more && err == nil {
			var key []byte
			var esc bool
			if key, esc, err = s.key(); err != nil {
				break
			}
			var v any
			if v, err = s.anyValue(depth + 1); err != nil {
				break
			}
			m[decodeString(key, esc)] = v
			more, err = s.next('}')
		}
		return m, err
	case '[':
		a := []any{}
		more, err := s.open(depth + 1)
		for more && err == nil {
			var v any
			if v, err = s.anyValue(depth + 1); err != nil {
				break
			}
			a = append(a, v)
			more, err = s.next(']')
		}
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
