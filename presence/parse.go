package presence

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// Diff is a presence_diff: the metas that joined and the metas that left, by key.
type Diff struct {
	// Joins holds, by key, the metas that joined.
	Joins map[string][]Meta
	// Leaves holds, by key, the metas that left.
	Leaves map[string][]Meta
}

// ParseState parses the payload of a presence_state message: a JSON object mapping each key to
// {"metas":[…]}, each meta an object with a string phx_ref. The empty object {} is a valid,
// empty state. The result is never nil; a key listed with no metas maps to an empty slice.
//
// Each Meta's Raw is a copy of the meta's bytes, so payload may be reused afterwards. Errors wrap
// [ErrMalformed]; malformed input never panics.
func ParseState(payload []byte) (map[string][]Meta, error) {
	v, err := topObject(payload, "presence_state")
	if err != nil {
		return nil, err
	}
	return parseEntries(v, "presence_state", nil)
}

// ParseDiff parses the payload of a presence_diff message: {"joins":{…},"leaves":{…}}, each side
// shaped like a presence_state payload. A side that is absent or null is empty; other members
// are ignored. Joins and Leaves of the result are never nil.
//
// Each Meta's Raw is a copy of the meta's bytes, so payload may be reused afterwards. Errors wrap
// [ErrMalformed]; malformed input never panics.
func ParseDiff(payload []byte) (Diff, error) {
	return parseDiff(payload, nil, nil)
}

// parseState is ParseState within the budget b (nil for none).
func parseState(payload []byte, b *bound) (map[string][]Meta, error) {
	v, err := topObject(payload, "presence_state")
	if err != nil {
		return nil, err
	}
	return parseEntries(v, "presence_state", b)
}

// parseDiff is ParseDiff with the joins within the budget bj and the leaves within bl (nil
// for none).
func parseDiff(payload []byte, bj, bl *bound) (Diff, error) {
	v, err := topObject(payload, "presence_diff")
	if err != nil {
		return Diff{}, err
	}
	var joins, leaves []byte
	if err := forEachMember(v, func(key string, val []byte) error {
		switch key {
		case "joins":
			joins = val
		case "leaves":
			leaves = val
		}
		return nil
	}); err != nil {
		return Diff{}, malformed("presence_diff: %v", err)
	}
	var d Diff
	if d.Joins, err = parseSide(joins, "presence_diff: joins", bj); err != nil {
		return Diff{}, err
	}
	if d.Leaves, err = parseSide(leaves, "presence_diff: leaves", bl); err != nil {
		return Diff{}, err
	}
	return d, nil
}

// topObject checks that payload is valid JSON holding an object and returns the object without
// surrounding spaces.
func topObject(payload []byte, where string) ([]byte, error) {
	if !jsonscan.Valid(payload) {
		return nil, malformed("%s: invalid JSON", where)
	}
	v := trimJSON(payload)
	if v[0] != '{' {
		return nil, malformed("%s: payload is not a JSON object", where)
	}
	return v, nil
}

// parseSide parses the joins or leaves of a diff; absent (nil) or null is empty.
func parseSide(v []byte, where string, b *bound) (map[string][]Meta, error) {
	if v == nil || string(v) == "null" {
		return map[string][]Meta{}, nil
	}
	if v[0] != '{' {
		return nil, malformed("%s: not a JSON object", where)
	}
	return parseEntries(v, where, b)
}

// parseEntries parses an object of key → {"metas":[…]}. With a budget b, it keeps only the
// members that fit in it and whose key is valid UTF-8, and counts the others in b.refused; what
// it does not keep it only checks, so that a payload of any size costs memory in proportion to
// the budget.
//
// A key that appears more than once takes its last value, as in encoding/json: an earlier
// value is not an error even when it is not a valid entry. A bad value waits for a later
// member of its key to replace it; with a budget, a payload with more than maxPending of them
// waiting at once is refused at the first.
func parseEntries(v []byte, where string, b *bound) (map[string][]Meta, error) {
	out := make(map[string][]Meta)
	var bad map[string]failure // the keys whose last value so far is not an entry
	pos := 0
	err := forEachRawMember(v, func(raw []byte, val []byte) error {
		pos++
		limit := -1
		invalid := false
		if b != nil {
			if invalid = !validKey(raw); invalid {
				limit = 0
			} else if b.metas >= 0 {
				limit = b.metas
			}
			if b.members == 0 {
				limit = 0
			}
		}
		metas, n, err := parseEntry(val, limit)
		if err != nil {
			key := memberKey(raw)
			err = fmt.Errorf("key %q: %w", key, err)
			if b != nil && len(bad) >= maxPending {
				return firstFailure(bad)
			}
			if bad == nil {
				bad = make(map[string]failure)
			}
			bad[key] = failure{pos, err}
			delete(out, key)
			return nil
		}
		if len(bad) > 0 {
			delete(bad, memberKey(raw))
		}
		switch {
		case b == nil:
		case invalid:
			b.refused.invalid++
			return nil
		case n == 0: // an empty entry counts as absent
		case metas == nil || !b.fits(n):
			b.refused.members++
			b.refused.metas += n
			return nil
		default:
			b.take(n)
		}
		out[memberKey(raw)] = metas
		return nil
	})
	if err == nil && len(bad) > 0 {
		err = firstFailure(bad)
	}
	if err != nil {
		return nil, malformed("%s: %v", where, err)
	}
	return out, nil
}

