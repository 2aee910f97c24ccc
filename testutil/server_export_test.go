package testutil

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-supabase/realtime/pgchanges"
)

// Hooks into the filter evaluator (filter.go) and the binding parser (postgres.go) for the
// table tests of the external test package.

// MatchFilterForTest parses filter like the server, checks it like the subscription trigger
// and evaluates it on row, typed by columns. The error is the server's message.
func MatchFilterForTest(filter string, row json.RawMessage, columns []pgchanges.Column) (bool, error) {
	conds, err := parseFilters(filter)
	if err != nil {
		return false, errors.New(msgBadFilter + err.Error())
	}
	if err := checkFilters(conds); err != nil {
		return false, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return false, err
	}
	types := make(map[string]string, len(columns))
	for _, c := range columns {
		types[c.Name] = c.Type
	}
	return matchFilters(conds, m, types), nil
}

// FilterCondForTest is a parsed condition: for in, Values are the list's elements.
type FilterCondForTest struct {
	Column, Op string
	Negated    bool
	Values     []string
}

// ParseFilterForTest parses filter like the server and the subscription trigger.
func ParseFilterForTest(filter string) ([]FilterCondForTest, error) {
	conds, err := parseFilters(filter)
	if err == nil {
		err = checkFilters(conds)
	}
	if err != nil {
		return nil, err
	}
	out := make([]FilterCondForTest, len(conds))
	for i, c := range conds {
		out[i] = FilterCondForTest{Column: c.column, Op: c.op, Negated: c.negate, Values: []string{c.value}}
		if c.op == "in" {
			out[i].Values = []string{}
			for _, el := range c.list {
				if el == nil {
					out[i].Values = append(out[i].Values, "<NULL>")
				} else {
					out[i].Values = append(out[i].Values, *el)
				}
			}
		}
	}
	return out, nil
}

// LikeForTest matches s against a LIKE pattern with backslash escapes.
func LikeForTest(s, pattern string, fold bool) (match, ok bool) {
	return likeMatch(s, pattern, '\\', fold)
}

// BindingErrorForTest returns the system error message the server sends for a
// config.postgres_changes item, or "" if it is accepted.
func BindingErrorForTest(item string) string {
	var v map[string]any
	d := json.NewDecoder(strings.NewReader(item))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "not an object: " + err.Error()
	}
	_, msg := parseBinding(v)
	return msg
}
