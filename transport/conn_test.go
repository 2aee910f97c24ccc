package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

const testKey = "test-api-key-5ecret"

// recorder collects what a Conn reports.
type recorder struct {
	mu       sync.Mutex
	changes  []transport.StateChange
	messages []transport.Message
}

func (r *recorder) state(c transport.StateChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) message(m *transport.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, *m)
}

func (r *recorder) transitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.changes {
		out = append(out, c.Old.String()+">"+c.New.String())
	}
	return out
}

func (r *recorder) lastCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.changes) - 1; i >= 0; i-- {
		if r.changes[i].Err != nil {
			return r.changes[i].Err
		}
	}
	return nil
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.messages {
		out = append(out, m.Event)
	}
	return out
}

// fixedBackoff makes reconnect timing exact in tests.
func fixedBackoff(attempt int) time.Duration { return time.Second }

func newConn(t *testing.T, srv *testutil.Server, rec *recorder, mod func(*transport.Config)) *transport.Conn {
	t.Helper()
	ep, err := transport.Endpoint(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := transport.Config{
		URL:       transport.SocketURL(ep, testKey, nil, transport.V2),
		Dialer:    srv.Dialer(),
		Backoff:   fixedBackoff,
		OnState:   rec.state,
		OnMessage: rec.message,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnectHeartbeatsAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		rec := &recorder{}
		c := newConn(t, srv, rec, nil)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatalf("Connect = %v", err)
		}
		conns := srv.Conns()
		if len(conns) != 1 {
			t.Fatalf("server has %d connections; want 1", len(conns))
		}
		q := conns[0].Query()
		if q.Get("apikey") != testKey || q.Get("vsn") != "2.0.0" {
			t.Errorf("query = %v; want apikey and vsn=2.0.0", q)
		}
		// Three heartbeat periods: three heartbeats, each answered, no reconnect.
		time.Sleep(3*transport.DefaultHeartbeat + time.Second)
		synctest.Wait()
		var refs []string
		for _, f := range srv.Received() {
			if f.Topic == "phoenix" && f.Event == "heartbeat" {
				refs = append(refs, f.Ref)
			}
		}
		if len(refs) != 3 {
			t.Fatalf("server got %d heartbeats in 76 s; want 3", len(refs))
		}
		if refs[0] == refs[1] || refs[1] == refs[2] {
			t.Errorf("heartbeat refs %v are not distinct", refs)
		}
		if got := c.State(); got != transport.StateOpen {
			t.Errorf("State = %v; want open", got)
		}
		c.Close()
		c.Close() // idempotent
		want := []string{"closed>connecting", "connecting>open", "open>closing", "closing>closed"}
		if diff := cmp.Diff(want, rec.transitions()); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
		if err := c.Connect(t.Context()); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Connect after Close = %v; want ErrClosed", err)
		}
	})
}

func TestHeartbeatTimeoutReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		rec := &recorder{}
		c := newConn(t, srv, rec, nil)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.SetHeartbeatReplies(false)
		// First heartbeat at 25 s goes unanswered; at 50 s it is a timeout.
		time.Sleep(2*transport.DefaultHeartbeat - time.Second)
		synctest.Wait()
		if got := c.State(); got != transport.StateOpen {
			t.Fatalf("State before the second tick = %v; want open", got)
		}
		srv.SetHeartbeatReplies(true)
		time.Sleep(time.Second)
		synctest.Wait()
		if !errors.Is(rec.lastCause(), transport.ErrHeartbeatTimeout) {
			t.Fatalf("cause = %v; want ErrHeartbeatTimeout", rec.lastCause())
		}
		// The client closed with 1000 "heartbeat timeout"; after the backoff it is back.
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got := c.State(); got != transport.StateOpen {
			t.Fatalf("State after backoff = %v; want open", got)
		}
		want := []string{"closed>connecting", "connecting>open", "open>closing", "closing>connecting", "connecting>open"}
		if diff := cmp.Diff(want, rec.transitions()); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
		if c.Epoch() != 2 {
			t.Errorf("Epoch = %d; want 2", c.Epoch())
		}
	})
}

func TestReconnectAfterServerClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop func(*testutil.Server)
		code int // 0 for an abrupt drop
	}{
		{"1000 normal", func(s *testutil.Server) { s.CloseConnections(1000, "") }, 1000},
		{"1001 going away", func(s *testutil.Server) { s.CloseConnections(1001, "") }, 1001},
		{"1012 service restart", func(s *testutil.Server) { s.CloseConnections(1012, "drain") }, 1012},
		{"abrupt drop", func(s *testutil.Server) { s.DropConnections() }, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				rec := &recorder{}
				c := newConn(t, srv, rec, nil)
				if err := c.Connect(t.Context()); err != nil {
					t.Fatal(err)
				}
				tt.drop(srv)
				synctest.Wait()
				cause := rec.lastCause()
				var ce *transport.CloseError
				switch {
				case tt.code == 0:
					if cause == nil || errors.As(cause, &ce) {
						t.Errorf("cause = %v; want a connection-lost error", cause)
					}
				case !errors.As(cause, &ce) || ce.Code != tt.code:
					t.Errorf("cause = %v; want CloseError with code %d", cause, tt.code)
				}
				if got := c.State(); got != transport.StateConnecting {
					t.Errorf("State after drop = %v; want connecting", got)
				}
				time.Sleep(time.Second + time.Millisecond)
				synctest.Wait()
				if got := c.State(); got != transport.StateOpen {
					t.Fatalf("State after backoff = %v; want open", got)
				}
				if n := len(srv.Conns()); n != 1 {
					t.Errorf("server has %d connections; want 1", n)
				}
			})
		})
	}
}

// A temporary refusal keeps Connect waiting until its ctx ends (see
// TestConnectReturnsAtADefinitiveRefusal for the others).
func TestUpgradeErrorIsSurfacedAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.RefuseUpgrades(2, 500, `{"error": "Error connecting to Realtime"}`)
		rec := &recorder{}
		c := newConn(t, srv, rec, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		err := c.Connect(ctx)
		var ue *transport.UpgradeError
		if !errors.As(err, &ue) || ue.StatusCode != 500 || ue.Message != "Error connecting to Realtime" {
			t.Fatalf("Connect = %v; want an UpgradeError 500 \"Error connecting to Realtime\"", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Connect = %v; want it to wrap context.DeadlineExceeded too", err)
		}
		want := "realtime: websocket upgrade refused: HTTP 500: Error connecting to Realtime"
		if ue.Error() != want {
			t.Errorf("Error() = %q; want %q", ue.Error(), want)
		}
		// The Conn keeps retrying after the caller gave up: the third attempt succeeds.
		if err := c.Connect(t.Context()); err != nil {
			t.Fatalf("second Connect = %v", err)
		}
		var failed int
		rec.mu.Lock()
		for _, ch := range rec.changes {
			if ch.Old == transport.StateConnecting && ch.New == transport.StateConnecting && ch.Err != nil {
				failed++
			}
		}
		rec.mu.Unlock()
		if failed != 2 {
			t.Errorf("reported %d failed attempts; want 2", failed)
		}
	})
}

func TestUpgradeErrorBodies(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   string
	}{
		{403, ``, "realtime: websocket upgrade refused: HTTP 403"},
		{429, `{"error":"Too many connected users"}`, "realtime: websocket upgrade refused: HTTP 429: Too many connected users"},
		{500, `<html>oops</html>`, "realtime: websocket upgrade refused: HTTP 500: <html>oops</html>"},
		{401, `{"message":"Unauthorized"}`, "realtime: websocket upgrade refused: HTTP 401: Unauthorized"},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				srv.RefuseUpgrades(1, tt.status, tt.body)
				c := newConn(t, srv, &recorder{}, nil)
				ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
				defer cancel()
				err := c.Connect(ctx)
				var ue *transport.UpgradeError
				if !errors.As(err, &ue) || ue.Error() != tt.want {
					t.Errorf("Connect = %v; want %q", err, tt.want)
				}
			})
		})
	}
}

