package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// Two clients on protocol 2.0.0 and one on 1.0.0 on one topic: self, ack, binary, JSON,
// case-insensitive event matching.
func TestBroadcastSemantics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		b := newClient(t, srv)
		v1 := newClient(t, srv, client.WithProtocolVersion(transport.V1))

		cha, _ := a.Channel("room", client.BroadcastSelf(), client.BroadcastAck())
		selfMsgs := cha.OnBroadcast(t.Context(), "*")
		if err := cha.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		chb, _ := b.Channel("room")
		moves := chb.OnBroadcast(t.Context(), "MOVE") // matched case-insensitively
		all := chb.OnBroadcast(t.Context(), ":all")
		if err := chb.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		chv1, _ := v1.Channel("room")
		v1Msgs := chv1.OnBroadcast(t.Context(), "*")
		if err := chv1.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}

		// JSON from a V2 client travels as binary kind 3 and arrives as kind 4 (V2) and JSON (V1).
		if err := cha.Broadcast(t.Context(), "move", map[string]any{"x": 1}); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []*subscribe.Subscription[client.Broadcast]{selfMsgs, moves, all, v1Msgs} {
			m := recv(t, sub)
			if m.Event != "move" || string(m.Payload) != `{"x":1}` || m.Binary != nil {
				t.Errorf("%v got %+v", sub, m)
			}
		}
		f, err := srv.Expect(t.Context(), "room", "broadcast")
		if err != nil || !f.Binary || f.UserEvent != "move" {
			t.Errorf("the V2 client sent %+v (binary %v); want a kind 3 frame", f.Message.String(), f.Binary)
		}

		// Binary payloads reach V2 receivers only.
		if err := cha.BroadcastBinary(t.Context(), "frame", []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, all); m.Event != "frame" || !bytes.Equal(m.Binary, []byte{1, 2, 3}) || m.Payload != nil || !m.IsBinary() {
			t.Errorf("binary broadcast arrived as %+v", m)
		}
		recv(t, selfMsgs)

		// A V1 client sends JSON, relayed as JSON to everyone.
		if err := chv1.Broadcast(t.Context(), "Move", json.RawMessage(`{"n":9007199254740993}`)); err != nil {
			t.Fatal(err)
		}
		m := recv(t, moves)
		var v struct{ N json.Number }
		if err := m.Decode(&v); err != nil || v.N.String() != "9007199254740993" {
			t.Errorf("decoded %+v, %v; want the int8 exact", v, err)
		}
		recv(t, all)
		recv(t, selfMsgs)

		synctest.Wait()
		none(t, moves)
		none(t, v1Msgs) // no self on the V1 client; the binary never reaches it
	})
}

func TestBroadcastWithAckFuture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room", client.BroadcastAck())
		fut, err := ch.BroadcastWithAck("e", map[string]int{"a": 1})
		if err != nil {
			t.Fatal(err)
		}
		<-fut.Done()
		r, err := fut.Wait(t.Context())
		if err != nil || r.Status != "ok" {
			t.Errorf("ack = %+v, %v", r, err)
		}
		plain := subscribed(t, c, "plain")
		if _, err := plain.BroadcastWithAck("e", map[string]int{}); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("BroadcastWithAck without BroadcastAck = %v; want invalid_argument", err)
		}
	})
}

// The server's error reply whose response is a bare string keeps that string.
func TestAckErrorWithAStringResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetMaxPayload(16)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room", client.BroadcastAck())
		err := ch.Broadcast(t.Context(), "big", map[string]string{"text": strings.Repeat("x", 100)})
		var e *client.Error
		if !errors.As(err, &e) || e.Message != "payload_size_exceeded" || !errors.Is(err, client.ErrServerError) {
			t.Errorf("Broadcast = %v; want a server error with message payload_size_exceeded", err)
		}
	})
}

// Contract 4: every future settles exactly once: reply, timeout, disconnected, closed.
func TestFuturesSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")

		// The server ignores unknown events: no reply, so a timeout after the push timeout.
		start := time.Now()
		err := ch.Send(t.Context(), client.Message{Type: "custom", Event: "x"})
		if !errors.Is(err, client.ErrTimeout) || time.Since(start) != client.DefaultTimeout {
			t.Errorf("Send(unknown) = %v after %v; want ErrTimeout after %v", err, time.Since(start), client.DefaultTimeout)
		}

		// A pending reply when the socket drops settles with ErrDisconnected.
		done := make(chan error, 1)
		go func() { done <- ch.Send(t.Context(), client.Message{Type: "custom", Event: "y"}) }()
		if _, err := srv.Expect(t.Context(), "room", "custom"); err != nil {
			t.Fatal(err)
		}
		waitFrames(t, srv, "custom", 2)
		srv.DropConnections()
		if err := <-done; !errors.Is(err, client.ErrDisconnected) {
			t.Errorf("Send across a drop = %v; want ErrDisconnected", err)
		}

		// A pending reply when the client closes settles with ErrClosed.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		ack := subscribed(t, c, "acked", client.BroadcastAck())
		srv.SetMaxPayload(0)
		go func() { done <- ch.Send(t.Context(), client.Message{Type: "custom", Event: "z"}) }()
		waitFrames(t, srv, "custom", 3)
		_ = ack
		c.Close()
		if err := <-done; !errors.Is(err, client.ErrClosed) {
			t.Errorf("Send across Close = %v; want ErrClosed", err)
		}
	})
}

