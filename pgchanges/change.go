package pgchanges

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Change is one row change, the "data" object of a postgres_changes message (PROTOCOL 7.3).
//
// A Change returned by [Parse] or [Parser.Parse] aliases the parsed bytes (Record and
// OldRecord are sub-slices of them), so those bytes must not be modified afterwards. A Change
// is safe for concurrent use as long as nobody modifies it; its methods only read.
type Change struct {
	Type            Event     // INSERT, UPDATE or DELETE
	Schema, Table   string    // where the row lives
	CommitTimestamp time.Time // in UTC; zero when null (error payloads)

	// Columns lists the table's columns the subscriber may read, ordered by attnum. A Parser
	// shares one slice between changes with identical columns, so it must not be modified.
	Columns []Column

	Record    Record // the new row (INSERT, UPDATE); nil when absent, null or {}
	OldRecord Record // the old row's identity, or all of it with REPLICA IDENTITY FULL (UPDATE, DELETE); nil when absent, null or {}

	// Errors is nil normally. The server sets it instead of dropping a change it could not
	// deliver whole: "Error 400: Bad Request, no primary key" and "Error 401: Unauthorized"
	// (then Columns is empty, both records are nil and CommitTimestamp is zero), or
	// "Error 413: Payload Too Large" (values whose text is over 64 bytes are left out).
	Errors []string
}

// Column is one entry of a change's columns list.
type Column struct {
	Name string // the column name
	Type string // pg_type.typname: int8, text, timestamptz, _int4, an enum's name, …
}

// ColumnType returns the type of the named column, and whether the change lists it.
func (c Change) ColumnType(name string) (string, bool) {
	for _, col := range c.Columns {
		if col.Name == name {
			return col.Type, true
		}
	}
	return "", false
}

// columnTypeBytes is ColumnType for a key still in bytes; it does not allocate.
func (c Change) columnTypeBytes(name []byte) string {
	for _, col := range c.Columns {
		if col.Name == string(name) {
			return col.Type
		}
	}
	return ""
}

// Record is a row as the server sent it: a raw JSON object whose numbers are exact.
type Record json.RawMessage

// Get returns the raw JSON value of column and whether the record has it. Like encoding/json,
// it takes the last of repeated keys.
func (r Record) Get(column string) (json.RawMessage, bool) {
	var found json.RawMessage
	err := r.each(func(key []byte, esc bool, value []byte) bool {
		if (!esc && string(key) == column) || (esc && decodeString(key, true) == column) {
			found = value
		}
		return true
	})
	return found, err == nil && found != nil
}

// each calls fn for every member of the record until it returns false. The key is still
// escaped when esc is set.
func (r Record) each(fn func(key []byte, esc bool, value []byte) bool) error {
	if len(r) == 0 {
		return nil
	}
	s := scanner{data: r}
	if s.null() {
		return s.end()
	}
	if s.peek() != '{' {
		return s.fail()
	}
	stop := false
	more, err := s.open(1)
	for more && err == nil {
		var key []byte
		var esc bool
		if key, esc, err = s.key(); err != nil {
			break
		}
		if stop {
			err = s.value(1)
		} else {
			var v []byte
			if v, err = s.rawValue(); err == nil {
				stop = !fn(key, esc, v)
			}
		}
		if err == nil {
			more, err = s.next('}')
		}
	}
	if err != nil {
		return err
	}
	return s.end()
}

