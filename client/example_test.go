package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
)

// newExampleClient returns a client of the in-memory fake server. In a real program:
// client.New("https://<ref>.supabase.co", apiKey).
func newExampleClient(srv *testutil.Server, opts ...client.Option) *client.Client {
	rt, err := client.New(srv.URL(), "anon-key", append([]client.Option{client.WithDialer(srv.Dialer())}, opts...)...)
	if err != nil {
		panic(err)
	}
	return rt
}

// Two clients on one channel: one broadcasts, the other ranges over its subscription.
func Example_broadcast() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	ctx := context.Background()

	alice := newExampleClient(srv)
	defer alice.Close()
	bob := newExampleClient(srv)
	defer bob.Close()

	room, _ := bob.Channel("room:lobby")
	msgs := room.OnBroadcast(ctx, "new_message")
	if err := room.Subscribe(ctx); err != nil {
		panic(err)
	}

	out, _ := alice.Channel("room:lobby")
	if err := out.Subscribe(ctx); err != nil {
		panic(err)
	}
	type chat struct {
		User string `json:"user"`
		Body string `json:"body"`
	}
	_ = out.Broadcast(ctx, "new_message", chat{User: "alice", Body: "hi"})

	m := <-msgs.C()
	c, _ := client.DecodeBroadcast[chat](m)
	fmt.Printf("%s says %q\n", c.User, c.Body)
	// Output: alice says "hi"
}

// With BroadcastAck the server acknowledges each broadcast; BroadcastWithAck returns the
// acknowledgement as a future, to pipeline several sends.
func ExampleChannel_BroadcastWithAck() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	ctx := context.Background()
	rt := newExampleClient(srv)
	defer rt.Close()

	ch, _ := rt.Channel("room:lobby", client.BroadcastAck())
	if err := ch.Subscribe(ctx); err != nil {
		panic(err)
	}
	var futs []interface {
		Wait(context.Context) (client.Reply, error)
	}
	for i := range 3 {
		fut, err := ch.BroadcastWithAck("tick", map[string]int{"n": i})
		if err != nil {
			panic(err)
		}
		futs = append(futs, fut)
	}
	for _, f := range futs {
		r, err := f.Wait(ctx)
		fmt.Println(r.Status, err)
	}
	// Output:
	// ok <nil>
	// ok <nil>
	// ok <nil>
}

// A refused join keeps the server's exact reason; errors match by code.
func ExampleChannel_Subscribe_refused() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	srv.FailJoins("room:secret", 1, "Unauthorized: You do not have permissions to read from this Channel topic: room:secret")
	rt := newExampleClient(srv)
	defer rt.Close()

	ch, _ := rt.Channel("room:secret", client.Private())
	err := ch.Subscribe(context.Background())
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, errors.Is(err, client.ErrUnauthorized))
		fmt.Println(e.Message)
	}
	// Output:
	// unauthorized true
	// Unauthorized: You do not have permissions to read from this Channel topic: room:secret
}

// The socket's state changes arrive in order, each with its cause.
func ExampleClient_OnConnectionState() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	ctx := context.Background()
	rt := newExampleClient(srv, client.WithBackoff(func(int) time.Duration { return 10 * time.Millisecond }))
	defer rt.Close()

	states := rt.OnConnectionState(ctx)
	if err := rt.Connect(ctx); err != nil {
		panic(err)
	}
	srv.CloseConnections(1012, "") // the server restarts
	for range 4 {
		sc := <-states.C()
		fmt.Println(sc.Old, "→", sc.New, sc.Err != nil)
	}
	// Output:
	// closed → connecting false
	// connecting → open false
	// open → connecting true
	// connecting → open false
}

// One subscription delivers everything that happens on a channel in the order it happened:
// here the channel's join, the typing indicator alice sent before her message, the message, and
// the row it was stored as. Each event says its channel and its place in the channel's order.
func ExampleChannel_OnEvents() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	ctx := context.Background()
	alice := newExampleClient(srv)
	defer alice.Close()
	bob := newExampleClient(srv)
	defer bob.Close()

	room, _ := bob.Channel("room:lobby", client.PostgresChanges(pgchanges.On(pgchanges.Insert, "public", "messages")))
	events := room.OnEvents(ctx)
	if err := room.Subscribe(ctx); err != nil {
		panic(err)
	}
	// show prints one event and reports whether it is the last one this example waits for.
	show := func(ev client.Event) (last bool) {
		o := ev.Origin()
		switch e := ev.(type) {
		case client.ChannelStateChange:
			fmt.Println(o.Seq, o.Topic, "state", e.New)
		case client.System:
			fmt.Println(o.Seq, o.Topic, "system", e.Message)
		case client.Broadcast:
			fmt.Println(o.Seq, o.Topic, "broadcast", e.Event, string(e.Payload))
		case client.PresenceEvent:
			fmt.Printf("%d %s presence %T\n", o.Seq, o.Topic, e.Event)
		case client.PostgresEvent:
			fmt.Println(o.Seq, o.Topic, e.Type, string(e.Record), "matched", e.Bindings[0])
			return true
		}
		return false
	}
	// The server confirms the Postgres subscription right after the join; wait for it, so that
	// what alice sends next comes after it.
	for ev := range events.C() {
		show(ev)
		if sys, ok := ev.(client.System); ok && sys.Extension == "postgres_changes" {
			break
		}
	}

	out, _ := alice.Channel("room:lobby", client.BroadcastAck())
	if err := out.Subscribe(ctx); err != nil {
		panic(err)
	}
	type chat struct {
		User string `json:"user"`
		Body string `json:"body,omitempty"`
	}
	_ = out.Broadcast(ctx, "typing", chat{User: "alice"})
	_ = out.Broadcast(ctx, "message", chat{User: "alice", Body: "hi"})
	// The database stores the message (here the fake server plays the database).
	srv.InjectChange(testutil.Change{Type: "INSERT", Schema: "public", Table: "messages",
		Record:  json.RawMessage(`{"id":1,"body":"hi"}`),
		Columns: []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "body", Type: "text"}}})

	for ev := range events.C() {
		if show(ev) {
			events.Stop()
		}
	}
	// Output:
	// 1 realtime:room:lobby state joining
	// 2 realtime:room:lobby state joined
	// 3 realtime:room:lobby system Subscribed to PostgreSQL
	// 4 realtime:room:lobby broadcast typing {"user":"alice"}
	// 5 realtime:room:lobby broadcast message {"user":"alice","body":"hi"}
	// 6 realtime:room:lobby INSERT {"id":1,"body":"hi"} matched INSERT on public.messages
}