func waitFrames(t *testing.T, srv *testutil.Server, event string, n int) {
	t.Helper()
	synctest.Wait()
	got := 0
	for _, f := range srv.Received() {
		if f.Event == event {
			got++
		}
	}
	if got < n {
		t.Fatalf("%d %s frames; want %d", got, event, n)
	}
}

// Pushes made before the join are buffered and sent in order after it; overflow drops the
// oldest, fails its future and is logged.
func TestPushBufferBeforeJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.DelayJoins(2 * time.Second)
		logger, logs := testutil.NewLogger(nil)
		c := newClient(t, srv, client.WithPushBuffer(3), client.WithLogger(logger))
		ch, _ := c.Channel("room", client.BroadcastAck())
		subErr := make(chan error, 1)
		go func() { subErr <- ch.Subscribe(t.Context()) }()
		synctest.Wait()
		if ch.State() != client.ChannelJoining {
			t.Fatalf("State = %v; want joining", ch.State())
		}
		var mu sync.Mutex
		var futs []error
		for i := range 5 {
			fut, err := ch.BroadcastWithAck(fmt.Sprint("e", i), map[string]int{"i": i})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				_, err := fut.Wait(t.Context())
				mu.Lock()
				futs = append(futs, err)
				mu.Unlock()
			}()
		}
		if err := <-subErr; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var got []string
		joinSeen := false
		for _, f := range srv.Received() {
			switch {
			case f.Event == "phx_join":
				joinSeen = true
			case f.Event == "broadcast":
				if !joinSeen {
					t.Error("a buffered push went out before the join")
				}
				got = append(got, f.UserEvent)
			}
		}
		if diff := cmp.Diff([]string{"e2", "e3", "e4"}, got); diff != "" {
			t.Errorf("flushed pushes (-want +got):\n%s", diff)
		}
		var dropped, ok int
		for _, err := range futs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, client.ErrRateLimited):
				dropped++
			}
		}
		if dropped != 2 || ok != 3 {
			t.Errorf("futures: %d ok, %d dropped (%v); want 3 and 2", ok, dropped, futs)
		}
		if !logs.Contains("push buffer full") {
			t.Errorf("no log line for the dropped pushes: %q", logs.Lines())
		}
	})
}

// Contract 2: one subscriber that never reads delays nobody: another on the same channel and
// one on another channel receive everything, heartbeats keep being answered, acks settle.
func TestSlowSubscriberBlocksNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room", client.BroadcastAck())
		other := subscribed(t, c, "other")
		stuck := ch.OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1), subscribe.WithPendingLimits(100, 0))
		reader := ch.OnBroadcast(t.Context(), "*")
		otherReader := other.OnBroadcast(t.Context(), "*")
		sc := srv.Conns()[0]

		const n = 10000
		var got, gotOther int
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range reader.C() {
				if got++; got == n {
					break
				}
			}
			for range otherReader.C() {
				if gotOther++; gotOther == n {
					return
				}
			}
		}()
		for i := range n {
			sc.Push(transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "m", Data: []byte(fmt.Sprint(i))})
			sc.Push(transport.Message{Topic: "realtime:other", Event: "broadcast", UserEvent: "m", Data: []byte(fmt.Sprint(i))})
		}
		// Meanwhile an acknowledged broadcast settles.
		if err := ch.Broadcast(t.Context(), "ack-me", map[string]int{}); err != nil {
			t.Errorf("ack while a subscriber is stuck: %v", err)
		}
		<-done
		if got != n || gotOther != n {
			t.Errorf("received %d and %d of %d", got, gotOther, n)
		}
		// The stuck one was evicted, loudly.
		<-stuck.Done()
		if err := stuck.Err(); !errors.Is(err, client.ErrSlowConsumer) {
			t.Errorf("stuck subscriber Err = %v; want ErrSlowConsumer", err)
		}
		// Heartbeats still answered: three periods later the socket is still the first one.
		time.Sleep(3 * client.DefaultHeartbeat)
		synctest.Wait()
		if len(srv.Conns()) != 1 || srv.Conns()[0] != sc || c.ConnectionState() != client.StateOpen {
			t.Error("the socket was replaced while a subscriber was stuck")
		}
	})
}

