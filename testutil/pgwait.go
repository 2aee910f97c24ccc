package testutil

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Joins that wait for their postgres_changes subscription, and what makes a subscription fail
// or hang, as supabase/realtime does them since it reads config.postgres_changes_options:
//
//   - A join's config may hold "postgres_changes_options": {"wait": <bool>, "timeout": <ms>}
//     (defaults false and 15000; timeout is clamped to 20000; wait takes the server's flexible
//     booleans). It is ignored when config.postgres_changes is empty.
//   - Without wait, the join is answered at once and the subscription is announced afterwards
//     with a system message, as before: "Subscribed to PostgreSQL", or its error.
//   - With wait, the join's reply waits until the subscription is live; then come the ok
//     reply (with the binding ids) and the system message "Subscribed to PostgreSQL". Nothing
//     else on that socket is answered meanwhile, as on the real server, whose socket process
//     waits for the join. A subscription that cannot work (a binding that does not parse, a
//     table not published or a filter on an unknown column ([Server.PublishTable]), a failure
//     set with [Server.FailPostgres]) refuses the join with "RealtimeDisabledForConfiguration:
//     <the message the system error would carry>"; one not live within the timeout refuses it
//     with "PostgresChangesSubscribeTimeout: Timed out after <timeout>ms waiting for the
//     postgres_changes subscription". Both come after the join error delay, so such a join is
//     answered after up to timeout + [Server.SetJoinErrorDelay].
//   - A subscription takes [Server.SetPostgresReadyDelay] to become live (default: at once),
//     and never while [Server.StallPostgres] holds its topic, which stands for a database the
//     server cannot reach: it keeps trying, silently, and reports no error either, since
//     creating the subscription needs the database. When the stall ends, subscriptions that
//     were waiting for it are announced.

// The real server's postgres_changes_options defaults.
const (
	pgWaitDefaultTimeout = 15000 // ms
	pgWaitMaxTimeout     = 20000 // ms
)

// pgExtra is the state of waits, stalls and published tables. Guarded by Server.feat.mu.
type pgExtra struct {
	stalled map[string]bool            // topic ("" = every topic) → stalled
	tables  map[string]map[string]bool // "schema.table" → its columns
	wake    chan struct{}              // closed and replaced when any of it, or a FailPostgres, changes
}

func newPgExtra() pgExtra {
	return pgExtra{stalled: make(map[string]bool), tables: make(map[string]map[string]bool), wake: make(chan struct{})}
}

// pgWakeLocked wakes the joins waiting for a subscription, to look again. e.mu must be held.
func (s *Server) pgWakeLocked() {
	close(s.pgx.wake)
	s.pgx.wake = make(chan struct{})
}

// pgWaitTimeout reads postgres_changes_options.timeout: an integer (or a string holding one),
// else the default; clamped to the server's maximum.
func pgWaitTimeout(raw json.RawMessage) int64 {
	v := bytes.TrimSpace(raw)
	if len(v) > 1 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			v = []byte(strings.TrimSpace(s))
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		n = pgWaitDefaultTimeout
	}
	return min(n, pgWaitMaxTimeout)
}

// StallPostgres makes the postgres_changes subscriptions of topic ("" for every topic) hang
// while stalled is true, as when the server cannot reach the database: they do not become
// live, nothing is announced, and a join that waits for them (postgres_changes_options.wait)
// is refused with "PostgresChangesSubscribeTimeout: …" when its timeout runs out. When the
// stall ends, the subscriptions it held are announced (after what remains of the ready delay).
// Subscriptions already live stay live.
func (s *Server) StallPostgres(topic string, stalled bool) {
	if topic != "" {
		topic = fullTopic(topic)
	}
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if stalled {
		s.pgx.stalled[topic] = true
	} else {
		delete(s.pgx.stalled, topic)
	}
	s.pgWakeLocked()
	for ch, cs := range e.chans {
		if cs.pg != nil && cs.pg.stalled && !s.pgStalledLocked(ch.topic) {
			cs.pg.stalled = false
			s.announceLocked(e, ch, cs)
		}
	}
}

// pgStalledLocked reports whether the subscriptions of topic are stalled. e.mu must be held.
func (s *Server) pgStalledLocked(topic string) bool {
	return s.pgx.stalled[topic] || s.pgx.stalled[""]
}

