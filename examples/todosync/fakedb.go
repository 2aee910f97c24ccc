package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
)

// fakeDB plays the database for the embedded demo: a todos table whose writes are sent to the
// fake Realtime server as the changes Postgres would emit.
type fakeDB struct {
	srv  *testutil.Server
	mu   sync.Mutex
	rows map[int64]Todo
}

var todoColumns = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"},
	{Name: "done", Type: "bool"}, {Name: "deleted", Type: "bool"}, {Name: "version", Type: "int8"},
	{Name: "updated_at", Type: "timestamptz"}}

func newFakeDB() *fakeDB {
	db := &fakeDB{srv: testutil.NewUnstartedServer(), rows: make(map[int64]Todo)}
	db.srv.Start()
	db.write(Todo{ID: 1, Title: "write the design"})
	db.write(Todo{ID: 2, Title: "review the tests", Done: true})
	return db
}

// write inserts or updates a row, bumping its version, and emits the change.
func (db *fakeDB) write(t Todo) {
	db.mu.Lock()
	old, exists := db.rows[t.ID]
	t.Version = old.Version + 1
	t.UpdatedAt = time.Now().UTC()
	db.rows[t.ID] = t
	db.mu.Unlock()
	rec, _ := json.Marshal(t)
	c := testutil.Change{Type: "INSERT", Schema: "public", Table: "todos", Record: rec, Columns: todoColumns,
		PrimaryKey: []string{"id"}, CommitTimestamp: t.UpdatedAt.Format("2006-01-02T15:04:05.000Z")}
	if exists {
		c.Type, c.OldRecord = "UPDATE", json.RawMessage(fmt.Sprintf(`{"id":%d}`, t.ID))
	}
	db.srv.InjectChange(c)
}

func (db *fakeDB) Rows(_ context.Context, since time.Time) ([]Todo, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []Todo
	for _, r := range db.rows {
		if !r.UpdatedAt.Before(since) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Todo) int { return int(a.ID - b.ID) })
	return out, nil
}

// play writes a row live, drops the connection and writes while the client is away (that
// change never reaches it; the catch-up reads it), then writes live again.
func (db *fakeDB) play(ctx context.Context, l *local, out io.Writer) error {
	until := func(what string, ok func() bool) error {
		for !ok() {
			select {
			case <-l.changed:
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
			}
		}
		return nil
	}
	has := func(id int64, version int64) func() bool {
		return func() bool { t, ok := l.get(id); return ok && t.Version >= version }
	}
	db.write(Todo{ID: 3, Title: "buy milk"})
	if err := until("the live insert", has(3, 1)); err != nil {
		return err
	}
	fmt.Fprintln(out, "live: buy milk")
	db.srv.DropConnections()
	db.write(Todo{ID: 3, Title: "buy milk", Done: true}) // while away
	db.write(Todo{ID: 1, Title: "write the design", Deleted: true})
	fmt.Fprintln(out, "written while away: buy milk done, write the design deleted")
	if err := until("the catch-up", has(1, 2)); err != nil {
		return err
	}
	db.write(Todo{ID: 4, Title: "call the plumber"})
	if err := until("the live insert after the gap", has(4, 1)); err != nil {
		return err
	}
	fmt.Fprintln(out, "live again: call the plumber")
	return nil
}