// Decode decodes the record into v with encoding/json, numbers as json.Number when v holds
// an any. For column-type-aware decoding into a struct use [Decode].
func (r Record) Decode(v any) error {
	data := []byte(r)
	if len(data) == 0 {
		data = []byte("null")
	}
	if !validJSON(data) {
		return malformed("record is not valid JSON")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// MarshalJSON returns the raw object, or null for a nil record.
func (r Record) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON stores a copy of an object; null makes r nil.
func (r *Record) UnmarshalJSON(b []byte) error {
	b = trimJSONSpace(b)
	if string(b) == "null" {
		*r = nil
		return nil
	}
	if len(b) == 0 || b[0] != '{' || !validJSON(b) {
		return malformed("record is not a JSON object")
	}
	*r = bytes.Clone(b)
	return nil
}

// Parse parses the "data" object of a postgres_changes message (or the payload of a legacy
// INSERT/UPDATE/DELETE message). It scans the object once without reflection, keeps record
// and old_record as sub-slices of data (data must not be modified afterwards), and rejects
// malformed JSON with an error wrapping ErrMalformed. It never panics.
//
// To parse many changes, use a [Parser], which also shares Columns between them.
func Parse(data []byte) (Change, error) {
	return parse(data, nil)
}

// ParsePayload parses the whole payload of a postgres_changes message, {"data":{…},"ids":[…]},
// returning the change and the ids of the bindings it is for (see Parse).
func ParsePayload(payload []byte) (Change, []int64, error) {
	return parsePayload(payload, nil)
}

// maxCacheEntries bounds each cache of a Parser; a full cache is dropped and starts over.
const maxCacheEntries = 1024

// maxCachedColumns bounds the size of a columns list a Parser caches, and maxColumnBytes the
// size of all of them; past it the cache starts over.
const (
	maxCachedColumns = 16 << 10
	maxColumnBytes   = 1 << 20
)

// maxInterned bounds the length of the strings a Parser interns.
const maxInterned = 128

// Parser parses many changes, sharing one immutable []Column between changes with identical
// columns JSON and interning schema, table, column names and types, so that parsing a change
// of an already seen table allocates nothing. Its caches hold at most 1024 entries each (and
// 1 MiB of columns lists) and start over when full. The zero Parser is ready to use. A Parser
// is not safe for concurrent use.
type Parser struct {
	columns     map[string][]Column
	columnBytes int // the size of the keys of columns
	strs        map[string]string
	recent      [4]recentColumns // the last lists seen, checked by comparing bytes before scanning
	next        int              // the recent slot to replace next
}

// recentColumns is a columns list a Parser saw lately: its JSON and its parsed form.
type recentColumns struct {
	raw  string
	cols []Column
}

// Parse parses a change like the package-level [Parse].
func (p *Parser) Parse(data []byte) (Change, error) {
	return parse(data, p)
}

// ParsePayload parses a postgres_changes payload like the package-level [ParsePayload].
func (p *Parser) ParsePayload(payload []byte) (Change, []int64, error) {
	return parsePayload(payload, p)
}

// intern returns b as a string, shared with earlier calls for the same bytes.
func (p *Parser) intern(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	if len(b) > maxInterned {
		return string(b)
	}
	if p.strs == nil || len(p.strs) >= maxCacheEntries {
		p.strs = make(map[string]string)
	}
	s := string(b)
	p.strs[s] = s
	return s
}

// str returns raw, the content of a scanned string, as a Go string, interned by p if there is
// one, and without allocating for a few common values.
func str(p *Parser, raw []byte, esc bool) string {
	if esc {
		return decodeString(raw, true)
	}
	if s, ok := commonStrings[string(raw)]; ok {
		return s
	}
	if p != nil && utf8.Valid(raw) {
		return p.intern(raw)
	}
	return decodeString(raw, false)
}

// commonStrings are the column types and names that are parsed without allocating.
var commonStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"public", "id", "created_at", "updated_at", "inserted_at", "deleted_at", "user_id", "name",
		"title", "body", "content", "message", "status", "done", "data", "meta", "tags", "room_id",
		"bool", "int2", "int4", "int8", "oid", "float4", "float8", "numeric", "json", "jsonb",
		"text", "varchar", "bpchar", "char", "name", "citext", "uuid", "date", "time", "timetz",
		"timestamp", "timestamptz", "interval", "bytea", "money", "inet", "cidr", "macaddr",
		"_bool", "_int2", "_int4", "_int8", "_float4", "_float8", "_numeric", "_json", "_jsonb",
		"_text", "_varchar", "_uuid", "_date", "_timestamp", "_timestamptz",
		"int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange",
	} {
		m[s] = s
	}
	return m
}()

