package client_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
)

// connOf returns the server's connection that carries topic.
func connOf(t *testing.T, srv *testutil.Server, topic string) *testutil.Conn {
	t.Helper()
	for _, k := range srv.Conns() {
		if slices.Contains(k.Topics(), "realtime:"+topic) {
			return k
		}
	}
	t.Fatalf("no connection carries %s", topic)
	return nil
}

// wantInFlight checks the bytes and frames the frame gate has admitted and not released.
func wantInFlight(t *testing.T, c *client.Client, bytes, frames int) {
	t.Helper()
	if b, f, _ := client.FrameGateStats(c); b != bytes || f != frames {
		t.Errorf("in flight: %d bytes in %d frames; want %d in %d", b, f, bytes, frames)
	}
}

// A large frame that would take the large frames in flight past the budget waits at its
// socket's reader until they are done with; meanwhile the other sockets' frames flow.
func TestLargeFramesWaitAtTheGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithMaxChannelsPerSocket(1))
		client.SetFrameBudget(c, 300_000)
		started, proceed := make(chan struct{}, 8), make(chan struct{})
		client.SetPresenceJobHook(c, func() { started <- struct{}{}; <-proceed })
		a, _ := c.Channel("a")
		pres := a.OnPresence(t.Context(), subscribe.WithBuffer(20_000))
		if err := a.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		bMsgs := subscribed(t, c, "b").OnBroadcast(t.Context(), "*")
		synctest.Wait()
		if len(srv.Conns()) != 2 {
			t.Fatalf("%d connections; want 2", len(srv.Conns()))
		}

		first, second := presenceDiffFrame("a", 0, 5000), presenceDiffFrame("a", 5000, 5000) // 200 KB each
		connOf(t, srv, "a").PushRaw(false, first)
		connOf(t, srv, "a").PushRaw(false, second)
		synctest.Wait()
		<-started
		if len(started) != 0 {
			t.Fatal("the second presence_diff got past the gate")
		}
		wantInFlight(t, c, len(first), 1)
		if _, _, waits := client.FrameGateStats(c); waits != 1 {
			t.Errorf("%d admissions waited; want 1", waits)
		}

		connOf(t, srv, "b").PushRaw(false, broadcastFrame("b", "small", `{}`))
		if got := recv(t, bMsgs); got.Event != "small" {
			t.Errorf("the other socket's broadcast: %q", got.Event)
		}

		close(proceed)
		synctest.Wait()
		<-started
		wantInFlight(t, c, 0, 0)
		if got := a.PresenceState().Len(); got != 10_000 {
			t.Errorf("presence state of %d members; want 10000", got)
		}
		for len(pres.C()) > 0 {
			<-pres.C()
		}
	})
}

// Every large frame admitted is given back to the gate, whatever becomes of it.
func TestFrameGateReleases(t *testing.T) {
	big := func(topic string) []byte {
		return broadcastFrame(topic, "big", `"`+strings.Repeat("x", 100_000)+`"`)
	}
	diff := presenceDiffFrame("a", 0, 3000) // 120 KB: handled off the router
	for _, tt := range []struct {
		name string
		// run pushes large frames on k, the connection of channel a, with the presence jobs
		// blocked until proceed is called.
		run func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func())
	}{
		{"routed", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, big("a"))
		}},
		{"malformed", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			f := big("a")
			k.PushRaw(false, f[:len(f)-1])
		}},
		{"no channel", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, big("nobody"))
		}},
		{"kept by the transport", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, []byte(`[null,"12345","phoenix","phx_reply",{"status":"ok","response":{"pad":"`+strings.Repeat("x", 100_000)+`"}}]`))
		}},
		{"presence job and held backlog", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, diff)
			k.PushRaw(false, big("a"))
			synctest.Wait()
			wantInFlight(t, c, len(diff)+len(big("a")), 2)
			proceed()
		}},
		{"backlog overflowed: the job finished on the router", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, diff)
			mib := broadcastFrame("a", "mib", `"`+strings.Repeat("x", 1<<20)+`"`)
			for range 40 { // past the held backlog's 32 MiB
				k.PushRaw(false, mib)
			}
			synctest.Wait() // the router waits for the job it finishes
			proceed()
		}},
		{"job dropped by a leave", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, diff)
			synctest.Wait()
			if err := a.Unsubscribe(t.Context()); err != nil {
				t.Error(err)
			}
			proceed()
		}},
		{"socket dropped", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, diff)
			k.PushRaw(false, big("a"))
			synctest.Wait()
			k.Drop()
			synctest.Wait()
			proceed()
		}},
		{"client closed", func(t *testing.T, c *client.Client, srv *testutil.Server, k *testutil.Conn, a *client.Channel, proceed func()) {
			k.PushRaw(false, diff)
			synctest.Wait()
			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }() // it waits for the job
			synctest.Wait()
			proceed()
			<-closed
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				c := newClient(t, srv)
				blocked := make(chan struct{})
				client.SetPresenceJobHook(c, func() { <-blocked })
				a, _ := c.Channel("a")
				_ = a.OnPresence(t.Context(), subscribe.WithBuffer(20_000))
				_ = a.OnBroadcast(t.Context(), "*", subscribe.WithBuffer(16))
				if err := a.Subscribe(t.Context()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				proceeded := false
				proceed := func() { proceeded = true; close(blocked) }
				tt.run(t, c, srv, connOf(t, srv, "a"), a, proceed)
				if !proceeded {
					proceed()
				}
				synctest.Wait()
				wantInFlight(t, c, 0, 0)
			})
		})
	}
}
