package testutil

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/transport"
)

// Server-side postgres_changes (docs/protocol.md §4.3, §4.6, §7), as supabase/realtime 2.129.8
// does it with its postgres_cdc_rls extension, with [Server.InjectChange] standing in for the
// database:
//
//   - The join reply echoes each config.postgres_changes item (objects only) as sent, its keys
//     sorted after an integer "id" that is the same for identical items.
//   - The bindings are parsed like Subscriptions.parse_subscription_params: event (any case;
//     anything but INSERT, UPDATE, DELETE means *), schema + table (+ filter), schema only
//     (table *), table only (schema public), select. The first binding that does not parse
//     fails the channel's whole subscription, as on the server, where the subscriptions of a
//     join are created together: the channel gets a postgres_changes system error with the
//     server's message (such as ``Error parsing `filter` params: ["wrong"]``) and no change.
//   - Otherwise the channel gets "Subscribed to PostgreSQL" once, after the join reply (or
//     after [Server.SetPostgresReadyDelay]), or the error of [Server.FailPostgres]; it
//     receives changes from then on. With config.broadcast.replication_ready it also gets
//     "Replication connection established".
//   - Unless [Server.PublishTable] declares tables, every table exists and is in the
//     publication; schema and table names of a binding are matched like the server's query,
//     with LIKE (so * is a wildcard, and so are % and _). A join may wait for its subscription
//     (postgres_changes_options, pgwait.go).
//     Filters are evaluated as described in filter.go.
//
// The legacy API (a join without config, which subscribes by the topic name) is not emulated.

// Change is a row change to inject with [Server.InjectChange], as the database would produce
// it (docs/protocol.md §7.3).
type Change struct {
	// Type is INSERT, UPDATE or DELETE. Bindings match it case-insensitively; it is sent as
	// given.
	Type string
	// Schema and Table name the changed table.
	Schema, Table string
	// Record is the new row, a JSON object (INSERT, UPDATE). It is sent byte for byte as given,
	// so numbers keep every digit; nil is sent as {}.
	Record json.RawMessage
	// OldRecord is the old row, or its identity columns (UPDATE, DELETE); sent like Record.
	OldRecord json.RawMessage
	// Columns lists the table's columns in attnum order, with their pg_type names. Filters
	// compare values by these types. nil is sent as [].
	Columns []pgchanges.Column
	// PrimaryKey names the primary key columns. A binding with select receives the selected
	// columns plus these, in columns, record and old_record.
	PrimaryKey []string
	// CommitTimestamp is sent as given; "" sends the current time (UTC, milliseconds,
	// 2006-01-02T15:04:05.000Z), "null" sends JSON null (as error payloads have).
	CommitTimestamp string
	// Errors is sent as a list; nil or empty sends null. Error payloads ("Error 401:
	// Unauthorized" with columns [] and record {}) are sent as given.
	Errors []string
}

// pgBinding is one parsed binding (subscription) of a channel.
type pgBinding struct {
	id            int64
	action        string // *, INSERT, UPDATE or DELETE
	schema, table string // LIKE patterns; "*" matches everything
	conds         []filterCond
	selected      []string // sorted selected columns; nil for all
}

// pgState is the postgres_changes subscription of one join.
type pgState struct {
	bindings []pgBinding
	errMsg   string // the system error of a subscription that failed to parse; "" if none
	live     bool   // "Subscribed to PostgreSQL" was sent: changes are delivered
	stalled  bool   // held by StallPostgres, to be announced when it ends (pgwait.go)
	timer    *time.Timer
	gen      int // counts the timers set, so that a stale one does nothing
}

// SetPostgresReadyDelay makes the server wait d after a join's reply before it sends
// "Subscribed to PostgreSQL" (or the subscription's error); changes injected meanwhile do not
// reach the channel. The default is 0: the message follows the join reply. The delay uses the
// time package, so it follows a testing/synctest bubble's fake clock.
func (s *Server) SetPostgresReadyDelay(d time.Duration) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pgDelay = d
}