// 10,000 events reach a consumer that takes 1 ms per event, in order and without loss.
func TestSlowConsumerGetsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		sub := ch.OnBroadcast(t.Context(), "*")
		sc := srv.Conns()[0]
		const n = 10000
		for i := range n {
			sc.Push(transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "row", Data: []byte(fmt.Sprint(i))})
		}
		for i := range n {
			m := recv(t, sub)
			if string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("event %d is %s; want in order", i, m.Payload)
			}
			time.Sleep(time.Millisecond)
		}
		if sub.Dropped() != 0 || c.ConnectionState() != client.StateOpen {
			t.Errorf("Dropped = %d, state %v", sub.Dropped(), c.ConnectionState())
		}
	})
}

// Contract 6: Close ends every subscription (range loops end) and is idempotent; Shutdown
// leaves the channels first.
func TestCloseAndShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch := subscribed(t, c, "room")
		never, _ := c.Channel("never-subscribed")
		subs := []interface{ Err() error }{}
		b := ch.OnBroadcast(t.Context(), "*")
		n := never.OnBroadcast(t.Context(), "*")
		st := c.OnConnectionState(t.Context())
		subs = append(subs, b, n, st)
		if err := c.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Expect(t.Context(), "room", "phx_leave"); err != nil {
			t.Error("Shutdown did not leave the channel")
		}
		for range b.C() {
		}
		for range n.C() {
		}
		for range st.C() {
		}
		for _, s := range subs {
			if !errors.Is(s.Err(), client.ErrClosed) {
				t.Errorf("Err after Close = %v; want ErrClosed", s.Err())
			}
		}
		c.Close()
		if err := ch.Subscribe(t.Context()); !errors.Is(err, client.ErrClosed) {
			t.Errorf("Subscribe after Close = %v", err)
		}
		if _, err := c.Channel("x"); !errors.Is(err, client.ErrClosed) {
			t.Errorf("Channel after Close = %v", err)
		}
		late := ch.OnBroadcast(t.Context(), "*")
		<-late.Done()
		if !errors.Is(late.Err(), client.ErrClosed) {
			t.Errorf("subscription made after Close: Err = %v", late.Err())
		}
	})
}

// Contract 7: an On… ctx ends only its subscription, with a nil Err.
func TestSubscriptionCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := newClient(t, srv)
		ch := subscribed(t, a, "room", client.BroadcastSelf())
		ctx, cancel := t.Context(), func() {}
		sub1Ctx, cancel1 := contextWithCancel(ctx)
		defer cancel()
		sub1 := ch.OnBroadcast(sub1Ctx, "*")
		sub2 := ch.OnBroadcast(t.Context(), "*")
		cancel1()
		<-sub1.Done()
		if sub1.Err() != nil {
			t.Errorf("Err after ctx = %v; want nil", sub1.Err())
		}
		if err := ch.Broadcast(t.Context(), "still", map[string]int{}); err != nil {
			t.Fatal(err)
		}
		if m := recv(t, sub2); m.Event != "still" {
			t.Errorf("got %+v", m)
		}
		sub2.Stop()
		<-sub2.Done()
		if sub2.Err() != nil {
			t.Errorf("Err after Stop = %v", sub2.Err())
		}
	})
}

// Contract 9: user mistakes are invalid_argument errors before anything is sent.
func TestInvalidInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		v1 := newClient(t, srv, client.WithProtocolVersion(transport.V1))
		ch := subscribed(t, c, "room")
		ch1 := subscribed(t, v1, "room")
		before := len(srv.Received())
		for name, err := range map[string]error{
			"empty event":         ch.Broadcast(t.Context(), "", map[string]int{}),
			"bytes as JSON":       ch.Broadcast(t.Context(), "e", []byte("x")),
			"bad raw JSON":        ch.Broadcast(t.Context(), "e", json.RawMessage("{")),
			"unmarshalable":       ch.Broadcast(t.Context(), "e", make(chan int)),
			"event over 255":      ch.Broadcast(t.Context(), strings.Repeat("e", 256), map[string]int{}),
			"v1 non-object":       ch1.Broadcast(t.Context(), "e", []int{1}),
			"v1 binary":           ch1.BroadcastBinary(t.Context(), "e", []byte{1}),
			"presence bad event":  ch.Send(t.Context(), client.Message{Type: "presence", Event: "update"}),
			"message type empty":  ch.Send(t.Context(), client.Message{}),
			"empty binary event":  ch.BroadcastBinary(t.Context(), "", []byte{1}),
			"topic over 255 (v2)": mustChannel(t, c, strings.Repeat("t", 250)).BroadcastBinary(t.Context(), "e", []byte{1}),
		} {
			if !errors.Is(err, client.ErrInvalidArgument) {
				t.Errorf("%s: %v; want invalid_argument", name, err)
			}
		}
		synctest.Wait()
		for _, f := range srv.Received()[before:] {
			if f.Event != "phx_join" {
				t.Errorf("the server received %s after invalid input", f.Message.String())
			}
		}
		if _, err := client.New("", testKey); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("New with no URL: %v", err)
		}
		if _, err := client.New("ftp://x", testKey); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("New with ftp URL: %v", err)
		}
		if _, err := client.New("https://x.supabase.co", ""); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("New with no key: %v", err)
		}
	})
}

