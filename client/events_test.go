package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// settled returns what sub holds once the bubble has settled, its pending queue included.
func settled[T any](sub *subscribe.Subscription[T]) []T {
	var out []T
	for {
		synctest.Wait()
		select {
		case v := <-sub.C():
			out = append(out, v)
		default:
			return out
		}
	}
}

// label names an event of an ordered stream by what the tests sent.
func label(ev client.Event) string {
	topic := strings.TrimPrefix(ev.Origin().Topic, "realtime:")
	switch e := ev.(type) {
	case client.Broadcast:
		return fmt.Sprintf("%s broadcast %s %s", topic, e.Event, e.Payload)
	case client.System:
		return fmt.Sprintf("%s system %s", topic, e.Message)
	case client.PresenceEvent:
		switch p := e.Event.(type) {
		case presence.Join:
			return fmt.Sprintf("%s join %s", topic, p.Key)
		case presence.Leave:
			return fmt.Sprintf("%s leave %s", topic, p.Key)
		case presence.Sync:
			return fmt.Sprintf("%s sync %d", topic, p.State.Len())
		}
	case client.PostgresEvent:
		if e.Gap != nil {
			return topic + " gap"
		}
		var names []string
		for _, b := range e.Bindings {
			names = append(names, b.String())
		}
		return fmt.Sprintf("%s %s %s %s [%s]", topic, e.Type, e.Table, e.Record, strings.Join(names, " | "))
	case client.ChannelStateChange:
		return fmt.Sprintf("%s state %v→%v", topic, e.Old, e.New)
	}
	return fmt.Sprintf("%T", ev)
}

// sender sends the frames of one of four kinds to a channel and returns the labels of the
// events each gives.
type sender struct {
	srv  *testutil.Server
	conn *testutil.Conn
}

func (s sender) broadcast(topic string, i int) []string {
	s.conn.Push(transport.Message{Topic: "realtime:" + topic, Event: "broadcast", UserEvent: "m", Data: []byte(fmt.Sprint(i))})
	return []string{fmt.Sprintf("%s broadcast m %d", topic, i)}
}

func (s sender) system(topic string, i int) []string {
	payload, _ := json.Marshal(map[string]string{"status": "ok", "extension": "system", "message": fmt.Sprint("note ", i), "channel": topic})
	s.conn.Push(transport.Message{Topic: "realtime:" + topic, Event: "system", Payload: payload})
	return []string{fmt.Sprintf("%s system note %d", topic, i)}
}

// presence makes member u<i> join: a Join, then a Sync of members members.
func (s sender) presence(topic string, i, members int) []string {
	payload := fmt.Sprintf(`{"joins":{"u%d":{"metas":[{"phx_ref":"r%d"}]}},"leaves":{}}`, i, i)
	s.conn.Push(transport.Message{Topic: "realtime:" + topic, Event: "presence_diff", Payload: []byte(payload)})
	return []string{fmt.Sprintf("%s join u%d", topic, i), fmt.Sprintf("%s sync %d", topic, members)}
}

func (s sender) change(typ, table string, i, room int) {
	s.srv.InjectChange(testutil.Change{Type: typ, Schema: "public", Table: table,
		Record: json.RawMessage(fmt.Sprintf(`{"id":%d,"room":%d}`, i, room)), Columns: itemColumns, PrimaryKey: []string{"id"}})
}

var itemColumns = []pgchanges.Column{{Name: "id", Type: "int8"}, {Name: "room", Type: "int4"}}

