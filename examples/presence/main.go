// Command presence shows Supabase Realtime presence with the Go SDK: two users join a room,
// track their status, change it and leave, while a watcher prints the Join, Leave and Sync
// events it receives and the state it ends with.
//
// With no -url (and no $SUPABASE_URL) it runs against an embedded fake Realtime server, so it
// works out of the box:
//
//	go run ./examples/presence
//
// Against a project: SUPABASE_URL=https://<ref>.supabase.co SUPABASE_KEY=<anon key> go run ./examples/presence
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/testutil"
)

func main() {
	url := flag.String("url", os.Getenv("SUPABASE_URL"), "project URL or Realtime endpoint; empty: an embedded fake server")
	key := flag.String("key", os.Getenv("SUPABASE_KEY"), "API key")
	topic := flag.String("topic", "room:presence-demo", "channel topic")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *url, *key, *topic, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "presence:", err)
		os.Exit(1)
	}
}

// status is what each user tracks.
type status struct {
	User   string `json:"user"`
	Status string `json:"status"`
}

func run(ctx context.Context, url, key, topic string, out io.Writer) error {
	if url == "" {
		srv := testutil.NewUnstartedServer()
		srv.Start()
		defer srv.Close()
		url, key = srv.URL(), "demo-key"
		fmt.Fprintln(out, "using an embedded fake Realtime server")
	}
	connect := func() (*client.Client, error) { return client.New(url, key) }

	// The watcher: a presence subscription (it turns presence on for its channel) that
	// receives every event; by default a slow reader would conflate to the latest state.
	watcher, err := connect()
	if err != nil {
		return err
	}
	defer watcher.Close()
	room, err := watcher.Channel(topic)
	if err != nil {
		return err
	}
	events := room.OnPresence(ctx)
	if err := room.Subscribe(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events.C() {
			fmt.Fprintln(out, describe(ev))
		}
	}()

	// Two users, each with a stable presence key (without one, every rejoin would appear as a
	// new member).
	join := func(user string) (*client.Client, *client.Channel, error) {
		c, err := connect()
		if err != nil {
			return nil, nil, err
		}
		ch, err := c.Channel(topic, client.PresenceKey(user))
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		if err := ch.Subscribe(ctx); err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, ch, nil
	}
	alice, aliceCh, err := join("alice")
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, bobCh, err := join("bob")
	if err != nil {
		return err
	}
	defer bob.Close()

	steps := []func() error{
		func() error { return aliceCh.Track(ctx, status{User: "alice", Status: "online"}) },
		func() error { return bobCh.Track(ctx, status{User: "bob", Status: "online"}) },
		func() error { return aliceCh.Track(ctx, status{User: "alice", Status: "away"}) },
		func() error { return bobCh.Unsubscribe(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
		waitSettled(ctx)
	}

	events.Stop()
	<-done
	// The snapshot never changes under its holder; decode metas into a struct.
	state := room.PresenceState()
	for _, k := range state.Keys() {
		metas, err := presence.DecodeMetas[status](state.Get(k))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "final: %s is %s\n", k, metas[0].Status)
	}
	return nil
}

// waitSettled gives the server's fan-out a moment to arrive (a demo, not a synchronization
// primitive: real programs react to events as they come).
func waitSettled(ctx context.Context) {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func describe(ev presence.Event) string {
	switch e := ev.(type) {
	case presence.Join:
		return fmt.Sprintf("join  %-5s %s", e.Key, metas(e.New))
	case presence.Leave:
		return fmt.Sprintf("leave %-5s %s", e.Key, metas(e.Left))
	case presence.Sync:
		return fmt.Sprintf("sync  %s", strings.Join(e.State.Keys(), ","))
	}
	return fmt.Sprintf("%T", ev)
}

func metas(ms []presence.Meta) string {
	var parts []string
	for _, m := range ms {
		var s status
		_ = m.Decode(&s)
		parts = append(parts, s.Status)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
