package pgchanges

import (
	"encoding/json"
	"slices"
	"strings"
)

// Event is the kind of change a binding selects, and the type of a delivered change.
type Event string

// The events. All is only meaningful in a binding.
const (
	Insert Event = "INSERT"
	Update Event = "UPDATE"
	Delete Event = "DELETE"
	All    Event = "*"
)

// Binding selects the changes a subscription receives: an event, a schema and table, an
// optional filter and optional selected columns. It becomes one item of the join payload's
// config.postgres_changes list.
//
// A Binding is an immutable value, safe for concurrent use; its builder methods return
// modified copies. Build one with [On]; the zero Binding is invalid.
type Binding struct {
	event     Event
	schema    string
	table     string
	filter    string
	filterErr error
	columns   []string
}

// On returns a binding for event on schema.table. The server reads event case-insensitively;
// "*" (All) selects every event, and "*" as schema or table is a wildcard. An empty table
// means every table of the schema, an empty schema means "public".
func On(event Event, schema, table string) Binding {
	return Binding{event: event, schema: schema, table: table}
}

// Filter returns a copy of b filtered by conds, which are joined with commas (AND) in the
// server's syntax. It replaces any previous filter; no conditions means no filter. An invalid
// condition is reported by Validate.
func (b Binding) Filter(conds ...Condition) Binding {
	var s []byte
	b.filterErr = nil
	for i, c := range conds {
		if err := c.Err(); err != nil && b.filterErr == nil {
			b.filterErr = err
		}
		if i > 0 {
			s = append(s, ',')
		}
		s = c.appendTo(s)
	}
	b.filter = string(s)
	return b
}

// FilterRaw returns a copy of b with a filter string in the server's syntax (see
// [ParseFilter]), sent as it is. It replaces any previous filter; an empty or white-space-only
// string means no filter. A filter the server would reject is reported by Validate.
func (b Binding) FilterRaw(filter string) Binding {
	if strings.TrimSpace(filter) == "" {
		filter = ""
	}
	b.filter = filter
	_, b.filterErr = ParseFilter(filter)
	return b
}

// Select returns a copy of b that asks only for columns (primary key columns are always
// included by the server). It replaces any previous selection; no columns means all columns.
// Selection needs an explicit schema and table.
func (b Binding) Select(columns ...string) Binding {
	if len(columns) == 0 {
		b.columns = nil
	} else {
		b.columns = slices.Clone(columns)
	}
	return b
}

// Event returns the event as given to On.
func (b Binding) Event() Event { return b.event }

// Schema returns the schema as given to On.
func (b Binding) Schema() string { return b.schema }

// Table returns the table as given to On.
func (b Binding) Table() string { return b.table }

// FilterString returns the filter in the server's syntax, or "" for none.
func (b Binding) FilterString() string { return b.filter }

// Columns returns a copy of the selected columns, or nil for all columns.
func (b Binding) Columns() []string { return slices.Clone(b.columns) }

// Validate reports, wrapping ErrInvalidArgument, what the server would reject or misread: an
// event other than INSERT, UPDATE, DELETE (any case) or *; no schema and no table; a filter
// without both schema and table; a selection with a wildcard schema or table, or no table, or an
// empty column name; an invalid filter condition or raw filter.
func (b Binding) Validate() error {
	switch strings.ToUpper(string(b.event)) {
	case string(Insert), string(Update), string(Delete), string(All):
	default:
		return invalid("binding %s: unknown event %q (want INSERT, UPDATE, DELETE or *)", b, b.event)
	}
	if b.schema == "" && b.table == "" {
		return invalid("binding %s: a schema or a table is required", b)
	}
	if b.filter != "" && (b.schema == "" || b.table == "") {
		return invalid("binding %s: a filter needs both schema and table", b)
	}
	if b.columns != nil {
		if b.table == "" || b.schema == "*" || b.table == "*" { // no schema means public, no table means all
			return invalid("binding %s: column selection is not supported for wildcard subscriptions; give an explicit schema and table", b)
		}
		for _, c := range b.columns {
			if c == "" {
				return invalid("binding %s: empty column name in select", b)
			}
		}
	}
	if b.filterErr != nil {
		return b.filterErr
	}
	return nil
}

// wireBinding is the JSON form of a binding; omitempty keeps null out of the payload.
type wireBinding struct {
	Event  string   `json:"event,omitempty"`
	Schema string   `json:"schema,omitempty"`
	Table  string   `json:"table,omitempty"`
	Filter string   `json:"filter,omitempty"`
	Select []string `json:"select,omitempty"`
}

// MarshalJSON returns the join-config item, for example
// {"event":"INSERT","schema":"public","table":"t","filter":"id=eq.1","select":["a"]}. Keys
// whose value is empty are left out, never written as null (a null filter breaks the server's
// parser). The event is written as given.
func (b Binding) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireBinding{
		Event:  string(b.event),
		Schema: b.schema,
		Table:  b.table,
		Filter: b.filter,
		Select: b.columns,
	})
}