func mustChannel(t *testing.T, c *client.Client, topic string) *client.Channel {
	t.Helper()
	ch, err := c.Channel(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Subscribe(t.Context()); err != nil {
		t.Fatal(err)
	}
	return ch
}

// Broadcasts that the router handles in one go reach every subscription in order, each getting
// the events it matches, and the ordered subscription sees the system message that came between
// them exactly where it came.
func TestBroadcastBatchKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		as := ch.OnBroadcast(t.Context(), "a")
		bs := ch.OnBroadcast(t.Context(), "B")
		all := ch.OnBroadcast(t.Context(), "*", subscribe.WithBuffer(1))
		ordered := ch.OnEvents(t.Context())
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		recv(t, ordered) // joining
		recv(t, ordered) // joined
		const n, sysAt = 100, 50
		var batch []transport.Message
		var wantA, wantB, wantAll, wantOrdered []string
		for i := range n {
			event := "a"
			if i%3 == 2 {
				event = "b"
			}
			p := fmt.Sprint(i)
			batch = append(batch, transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: event, Data: []byte(p)})
			if event == "a" {
				wantA = append(wantA, p)
			} else {
				wantB = append(wantB, p)
			}
			wantAll = append(wantAll, p)
			wantOrdered = append(wantOrdered, p)
			if i == sysAt {
				batch = append(batch, transport.Message{Topic: "realtime:room", Event: "system",
					Payload: []byte(`{"channel":"room","extension":"system","message":"mid","status":"ok"}`)})
				wantOrdered = append(wantOrdered, "system mid")
			}
		}
		client.RouteBatch(ch, batch)
		read := func(sub *subscribe.Subscription[client.Broadcast], n int) []string {
			var got []string
			for range n {
				got = append(got, string(recv(t, sub).Payload))
			}
			return got
		}
		if diff := cmp.Diff(wantAll, read(all, len(wantAll))); diff != "" {
			t.Errorf("* (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantA, read(as, len(wantA))); diff != "" {
			t.Errorf("a (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantB, read(bs, len(wantB))); diff != "" {
			t.Errorf("B (-want +got):\n%s", diff)
		}
		var got []string
		var seq uint64
		for len(got) < len(wantOrdered) {
			ev := recv(t, ordered)
			if ev.Origin().Seq <= seq {
				t.Fatalf("ordered: seq %d after %d", ev.Origin().Seq, seq)
			}
			seq = ev.Origin().Seq
			switch e := ev.(type) {
			case client.Broadcast:
				got = append(got, string(e.Payload))
			case client.System:
				got = append(got, "system "+e.Message)
			}
		}
		if diff := cmp.Diff(wantOrdered, got); diff != "" {
			t.Errorf("ordered (-want +got):\n%s", diff)
		}
	})
}

// A reader that selects over one subscription per event name, and waits for them, gets the
// first broadcast of a batch first: the typing indicator before the message that followed it,
// although the message's subscription comes first.
func TestBroadcastBatchAcrossSubscriptionsInWireOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("room")
		msgs := ch.OnBroadcast(t.Context(), "message")
		typing := ch.OnBroadcast(t.Context(), "typing")
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		first := make(chan string, 1)
		go func() {
			select {
			case b := <-msgs.C():
				first <- string(b.Payload)
			case b := <-typing.C():
				first <- string(b.Payload)
			}
		}()
		synctest.Wait() // the reader waits in its select
		client.RouteBatch(ch, []transport.Message{
			{Topic: "realtime:room", Event: "broadcast", UserEvent: "typing", Data: []byte(`"typing"`)},
			{Topic: "realtime:room", Event: "broadcast", UserEvent: "message", Data: []byte(`"message"`)},
		})
		if got := <-first; got != `"typing"` {
			t.Errorf("the reader got %s first; want the typing indicator", got)
		}
	})
}