// One channel, one subscription: 10,000 frames of four kinds, interleaved at random, with
// changes that match different sets of three bindings, come back in exactly the order sent,
// numbered one after the other.
func TestChannelEventsKeepWireOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		inserts := pgchanges.On(pgchanges.Insert, "public", "items")
		room1 := pgchanges.On(pgchanges.All, "public", "items").Filter(pgchanges.Eq("room", 1))
		anyTable := pgchanges.On(pgchanges.All, "public", "*")
		ch, err := c.Channel("mix", client.PostgresChanges(inserts, room1, anyTable), client.PresenceEnabled(true))
		if err != nil {
			t.Fatal(err)
		}
		evs := ch.OnEvents(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := ch.PostgresReady().Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		var start []string
		for _, ev := range settled(evs) {
			start = append(start, label(ev))
		}
		wantStart := []string{"mix state closed→joining", "mix state joining→joined", "mix sync 0", "mix system Subscribed to PostgreSQL"}
		if diff := cmp.Diff(wantStart, start); diff != "" {
			t.Fatalf("events of the join (-want +got):\n%s", diff)
		}

		const frames = 10_000
		snd := sender{srv, srv.Conns()[0]}
		names := func(bs ...pgchanges.Binding) string {
			var s []string
			for _, b := range bs {
				s = append(s, b.String())
			}
			return strings.Join(s, " | ")
		}
		want := make(chan []string, 1)
		go func() {
			r := rand.New(rand.NewPCG(1, 2))
			var sent []string
			members := 0
			for i := range frames {
				switch r.IntN(4) {
				case 0:
					sent = append(sent, snd.broadcast("mix", i)...)
				case 1:
					sent = append(sent, snd.system("mix", i)...)
				case 2:
					members++
					sent = append(sent, snd.presence("mix", i, members)...)
				case 3:
					typ, room := []string{"INSERT", "UPDATE"}[r.IntN(2)], 1+r.IntN(2)
					snd.change(typ, "items", i, room)
					matched := []pgchanges.Binding{}
					if typ == "INSERT" {
						matched = append(matched, inserts)
					}
					if room == 1 {
						matched = append(matched, room1)
					}
					matched = append(matched, anyTable)
					sent = append(sent, fmt.Sprintf(`mix %s items {"id":%d,"room":%d} [%s]`, typ, i, room, names(matched...)))
				}
			}
			want <- sent
		}()
		sent := <-want
		var got []string
		last := uint64(len(start))
		for len(got) < len(sent) {
			ev := recv(t, evs)
			got = append(got, label(ev))
			if o := ev.Origin(); o.Seq != last+1 || o.Topic != "realtime:mix" {
				t.Fatalf("event %d (%s) has Origin %+v; want Seq %d", len(got), label(ev), o, last+1)
			}
			last++
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Fatalf("events differ from the frames sent (-want +got):\n%s", diff)
		}
		none(t, evs)
	})
}

// One client-wide subscription over 150 channels: frames of four kinds, interleaved at random
// across the channels, come back in exactly the order sent; each channel numbers its own.
func TestClientEventsKeepSocketOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetMaxChannelsPerClient(200)
		c := newClient(t, srv, client.WithMaxChannelsPerSocket(200)) // one socket: one order
		all := c.OnEvents(t.Context())
		const channels = 150
		topics := make([]string, channels)
		for k := range topics {
			topics[k] = fmt.Sprintf("room%d", k)
			ch, err := c.Channel(topics[k], client.PresenceEnabled(true),
				client.PostgresChanges(pgchanges.On(pgchanges.All, "public", fmt.Sprintf("t%d", k))))
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Subscribe(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := ch.PostgresReady().Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		seqs := map[string]uint64{}
		for _, ev := range settled(all) {
			seqs[ev.Origin().Topic] = ev.Origin().Seq
		}
		if len(seqs) != channels {
			t.Fatalf("the joins gave events on %d channels; want %d", len(seqs), channels)
		}

		snd := sender{srv, srv.Conns()[0]}
		want := make(chan []string, 1)
		go func() {
			r := rand.New(rand.NewPCG(3, 4))
			members := make([]int, channels)
			var sent []string
			for i := range 10_000 {
				k := r.IntN(channels)
				switch r.IntN(4) {
				case 0:
					sent = append(sent, snd.broadcast(topics[k], i)...)
				case 1:
					sent = append(sent, snd.system(topics[k], i)...)
				case 2:
					members[k]++
					sent = append(sent, snd.presence(topics[k], i, members[k])...)
				case 3:
					table := fmt.Sprintf("t%d", k)
					snd.change("INSERT", table, i, 0)
					sent = append(sent, fmt.Sprintf(`%s INSERT %s {"id":%d,"room":0} [* on public.%s]`, topics[k], table, i, table))
				}
			}
			want <- sent
		}()
		sent := <-want
		var got []string
		for len(got) < len(sent) {
			ev := recv(t, all)
			got = append(got, label(ev))
			o := ev.Origin()
			if o.Seq != seqs[o.Topic]+1 {
				t.Fatalf("event %d (%s) has Seq %d; want %d", len(got), label(ev), o.Seq, seqs[o.Topic]+1)
			}
			seqs[o.Topic] = o.Seq
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Fatalf("events differ from the frames sent (-want +got):\n%s", diff)
		}
	})
}

