package presence

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits bounds the state of a [Tracker], so that a server sending a huge or endless presence
// cannot make the client hold it all. A zero field means no bound.
//
// Past a bound, growth is refused, never the rest: the members of a message that fit are
// applied, leaves always are, and each member whose join would take the state beyond a bound
// is left out whole (with all its metas) and counted in a [*RefusedError]. A presence_state's
// members are taken in the order of the payload, a presence_diff's joins in sorted key order.
// The bounds hold at every step: the parsers do not even keep what cannot fit, so a message of
// any size costs memory in proportion to the bounds, not to the message.
type Limits struct {
	// MaxMembers bounds the keys present.
	MaxMembers int
	// MaxMetas bounds the metas of all keys together.
	MaxMetas int
}

// ErrRefused is wrapped by the [*RefusedError] a [Tracker] returns when it left part of a
// message out.
var ErrRefused = errors.New("presence: part of the message refused")

// RefusedError reports what a [Tracker] left out of one message: the members over its
// [Limits], and the members whose key is not valid UTF-8 (raw bytes that are not UTF-8, or an
// unpaired surrogate escape such as \ud800), which no server that follows the protocol sends.
// The rest of the message was applied, and the events returned with the error report it.
type RefusedError struct {
	// Limits are the tracker's bounds.
	Limits Limits
	// Members is the number of members (keys) of the message left out because of a bound, and
	// Metas the number of their metas.
	Members, Metas int
	// InvalidKeys is the number of members left out because their key is not valid UTF-8.
	InvalidKeys int
}

// Error says what was left out and why.
func (e *RefusedError) Error() string {
	var parts []string
	if e.Members > 0 {
		parts = append(parts, fmt.Sprintf("%d member(s) with %d meta(s) refused over the presence limits (%s)",
			e.Members, e.Metas, e.Limits))
	}
	if e.InvalidKeys > 0 {
		parts = append(parts, fmt.Sprintf("%d member(s) refused for a key that is not valid UTF-8", e.InvalidKeys))
	}
	if len(parts) == 0 {
		return ErrRefused.Error()
	}
	return "presence: " + strings.Join(parts, "; ")
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// String describes the limits, such as "100000 members, 200000 metas".
func (l Limits) String() string {
	bound := func(n int) string {
		if n <= 0 {
			return "no bound"
		}
		return fmt.Sprint(n)
	}
	return bound(l.MaxMembers) + " members, " + bound(l.MaxMetas) + " metas"
}

// refusals counts what a Tracker leaves out of one message.
type refusals struct {
	members, metas, invalid int
}

func (r *refusals) any() bool { return r.members > 0 || r.invalid > 0 }

func (r *refusals) add(o refusals) {
	r.members += o.members
	r.metas += o.metas
	r.invalid += o.invalid
}

// err returns the *RefusedError of r, or nil if nothing was left out.
func (r *refusals) err(l Limits) error {
	if !r.any() {
		return nil
	}
	return &RefusedError{Limits: l, Members: r.members, Metas: r.metas, InvalidKeys: r.invalid}
}

// bound is a parser's budget: the members and metas it may still keep, and what it left out.
type bound struct {
	members, metas int // left to keep; negative means no bound
	refused        refusals
}

// newBound returns the parse budget of l.
func newBound(l Limits) *bound {
	b := &bound{members: -1, metas: -1}
	if l.MaxMembers > 0 {
		b.members = l.MaxMembers
	}
	if l.MaxMetas > 0 {
		b.metas = l.MaxMetas
	}
	return b
}

// fits reports whether a member of n metas fits in the budget.
func (b *bound) fits(n int) bool {
	return b.members != 0 && (b.metas < 0 || n <= b.metas)
}

// take spends a member of n metas.
func (b *bound) take(n int) {
	if b.members > 0 {
		b.members--
	}
	if b.metas >= 0 {
		b.metas -= n
	}
}

// validKey reports whether the raw JSON string contents raw (without quotes) decode to valid
// UTF-8: no bytes that are not UTF-8 and no unpaired surrogate escapes.
func validKey(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // a two-byte escape: skip the escaped byte, which may be a backslash
			continue
		}
		r, ok := hexRune(raw[i+2:])
		if !ok {
			return false
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			lo, ok := hexRune(raw[i+3:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hexRune decodes the four hex digits at the start of b.
func hexRune(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
