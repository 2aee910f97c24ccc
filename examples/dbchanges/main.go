// Command dbchanges shows Postgres changes with the Go SDK: it subscribes to INSERTs of one
// room's messages and to UPDATEs and DELETEs of the messages table, waits until the bindings
// are live, and prints each change decoded into a Go struct, with exact values (an int8 above
// 2^53 and a numeric with its scale survive untouched).
//
// With no -url (and no $SUPABASE_URL) it runs against an embedded fake Realtime server and
// plays the database itself, so it works out of the box:
//
//	go run ./examples/dbchanges
//
// Against a project whose public.messages table is in the supabase_realtime publication, it
// prints the changes you make until interrupted:
//
//	SUPABASE_URL=https://<ref>.supabase.co SUPABASE_KEY=<anon key> go run ./examples/dbchanges
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
)

// Message is a row of public.messages.
type Message struct {
	ID        int64             `json:"id"` // int8: exact beyond 2^53
	RoomID    int32             `json:"room_id"`
	Body      string            `json:"body"`
	Amount    pgchanges.Numeric `json:"amount"` // numeric: exact, scale kept
	CreatedAt time.Time         `json:"created_at"`
}

func main() {
	url := flag.String("url", os.Getenv("SUPABASE_URL"), "project URL or Realtime endpoint; empty: an embedded fake server")
	key := flag.String("key", os.Getenv("SUPABASE_KEY"), "API key")
	room := flag.Int("room", 42, "the room whose INSERTs to print")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *key, *room, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dbchanges:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, key string, room int, out io.Writer) error {
	var db *testutil.Server
	if url == "" {
		db = testutil.NewUnstartedServer()
		db.Start()
		defer db.Close()
		url, key = db.URL(), "demo-key"
		fmt.Fprintln(out, "using an embedded fake Realtime server; it plays the database")
	}
	rt, err := client.New(url, key)
	if err != nil {
		return err
	}
	defer rt.Close()
	ch, err := rt.Channel("db-changes")
	if err != nil {
		return err
	}
	// Bindings go into the join, so register them before Subscribe.
	inserts := ch.OnPostgresChanges(ctx, pgchanges.On(pgchanges.Insert, "public", "messages").Filter(pgchanges.Eq("room_id", room)))
	edits := ch.OnPostgresChanges(ctx, pgchanges.On(pgchanges.Update, "public", "messages"))
	deletes := ch.OnPostgresChanges(ctx, pgchanges.On(pgchanges.Delete, "public", "messages"))
	if err := ch.Subscribe(ctx); err != nil {
		return err
	}
	// Joined is not yet live: wait for "Subscribed to PostgreSQL" before relying on changes.
	if _, err := ch.PostgresReady().Wait(ctx); err != nil {
		return fmt.Errorf("postgres_changes not ready: %w", err)
	}
	fmt.Fprintln(out, "bindings live")

	expect := -1 // against a real project: until interrupted
	if db != nil {
		expect = 3
		go playDatabase(db, room)
	}
	for n := 0; n != expect; n++ {
		var ev client.PostgresEvent
		select {
		case ev = <-inserts.C():
		case ev = <-edits.C():
		case ev = <-deletes.C():
		case <-ctx.Done():
			return nil
		}
		if ev.Gap != nil {
			fmt.Fprintf(out, "gap: changes after %s may be missing (reconnected)\n", ev.Gap.LastCommit.Format(time.RFC3339))
			continue
		}
		if err := printChange(out, ev.Change); err != nil {
			return err
		}
	}
	return nil
}

func printChange(out io.Writer, c pgchanges.Change) error {
	if c.Type == pgchanges.Delete {
		old, err := pgchanges.DecodeOld[Message](c)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s id=%d\n", c.Type, old.ID)
		return nil
	}
	m, err := pgchanges.Decode[Message](c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s id=%d room=%d body=%q amount=%s at %s\n", c.Type, m.ID, m.RoomID, m.Body, m.Amount, m.CreatedAt.Format(time.RFC3339))
	return nil
}

// playDatabase injects what the database would emit for a few statements.
func playDatabase(db *testutil.Server, room int) {
	cols := []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "room_id", Type: "int4"}, {Name: "body", Type: "text"},
		{Name: "amount", Type: "numeric"}, {Name: "created_at", Type: "timestamptz"}}
	row := func(id string, room int, body string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"id":%s,"room_id":%d,"body":%q,"amount":12345678901234567890.123456789,"created_at":"2026-08-21T10:15:30.118532+00:00"}`, id, room, body))
	}
	changes := []testutil.Change{
		{Type: "INSERT", Record: row("9007199254740993", room, "hello")},
		{Type: "INSERT", Record: row("2", room+1, "another room: filtered out by the server")},
		{Type: "UPDATE", Record: row("9007199254740993", room, "hello, edited"), OldRecord: json.RawMessage(`{"id":9007199254740993}`)},
		{Type: "DELETE", OldRecord: json.RawMessage(`{"id":9007199254740993}`)},
	}
	for _, c := range changes {
		c.Schema, c.Table, c.Columns, c.PrimaryKey = "public", "messages", cols, []string{"id"}
		db.InjectChange(c)
	}
}
