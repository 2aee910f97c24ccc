package client_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// Params go in the socket URL; WithAPIKeyHeader keeps the key out of it; headers are sent.
func TestConnectionOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithParams(url.Values{"log_level": {"info"}}), client.WithAPIKeyHeader(),
			client.WithHeaders(http.Header{"X-Client-Info": {"realtime-go/test"}}))
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		sc := srv.Conns()[0]
		q, h := sc.Query(), sc.Header()
		if q.Get("log_level") != "info" || q.Get("vsn") != "2.0.0" || q.Has("apikey") {
			t.Errorf("query %v; want log_level and vsn, no apikey", q)
		}
		if h.Get("X-Api-Key") != testKey || h.Get("X-Client-Info") != "realtime-go/test" {
			t.Errorf("headers %v; want x-api-key and X-Client-Info", h)
		}
	})
}

// WithMaxPendingAcks bounds the pushes waiting for a reply: past it a push fails at once.
func TestMaxPendingAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithMaxPendingAcks(2))
		ch := subscribed(t, c, "room")
		errs := make(chan error, 2)
		for range 2 { // the server never answers these
			go func() { errs <- ch.Send(t.Context(), client.Message{Type: "custom", Event: "x"}) }()
		}
		synctest.Wait()
		if err := ch.Send(t.Context(), client.Message{Type: "custom", Event: "y"}); !errors.Is(err, client.ErrRateLimited) {
			t.Errorf("third pending push = %v; want rate_limited", err)
		}
		for range 2 {
			if err := <-errs; !errors.Is(err, client.ErrTimeout) {
				t.Errorf("pending push = %v; want a timeout", err)
			}
		}
	})
}

// WithSubscriptionDefaults applies to every subscription the client makes.
func TestSubscriptionDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv, client.WithSubscriptionDefaults(subscribe.WithBuffer(1), subscribe.WithPendingLimits(1, 0)))
		ch := subscribed(t, c, "room")
		sub := ch.OnBroadcast(t.Context(), "*") // never read
		for range 3 {
			srv.Conns()[0].Push(transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "e", Data: []byte("{}")})
		}
		<-sub.Done()
		if !errors.Is(sub.Err(), client.ErrSlowConsumer) {
			t.Errorf("Err = %v; want the eviction the small defaults cause", sub.Err())
		}
	})
}

func TestBadOptionValues(t *testing.T) {
	for name, o := range map[string]client.Option{
		"WithSendBuffer(0)":      client.WithSendBuffer(0),
		"WithPushBuffer(0)":      client.WithPushBuffer(0),
		"WithMaxPendingAcks(0)":  client.WithMaxPendingAcks(0),
		"WithHeartbeat(0)":       client.WithHeartbeat(0),
		"WithTimeout(-1)":        client.WithTimeout(-1),
		"WithBackoff(nil)":       client.WithBackoff(nil),
		"WithRejoinBackoff(nil)": client.WithRejoinBackoff(nil),
		"WithAccessToken(nil)":   client.WithAccessToken(nil),
		"WithDialer(nil)":        client.WithDialer(nil),
		"WithHTTPClient(nil)":    client.WithHTTPClient(nil),
		"WithProtocolVersion(3)": client.WithProtocolVersion("3.0.0"),
	} {
		if _, err := client.New("https://x.supabase.co", testKey, o); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("New with %s = %v; want invalid_argument", name, err)
		}
	}
	if c, err := client.New("https://x.supabase.co", testKey, client.WithSendBuffer(3)); err != nil {
		t.Errorf("New with WithSendBuffer(3) = %v", err)
	} else {
		c.Close()
	}
}