// A vsn the server does not speak is refused with an empty 403.
func TestServerRefusesUnknownVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		ep, _ := transport.Endpoint(srv.URL())
		d := srv.Dialer()
		_, resp, err := d.Dial(transport.SocketURL(ep, testKey, url.Values{}, "3.0.0"), nil)
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("dial with vsn 3.0.0: %v, %v; want HTTP 403", err, resp)
		}
	})
}

func TestSendBufferOrderAndOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		logger, logs := testutil.NewLogger(nil)
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) { cfg.Logger = logger })
		// 150 frames while not connected: the buffer keeps the newest 100, in order.
		for i := range 150 {
			m := transport.Message{Topic: "realtime:x", Event: "e" + strconv.Itoa(i), Ref: strconv.Itoa(i)}
			if err := c.Send(t.Context(), &m); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.Dropped(); got != 50 {
			t.Errorf("Dropped = %d; want 50", got)
		}
		if !logs.Contains("send buffer full") {
			t.Errorf("no log line reports the overflow; logs: %q", logs.Lines())
		}
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var got []string
		for _, f := range srv.Received() {
			if f.Topic == "realtime:x" {
				got = append(got, f.Event)
			}
		}
		var want []string
		for i := 50; i < 150; i++ {
			want = append(want, "e"+strconv.Itoa(i))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("frames after reconnect (-want +got):\n%s", diff)
		}
	})
}

// Frames bound to a connection epoch are not written on a later connection.
func TestSendOnDropsStaleFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newConn(t, srv, &recorder{}, nil)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.DropConnections()
		synctest.Wait()
		_ = c.SendOn(t.Context(), 1, &transport.Message{Topic: "realtime:x", Event: "stale"})
		_ = c.SendOn(t.Context(), 2, &transport.Message{Topic: "realtime:x", Event: "fresh"})
		_ = c.Send(t.Context(), &transport.Message{Topic: "realtime:x", Event: "any"})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var got []string
		for _, f := range srv.Received() {
			if f.Topic == "realtime:x" {
				got = append(got, f.Event)
			}
		}
		if diff := cmp.Diff([]string{"fresh", "any"}, got); diff != "" {
			t.Errorf("frames (-want +got):\n%s", diff)
		}
	})
}

// A consumer that holds the reader up is not a dead server.
func TestSlowHandlerIsNotAHeartbeatTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		release := make(chan struct{})
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) {
			cfg.OnMessage = func(m *transport.Message) {
				if m.Event == "slow" {
					<-release
				}
				rec.message(m)
			}
		})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.Conns()[0].Push(transport.Message{Topic: "realtime:x", Event: "slow", Payload: []byte("{}")})
		time.Sleep(5 * transport.DefaultHeartbeat)
		synctest.Wait()
		close(release)
		synctest.Wait()
		if got := c.State(); got != transport.StateOpen || c.Epoch() != 1 {
			t.Errorf("State = %v epoch %d after a slow handler; want open on the first connection", got, c.Epoch())
		}
		if cause := rec.lastCause(); cause != nil {
			t.Errorf("cause = %v; want none", cause)
		}
	})
}

func TestMalformedFramesAreDroppedAndLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		logger, logs := testutil.NewLogger(nil)
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) { cfg.Logger = logger })
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		sc := srv.Conns()[0]
		sc.PushRaw(false, []byte(`not json`))
		sc.PushRaw(true, []byte{0x09, 1, 2})
		sc.PushRaw(false, []byte(`[null,null,"realtime:x","ok",{}]`))
		synctest.Wait()
		if diff := cmp.Diff([]string{"ok"}, rec.events()); diff != "" {
			t.Errorf("delivered events (-want +got):\n%s", diff)
		}
		if !logs.Contains("malformed frame") {
			t.Errorf("no log line for the malformed frames: %q", logs.Lines())
		}
		if c.State() != transport.StateOpen {
			t.Errorf("State = %v; want open", c.State())
		}
	})
}

