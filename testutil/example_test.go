package testutil_test

import (
	"context"
	"fmt"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

// The fake server runs in memory: a client dials it through its Dialer, and the test scripts
// faults (here, one refused join) and reads what it received.
func ExampleServer() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	srv.FailJoins("room", 1, "PrivateOnly: This project only allows private channels")

	rt, err := client.New(srv.URL(), "anon-key", client.WithDialer(srv.Dialer()))
	if err != nil {
		panic(err)
	}
	defer rt.Close()
	ch, _ := rt.Channel("room")
	fmt.Println(ch.Subscribe(context.Background()))

	for _, f := range srv.Received() {
		if f.Topic == "realtime:room" {
			fmt.Println("server got", f.Event)
		}
	}
	// Output:
	// realtime: unauthorized: PrivateOnly: This project only allows private channels (topic=realtime:room)
	// server got phx_join
}
