package transport_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// Connect returns at the first refusal that retrying cannot fix, and the Conn keeps trying.
func TestConnectReturnsAtADefinitiveRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(3, 401, `{"error":"The token provided is not a valid JWT"}`)
		c := newConn(t, srv, &recorder{}, nil)
		start := time.Now()
		err := c.Connect(context.Background())
		var ue *transport.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != 401 || ue.Temporary() || !transport.RefusedForGood(err) {
			t.Fatalf("Connect = %v; want the 401 UpgradeError", err)
		}
		if d := time.Since(start); d > 0 {
			t.Errorf("Connect returned after %v; want at the first refusal", d)
		}
		// The Conn retries in the background; the fourth attempt succeeds.
		if err := c.Connect(context.Background()); !errors.As(err, &ue) {
			t.Fatalf("second Connect = %v; want the next refusal", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if c.State() != transport.StateOpen {
			t.Errorf("State = %v; want open once the server stops refusing", c.State())
		}
		if got := c.Stats().FailedDials; got != 3 {
			t.Errorf("FailedDials = %d; want 3", got)
		}
	})
}

// A refusal that may go away by itself (5xx, 429) keeps Connect waiting on its ctx, and its
// error says "realtime:" once.
func TestConnectWaitsThroughATemporaryRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(100, 503, `{"error":"down"}`)
		c := newConn(t, srv, &recorder{}, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		err := c.Connect(ctx)
		var ue *transport.UpgradeError
		if !errors.As(err, &ue) || !ue.Temporary() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect = %v; want the deadline and the 503", err)
		}
		if n := strings.Count(err.Error(), "realtime:"); n != 1 {
			t.Errorf("error %q says realtime: %d times; want once", err, n)
		}
	})
}

func TestUpgradeErrorTemporary(t *testing.T) {
	for status, want := range map[int]bool{400: false, 401: false, 403: false, 404: false, 408: true, 429: true, 500: true, 503: true} {
		if got := (&transport.UpgradeError{StatusCode: status}).Temporary(); got != want {
			t.Errorf("Temporary(%d) = %v; want %v", status, got, want)
		}
	}
}

// Stats counts every frame and byte, the reconnects, the failed dials and the send buffer's
// drops exactly.
func TestStatsCountExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var mu sync.Mutex
		var drops []int
		var rtts []time.Duration
		c := newConn(t, srv, &recorder{}, func(cfg *transport.Config) {
			cfg.SendBuffer = 5
			cfg.OnDrop = func(n int, total uint64) { mu.Lock(); drops = append(drops, n); mu.Unlock() }
			cfg.OnHeartbeat = func(rtt time.Duration) { mu.Lock(); rtts = append(rtts, rtt); mu.Unlock() }
		})
		// 8 frames while closed: the buffer keeps 5 and drops 3.
		var sentBytes uint64
		for i := range 8 {
			m := transport.Message{Ref: strconv.Itoa(i), Topic: "room", Event: "e"} // not realtime:*: the server replies unmatched topic
			data, _, _ := transport.Encode(nil, transport.V2, transport.ClientSide, &m)
			if i >= 3 {
				sentBytes += uint64(len(data))
			}
			if err := c.Send(t.Context(), &m); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		s := c.Stats()
		if s.FramesOut != 5 || s.BytesOut != sentBytes || s.FramesIn != 5 || s.BytesIn == 0 {
			t.Errorf("frames out %d (%d bytes), in %d (%d bytes); want 5 (%d bytes), 5", s.FramesOut, s.BytesOut, s.FramesIn, s.BytesIn, sentBytes)
		}
		if s.Dropped != 3 || s.Opens != 1 || s.Reconnects != 0 || !s.Open {
			t.Errorf("stats %+v; want 3 dropped, 1 open, no reconnect", s)
		}
		mu.Lock()
		if len(drops) != 3 {
			t.Errorf("OnDrop calls %v; want one per dropped frame", drops)
		}
		mu.Unlock()

		srv.CloseConnections(1012, "")
		synctest.Wait()
		time.Sleep(time.Second + transport.DefaultHeartbeat)
		synctest.Wait()
		s = c.Stats()
		if s.Opens != 2 || s.Reconnects != 1 || s.FramesOut != 6 || s.FramesIn != 6 {
			t.Errorf("after a reconnect and a heartbeat: %+v; want 2 opens, 1 reconnect, 6 frames each way", s)
		}
		mu.Lock()
		if len(rtts) != 1 {
			t.Errorf("OnHeartbeat calls %v; want 1", rtts)
		}
		mu.Unlock()
	})
}

// RequestHeader adds headers derived from the dial's ctx to every upgrade request.
func TestRequestHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		n := 0
		c := newConn(t, srv, &recorder{}, func(cfg *transport.Config) {
			cfg.Header = http.Header{"X-Fixed": {"1"}}
			cfg.RequestHeader = func(ctx context.Context, h http.Header) {
				if ctx.Err() != nil {
					t.Error("RequestHeader got a done ctx")
				}
				n++
				h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"+strconv.Itoa(n))
			}
		})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		h := srv.Conns()[0].Header()
		if h.Get("Traceparent") != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || h.Get("X-Fixed") != "1" {
			t.Errorf("upgrade headers %v; want the traceparent and the fixed header", h)
		}
	})
}

func TestStatsAdd(t *testing.T) {
	a := transport.Stats{FramesIn: 1, FramesOut: 2, BytesIn: 3, BytesOut: 4, Opens: 2, Reconnects: 1, FailedDials: 1, Dropped: 1, HeartbeatRTT: time.Millisecond, HeartbeatRTTSmoothed: 2 * time.Millisecond}
	b := transport.Stats{FramesIn: 10, Open: true, HeartbeatRTT: 3 * time.Millisecond, HeartbeatRTTSmoothed: time.Millisecond}
	got := a.Add(b)
	want := transport.Stats{FramesIn: 11, FramesOut: 2, BytesIn: 3, BytesOut: 4, Opens: 2, Reconnects: 1, FailedDials: 1, Open: true, Dropped: 1, HeartbeatRTT: 3 * time.Millisecond, HeartbeatRTTSmoothed: 2 * time.Millisecond}
	if got != want {
		t.Errorf("Add = %+v; want %+v", got, want)
	}
}
