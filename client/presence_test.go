package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

// describe renders presence events compactly: "join bob [online]", "leave bob", "sync [alice bob]".
func describe(ev presence.Event) string {
	switch e := ev.(type) {
	case presence.Join:
		return "join " + e.Key + " " + statuses(e.New)
	case presence.Leave:
		return "leave " + e.Key + " " + statuses(e.Left)
	case presence.Sync:
		return "sync " + fmt.Sprint(e.State.Keys())
	}
	return fmt.Sprintf("%T", ev)
}

func statuses(ms []presence.Meta) string {
	var out []string
	for _, m := range ms {
		var v struct{ Status string }
		_ = m.Decode(&v)
		out = append(out, v.Status)
	}
	return fmt.Sprint(out)
}

func drain(t *testing.T, sub *subscribe.Subscription[presence.Event]) []string {
	t.Helper()
	synctest.Wait()
	var out []string
	for len(sub.C()) > 0 {
		out = append(out, describe(<-sub.C()))
	}
	return out
}

func enabled(t *testing.T, f testutil.Frame) bool {
	t.Helper()
	var p struct {
		Config struct {
			Presence struct{ Enabled bool }
		}
	}
	_ = json.Unmarshal(f.Payload, &p)
	return p.Config.Presence.Enabled
}

func TestPresenceTrackUpdateUntrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		b := newClient(t, srv)
		watch, _ := a.Channel("lobby", client.PresenceKey("alice"))
		events := watch.OnPresence(t.Context(), subscribe.WithBuffer(64), subscribe.WithOverflow(subscribe.Evict))
		if err := watch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		bob := subscribed(t, b, "lobby", client.PresenceKey("bob"))
		if got := drain(t, events); !cmp.Equal(got, []string{"sync []"}) {
			t.Errorf("after the join: %v; want the initial empty sync", got)
		}
		if err := bob.Track(t.Context(), map[string]string{"status": "online"}); err != nil {
			t.Fatal(err)
		}
		if err := bob.Track(t.Context(), map[string]string{"status": "away"}); err != nil {
			t.Fatal(err)
		}
		if err := bob.Track(t.Context(), map[string]string{"status": "away"}); err != nil { // same: no diff
			t.Fatal(err)
		}
		if err := bob.Untrack(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"join bob [online]", "sync [bob]",
			"join bob [away]", "leave bob [online]", "sync [bob]",
			"leave bob [away]", "sync []",
		}
		if diff := cmp.Diff(want, drain(t, events)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if n := watch.PresenceState().Len(); n != 0 {
			t.Errorf("state has %d keys; want none", n)
		}
		// presence.enabled went out as true only where presence is used.
		for _, f := range srv.Received() {
			if f.Event == "phx_join" {
				if e := enabled(t, f); e != (f.Conn == 1) {
					t.Errorf("conn %d joined with presence.enabled=%v", f.Conn, e)
				}
			}
		}
	})
}

// Several devices under one key stay apart; a snapshot never changes under its holder.
func TestPresenceSeveralMetasAndImmutableSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		watch, _ := a.Channel("lobby")
		_ = watch.OnPresence(t.Context())
		if err := watch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		phone := subscribed(t, newClient(t, srv), "lobby", client.PresenceKey("alice"))
		laptop := subscribed(t, newClient(t, srv), "lobby", client.PresenceKey("alice"))
		_ = phone.Track(t.Context(), map[string]string{"status": "phone"})
		_ = laptop.Track(t.Context(), map[string]string{"status": "laptop"})
		synctest.Wait()
		before := watch.PresenceState()
		if got := statuses(before.Get("alice")); got != "[phone laptop]" {
			t.Fatalf("alice = %s; want both devices", got)
		}
		_ = phone.Untrack(t.Context())
		synctest.Wait()
		if got := statuses(watch.PresenceState().Get("alice")); got != "[laptop]" {
			t.Errorf("after the phone left: %s; want the laptop only", got)
		}
		if got := statuses(before.Get("alice")); got != "[phone laptop]" {
			t.Errorf("the earlier snapshot changed to %s", got)
		}
	})
}

// Track refuses a state that is not a JSON object before sending anything.
func TestTrackRefusesNonObjects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch := subscribed(t, newClient(t, srv), "lobby")
		for _, state := range []any{"online", 42, []string{"a"}, nil, json.RawMessage(`"x"`)} {
			if err := ch.Track(t.Context(), state); !errors.Is(err, client.ErrInvalidArgument) {
				t.Errorf("Track(%v) = %v; want invalid_argument", state, err)
			}
		}
		for _, f := range srv.Received() {
			if f.Event == "presence" {
				t.Errorf("a presence push went out: %s", f.Payload)
			}
		}
	})
}

