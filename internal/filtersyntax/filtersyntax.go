// Package filtersyntax splits and unquotes postgres_changes filter strings exactly as the
// Realtime server does, for the client's parser (pgchanges) and the fake server (testutil),
// which check and evaluate the conditions each in its own way.
//
// A filter is `column=[not.]op.value` segments joined by commas; a value may be quoted
// PostgREST-style, in double quotes with backslash escapes.
package filtersyntax

import (
	"strconv"
	"strings"
)

// Split splits a filter at the commas that are outside parentheses and double quotes. As in
// the server, a double quote opens a quoted section only right after '.', '(' or ',' (not
// after the comma that ends a segment), and a backslash escapes the next byte inside one.
func Split(s string) []string {
	var out []string
	depth, start := 0, 0
	quoted := false
	var prev byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if quoted {
			switch {
			case ch == '\\' && i+1 < len(s):
				i++
				ch = s[i]
			case ch == '"':
				quoted = false
			}
			prev = ch
			continue
		}
		switch {
		case ch == '"' && (prev == '.' || prev == '(' || prev == ','):
			quoted = true
		case ch == '(':
			depth++
		case ch == ')':
			depth = max(0, depth-1)
		case ch == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
			prev = 0
			continue
		}
		prev = ch
	}
	return append(out, s[start:])
}

// UnquoteValue removes PostgREST quoting from a value: `"a\"b"` is `a"b`. A value that does
// not start with a double quote, or is not one whole quoted string, is returned as it is, as
// the server does.
func UnquoteValue(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch ch := v[i]; {
		case ch == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case ch == '"':
			if i == len(v)-1 {
				return b.String()
			}
			return v
		default:
			b.WriteByte(ch)
		}
	}
	return v
}

// Ops are the operators the server accepts, case-sensitively.
var Ops = []string{"eq", "neq", "lt", "lte", "gt", "gte", "in", "like", "ilike", "is", "match", "imatch", "isdistinct"}

// KnownOp reports whether op is one of Ops.
func KnownOp(op string) bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Segment is one `column=[not.]op.value` of a filter. Value is as written: still quoted, and
// for in still in its parentheses.
type Segment struct {
	Text    string // the segment, trimmed
	Column  string
	Negated bool
	Op      string
	Value   string
}

// The kinds of SegmentError.
const (
	EmptySegment = iota + 1 // a segment that is empty or white space
	NoEquals                // no '=' after the column
	NoOperator              // no '.' after the operator
	UnknownOp               // an operator not in Ops
)

// SegmentError reports a segment the server rejects when it splits a filter.
type SegmentError struct {
	Kind    int      // EmptySegment, NoEquals, NoOperator or UnknownOp
	Segment string   // the segment, trimmed
	Parts   []string // what the server quotes in its message: the segment, what follows "=" and "not.", or the operator and the value
}

// Error describes the rejection.
func (e *SegmentError) Error() string {
	switch e.Kind {
	case EmptySegment:
		return "filter must not contain empty segments (check for extra commas)"
	case NoEquals:
		return "filter segment " + strconv.Quote(e.Segment) + " is not column=op.value"
	case NoOperator:
		return "filter segment " + strconv.Quote(e.Segment) + " has no operator"
	}
	return "filter segment " + strconv.Quote(e.Segment) + ": unsupported operator " + strconv.Quote(e.Parts[0])
}

// Parse splits a filter into its segments as the server's parser does, without unquoting or
// checking the values. A filter that is empty or white space has none.
func Parse(filter string) ([]Segment, error) {
	trimmed := strings.TrimSpace(filter)
	if trimmed == "" {
		return nil, nil
	}
	parts := Split(trimmed)
	segs := make([]Segment, 0, len(parts))
	for _, p := range parts {
		t := strings.TrimSpace(p)
		if t == "" {
			return nil, &SegmentError{Kind: EmptySegment}
		}
		col, rest, ok := strings.Cut(t, "=")
		if !ok {
			return nil, &SegmentError{Kind: NoEquals, Segment: t, Parts: []string{t}}
		}
		s := Segment{Text: t, Column: col}
		if r, ok := strings.CutPrefix(rest, "not."); ok {
			s.Negated, rest = true, r
		}
		if s.Op, s.Value, ok = strings.Cut(rest, "."); !ok {
			return nil, &SegmentError{Kind: NoOperator, Segment: t, Parts: []string{rest}}
		}
		if !KnownOp(s.Op) {
			return nil, &SegmentError{Kind: UnknownOp, Segment: t, Parts: []string{s.Op, s.Value}}
		}
		segs = append(segs, s)
	}
	return segs, nil
}