// FailPostgres makes the postgres_changes subscriptions of topic ("" for every topic) fail
// with the given message instead of "Subscribed to PostgreSQL", such as "Unable to subscribe
// to changes with given parameters. Please check Realtime is enabled for the given connect
// parameters: [event: *, schema: public, table: doesnotexist, filters: [], select: nil]". The
// channel then receives no change. It applies to every subscription announced after the call
// until FailPostgres(topic, "") clears it; like the errors it stands for, it is not retried.
func (s *Server) FailPostgres(topic, message string) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if topic != "" {
		topic = fullTopic(topic)
	}
	if message == "" {
		delete(e.pgFail, topic)
	} else {
		e.pgFail[topic] = message
	}
	s.pgWakeLocked()
}

// postgresReply is the join reply's postgres_changes list; it also parses the bindings
// (parsePostgres, pgwait.go).
func (s *Server) postgresReply(ch *channel) []json.RawMessage {
	out, st := parsePostgres(ch.cfg.postgres)
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if cs := s.stateLocked(e, ch); cs != nil {
		cs.pg = st
	}
	return out
}

// echoItem writes a binding as the server echoes it: the id first (an atom key), then the
// item's keys in sorted order with their values as sent.
func echoItem(id int64, members map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte(`{"id":`)
	b = strconv.AppendInt(b, id, 10)
	for _, k := range keys {
		b = append(b, ',')
		b = transport.AppendQuote(b, k)
		b = append(b, ':')
		var v bytes.Buffer
		if json.Compact(&v, members[k]) != nil {
			v.Reset()
			v.Write(members[k])
		}
		b = append(b, v.Bytes()...)
	}
	return append(b, '}')
}

// The server's messages for bindings it cannot parse.
const (
	msgNoParams        = "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: "
	msgBadSelect       = "Error parsing `select` params: expected a list of column name strings, e.g. select: [\"col1\", \"col2\"]"
	msgWildcardSelect  = "Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name."
	msgBadFilter       = "Error parsing `filter` params: "
	msgSubscribeFailed = "Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: "
)

// parseBinding parses a binding item like Subscriptions.parse_subscription_params, then makes
// the checks of the subscription_check_filters trigger that need no table. It returns the
// server's message when the binding is rejected.
func parseBinding(item map[string]any) (pgBinding, string) {
	b := pgBinding{action: "*"}
	if ev, ok := item["event"].(string); ok {
		switch up := strings.ToUpper(ev); up {
		case "INSERT", "UPDATE", "DELETE":
			b.action = up
		}
	}
	var selected []string
	switch sel := item["select"].(type) {
	case []any:
		for _, c := range sel {
			if s, ok := c.(string); ok {
				selected = append(selected, s)
			}
		}
	case string:
		return b, msgBadSelect
	}
	str := func(k string) (string, bool, bool) {
		v, has := item[k]
		s, ok := v.(string)
		return s, ok, has
	}
	schema, schemaOK, hasSchema := str("schema")
	table, tableOK, hasTable := str("table")
	filter, filterOK, hasFilter := str("filter")
	_, hasUserToken := item["user_token"]
	_, hasAuthToken := item["auth_token"]
	switch {
	case schemaOK && tableOK && filterOK:
		conds, err := parseFilters(filter)
		if err != nil {
			return b, msgBadFilter + err.Error()
		}
		b.conds = conds
	case schemaOK && tableOK && !hasFilter:
	case schemaOK && !hasTable && !hasFilter:
		table = "*"
	case tableOK && !hasSchema && !hasFilter:
		schema = "public"
	case hasUserToken || hasAuthToken:
		return b, msgNoParams + "<redacted>"
	default:
		return b, msgNoParams + inspectValue(item)
	}
	if selected != nil && (schema == "*" || table == "*") {
		return b, msgWildcardSelect
	}
	b.schema, b.table = schema, table
	if err := checkFilters(b.conds); err != nil {
		return b, msgSubscribeFailed + "[" + paramsToLog(b, selected) + "]. Exception: " + err.Error()
	}
	if selected != nil {
		b.selected = slices.Sorted(slices.Values(selected))
	}
	return b, ""
}

