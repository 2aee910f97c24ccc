package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// Contract 10: API keys and tokens never appear in logs, errors or String output, along every
// path that produces an error.
func TestSecretsNeverLeak(t *testing.T) {
	var texts []string
	note := func(what string, v any) {
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && err == nil {
			return
		}
		texts = append(texts, fmt.Sprintf("%s: %v", what, v))
		if err, ok := v.(error); ok {
			texts = append(texts, fmt.Sprintf("%s (service form): %v", what, client.ToServiceError(err)))
		}
	}
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		jwt := fakeJWT("user-1", time.Now().Add(time.Hour))
		var calls int
		leaky := func(context.Context) (string, error) {
			calls++
			if calls%2 == 0 {
				// User code that puts the token in its own error.
				return "", fmt.Errorf("refreshing %s failed", jwt)
			}
			return jwt, nil
		}
		srv.RefuseUpgrades(1, 401, `{"error":"Token has expired"}`)
		c := newClient(t, srv, client.WithAccessToken(leaky), client.WithToken("static-user-token"))
		note("client String", c.String())
		note("client %v", fmt.Sprint(c))
		states := c.OnConnectionState(t.Context())

		srv.FailJoins("room", 1, "InvalidJWTToken: Token has expired 10 seconds ago")
		ch, _ := c.Channel("room", client.BroadcastAck())
		sys := ch.OnSystem(t.Context())
		chStates := ch.OnState(t.Context())
		note("subscribe refused", ch.Subscribe(t.Context()))
		time.Sleep(3 * time.Second)
		synctest.Wait()
		note("subscribe", ch.Subscribe(t.Context()))
		note("set auth", c.SetAuth(t.Context(), ""))
		note("set auth 2", c.SetAuth(t.Context(), "user-token-1"))
		note("channel set auth", ch.SetAuth(t.Context(), "channel-token"))

		// An expired token shutdown without revival, a timeout, an invalid argument.
		sc := srv.Conns()[0]
		j := sc.JoinRef("room")
		sc.Push(transport.Message{JoinRef: j, Topic: "realtime:room", Event: "system",
			Payload: []byte(`{"channel":"room","extension":"system","message":"Token has expired 3 seconds ago","status":"error"}`)})
		sc.Push(transport.Message{JoinRef: j, Ref: j, Topic: "realtime:room", Event: "phx_close", Payload: []byte("{}")})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		note("custom send", ch.Send(t.Context(), client.Message{Type: "custom", Event: "x"}))
		note("bad payload", ch.Broadcast(t.Context(), "e", make(chan int)))
		note("http send", ch.HTTPSend(t.Context(), "", nil))
		c.Close()
		for len(states.C()) > 0 {
			note("connection state", (<-states.C()).Err)
		}
		for len(chStates.C()) > 0 {
			note("channel state", (<-chStates.C()).Err)
		}
		for len(sys.C()) > 0 {
			note("system", (<-sys.C()).Message)
		}
	})

	// A dial error against an unreachable address, with the key in the URL.
	c, err := client.New("ws://127.0.0.1:1/realtime/v1", testKey, client.WithLogger(suiteLogger),
		client.WithBackoff(func(int) time.Duration { return time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	note("unreachable connect", c.Connect(ctx))
	cancel()
	note("String", c.String())
	c.Close()
	_, err = client.New("https://user:"+testKey+"@x.supabase.co", testKey)
	note("credentials in URL", err)
	_, err = client.New("https://x.supabase.co/?apikey="+testKey, testKey)
	note("query in URL", err)

	if len(texts) < 15 {
		t.Fatalf("only %d texts collected; the scenario did not run", len(texts))
	}
	for _, text := range texts {
		if s := leakedSecret(text); s != "" {
			t.Errorf("a text holds the secret %q: %s", s, text)
		}
	}
	for _, line := range suiteLogs.Lines() {
		if s := leakedSecret(line); s != "" {
			t.Errorf("a log line holds the secret %q: %s", s, line)
		}
	}
	if !errors.Is(nil, nil) {
		t.Fatal("unreachable")
	}
}
