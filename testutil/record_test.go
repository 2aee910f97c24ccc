package testutil_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

func TestRecordLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithRecordLimit(3))
		ep, _ := transport.Endpoint(srv.URL())
		c, err := transport.New(transport.Config{URL: transport.SocketURL(ep, "k", nil, transport.V2), Dialer: srv.Dialer()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, ev := range []string{"a", "b", "c", "d", "e"} {
			_ = c.Send(context.Background(), &transport.Message{Topic: "realtime:x", Event: ev})
		}
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Expect(t.Context(), "x", "e"); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range srv.Received() {
			got = append(got, f.Event)
		}
		if len(got) != 3 || got[2] != "e" || got[0] != "c" {
			t.Errorf("Received = %v; want the newest 3", got)
		}
		_ = c.Send(context.Background(), &transport.Message{Topic: "realtime:x", Event: "f"})
		if _, err := srv.Expect(t.Context(), "x", "f"); err != nil {
			t.Errorf("WaitFor across trimming: %v", err)
		}
	})
}