// A subscription of several bindings gets each change once, in arrival order, with the
// bindings it matched; single-binding subscriptions say their binding; all number a change
// alike.
func TestPostgresChangesOfSeveralBindings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ch, _ := newClient(t, srv).Channel("db")
		inserts := pgchanges.On(pgchanges.Insert, "public", "items")
		room1 := pgchanges.On(pgchanges.All, "public", "items").Filter(pgchanges.Eq("room", 1))
		deletes := pgchanges.On(pgchanges.Delete, "public", "items")
		both := ch.OnPostgresChangesOf(t.Context(), []pgchanges.Binding{inserts, room1, deletes, inserts})
		one := ch.OnPostgresChanges(t.Context(), room1)
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := ch.PostgresReady().Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		snd := sender{srv, srv.Conns()[0]}
		snd.change("INSERT", "items", 1, 1) // all but deletes
		snd.change("UPDATE", "items", 2, 1) // room1
		snd.change("INSERT", "items", 3, 2) // inserts
		snd.change("UPDATE", "items", 4, 2) // none
		srv.InjectChange(testutil.Change{Type: "DELETE", Schema: "public", Table: "items",
			OldRecord: json.RawMessage(`{"id":5,"room":1}`), Columns: itemColumns, PrimaryKey: []string{"id"}}) // room1, deletes
		var got []string
		for range 4 {
			got = append(got, label(recv(t, both)))
		}
		want := []string{
			`db INSERT items {"id":1,"room":1} [INSERT on public.items | * on public.items where room=eq.1]`,
			`db UPDATE items {"id":2,"room":1} [* on public.items where room=eq.1]`,
			`db INSERT items {"id":3,"room":2} [INSERT on public.items]`,
			`db DELETE items  [* on public.items where room=eq.1 | DELETE on public.items]`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("several bindings (-want +got):\n%s", diff)
		}
		if got := strings.Join([]string{label(recv(t, one)), label(recv(t, one)), label(recv(t, one))}, "\n"); !strings.Contains(got, `{"id":1,"room":1} [* on public.items where room=eq.1]`) {
			t.Errorf("one binding got\n%s", got)
		}
		synctest.Wait()
		none(t, both)
		none(t, one)

		bad := ch.OnPostgresChangesOf(t.Context(), nil)
		<-bad.Done()
		if !errors.Is(bad.Err(), client.ErrInvalidArgument) {
			t.Errorf("no bindings: Err = %v; want invalid_argument", bad.Err())
		}
	})
}

// The receive sequence goes on across a rejoin; a per-kind subscription and the ordered one
// see the same numbers, and the ordered one sees the state changes and the gap marker between.
func TestSeqAcrossRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("room", client.PostgresChanges(pgchanges.On(pgchanges.All, "public", "items")))
		evs := ch.OnEvents(t.Context())
		msgs := ch.OnBroadcast(t.Context(), "*")
		states := ch.OnState(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		settled(evs)
		snd := sender{srv, srv.Conns()[0]}
		snd.broadcast("room", 1)
		before := recv(t, msgs)
		srv.DropConnections()
		synctest.Wait()
		_ = c.Connect(t.Context())
		synctest.Wait()
		if ch.State() != client.ChannelJoined {
			t.Fatalf("state %v after the reconnect", ch.State())
		}
		sender{srv, srv.Conns()[0]}.broadcast("room", 2)
		after := recv(t, msgs)

		var got []string
		var seqs []uint64
		for _, ev := range settled(evs) {
			if _, ok := ev.(client.System); ok {
				continue // Subscribed to PostgreSQL
			}
			got = append(got, label(ev))
			seqs = append(seqs, ev.Origin().Seq)
		}
		want := []string{"room broadcast m 1", "room state joined→errored", "room state errored→joining", "room state joining→joined", "room gap", "room broadcast m 2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ordered stream across the rejoin (-want +got):\n%s", diff)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("Seq goes %v", seqs)
			}
		}
		if before.Seq != seqs[0] || after.Seq != seqs[len(seqs)-1] || after.Topic != "realtime:room" {
			t.Errorf("OnBroadcast saw Seq %d and %d; the ordered stream %v", before.Seq, after.Seq, seqs)
		}
		var stateSeqs []uint64
		for _, sc := range settled(states) {
			stateSeqs = append(stateSeqs, sc.Seq)
		}
		if !slicesContain(stateSeqs, seqs[1:4]) {
			t.Errorf("OnState saw Seq %v; the ordered stream's state changes are %v", stateSeqs, seqs[1:4])
		}
	})
}

