package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// Subscribe returns at once when the server refuses the socket for a reason that retrying
// cannot fix, even with a ctx that never ends; IsTemporary says so.
func ExampleIsTemporary() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	srv.RefuseUpgrades(1, 401, `{"error":"The token provided is not a valid JWT"}`)
	rt := newExampleClient(srv)
	defer rt.Close()

	ch, _ := rt.Channel("room:lobby")
	err := ch.Subscribe(context.Background())
	fmt.Println(err)
	fmt.Println("temporary:", client.IsTemporary(err))
	var ue *transport.UpgradeError
	if errors.As(err, &ue) {
		fmt.Println("status:", ue.StatusCode)
	}
	// The channel keeps trying in the background until Unsubscribe.
	_ = ch.Unsubscribe(context.Background())
	// Output:
	// realtime: unauthorized: cannot connect: websocket upgrade refused: HTTP 401: The token provided is not a valid JWT (status=401, topic=realtime:room:lobby)
	// temporary: false
	// status: 401
}

// Stats exported in the Prometheus text format with the standard library only: serve it on
// /metrics and point a scraper at it.
func ExampleClient_Stats() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	rt := newExampleClient(srv)
	defer rt.Close()
	ch, _ := rt.Channel("room:lobby")
	if err := ch.Subscribe(context.Background()); err != nil {
		panic(err)
	}

	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := rt.Stats()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "realtime_frames_total{dir=\"in\"} %d\n", s.FramesIn)
		fmt.Fprintf(w, "realtime_frames_total{dir=\"out\"} %d\n", s.FramesOut)
		fmt.Fprintf(w, "realtime_reconnects_total %d\n", s.Reconnects)
		fmt.Fprintf(w, "realtime_sockets_open %d\n", s.SocketsOpen)
		fmt.Fprintf(w, "realtime_channels{state=\"joined\"} %d\n", s.Channels.Joined)
		fmt.Fprintf(w, "realtime_dropped_total{where=\"subscriptions\"} %d\n", s.Dropped.Subscriptions)
		fmt.Fprintf(w, "realtime_pending_acks %d\n", s.PendingAcks)
	})
	// In a program: http.Handle("/metrics", metrics); http.ListenAndServe(":9090", nil)
	w := httptest.NewRecorder()
	metrics.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	fmt.Print(string(body))
	// Output:
	// realtime_frames_total{dir="in"} 1
	// realtime_frames_total{dir="out"} 1
	// realtime_reconnects_total 0
	// realtime_sockets_open 1
	// realtime_channels{state="joined"} 1
	// realtime_dropped_total{where="subscriptions"} 0
	// realtime_pending_acks 0
}

// An observer feeds a metrics or tracing system; it runs on a goroutine of its own, so it may
// take its time, and Close waits for it to finish what is queued.
func ExampleWithObserver() {
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	var mu sync.Mutex
	var seen []string
	rt := newExampleClient(srv, client.WithObserver(func(o client.Observation) {
		mu.Lock()
		defer mu.Unlock()
		switch o.Kind {
		case client.ObserveConnection:
			seen = append(seen, fmt.Sprintf("socket %v", o.New))
		case client.ObserveJoin:
			seen = append(seen, fmt.Sprintf("joined %s, error %v", o.Topic, o.Err))
		}
	}))
	ch, _ := rt.Channel("room:lobby")
	if err := ch.Subscribe(context.Background()); err != nil {
		panic(err)
	}
	rt.Close()
	mu.Lock()
	fmt.Println(strings.Join(seen, "\n"))
	mu.Unlock()
	// Output:
	// socket connecting
	// socket open
	// joined realtime:room:lobby, error <nil>
	// socket closing
	// socket closed
}

// WithRequestHeaders carries trace context (W3C traceparent, baggage) to the server on the
// upgrade request and on REST calls.
func ExampleWithRequestHeaders() {
	type spanKey struct{}
	srv := testutil.NewUnstartedServer()
	defer srv.Close()
	rt := newExampleClient(srv, client.WithHTTPClient(srv.HTTPClient()),
		client.WithRequestHeaders(func(ctx context.Context, h http.Header) {
			// With OpenTelemetry:
			// otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
			if tp, ok := ctx.Value(spanKey{}).(string); ok {
				h.Set("traceparent", tp)
			}
		}))
	defer rt.Close()
	ch, _ := rt.Channel("room:lobby")
	ctx := context.WithValue(context.Background(), spanKey{}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err := ch.HTTPSend(ctx, "note", map[string]string{"text": "hi"}); err != nil {
		panic(err)
	}
	fmt.Println(srv.HTTPRequests()[0].Header.Get("traceparent"))
	// Output: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}