// maxPending bounds, with a budget, the bad values that wait for a later member of their key.
const maxPending = 1024

// failure is the error of a member that is not a valid entry, and the member's position.
type failure struct {
	pos int
	err error
}

// firstFailure returns the error of the failure with the first position; bad is not empty.
func firstFailure(bad map[string]failure) error {
	var first failure
	for _, f := range bad {
		if first.err == nil || f.pos < first.pos {
			first = f
		}
	}
	return first.err
}

// parseEntry parses {"metas":[…]} and returns the metas and their number. With limit >= 0 it
// keeps at most limit metas: past them it only checks the rest and returns nil metas.
func parseEntry(v []byte, limit int) ([]Meta, int, error) {
	if v[0] != '{' {
		return nil, 0, errors.New("entry is not a JSON object")
	}
	var list []byte
	if err := forEachMember(v, func(key string, val []byte) error {
		if key == "metas" {
			list = val
		}
		return nil
	}); err != nil {
		return nil, 0, err
	}
	if list == nil {
		return nil, 0, errors.New(`entry has no "metas"`)
	}
	if list[0] != '[' {
		return nil, 0, errors.New(`"metas" is not a JSON array`)
	}
	metas := []Meta{}
	n := 0
	err := forEachElement(list, func(i int, val []byte) error {
		n++
		if limit >= 0 && n > limit {
			metas = nil // over the limit: check the rest without keeping it
			if err := checkRawMeta(val); err != nil {
				return fmt.Errorf("meta %d: %w", i, err)
			}
			return nil
		}
		m, err := parseMeta(val)
		if err != nil {
			return fmt.Errorf("meta %d: %w", i, err)
		}
		metas = append(metas, m)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return metas, n, nil
}

// parseMeta parses one meta object; Raw is a copy of v.
func parseMeta(v []byte) (Meta, error) {
	m, err := scanMeta(v)
	if err != nil {
		return Meta{}, err
	}
	m.Raw = bytes.Clone(v)
	return m, nil
}

// scanMeta reads Ref and PrevRef from the meta object v, leaving Raw nil.
func scanMeta(v []byte) (Meta, error) {
	if v[0] != '{' {
		return Meta{}, errors.New("not a JSON object")
	}
	var ref, prev []byte
	if err := forEachMember(v, func(key string, val []byte) error {
		switch key {
		case "phx_ref":
			ref = val
		case "phx_ref_prev":
			prev = val
		}
		return nil
	}); err != nil {
		return Meta{}, err
	}
	return metaFields(ref, prev)
}

// checkRawMeta checks the meta object v like scanMeta, without decoding or keeping anything.
func checkRawMeta(v []byte) error {
	if v[0] != '{' {
		return errors.New("not a JSON object")
	}
	var ref, prev []byte
	if err := jsonscan.ValidMembers(v, func(key, val []byte) error {
		if len(val) == 0 {
			return errEmpty
		}
		switch string(key) {
		case "phx_ref":
			ref = val
		case "phx_ref_prev":
			prev = val
		}
		return nil
	}); err != nil {
		return err
	}
	switch {
	case ref == nil:
		return errors.New("no phx_ref")
	case ref[0] != '"':
		return errors.New("phx_ref is not a string")
	case prev != nil && string(prev) != "null" && prev[0] != '"':
		return errors.New("phx_ref_prev is not a string")
	}
	return nil
}

// metaFields decodes the raw phx_ref (required, a string) and phx_ref_prev (optional, a string
// or null) of a meta.
func metaFields(ref, prev []byte) (Meta, error) {
	var m Meta
	if ref == nil {
		return m, errors.New("no phx_ref")
	}
	if ref[0] != '"' {
		return m, errors.New("phx_ref is not a string")
	}
	var err error
	if m.Ref, err = decodeString(ref); err != nil {
		return m, fmt.Errorf("phx_ref: %w", err)
	}
	if prev != nil && string(prev) != "null" {
		if prev[0] != '"' {
			return m, errors.New("phx_ref_prev is not a string")
		}
		if m.PrevRef, err = decodeString(prev); err != nil {
			return m, fmt.Errorf("phx_ref_prev: %w", err)
		}
	}
	return m, nil
}