// paramsToLog formats subscription params like the server's params_to_log/1.
func paramsToLog(b pgBinding, selected []string) string {
	var f strings.Builder
	f.WriteByte('[')
	for i, c := range b.conds {
		if i > 0 {
			f.WriteString(", ")
		}
		f.WriteString("{" + inspectString(c.column) + ", " + inspectString(c.op) + ", " + inspectString(c.value) + ", " + strconv.FormatBool(c.negate) + "}")
	}
	f.WriteByte(']')
	sel := "nil"
	if selected != nil {
		sel = inspectStrings(selected...)
	}
	return "event: " + b.action + ", schema: " + b.schema + ", table: " + b.table + ", filters: " + f.String() + ", select: " + sel
}

// inspectValue formats a decoded JSON value (numbers as json.Number) as Elixir's inspect
// formats the term Jason decodes it to.
func inspectValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		return strconv.FormatBool(x)
	case string:
		return inspectString(x)
	case json.Number:
		return inspectNumber(string(x))
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = inspectValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = inspectString(k) + " => " + inspectValue(x[k])
		}
		return "%{" + strings.Join(parts, ", ") + "}"
	}
	return "nil"
}

// inspectNumber formats a JSON number as Elixir inspects it: an integer as it is, a float in
// the shorter of its decimal and scientific forms, always with a fraction (1.0, 1.0e20).
func inspectNumber(n string) string {
	if !strings.ContainsAny(n, ".eE") {
		return n
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) {
		return n
	}
	dec := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(dec, ".") {
		dec += ".0"
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	sci := mant + "e" + strconv.Itoa(e)
	if len(sci) < len(dec) {
		return sci
	}
	return dec
}

// afterJoinPostgres sends what a join with bindings, or with replication_ready, produces.
func (s *Server) afterJoinPostgres(ch *channel) {
	e := s.ext()
	e.mu.Lock()
	cs := s.stateLocked(e, ch)
	if cs == nil {
		e.mu.Unlock()
		return
	}
	s.subscribeLocked(e, ch, cs, ch.pgWaited)
	if ch.cfg.replicationReady {
		ch.conn.pushSystem(ch, "system", "ok", "Replication connection established")
	}
	e.mu.Unlock()
	cs.markReady()
}

// postgresResubscribe re-creates the subscriptions of ch after its access token changed, as
// the server does with the new claims: the result ("Subscribed to PostgreSQL" or the error) is
// sent again, after the ready delay. A live subscription stays live meanwhile (the server
// upserts the subscription rows).
func (s *Server) postgresResubscribe(ch *channel) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if cs := e.chans[ch]; cs != nil {
		s.subscribeLocked(e, ch, cs, false)
	}
}

// subscribeLocked announces the subscription of a channel with bindings now, or after the
// ready delay (now when the join waited for it). e.mu must be held.
func (s *Server) subscribeLocked(e *serverExt, ch *channel, cs *chanState, now bool) {
	pg := cs.pg
	if pg == nil || len(pg.bindings) == 0 {
		return
	}
	if pg.timer != nil {
		pg.timer.Stop()
		pg.timer = nil
	}
	if e.pgDelay <= 0 || now {
		s.announceLocked(e, ch, cs)
		return
	}
	pg.gen++
	gen := pg.gen
	pg.timer = time.AfterFunc(e.pgDelay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.chans[ch] == cs && pg.gen == gen { // not ended, not rescheduled
			s.announceLocked(e, ch, cs)
		}
	})
}

