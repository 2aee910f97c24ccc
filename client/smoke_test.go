package client_test

import (
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
)

func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		b := newClient(t, srv)
		cha := subscribed(t, a, "room:lobby", client.BroadcastAck())
		chb, _ := b.Channel("room:lobby")
		msgs := chb.OnBroadcast(t.Context(), "*")
		if err := chb.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := cha.Broadcast(t.Context(), "hello", map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		m := recv(t, msgs)
		if m.Event != "hello" || string(m.Payload) != `{"n":1}` {
			t.Fatalf("got %+v", m)
		}
	})
}
