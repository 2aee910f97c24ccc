// Command todosync keeps a local copy of a todos table in sync with Postgres changes, without
// missing any: it takes a snapshot once the bindings are live, applies every change after it,
// and catches up from the database after every gap (a dropped connection, a laptop that slept),
// before any later change is applied.
//
// The rules that make it correct:
//
//   - Subscribe first, snapshot second. Subscribe returns once the changes are live, so a row
//     written after the snapshot's read arrives as a change; one written in between arrives
//     both ways.
//   - Apply idempotently: each row carries a version that its writer bumps, and a change or a
//     snapshot row older than the copy held is skipped. A row can come from the snapshot, a
//     catch-up and a live change, in any order.
//   - Delete softly (a deleted flag and a version bump) so a catch-up sees deletions too: a
//     query cannot return a row that is gone.
//   - Catch up with OnPostgresChangesWithCatchUp: the SDK runs the catch-up for each gap and
//     holds the changes that arrive meanwhile until it returns.
//   - Reconcile now and then anyway: when a project exceeds its database events rate, the
//     server drops changes without a gap the client could see.
//
// With no -url (and no $SUPABASE_URL) it runs against an embedded fake Realtime server and
// plays the database itself, dropping the connection once and writing a row while the client
// is away:
//
//	go run ./examples/todosync
//
// Against a project whose public.todos table (id int8, title text, done bool, deleted bool,
// version int8, updated_at timestamptz) is in the supabase_realtime publication, it reads the
// table through the REST API and prints the list after every change until interrupted:
//
//	SUPABASE_URL=https://<ref>.supabase.co SUPABASE_KEY=<anon key> go run ./examples/todosync
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
)

// Todo is a row of public.todos.
type Todo struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Done      bool      `json:"done"`
	Deleted   bool      `json:"deleted"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store reads the table: the whole of it, or the rows changed since a time.
type Store interface {
	Rows(ctx context.Context, since time.Time) ([]Todo, error)
}

// catchUpMargin widens a catch-up's window: updated_at is set when a transaction writes the row,
// which can be a little before the commit that a change's timestamp records.
const catchUpMargin = time.Minute

func main() {
	url := flag.String("url", os.Getenv("SUPABASE_URL"), "project URL; empty: an embedded fake server")
	key := flag.String("key", os.Getenv("SUPABASE_KEY"), "API key")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *key, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "todosync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, projectURL, key string, w io.Writer) error {
	// The catch-up function runs on a goroutine of the SDK's, beside this loop: share the output
	// under a lock.
	out := &lockedWriter{w: w}
	var (
		store Store
		demo  *fakeDB
	)
	if projectURL == "" {
		demo = newFakeDB()
		defer demo.srv.Close()
		projectURL, key, store = demo.srv.URL(), "demo-key", demo
		fmt.Fprintln(out, "using an embedded fake Realtime server; it plays the database")
	} else {
		store = &restStore{base: strings.TrimSuffix(projectURL, "/"), key: key}
	}
	rt, err := client.New(projectURL, key)
	if err != nil {
		return err
	}
	defer rt.Close()
	ch, err := rt.Channel("todosync")
	if err != nil {
		return err
	}

	l := newLocal()
	catchUp := func(ctx context.Context, gap client.Gap) error {
		since := time.Time{} // nothing delivered before the gap: read everything
		if !gap.LastCommit.IsZero() {
			since = gap.LastCommit.Add(-catchUpMargin)
		}
		rows, err := store.Rows(ctx, since)
		if err != nil {
			return err // the SDK calls again after a backoff; live changes wait meanwhile
		}
		n := l.apply(rows...)
		fmt.Fprintf(out, "caught up after a gap: %d row(s) read, %d applied\n", len(rows), n)
		return nil
	}
	changes := ch.OnPostgresChangesWithCatchUp(ctx, pgchanges.On(pgchanges.All, "public", "todos"), catchUp)
	if err := ch.Subscribe(ctx); err != nil { // returns once the changes are live
		return err
	}
	rows, err := store.Rows(ctx, time.Time{})
	if err != nil {
		return err
	}
	l.apply(rows...)
	fmt.Fprintf(out, "snapshot: %d todo(s)\n", len(rows))

	done := make(chan error, 1)
	if demo != nil {
		go func() { done <- demo.play(ctx, l, out) }()
	}
	for {
		select {
		case ev, ok := <-changes.C():
			if !ok {
				return changes.Err()
			}
			if ev.Gap != nil {
				fmt.Fprintln(out, "gap: the channel was away; catching up")
				continue
			}
			if err := l.applyChange(ev.Change); err != nil {
				return err
			}
			if demo == nil {
				fmt.Fprintln(out, l.String())
			}
		case err := <-done:
			if err != nil {
				return err
			}
			want, _ := demo.Rows(ctx, time.Time{})
			fmt.Fprintf(out, "final: %s\n", l.String())
			fmt.Fprintf(out, "in sync with the database: %v\n", l.equal(want))
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// local is the program's copy of the table, by id; deleted rows stay as tombstones so that an
// older change cannot bring them back.
type local struct {
	mu      sync.Mutex
	rows    map[int64]Todo
	changed chan struct{} // signalled after every apply (for the demo)
}

func newLocal() *local {
	return &local{rows: make(map[int64]Todo), changed: make(chan struct{}, 1)}
}

// apply keeps each row unless the copy held is as new; it returns how many it kept.
func (l *local) apply(rows ...Todo) int {
	l.mu.Lock()
	n := 0
	for _, r := range rows {
		if old, ok := l.rows[r.ID]; ok && old.Version >= r.Version {
			continue
		}
		l.rows[r.ID] = r
		n++
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return n
}

// applyChange applies a row change. A hard DELETE (a row removed outside the soft-delete
// convention) removes the row.
func (l *local) applyChange(c pgchanges.Change) error {
	if c.Type == pgchanges.Delete {
		old, err := pgchanges.DecodeOld[Todo](c)
		if err != nil {
			return err
		}
		l.apply(Todo{ID: old.ID, Deleted: true, Version: 1<<63 - 1})
		return nil
	}
	t, err := pgchanges.Decode[Todo](c)
	if err != nil {
		return err
	}
	l.apply(t)
	return nil
}

func (l *local) get(id int64) (Todo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.rows[id]
	return t, ok
}

// equal reports whether the copy holds exactly rows.
func (l *local) equal(rows []Todo) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(rows) != len(l.rows) {
		return false
	}
	for _, r := range rows {
		if got, ok := l.rows[r.ID]; !ok || got.Version != r.Version || got.Title != r.Title || got.Done != r.Done || got.Deleted != r.Deleted {
			return false
		}
	}
	return true
}

// String lists the todos that are not deleted, by id.
func (l *local) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]int64, 0, len(l.rows))
	for id, r := range l.rows {
		if !r.Deleted {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		r := l.rows[id]
		mark := " "
		if r.Done {
			mark = "x"
		}
		fmt.Fprintf(&b, "[%s] %s", mark, r.Title)
	}
	return b.String()
}

// restStore reads public.todos through the project's REST API (PostgREST).
type restStore struct{ base, key string }

func (s *restStore) Rows(ctx context.Context, since time.Time) ([]Todo, error) {
	q := url.Values{"select": {"*"}, "order": {"id"}}
	if !since.IsZero() {
		q.Set("updated_at", "gte."+since.UTC().Format(time.RFC3339Nano))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/rest/v1/todos?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("apikey", s.key)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading todos: HTTP %d", resp.StatusCode)
	}
	var rows []Todo
	return rows, json.NewDecoder(resp.Body).Decode(&rows)
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