// Key returns the binding's canonical identity, its JSON form. The server derives a binding's
// id from its raw parameters, so two bindings with equal keys get the same id and one of them
// can be dropped before joining; bindings that differ in anything (even the case of the event
// or the order of selected columns) have different keys.
func (b Binding) Key() string {
	j, _ := b.MarshalJSON() // cannot fail: strings and a string slice
	return string(j)
}

// String describes the binding for messages: `INSERT on public.messages where room_id=eq.42`,
// `* on public.todos select id,title`. An empty schema is shown as public and an empty table as *.
func (b Binding) String() string {
	var s strings.Builder
	ev := string(b.event)
	if ev == "" {
		ev = `""`
	}
	s.WriteString(ev)
	s.WriteString(" on ")
	s.WriteString(cmpOr(b.schema, "public"))
	s.WriteByte('.')
	s.WriteString(cmpOr(b.table, "*"))
	if b.filter != "" {
		s.WriteString(" where ")
		s.WriteString(b.filter)
	}
	if b.columns != nil {
		s.WriteString(" select ")
		s.WriteString(strings.Join(b.columns, ","))
	}
	return s.String()
}

// cmpOr returns s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// MatchesEvent reports whether a change of type t is for this binding: the binding's event is
// * or equals t case-insensitively (PROTOCOL 7.4).
func (b Binding) MatchesEvent(t Event) bool {
	return b.event == All || strings.EqualFold(string(b.event), string(t))
}

// MatchesReply reports whether item, from the join reply, is the server's echo of b: the same
// event (exactly), schema, table and filter, and the same set of selected columns. An absent,
// null and empty filter are equal, and so are an absent and an empty selection.
func (b Binding) MatchesReply(item ReplyBinding) bool {
	return string(b.event) == item.Event && b.schema == item.Schema && b.table == item.Table &&
		b.filter == item.Filter && sameSet(b.columns, item.Select)
}

// sameSet reports whether a and b hold the same strings, ignoring order and repeats.
func sameSet(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// ReplyBinding is one item of the postgres_changes list in a successful join reply: the
// server's echo of a requested binding plus the id that changes for it will carry.
type ReplyBinding struct {
	// ID is the number the server tags the binding's changes with.
	ID int64
	// Event, Schema and Table are echoed as they were requested.
	Event  string
	Schema string
	Table  string
	Filter string   // "" when absent or null
	Select []string // nil when absent or null
}

// ParseReplyBindings reads the postgres_changes list of a join reply's response object. It
// reports false when the response has no postgres_changes key (or it is null); then the
// server sent no ids and no binding will fire. Ids are JSON integers; strings holding integers
// are accepted too. Errors wrap ErrMalformed.
func ParseReplyBindings(response []byte) ([]ReplyBinding, bool, error) {
	var r struct {
		PostgresChanges json.RawMessage `json:"postgres_changes"`
	}
	if err := json.Unmarshal(response, &r); err != nil {
		return nil, false, malformed("join reply response: %v", err)
	}
	if len(r.PostgresChanges) == 0 || string(r.PostgresChanges) == "null" {
		return nil, false, nil
	}
	var items []struct {
		ID     json.RawMessage `json:"id"`
		Event  string          `json:"event"`
		Schema string          `json:"schema"`
		Table  string          `json:"table"`
		Filter string          `json:"filter"`
		Select []string        `json:"select"`
	}
	if err := json.Unmarshal(r.PostgresChanges, &items); err != nil {
		return nil, true, malformed("join reply postgres_changes: %v", err)
	}
	out := make([]ReplyBinding, len(items))
	for i, it := range items {
		if it.ID == nil {
			return nil, true, malformed("join reply postgres_changes item %d has no id", i)
		}
		id, err := parseID(it.ID)
		if err != nil {
			return nil, true, err
		}
		out[i] = ReplyBinding{ID: id, Event: it.Event, Schema: it.Schema, Table: it.Table, Filter: it.Filter, Select: it.Select}
	}
	return out, true, nil
}

// MatchReply pairs each binding that was sent with its item in the join reply and returns the
// server ids in binding order. Items are matched by index first, as realtime-js does, and
// otherwise by value, so a server that reorders or collapses identical bindings still maps.
// A binding without a matching item is an error wrapping ErrMismatch that names it.
func MatchReply(bindings []Binding, items []ReplyBinding) ([]int64, error) {
	ids := make([]int64, len(bindings))
	for i, b := range bindings {
		if i < len(items) && b.MatchesReply(items[i]) {
			ids[i] = items[i].ID
			continue
		}
		j := slices.IndexFunc(items, b.MatchesReply)
		if j < 0 {
			if i < len(items) {
				it := items[i]
				return nil, invalidMismatch(i, b, &it)
			}
			return nil, invalidMismatch(i, b, nil)
		}
		ids[i] = items[j].ID
	}
	return ids, nil
}

// invalidMismatch describes a binding the reply does not echo.
func invalidMismatch(i int, b Binding, got *ReplyBinding) error {
	if got == nil {
		return wrapf(ErrMismatch, "binding %d (%s) is missing from the join reply", i, b)
	}
	echo := On(Event(got.Event), got.Schema, got.Table).FilterRaw(got.Filter).Select(got.Select...)
	return wrapf(ErrMismatch, "binding %d (%s): the server echoed %s", i, b, echo)
}