// parsePayload reads {"data":{…},"ids":[…]}.
func parsePayload(payload []byte, p *Parser) (Change, []int64, error) {
	s := scanner{data: payload}
	var c Change
	var ids []int64
	seen := false
	if s.peek() != '{' {
		return Change{}, nil, malformed("payload is not a JSON object")
	}
	err := s.members(1, func(key []byte, esc bool) error {
		var err error
		if esc {
			key = []byte(decodeString(key, true))
		}
		switch string(key) {
		case "data":
			c, err = s.change(p)
			seen = err == nil
		case "ids":
			ids, err = s.ids()
		default:
			err = s.value(1)
		}
		return err
	})
	if err == nil {
		err = s.end()
	}
	if err == nil && !seen {
		err = malformed("payload has no data")
	}
	if err != nil {
		return Change{}, nil, wrapSyntax(err)
	}
	return c, ids, nil
}

// ids reads a list of binding ids (integers, or strings holding them).
func (s *scanner) ids() ([]int64, error) {
	if s.null() {
		return nil, nil
	}
	var ids []int64
	err := s.elements(1, func() error {
		raw, err := s.rawValue()
		if err != nil {
			return err
		}
		id, err := parseID(raw)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// parse parses one change object that makes up all of data.
func parse(data []byte, p *Parser) (Change, error) {
	s := scanner{data: data}
	c, err := s.change(p)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return Change{}, wrapSyntax(err)
	}
	return c, nil
}

// change reads a change object at the current position.
func (s *scanner) change(p *Parser) (Change, error) {
	var c Change
	if s.peek() != '{' {
		return c, malformed("change is not a JSON object")
	}
	s.pos++
	if s.peek() == '}' {
		return c, malformed("change has no type")
	}
	for {
		key, esc, err := s.str()
		if err != nil {
			return c, err
		}
		if err := s.expect(':'); err != nil {
			return c, err
		}
		if esc {
			key = []byte(decodeString(key, true))
		}
		switch string(key) {
		case "type":
			c.Type, err = s.eventType(p)
		case "schema":
			c.Schema, err = s.optString(p)
		case "table":
			c.Table, err = s.optString(p)
		case "commit_timestamp":
			c.CommitTimestamp, err = s.commitTimestamp()
		case "columns":
			c.Columns, err = s.columnList(p)
		case "record":
			c.Record, err = s.record()
		case "old_record":
			c.OldRecord, err = s.record()
		case "errors":
			c.Errors, err = s.errorList()
		default:
			err = s.value(1)
		}
		if err != nil {
			return c, err
		}
		switch s.peek() {
		case ',':
			s.pos++
			continue
		case '}':
			s.pos++
		default:
			return c, s.fail()
		}
		break
	}
	if c.Type == "" {
		return c, malformed("change has no type")
	}
	return c, nil
}

// eventType reads the change type.
func (s *scanner) eventType(p *Parser) (Event, error) {
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	switch string(raw) {
	case "INSERT":
		return Insert, nil
	case "UPDATE":
		return Update, nil
	case "DELETE":
		return Delete, nil
	}
	return Event(str(p, raw, esc)), nil
}

// optString reads a string or null.
func (s *scanner) optString(p *Parser) (string, error) {
	if s.null() {
		return "", nil
	}
	raw, esc, err := s.str()
	if err != nil {
		return "", err
	}
	return str(p, raw, esc), nil
}

// commitTimestamp reads commit_timestamp: a string or null.
func (s *scanner) commitTimestamp() (time.Time, error) {
	if s.null() {
		return time.Time{}, nil
	}
	raw, esc, err := s.str()
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	var ok bool
	if esc {
		t, _, ok = parseTimestamp(decodeString(raw, true))
	} else {
		t, _, ok = parseTimestamp(raw)
	}
	if !ok {
		return time.Time{}, malformed("commit_timestamp %q is not a timestamp", raw)
	}
	return t, nil
}

// record reads record or old_record: an object, kept raw, or null. An empty object is nil.
func (s *scanner) record() (Record, error) {
	switch s.peek() {
	case 'n':
		return nil, s.literal("null")
	case '{':
	default:
		return nil, malformed("record is not a JSON object at offset %d", s.pos)
	}
	start := s.pos
	if err := s.object(1); err != nil {
		return nil, err
	}
	raw := s.data[start:s.pos:s.pos]
	if len(trimJSONSpace(raw[1:len(raw)-1])) == 0 {
		return nil, nil
	}
	return Record(raw), nil
}

// errorList reads errors: null, or a list of strings (a lone string is accepted as one).
func (s *scanner) errorList() ([]string, error) {
	switch s.peek() {
	case 'n':
		return nil, s.literal("null")
	case '"':
		e, err := s.stringValue()
		return []string{e}, err
	}
	errs := []string{}
	err := s.elements(1, func() error {
		e, err := s.stringValue()
		errs = append(errs, e)
		return err
	})
	return errs, err
}

// columnList reads the columns list. With a Parser, a list whose bytes were seen before is
// returned from its cache.
func (s *scanner) columnList(p *Parser) ([]Column, error) {
	if s.null() {
		return nil, nil
	}
	if p == nil {
		return s.columns(nil)
	}
	// Most changes repeat one of a few lists byte for byte. Those bytes were validated when
	// they were cached, and a JSON array ends at its closing bracket, so matching them is
	// enough to skip the scan.
	rest := s.data[s.pos:]
	for i := range p.recent {
		if r := &p.recent[i]; r.raw != "" && len(rest) >= len(r.raw) && string(rest[:len(r.raw)]) == r.raw {
			s.pos += len(r.raw)
			return r.cols, nil
		}
	}
	raw, err := s.rawValue()
	if err != nil {
		return nil, err
	}
	cols, ok := p.columns[string(raw)]
	if !ok {
		sub := scanner{data: raw}
		if cols, err = sub.columns(p); err != nil {
			return nil, err
		}
		if len(raw) > maxCachedColumns {
			return cols, nil
		}
		if p.columns == nil || len(p.columns) >= maxCacheEntries || p.columnBytes+len(raw) > maxColumnBytes {
			p.columns = make(map[string][]Column)
			p.columnBytes = 0
		}
		p.columns[string(raw)] = cols
		p.columnBytes += len(raw)
	}
	if len(raw) <= maxCachedColumns {
		p.recent[p.next] = recentColumns{raw: string(raw), cols: cols}
		p.next = (p.next + 1) % len(p.recent)
	}
	return cols, nil
}

// columns parses a columns list: [{"name": …, "type": …}, …]. An empty list is nil.
func (s *scanner) columns(p *Parser) ([]Column, error) {
	if s.peek() != '[' {
		return nil, malformed("columns is not a list at offset %d", s.pos)
	}
	var cols []Column
	err := s.elements(1, func() error {
		if s.peek() != '{' {
			return malformed("column is not an object at offset %d", s.pos)
		}
		var col Column
		err := s.members(2, func(key []byte, esc bool) error {
			if esc {
				key = []byte(decodeString(key, true))
			}
			switch string(key) {
			case "name":
				return s.columnField(p, &col.Name)
			case "type":
				return s.columnField(p, &col.Type)
			}
			return s.value(2)
		})
		if cols == nil {
			cols = make([]Column, 0, 8)
		}
		cols = append(cols, col)
		return err
	})
	if err != nil {
		return nil, err
	}
	return cols, nil
}

// columnField reads a column's name or type.
func (s *scanner) columnField(p *Parser, dst *string) error {
	raw, esc, err := s.str()
	if err != nil {
		return err
	}
	*dst = str(p, raw, esc)
	return nil
}

// String describes the change for logs: "INSERT public.todos at 2026-08-21T10:15:30.123Z".
func (c Change) String() string {
	b := []byte(c.Type)
	b = append(b, ' ')
	b = append(b, c.Schema...)
	b = append(b, '.')
	b = append(b, c.Table...)
	if !c.CommitTimestamp.IsZero() {
		b = append(b, " at "...)
		b = c.CommitTimestamp.AppendFormat(b, time.RFC3339Nano)
	}
	if len(c.Errors) > 0 {
		b = append(b, " errors "...)
		b = strconv.AppendQuote(b, c.Errors[0])
		for _, e := range c.Errors[1:] {
			b = append(b, ',')
			b = strconv.AppendQuote(b, e)
		}
	}
	return string(b)
}
