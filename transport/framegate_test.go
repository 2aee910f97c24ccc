package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// bigText is a text frame of the room topic with the given event, size bytes long.
func bigText(event string, size int) []byte {
	head := `[null,null,"realtime:room","` + event + `",{"pad":"`
	return []byte(head + strings.Repeat("x", size-len(head)-3) + `"}]`)
}

// The frame gate is called with the length of every data message of LargeFrame bytes or more,
// and not for smaller ones: by the SDK's reader before it reads the message, by the fallback
// reader (behind a proxy) once it has. A message it admitted that the reader keeps to itself (a
// heartbeat reply) is followed by a call with 0; a fragmented message is gated once whole.
func TestFrameGateSeesLargeMessages(t *testing.T) {
	reply := `[null,"99","phoenix","phx_reply",{"status":"ok","response":{"pad":"` + strings.Repeat("y", transport.LargeFrame) + `"}}]`
	big := bigText("big", transport.LargeFrame)
	frag := bigText("frag", 3*transport.LargeFrame/2)
	half := len(frag) / 2
	script := join(
		wsFrame(finBit|opText, []byte(reply)),
		wsFrame(finBit|opText, big),
		textMessage("small"),
		wsFrame(opText, frag[:half]), wsFrame(finBit|opCont, frag[half:]),
		textMessage("last"),
	)
	want := []string{
		fmt.Sprint("gate ", len(reply)), "gate 0",
		fmt.Sprint("gate ", len(big)), "frame big",
		"frame small",
		fmt.Sprint("gate ", len(frag)), "frame frag",
		"frame last",
	}
	srv := newRawServer(t, false, "", script)
	proxy := connectProxy(t)
	for _, tt := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
		own   bool
	}{
		{"own reader", nil, true},
		{"fallback reader", http.ProxyURL(proxy), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []string
			)
			record := func(s string) {
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
			}
			done := make(chan struct{})
			dec := transport.Decoder{Version: transport.V2, Side: transport.ClientSide}
			c, err := transport.New(transport.Config{
				URL:       srv.socketURL(),
				Dialer:    &websocket.Dialer{Proxy: tt.proxy},
				Heartbeat: -1,
				Backoff:   func(int) time.Duration { return time.Hour },
				FrameGate: func(ctx context.Context, n int) error {
					record(fmt.Sprint("gate ", n))
					return nil
				},
				OnFrame: func(binary bool, frame []byte) {
					var m transport.Message
					if err := dec.Decode(binary, frame, &m); err != nil {
						t.Error(err)
						return
					}
					record("frame " + m.Event)
					if m.Event == "last" {
						close(done)
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Connect(t.Context()); err != nil {
				t.Fatal(err)
			}
			if c.ReadsFrames() != tt.own {
				t.Fatalf("ReadsFrames = %v; want %v", c.ReadsFrames(), tt.own)
			}
			select {
			case <-done:
			case <-time.After(failAfter):
				t.Fatal("the last message did not arrive")
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("calls:\n%q\nwant\n%q", got, want)
			}
			srv.accept(t)
		})
	}
}

// While the frame gate holds the reader, the large message is not read, and the heartbeats left
// unanswered meanwhile are no timeout; once it opens, the message arrives. Close ends a wait.
func TestFrameGateHoldsTheReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		open := make(chan struct{})
		var waits atomic.Int32
		rec := &recorder{}
		c := newConn(t, srv, rec, func(cfg *transport.Config) {
			cfg.FrameGate = func(ctx context.Context, n int) error {
				if n == 0 {
					return nil
				}
				waits.Add(1)
				if n > 2*transport.LargeFrame {
					<-ctx.Done() // the second message waits until Close
					return ctx.Err()
				}
				select {
				case <-open:
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
		srv.PushRaw(false, bigText("big", 2*transport.LargeFrame))
		synctest.Wait()
		time.Sleep(5 * transport.DefaultHeartbeat)
		synctest.Wait()
		if got := rec.events(); len(got) != 0 || waits.Load() != 1 {
			t.Errorf("read while the gate was shut: %q, %d waits", got, waits.Load())
		}
		if got := c.State(); got != transport.StateOpen || c.Epoch() != 1 {
			t.Errorf("State = %v epoch %d after a long wait at the gate; want open on the first connection", got, c.Epoch())
		}
		close(open)
		synctest.Wait()
		if got := rec.events(); len(got) != 1 || got[0] != "big" {
			t.Errorf("after the gate opened: %q", got)
		}
		srv.PushRaw(false, bigText("again", 3*transport.LargeFrame))
		synctest.Wait()
		c.Close()
	})
}