// announceLocked ends the subscription of a join: the parse error, a table the publication
// rejects, the configured failure, or "Subscribed to PostgreSQL", after which changes are
// delivered; nothing while the subscription is stalled (pgwait.go). e.mu must be held.
func (s *Server) announceLocked(e *serverExt, ch *channel, cs *chanState) {
	if s.pgStalledLocked(ch.topic) {
		cs.pg.stalled = true // the database is out of reach: nothing to announce yet
		return
	}
	switch fail := s.pgSubscribeErrorLocked(e, ch.topic, cs.pg); {
	case fail != "":
		ch.conn.pushSystem(ch, "postgres_changes", "error", fail)
	default:
		cs.pg.live = true
		ch.conn.pushSystem(ch, "postgres_changes", "ok", "Subscribed to PostgreSQL")
	}
}

// InjectChange delivers a row change the way the server's replication poller does, and
// returns the number of channels it reached. Every channel whose subscription is live and has
// bindings that match gets [null,null,T,"postgres_changes",{"data":{…},"ids":[…]}], where ids
// are the ids of that channel's matching bindings in reverse binding order (with duplicates
// for identical bindings). A binding matches when its event is * or the change's type, its
// schema and table patterns match, and its filter holds for the new row (INSERT, UPDATE) or
// the old row (DELETE). data has columns, commit_timestamp, errors, old_record (UPDATE,
// DELETE), record (INSERT, UPDATE), schema, table and type.
//
// Bindings with select get the selected columns plus c.PrimaryKey in columns, record and
// old_record; like the server, a channel whose matching bindings select differently gets one
// frame per selection (all columns first, then by the selected names).
//
// A channel whose join is being answered is waited for, so that a change injected after a
// client saw its join reply is delivered. InjectChange returns 0 and logs an error if Record
// or OldRecord is not valid JSON.
func (s *Server) InjectChange(c Change) int {
	for _, raw := range []json.RawMessage{c.Record, c.OldRecord} {
		if raw != nil && !json.Valid(raw) {
			s.opts.logger.Error("testutil: InjectChange: a record is not valid JSON")
			return 0
		}
	}
	typ := strings.ToUpper(c.Type)
	rowRaw := c.Record
	if typ == "DELETE" {
		rowRaw = c.OldRecord
	}
	var row map[string]json.RawMessage
	_ = json.Unmarshal(rowRaw, &row)
	types := make(map[string]string, len(c.Columns))
	for _, col := range c.Columns {
		types[col.Name] = col.Type
	}

	e := s.ext()
	e.mu.Lock()
	type waiter struct{ ready, done <-chan struct{} }
	var waits []waiter
	for ch, cs := range e.chans {
		if cs.pg != nil && len(cs.pg.bindings) > 0 {
			waits = append(waits, waiter{cs.ready, ch.conn.done})
		}
	}
	e.mu.Unlock()
	for _, w := range waits {
		select {
		case <-w.ready:
		case <-w.done:
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	type target struct {
		ch  *channel
		ids map[string][]int64 // selection key → ids
	}
	var targets []target
	selections := map[string][]string{}
	for ch, cs := range e.chans {
		if cs.pg == nil || !cs.pg.live {
			continue
		}
		t := target{ch: ch, ids: map[string][]int64{}}
		for _, b := range cs.pg.bindings {
			if b.action != "*" && b.action != typ {
				continue
			}
			if !namePatternMatch(b.schema, c.Schema) || !namePatternMatch(b.table, c.Table) {
				continue
			}
			if !matchFilters(b.conds, row, types) {
				continue
			}
			key := selectionKey(b.selected)
			selections[key] = b.selected
			t.ids[key] = append([]int64{b.id}, t.ids[key]...)
		}
		if len(t.ids) > 0 {
			targets = append(targets, t)
		}
	}
	sort.Slice(targets, func(i, j int) bool {
		a, b := targets[i].ch, targets[j].ch
		if a.conn.id != b.conn.id {
			return a.conn.id < b.conn.id
		}
		return a.topic < b.topic
	})
	keys := make([]string, 0, len(selections))
	for k := range selections {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return strings.Join(selections[keys[i]], ",") < strings.Join(selections[keys[j]], ",")
	})

	ts := c.CommitTimestamp
	if ts == "" {
		ts = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	delivered := map[*channel]bool{}
	for _, key := range keys {
		data := changeData(c, typ, ts, selections[key])
		for _, t := range targets {
			ids := t.ids[key]
			if ids == nil {
				continue
			}
			p := append([]byte(`{"data":`), data...)
			p = append(p, `,"ids":[`...)
			for i, id := range ids {
				if i > 0 {
					p = append(p, ',')
				}
				p = strconv.AppendInt(p, id, 10)
			}
			p = append(p, "]}"...)
			t.ch.conn.send(transport.Message{Topic: t.ch.topic, Event: transport.EventPostgres, Payload: p})
			delivered[t.ch] = true
		}
	}
	return len(delivered)
}

// namePatternMatch matches a schema or table name like the server's subscription query:
// "*" matches every name; anything else is a LIKE pattern without escape character.
func namePatternMatch(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	m, _ := likeMatch(name, pattern, 0, false)
	return m
}

// selectionKey identifies a selection of columns; "" is every column.
func selectionKey(selected []string) string {
	if selected == nil {
		return ""
	}
	return "=" + strings.Join(selected, "\x00")
}

// changeData writes the data object of a change for one selection of columns (nil for all),
// with the keys in the server's (sorted) order.
func changeData(c Change, typ, ts string, selected []string) []byte {
	keep := func(name string) bool {
		return selected == nil || slices.Contains(selected, name) || slices.Contains(c.PrimaryKey, name)
	}
	b := []byte(`{"columns":[`)
	n := 0
	for _, col := range c.Columns {
		if !keep(col.Name) {
			continue
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
		b = append(b, `{"name": `...)
		b = transport.AppendQuote(b, col.Name)
		b = append(b, `, "type": `...)
		b = transport.AppendQuote(b, col.Type)
		b = append(b, '}')
	}
	b = append(b, `],"commit_timestamp":`...)
	if ts == "null" {
		b = append(b, "null"...)
	} else {
		b = transport.AppendQuote(b, ts)
	}
	b = append(b, `,"errors":`...)
	if len(c.Errors) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range c.Errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = transport.AppendQuote(b, e)
		}
		b = append(b, ']')
	}
	hasOld, hasNew := typ == "UPDATE" || typ == "DELETE", typ == "INSERT" || typ == "UPDATE"
	if typ != "INSERT" && typ != "UPDATE" && typ != "DELETE" {
		hasOld, hasNew = c.OldRecord != nil, c.Record != nil
	}
	if hasOld {
		b = append(b, `,"old_record":`...)
		b = appendRecord(b, c.OldRecord, selected, keep)
	}
	if hasNew {
		b = append(b, `,"record":`...)
		b = appendRecord(b, c.Record, selected, keep)
	}
	b = append(b, `,"schema":`...)
	b = transport.AppendQuote(b, c.Schema)
	b = append(b, `,"table":`...)
	b = transport.AppendQuote(b, c.Table)
	b = append(b, `,"type":`...)
	b = transport.AppendQuote(b, c.Type)
	return append(b, '}')
}

// appendRecord appends a record: as given when every column is selected (nil as {}), else
// its kept members in their order, values byte for byte, in jsonb's text style.
func appendRecord(b []byte, raw json.RawMessage, selected []string, keep func(string) bool) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return append(b, "{}"...)
	}
	if selected == nil || !transport.IsObject(raw) {
		return append(b, raw...)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	if _, err := d.Token(); err != nil {
		return append(b, raw...)
	}
	b = append(b, '{')
	n := 0
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if d.Decode(&v) != nil {
			break
		}
		if !keep(key) {
			continue
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
		b = transport.AppendQuote(b, key)
		b = append(b, ": "...)
		b = append(b, v...)
	}
	return append(b, '}')
}