func slicesContain(all, part []uint64) bool {
	for i := 0; i+len(part) <= len(all); i++ {
		if cmp.Equal(all[i:i+len(part)], part) {
			return true
		}
	}
	return false
}

// OnEventsOf takes the chosen topics only, channels made later included; a channel's own
// OnEvents ends with it, the client-wide ones with the client.
func TestClientEventsOfTopics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		some := c.OnEventsOf(t.Context(), []string{"a", "realtime:c"})
		a := subscribed(t, c, "a")
		aEvents := a.OnEvents(t.Context())
		subscribed(t, c, "b")
		subscribed(t, c, "c")
		settled(some)
		snd := sender{srv, srv.Conns()[0]}
		snd.broadcast("a", 1)
		snd.broadcast("b", 2)
		snd.broadcast("c", 3)
		var got []string
		for _, ev := range settled(some) {
			got = append(got, label(ev))
		}
		if diff := cmp.Diff([]string{"a broadcast m 1", "c broadcast m 3"}, got); diff != "" {
			t.Errorf("OnEventsOf(a, c) (-want +got):\n%s", diff)
		}
		if err := c.RemoveChannel(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		var last client.Event
		for ev := range aEvents.C() {
			last = ev
		}
		if sc, ok := last.(client.ChannelStateChange); !ok || sc.New != client.ChannelClosed || !errors.Is(aEvents.Err(), client.ErrClosed) {
			t.Errorf("the removed channel's OnEvents ended with %v after %v", aEvents.Err(), last)
		}
		c.Close()
		<-some.Done()
		if !errors.Is(some.Err(), client.ErrClosed) {
			t.Errorf("client-wide subscription ended with %v; want ErrClosed", some.Err())
		}
	})
}

// BroadcastNoWait on a channel with acknowledgements returns without waiting for one, where
// Broadcast waits for the join and the acknowledgement; both are delivered, in order.
func TestBroadcastNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		srv.DelayJoins(5 * time.Second)
		ch, _ := c.Channel("room", client.BroadcastAck(), client.BroadcastSelf())
		msgs := ch.OnBroadcast(t.Context(), "*")
		go func() { _ = ch.Subscribe(t.Context()) }()
		synctest.Wait() // the join is in flight
		start := time.Now()
		if err := ch.BroadcastNoWait(t.Context(), "e", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("BroadcastNoWait took %v", d)
		}
		if err := ch.Broadcast(t.Context(), "e", map[string]int{"n": 2}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 5*time.Second {
			t.Errorf("Broadcast returned after %v; want it to wait for the join and the acknowledgement", d)
		}
		for _, want := range []string{`{"n":1}`, `{"n":2}`} {
			if b := recv(t, msgs); string(b.Payload) != want {
				t.Errorf("got %s; want %s", b.Payload, want)
			}
		}
	})
}

// PresenceState, Sync events and Current lists hold no phx_ref_prev after an update; the Join
// of the update still says which ref it replaced.
func TestPresenceMetasWithoutPrevRef(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("room", client.PresenceKey("me"), client.PresenceEnabled(true))
		evs := ch.OnEvents(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := ch.Track(t.Context(), map[string]string{"s": "here"}); err != nil {
			t.Fatal(err)
		}
		if err := ch.Track(t.Context(), map[string]string{"s": "away"}); err != nil {
			t.Fatal(err)
		}
		var join presence.Join
		for _, ev := range settled(evs) {
			pe, ok := ev.(client.PresenceEvent)
			if !ok {
				continue
			}
			switch p := pe.Event.(type) {
			case presence.Join:
				if p.Current != nil {
					join = p
				}
			case presence.Sync:
				b, _ := json.Marshal(p.State)
				if strings.Contains(string(b), "phx_ref_prev") {
					t.Errorf("a Sync holds %s", b)
				}
			case presence.Leave:
				for _, m := range append(p.Current, p.Left...) {
					if m.PrevRef != "" || strings.Contains(string(m.Raw), "phx_ref_prev") {
						t.Errorf("a Leave holds %+v", m)
					}
				}
			}
		}
		if len(join.New) != 1 || join.New[0].PrevRef == "" || join.New[0].PrevRef != join.Current[0].Ref {
			t.Fatalf("the update's Join is %+v; want New naming the replaced ref", join)
		}
		b, _ := json.Marshal(ch.PresenceState())
		if strings.Contains(string(b), "phx_ref_prev") || !strings.Contains(string(b), `"s":"away"`) {
			t.Errorf("PresenceState = %s", b)
		}
	})
}
