package transport_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// A Conn connects, sends a join, hands the reply to OnMessage, and counts what it did.
func ExampleConn() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	ep, _ := transport.Endpoint(srv.URL())
	replies := make(chan transport.Message, 1)
	conn, err := transport.New(transport.Config{
		URL:       transport.SocketURL(ep, "anon-key", nil, transport.V2),
		Dialer:    srv.Dialer(),
		OnMessage: func(m *transport.Message) { replies <- *m },
	})
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.Connect(ctx); err != nil {
		panic(err)
	}
	ref := conn.MakeRef()
	join := transport.Message{JoinRef: ref, Ref: ref, Topic: "realtime:room", Event: transport.EventJoin, Payload: []byte(`{"config":{}}`)}
	if err := conn.Send(ctx, &join); err != nil {
		panic(err)
	}
	m := <-replies
	fmt.Println(m.Event, m.Status)
	s := conn.Stats()
	fmt.Println("frames out:", s.FramesOut, "in:", s.FramesIn, "open:", s.Open)
	// Output:
	// phx_reply ok
	// frames out: 1 in: 1 open: true
}

// A refused upgrade comes with the server's status and text; Connect returns at once when
// retrying cannot fix it, while the Conn keeps trying in the background.
func ExampleUpgradeError() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	srv.RefuseUpgrades(1, 401, `{"error":"Token has expired"}`)
	ep, _ := transport.Endpoint(srv.URL())
	conn, _ := transport.New(transport.Config{URL: transport.SocketURL(ep, "anon-key", nil, transport.V2), Dialer: srv.Dialer()})
	defer conn.Close()

	err := conn.Connect(context.Background())
	var ue *transport.UpgradeError
	if errors.As(err, &ue) {
		fmt.Println(ue.StatusCode, ue.Message, ue.Temporary())
	}
	// Output: 401 Token has expired false
}
