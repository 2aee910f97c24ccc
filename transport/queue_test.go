package transport_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// writeGate holds the writes of the client sockets dialed through gatedDialer: while it is
// held, a write waits until it is released or its socket is closed.
type writeGate struct {
	mu   sync.Mutex
	open chan struct{} // closed while writes pass
}

func newWriteGate() *writeGate {
	g := &writeGate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *writeGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *writeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

func (g *writeGate) passed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

type gatedConn struct {
	net.Conn
	gate   *writeGate
	once   sync.Once
	closed chan struct{}
}

func (c *gatedConn) Write(p []byte) (int, error) {
	select {
	case <-c.gate.passed():
	case <-c.closed:
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// gatedDialer dials srv in memory with the socket's writes behind gate.
func gatedDialer(srv *testutil.Server, gate *writeGate) *websocket.Dialer {
	d := srv.Dialer()
	dial := d.NetDialContext
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &gatedConn{Conn: nc, gate: gate, closed: make(chan struct{})}, nil
	}
	return d
}

func received(srv *testutil.Server, topic string) []string {
	var got []string
	for _, f := range srv.Received() {
		if f.Topic == topic {
			got = append(got, f.Event)
		}
	}
	return got
}

func push(event int) *transport.Message {
	return &transport.Message{Topic: "realtime:x", Event: "e" + strconv.Itoa(event)}
}

// A Send waiting for room in the open queue does not outlive the socket: when the socket
// drops, the frame goes to the send buffer and Send returns.
func TestSendWaitingForRoomWhenTheSocketDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		gate := newWriteGate()
		c := newConn(t, srv, &recorder{}, func(cfg *transport.Config) {
			cfg.Dialer = gatedDialer(srv, gate)
			cfg.SendBuffer = 2
		})
		c.SetMaxQueue(3)
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		gate.hold()
		// e0 is taken by the writer, which then waits on the socket; e1 to e3 fill the queue.
		for i := range 4 {
			if err := c.Send(t.Context(), push(i)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.Send(ctx, push(4)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Send into a full open queue = %v; want it to wait", err)
		default:
		}

		srv.DropConnections()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Send after the socket dropped = %v; want nil", err)
			}
		default:
			t.Fatal("Send still waits for room after the socket dropped; want the frame in the send buffer")
		}
		// e0 was lost with the socket; the buffer of 2 kept the newest: e3 and e4.
		if got := c.Dropped(); got != 2 {
			t.Errorf("Dropped = %d; want 2", got)
		}
		gate.release()
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if diff := cmp.Diff([]string{"e3", "e4"}, received(srv, "realtime:x")); diff != "" {
			t.Errorf("frames after the reconnect (-want +got):\n%s", diff)
		}
	})
}

// Frames bound to a connection that is gone never take a place in the send buffer from
// frames that can still be sent: neither those queued while the socket was open nor those
// sent after it dropped.
func TestStaleFramesDoNotCrowdTheSendBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		gate := newWriteGate()
		c := newConn(t, srv, &recorder{}, func(cfg *transport.Config) {
			cfg.Dialer = gatedDialer(srv, gate)
			cfg.SendBuffer = 2
		})
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		gate.hold()
		// e0 is taken by the writer, which then waits on the socket, and is lost with it.
		send := func(epoch uint64, m *transport.Message) {
			t.Helper()
			if err := c.SendOn(t.Context(), epoch, m); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		send(0, push(0))
		send(0, push(1))
		send(1, push(10))
		send(0, push(2))
		send(1, push(11))
		srv.DropConnections()
		synctest.Wait()
		send(0, push(3))
		send(1, push(12))
		gate.release()
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// The buffer of 2 keeps the newest two frames that can still be sent.
		if diff := cmp.Diff([]string{"e2", "e3"}, received(srv, "realtime:x")); diff != "" {
			t.Errorf("frames after the reconnect (-want +got):\n%s", diff)
		}
		if got := c.Dropped(); got != 1 {
			t.Errorf("Dropped = %d; want 1 (e1; frames of a gone connection are not counted)", got)
		}
	})
}