// After a reconnect presence starts over from the new presence_state: the user's state is
// tracked again, and members who left meanwhile leave (no ghosts).
func TestPresenceAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		watch, _ := a.Channel("lobby", client.PresenceKey("alice"))
		events := watch.OnPresence(t.Context(), subscribe.WithBuffer(64), subscribe.WithOverflow(subscribe.Evict))
		if err := watch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		_ = watch.Track(t.Context(), map[string]string{"status": "here"})
		carol := subscribed(t, newClient(t, srv), "lobby", client.PresenceKey("carol"))
		_ = carol.Track(t.Context(), map[string]string{"status": "here"})
		drain(t, events)

		srv.Conns()[0].Drop() // alice's socket
		synctest.Wait()
		_ = carol.Untrack(t.Context()) // carol leaves while alice is away
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if watch.State() != client.ChannelJoined {
			t.Fatalf("State = %v", watch.State())
		}
		got := drain(t, events)
		if !contains(got, "leave carol [here]") {
			t.Errorf("events after the rejoin %v; want carol's leave", got)
		}
		if keys := watch.PresenceState().Keys(); !cmp.Equal(keys, []string{"alice"}) {
			t.Errorf("state after the rejoin %v; want only alice (re-tracked, no ghost)", keys)
		}
		if keys := keysOf(srv.Presence("lobby", false)); !cmp.Equal(keys, []string{"alice"}) {
			t.Errorf("server presence %v; want alice tracked again", keys)
		}
	})
}

func keysOf(m map[string][]presence.Meta) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The server closes a channel after 5 presence pushes in 30 s; the client keeps under the limit
// by coalescing, and the channel survives.
func TestPresenceRateLimitGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "lobby", client.PresenceKey("typist"))
		errs := make(chan error, 12)
		start := time.Now()
		for i := range 12 {
			go func() { errs <- ch.Track(t.Context(), map[string]int{"keystroke": i}) }()
			synctest.Wait()
		}
		for range 12 {
			if err := <-errs; err != nil {
				t.Fatalf("Track = %v", err)
			}
		}
		if waited := time.Since(start); waited < 25*time.Second {
			t.Errorf("the later tracks returned after %v; want them held until the window had room", waited)
		}
		pushes := 0
		for _, f := range srv.Received() {
			if f.Event == "presence" {
				pushes++
			}
		}
		if pushes != 6 {
			t.Errorf("%d presence pushes for 12 tracks; want 5 in the first window and 1 coalesced", pushes)
		}
		if ch.State() != client.ChannelJoined {
			t.Errorf("State = %v; the server must not have closed the channel", ch.State())
		}
		var last struct{ Keystroke int }
		_ = srv.Presence("lobby", false)["typist"][0].Decode(&last)
		if last.Keystroke != 11 {
			t.Errorf("tracked keystroke %d; want the latest, 11", last.Keystroke)
		}
	})
}

// A presence subscription added after the join turns presence on with a rejoin.
func TestPresenceTurnedOnAfterJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		other := subscribed(t, newClient(t, srv), "lobby", client.PresenceKey("bob"))
		_ = other.Track(t.Context(), map[string]string{"status": "x"})
		ch := subscribed(t, newClient(t, srv), "lobby")
		events := ch.OnPresence(t.Context(), subscribe.WithBuffer(8))
		if diff := cmp.Diff([]string{"join bob [x]", "sync [bob]"}, drain(t, events)); diff != "" {
			t.Errorf("events after presence was turned on (-want +got):\n%s", diff)
		}
		js := joins(srv, "realtime:lobby")
		if last := js[len(js)-1]; !enabled(t, last) {
			t.Error("the rejoin did not turn presence on")
		}
		forced := subscribed(t, newClient(t, srv), "quiet", client.PresenceEnabled(false))
		_ = forced.OnPresence(t.Context())
		synctest.Wait()
		if js := joins(srv, "realtime:quiet"); len(js) != 1 || enabled(t, js[0]) {
			t.Error("PresenceEnabled(false) was not respected")
		}
	})
}

// A slow presence reader conflates: it may miss joins and leaves (counted), but ends with the
// latest state.
func TestPresenceSlowReaderConflates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetPresenceRateLimit(0, 0)
		watch, _ := newClient(t, srv).Channel("lobby")
		events := watch.OnPresence(t.Context())
		if err := watch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			m := subscribed(t, newClient(t, srv), "lobby", client.PresenceKey(fmt.Sprint("m", i)))
			_ = m.Track(t.Context(), map[string]int{"i": i})
		}
		var last presence.Event
		for synctest.Wait(); len(events.C()) > 0; synctest.Wait() {
			last = <-events.C()
		}
		if s, ok := last.(presence.Sync); !ok || s.State.Len() != 20 {
			t.Errorf("last event %s; want a sync of all 20 members", describe(last))
		}
		if events.Dropped() == 0 {
			t.Error("Dropped = 0; a reader that never kept up must have missed events")
		}
		if !strings.HasPrefix(describe(last), "sync") {
			t.Error("the last event is not a sync")
		}
	})
}