// Close while connecting, while waiting to reconnect and before starting all return promptly
// with every goroutine gone.
func TestCloseInEveryState(t *testing.T) {
	t.Run("never started", func(t *testing.T) {
		testutil.VerifyNone(t)
		c, err := transport.New(transport.Config{URL: "ws://127.0.0.1:1/realtime/v1/websocket"})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if c.State() != transport.StateClosed {
			t.Errorf("State = %v", c.State())
		}
	})
	t.Run("backing off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			srv.RefuseUpgrades(10, 500, `{"error":"Error connecting to Realtime"}`)
			c := newConn(t, srv, &recorder{}, nil)
			c.Start()
			synctest.Wait()
			c.Close()
		})
	})
	t.Run("concurrent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			c := newConn(t, srv, &recorder{}, nil)
			_ = c.Connect(t.Context())
			var wg sync.WaitGroup
			for range 5 {
				wg.Go(func() { c.Close() })
			}
			wg.Wait()
			if c.State() != transport.StateClosed {
				t.Errorf("State = %v", c.State())
			}
		})
	})
}

// Over a real loopback socket too.
func TestLoopback(t *testing.T) {
	testutil.VerifyNone(t)
	srv := testutil.NewServer(t)
	srv.Start()
	rec := &recorder{}
	c := newConn(t, srv, rec, func(cfg *transport.Config) { cfg.Dialer = nil })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	m := transport.Message{JoinRef: "1", Ref: "1", Topic: "realtime:room", Event: "phx_join", Payload: []byte(`{"config":{}}`)}
	if err := c.Send(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Expect(ctx, "room", "phx_join"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.Close()
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []transport.Config{{}, {URL: "ws://x/websocket", Version: "9"}} {
		if c, err := transport.New(cfg); !errors.Is(err, transport.ErrInvalidArgument) {
			if c != nil {
				c.Close()
			}
			t.Errorf("New(%+v) = %v; want ErrInvalidArgument", cfg, err)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, base := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second} {
		for range 100 {
			d := transport.DefaultBackoff(attempt)
			if lo, hi := base*8/10, base*12/10; d < lo || d >= hi {
				t.Fatalf("DefaultBackoff(%d) = %v; want within [%v, %v)", attempt, d, lo, hi)
			}
		}
	}
}

func TestStateString(t *testing.T) {
	got := fmt.Sprint(transport.StateClosed, transport.StateConnecting, transport.StateOpen, transport.StateClosing)
	if got != "closed connecting open closing" {
		t.Errorf("states print as %q", got)
	}
}

var _ = websocket.CloseNormalClosure

// With OnFrame the reader hands frames on undecoded, except heartbeat replies, which it
// handles itself.
func TestOnFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var mu sync.Mutex
		var frames []string
		c := newConn(t, srv, &recorder{}, func(cfg *transport.Config) {
			cfg.OnMessage = nil
			cfg.OnFrame = func(binary bool, frame []byte) {
				mu.Lock()
				defer mu.Unlock()
				frames = append(frames, string(frame))
			}
		})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.Conns()[0].PushRaw(false, []byte(`[null,null,"realtime:x","broadcast",{"event":"e","payload":{},"type":"broadcast"}]`))
		srv.Conns()[0].PushRaw(false, []byte(`not json`))
		time.Sleep(transport.DefaultHeartbeat + time.Second) // one heartbeat and its reply
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		want := []string{`[null,null,"realtime:x","broadcast",{"event":"e","payload":{},"type":"broadcast"}]`, `not json`}
		if diff := cmp.Diff(want, frames); diff != "" {
			t.Errorf("frames (-want +got):\n%s", diff)
		}
		if c.State() != transport.StateOpen || c.Epoch() != 1 {
			t.Error("the heartbeat reply was not recognised")
		}
	})
}

