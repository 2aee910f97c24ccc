package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

// awayAndBack drops the receiver's connection (the first one), lets send run while it is away,
// and returns once the receiver's channel has joined again.
func awayAndBack(t *testing.T, srv *testutil.Server, states interface {
	C() <-chan client.ChannelStateChange
}, send func()) {
	t.Helper()
	srv.Conns()[0].Drop()
	synctest.Wait()
	send()
	for sc := range states.C() {
		if sc.New == client.ChannelJoined {
			return
		}
	}
	t.Fatal("the receiver never joined again")
}

// With AutoReplay, a rejoin brings every broadcast sent while the channel was away, once; those
// received before the gap are not delivered again.
func TestAutoReplayDeliversMissedBroadcastsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithBroadcastPersistence())
		rx := subscribed(t, newClient(t, srv), "room", client.Private(), client.AutoReplay(0))
		msgs := rx.OnBroadcast(t.Context(), "*")
		states := rx.OnState(t.Context())
		tx := subscribed(t, newClient(t, srv), "room", client.Private(), client.BroadcastAck())

		var want []string
		send := func(from, to int) {
			for i := from; i < to; i++ {
				fut, err := tx.BroadcastWithAck("n", map[string]int{"i": i})
				if err != nil {
					t.Fatal(err)
				}
				reply, err := fut.Wait(t.Context())
				if err != nil || len(reply.MessageID()) != 36 {
					t.Fatalf("ack = %+v (id %q), %v; want the stored message's id", reply, reply.MessageID(), err)
				}
				want = append(want, fmt.Sprintf(`{"i":%d}`, i))
			}
		}
		send(0, 3)
		var got []string
		for range 3 {
			got = append(got, string(recv(t, msgs).Payload))
		}
		awayAndBack(t, srv, states, func() { send(3, 25) }) // 22 while away
		for range 22 {
			b := recv(t, msgs)
			if b.Gap != nil {
				t.Fatalf("gap marker %+v; the replay covered the gap", b.Gap)
			}
			got = append(got, string(b.Payload))
		}
		synctest.Wait()
		none(t, msgs)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("broadcasts (-want +got):\n%s", diff)
		}
		js := joins(srv, "realtime:room")
		var p struct {
			Config struct {
				Broadcast struct {
					Replay *struct{ Since, Limit int64 }
				}
			}
		}
		_ = json.Unmarshal(js[len(js)-1].Payload, &p)
		if p.Config.Broadcast.Replay == nil || p.Config.Broadcast.Replay.Limit != 25 {
			t.Errorf("the rejoin asked for replay %+v; want limit 25", p.Config.Broadcast.Replay)
		}
	})
}

// When the replay brings as many broadcasts as its limit, a gap marker follows them.
func TestAutoReplayMarksAGapPastItsLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		rx := subscribed(t, newClient(t, srv), "room", client.Private(), client.AutoReplay(5))
		msgs := rx.OnBroadcast(t.Context(), "n")
		states := rx.OnState(t.Context())
		tx := subscribed(t, newClient(t, srv), "room", client.Private())
		awayAndBack(t, srv, states, func() {
			for i := range 8 {
				if err := tx.Broadcast(t.Context(), "n", map[string]int{"i": i}); err != nil {
					t.Fatal(err)
				}
			}
		})
		for i := 3; i < 8; i++ {
			if b := recv(t, msgs); string(b.Payload) != fmt.Sprintf(`{"i":%d}`, i) || !b.Replayed() {
				t.Errorf("replay %d = %s", i, b.Payload)
			}
		}
		if b := recv(t, msgs); b.Gap == nil {
			t.Errorf("after the limit: %+v; want a gap marker", b)
		}
	})
}

// AutoReplay is for private channels; HTTPSend with Persist asks for storage.
func TestAutoReplayOptionsAndPersist(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		if _, err := c.Channel("pub", client.AutoReplay(0)); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("AutoReplay on a public channel = %v", err)
		}
		if _, err := c.Channel("priv", client.Private(), client.AutoReplay(26)); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("AutoReplay(26) = %v", err)
		}
		priv, _ := c.Channel("priv", client.Private())
		if err := priv.HTTPSend(t.Context(), "e", map[string]int{"a": 1}, client.Persist()); err != nil {
			t.Fatal(err)
		}
		if q := srv.HTTPRequests()[0].Query; q.Get("persist") != "true" || q.Get("private") != "true" {
			t.Errorf("query %v", q)
		}
		pub, _ := c.Channel("pub")
		if err := pub.HTTPSend(t.Context(), "e", map[string]int{"a": 1}, client.Persist()); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("persist on a public channel = %v; want the server's 422", err)
		}
		if id := (client.Reply{Status: "ok", Response: []byte(`{}`)}).MessageID(); id != "" {
			t.Errorf("MessageID of an empty reply = %q", id)
		}
	})
}