// PublishTable declares a table of the database's publication with its column names. Once a
// table is published, the server checks bindings like the real one when it creates their
// subscription: a binding naming a schema and table that match no published table fails with
// "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for
// the given connect parameters: [event: …, schema: …, table: …, filters: […], select: …]", and
// one whose filter names a column the table lacks fails with "Unable to subscribe to changes
// with given parameters. An exception happened so please check your connect parameters: […].
// Exception: ERROR P0001 (raise_exception) invalid column for filter <column>". Bindings on
// every table of a schema (no table, or table "*") are not checked. With no table published,
// the default, every table exists with every column. [Server.InjectChange] does not look at
// the published tables.
func (s *Server) PublishTable(schema, table string, columns ...string) {
	cols := make(map[string]bool, len(columns))
	for _, c := range columns {
		cols[c] = true
	}
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	s.pgx.tables[schema+"."+table] = cols
	s.pgWakeLocked()
}

// parsePostgres parses the bindings of a join: the join reply's postgres_changes list and the
// subscription state, with the first parse error.
func parsePostgres(items []json.RawMessage) ([]json.RawMessage, *pgState) {
	out := []json.RawMessage{}
	st := &pgState{}
	for _, raw := range items {
		var members map[string]json.RawMessage
		var item map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if json.Unmarshal(raw, &members) != nil || members == nil || d.Decode(&item) != nil {
			continue
		}
		id := bindingID(item)
		out = append(out, echoItem(id, members))
		b, msg := parseBinding(item)
		b.id = id
		if msg != "" && st.errMsg == "" {
			st.errMsg = msg
		}
		st.bindings = append(st.bindings, b)
	}
	return out, st
}

// pgSubscribeErrorLocked returns the error creating the subscription st of topic ends with,
// or "": a parse error, then a binding the published tables reject, then a failure set with
// FailPostgres. e.mu must be held.
func (s *Server) pgSubscribeErrorLocked(e *serverExt, topic string, st *pgState) string {
	if st.errMsg != "" {
		return st.errMsg
	}
	for _, b := range st.bindings {
		if msg := s.pgTableErrorLocked(b); msg != "" {
			return msg
		}
	}
	if fail, ok := e.pgFail[topic]; ok {
		return fail
	}
	return e.pgFail[""]
}

// pgTableErrorLocked checks a binding against the published tables. e.mu must be held.
func (s *Server) pgTableErrorLocked(b pgBinding) string {
	if len(s.pgx.tables) == 0 || b.schema == "*" || b.table == "*" {
		return ""
	}
	var matched []map[string]bool
	for name, cols := range s.pgx.tables {
		schema, table, _ := strings.Cut(name, ".")
		if namePatternMatch(b.schema, schema) && namePatternMatch(b.table, table) {
			matched = append(matched, cols)
		}
	}
	params := "[" + paramsToLog(b, b.selected) + "]"
	if len(matched) == 0 {
		return "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: " + params
	}
	for _, c := range b.conds {
		for _, cols := range matched {
			if !cols[c.column] {
				return msgSubscribeFailed + params + ". Exception: " + raiseException("invalid column for filter %s", c.column).Error()
			}
		}
	}
	return ""
}

// awaitPostgres makes a join with postgres_changes_options.wait and bindings wait until its
// subscription is live, and then marks the channel so that "Subscribed to PostgreSQL" follows
// the reply at once. It returns the reason to refuse the join with, or "" (also for joins that
// do not wait); ok is false when the connection or the server ended meanwhile.
func (s *Server) awaitPostgres(ch *channel) (reason string, ok bool) {
	if !ch.cfg.pgWait || len(ch.cfg.postgres) == 0 {
		return "", true
	}
	_, st := parsePostgres(ch.cfg.postgres)
	timeout := ch.cfg.pgTimeout
	start := time.Now()
	deadline := start.Add(time.Duration(timeout) * time.Millisecond)
	e := s.ext()
	for {
		e.mu.Lock()
		fail := s.pgSubscribeErrorLocked(e, ch.topic, st)
		stalled := s.pgStalledLocked(ch.topic)
		readyAt := start.Add(e.pgDelay)
		wake := s.pgx.wake
		e.mu.Unlock()
		now := time.Now()
		switch {
		case fail != "" && !stalled:
			return "RealtimeDisabledForConfiguration: " + fail, true
		case !stalled && !now.Before(readyAt):
			ch.pgWaited = true
			return "", true
		case !now.Before(deadline):
			return "PostgresChangesSubscribeTimeout: Timed out after " + strconv.FormatInt(timeout, 10) +
				"ms waiting for the postgres_changes subscription", true
		}
		next := deadline
		if !stalled && readyAt.Before(next) {
			next = readyAt
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-t.C:
		case <-wake:
			t.Stop()
		case <-ch.conn.done:
			t.Stop()
			return "", false
		case <-s.authz.done:
			t.Stop()
			return "", false
		}
	}
}