func TestPeekPhoenix(t *testing.T) {
	for _, tt := range []struct {
		v     transport.Version
		frame string
		want  bool
	}{
		{transport.V2, `[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]`, true},
		{transport.V2, ` [ null , "12" , "phoenix" , "phx_reply" , {} ] `, true},
		{transport.V2, `[null,null,"realtime:phoenix","broadcast",{}]`, false},
		{transport.V2, `["1","2",["phoenix"],"x",{}]`, false},
		{transport.V1, `{"event":"phx_reply","payload":{},"ref":"1","topic":"phoenix"}`, true},
		{transport.V1, `{"topic":"realtime:x","event":"e","payload":{"topic":"phoenix"},"ref":null}`, false},
		{transport.V2, ``, false},
	} {
		if got := transport.PeekPhoenix(tt.v, []byte(tt.frame)); got != tt.want {
			t.Errorf("PeekPhoenix(%s, %s) = %v; want %v", tt.v, tt.frame, got, tt.want)
		}
	}
}

// HoldOff stretches a reconnect wait that is already under way.
func TestHoldOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newConn(t, srv, &recorder{}, nil) // backoff: 1 s
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.DropConnections()
		synctest.Wait() // waiting 1 s to reconnect
		c.HoldOff(10 * time.Second)
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if c.State() == transport.StateOpen {
			t.Fatal("reconnected before the hold-off ended")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c.State() != transport.StateOpen || c.Epoch() != 2 {
			t.Errorf("State = %v, epoch %d after the hold-off; want open on the second connection", c.State(), c.Epoch())
		}
	})
}

// A frame over ReadLimit closes the socket with 1009 and the Conn reconnects.
func TestReadLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) { cfg.ReadLimit = 1024 })
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		sc := srv.Conns()[0]
		sc.PushRaw(false, []byte(`[null,null,"realtime:x","small",{}]`))
		sc.PushRaw(false, []byte(`[null,null,"realtime:x","large",{"pad":"`+strings.Repeat("x", 1024)+`"}]`))
		synctest.Wait()
		var ce *transport.CloseError
		if cause := rec.lastCause(); !errors.As(cause, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("cause = %v; want a CloseError with code 1009", cause)
		}
		if diff := cmp.Diff([]string{"small"}, rec.events()); diff != "" {
			t.Errorf("delivered events (-want +got):\n%s", diff)
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if c.State() != transport.StateOpen || c.Epoch() != 2 {
			t.Errorf("State = %v, epoch %d after the backoff; want open on the second connection", c.State(), c.Epoch())
		}
	})
}

// While the read gate holds the reader, no frame is read, and the heartbeats left unanswered
// meanwhile are no timeout; once it opens, the frames that waited arrive in order. Close ends a
// wait at the gate.
func TestReadGatePausesReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var gate atomic.Pointer[chan struct{}] // nil: open
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) {
			cfg.ReadGate = func(ctx context.Context) error {
				wait := gate.Load()
				if wait == nil {
					return nil
				}
				select {
				case <-*wait:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		shut := make(chan struct{})
		gate.Store(&shut)
		// The reader waits in NextReader; it reaches the closed gate after the next frame.
		srv.Conns()[0].Push(transport.Message{Topic: "realtime:x", Event: "first", Payload: []byte("{}")})
		synctest.Wait()
		srv.Conns()[0].Push(transport.Message{Topic: "realtime:x", Event: "second", Payload: []byte("{}")})
		time.Sleep(5 * transport.DefaultHeartbeat)
		synctest.Wait()
		if got := rec.events(); len(got) != 1 || got[0] != "first" {
			t.Errorf("read while the gate was closed: %q; want only the first", got)
		}
		gate.Store(nil)
		close(shut)
		synctest.Wait()
		if got := rec.events(); len(got) != 2 || got[1] != "second" {
			t.Errorf("after the gate opened: %q", got)
		}
		if got := c.State(); got != transport.StateOpen || c.Epoch() != 1 {
			t.Errorf("State = %v epoch %d after a long pause; want open on the first connection", got, c.Epoch())
		}

		// Close ends a wait at the gate.
		forever := make(chan struct{})
		gate.Store(&forever)
		srv.Conns()[0].Push(transport.Message{Topic: "realtime:x", Event: "third", Payload: []byte("{}")})
		synctest.Wait()
		c.Close()
	})
}
