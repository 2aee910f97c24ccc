package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/go-supabase/realtime/transport"
)

var (
	userPayload = `{"seq":1234,"user":"user-0042","room":"room1","ts":1766000000042,"text":"the quick brown fox jumps over the lazy dog, again and again 1234"}`
	textFrame   = []byte(`[null,null,"realtime:room1","broadcast",{"event":"msg","payload":` + userPayload + `,"type":"broadcast"}]`)
	binaryFrame = append([]byte{4, 14, 3, 0, 1}, "realtime:room1msg"+userPayload...)
	replyFrame  = []byte(`["1","7","realtime:room1","phx_reply",{"response":{},"status":"ok"}]`)
)

// BenchmarkDecode is the decoder's cost per frame, with allocations, beside a baseline that
// decodes the same text frame with encoding/json into the routing fields and a raw payload.
func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct {
		name   string
		frame  []byte
		binary bool
	}{
		{"v2-text-broadcast", textFrame, false},
		{"v2-binary-kind4", binaryFrame, true},
		{"v2-reply", replyFrame, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := transport.Decoder{Version: transport.V2, Side: transport.ClientSide}
			var m transport.Message
			b.SetBytes(int64(len(tc.frame)))
			b.ReportAllocs()
			for range b.N {
				if err := d.Decode(tc.binary, tc.frame, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline-encoding-json-text", func(b *testing.B) {
		b.SetBytes(int64(len(textFrame)))
		b.ReportAllocs()
		for range b.N {
			var arr [5]json.RawMessage
			if err := json.Unmarshal(textFrame, &arr); err != nil {
				b.Fatal(err)
			}
			var topic, event string
			_ = json.Unmarshal(arr[2], &topic)
			_ = json.Unmarshal(arr[3], &event)
			var p struct {
				Event   string          `json:"event"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(arr[4], &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode is the cost of encoding a broadcast push, as text (V1) and kind 3 (V2).
func BenchmarkEncode(b *testing.B) {
	m := transport.Message{JoinRef: "4", Ref: "5", Topic: "realtime:room1", Event: "broadcast", UserEvent: "msg", Data: []byte(userPayload)}
	for _, tc := range []struct {
		name string
		vsn  transport.Version
		bin  bool
	}{{"v1-json", transport.V1, false}, {"v2-kind3", transport.V2, true}} {
		b.Run(tc.name, func(b *testing.B) {
			mm := m
			mm.Binary = tc.bin
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for range b.N {
				if _, _, err := transport.Encode(buf[:0], tc.vsn, transport.ClientSide, &mm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader returns data again and again.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkReadMessage is the cost of taking one message off a socket's byte stream: the
// SDK's frame reader, and gorilla/websocket's reader with the copy into an exactly sized
// buffer it needs (the fallback). Frames: a text broadcast, a binary broadcast (kind 4) and a
// 1 MiB binary frame.
func BenchmarkReadMessage(b *testing.B) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"text-broadcast", wsFrame(finBit|opText, textFrame)},
		{"binary-kind4", wsFrame(finBit|opBinary, binaryFrame)},
		{"binary-1MiB", wsFrame(finBit|opBinary, bytes.Repeat([]byte("x"), 1<<20))},
	} {
		stream := bytes.Repeat(tc.frame, max(1, 64<<10/len(tc.frame)))
		size := int64(len(tc.frame))
		b.Run("frame-reader/"+tc.name, func(b *testing.B) {
			fr := transport.NewFrameReader(&loopReader{data: stream}, 64<<20)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := fr.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("gorilla/"+tc.name, func(b *testing.B) {
			d := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) {
				return &scriptConn{frames: stream, loop: true}, nil
			}}
			ws, _, err := d.Dial("ws://example.com/", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ws.Close()
			ws.SetReadLimit(64 << 20)
			var scratch []byte
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := ws.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := transport.ReadFrame(r, &scratch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
