package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/go-supabase/realtime/transport"
)

// FuzzDecode feeds arbitrary frames to every decoder: nothing may panic, and whatever decodes
// must encode again (from the other side) and decode to the same routing fields.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]`,
		`[null,null,"realtime:room1","broadcast",{"event":"move","payload":{"x":1},"type":"broadcast"}]`,
		`["1","1","realtime:r","phx_join",{"config":{"broadcast":{"self":true}}}]`,
		`{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"realtime:room1"}`,
		`{"topic":"t","event":"e","payload":{},"ref":null,"join_ref":"3"}`,
		"\x04\x0d\x04\x00\x01realtime:roommove{\"x\":1}",
		"\x03\x01\x01\x0d\x04\x00\x0145realtime:roommove{\"x\":1}",
		"\x00\x01\x01\x01\x01" + "12te\x01\x02",
		"\x01\x01\x01\x01\x02" + "12tok\x09",
		"\x02\x01\x01te\x07",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, frame []byte, binary bool) {
		for _, v := range []transport.Version{transport.V1, transport.V2} {
			for _, side := range []transport.Side{transport.ClientSide, transport.ServerSide} {
				var m transport.Message
				if err := transport.Decode(v, side, binary, frame, &m); err != nil {
					continue
				}
				other := transport.ServerSide
				if side == transport.ServerSide {
					other = transport.ClientSide
				}
				// Re-encode from the sender's side; the decoder keeps Payload for text frames.
				out, bin, err := transport.Encode(nil, v, other, &m)
				if err != nil {
					continue // e.g. a kind 0 reply decoded by a server has no client encoding form
				}
				var back transport.Message
				if err := transport.Decode(v, side, bin, out, &back); err != nil {
					t.Fatalf("Decode(Encode(%s)) = %v\nframe %q\nencoded %q", &m, err, frame, out)
				}
				if back.Topic != m.Topic || back.Event != m.Event || back.UserEvent != m.UserEvent {
					t.Fatalf("round trip changed %s into %s", &m, &back)
				}
			}
		}
	})
}

// FuzzPeekPhoenix: the reader's peek never panics, and when it says "phoenix" the frame decodes
// to that topic (escaped spellings may be missed, never invented).
func FuzzPeekPhoenix(f *testing.F) {
	for _, s := range []string{`[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","2","realtime:x","broadcast",{}]`, `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"phoenix"}`,
		`[ null , "1" , "phoenix" ]`, `["phoenix"`, `[1,[2,"phoenix"],"phoenix"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, v := range []transport.Version{transport.V1, transport.V2} {
			if !transport.PeekPhoenix(v, frame) {
				continue
			}
			var m transport.Message
			if err := transport.Decode(v, transport.ClientSide, false, frame, &m); err == nil && m.Topic != "phoenix" {
				t.Fatalf("peek said phoenix for %q; it decodes to topic %q", frame, m.Topic)
			}
		}
	})
}

// FuzzFrameReader feeds arbitrary bytes after the upgrade to the SDK's frame reader and to
// gorilla/websocket's: nothing may panic, both must read the same messages, and end the same
// way (the same close code and reason, the read limit, or a protocol error).
func FuzzFrameReader(f *testing.F) {
	f.Add(join(wsFrame(finBit|opText, []byte("hello")), wsFrame(finBit|opBinary, []byte{1, 2})))
	f.Add(join(wsFrame(opText, []byte("a")), wsFrame(finBit|opPing, []byte("p")), wsFrame(finBit|opCont, []byte("b"))))
	f.Add(wsFrame(finBit|opClose, closePayload(4000, "bye")))
	f.Add(wsFrame(finBit|opClose, []byte{3}))
	f.Add(wsFrame(finBit|opBinary, bytes.Repeat([]byte("x"), 300)))
	f.Add([]byte{finBit | opBinary, 127, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{finBit | opText, 0x81, 1, 2, 3, 4, 'x'})
	f.Add(wsFrame(finBit|0x40|opText, []byte("x")))
	const limit = 4096
	f.Fuzz(func(t *testing.T, stream []byte) {
		msgs, _, err := readAll(stream, limit)

		d := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) {
			return &scriptConn{frames: stream}, nil
		}}
		ws, _, derr := d.Dial("ws://example.com/", nil)
		if derr != nil {
			t.Fatal(derr)
		}
		defer ws.Close()
		ws.SetReadLimit(limit)
		var gmsgs []readMsg
		var gerr error
		for {
			mt, data, err := ws.ReadMessage()
			if err != nil {
				gerr = err
				break
			}
			gmsgs = append(gmsgs, readMsg{mt == websocket.BinaryMessage, string(data)})
		}
		if diff := cmp.Diff(gmsgs, msgs); diff != "" {
			t.Fatalf("messages (-gorilla +ours):\n%s", diff)
		}
		var ce, gce *websocket.CloseError
		switch {
		case errors.As(gerr, &gce):
			if !errors.As(err, &ce) || *ce != *gce {
				t.Fatalf("error %v; gorilla/websocket's %v", err, gerr)
			}
		case errors.Is(gerr, websocket.ErrReadLimit):
			if !errors.Is(err, websocket.ErrReadLimit) {
				t.Fatalf("error %v; gorilla/websocket's %v", err, gerr)
			}
		default:
			if errors.As(err, &ce) || errors.Is(err, websocket.ErrReadLimit) || !strings.HasPrefix(err.Error(), "websocket: ") {
				t.Fatalf("error %v; gorilla/websocket's %v", err, gerr)
			}
		}
	})
}

// scriptConn is a server that answers the upgrade request, sends frames and ends the stream,
// or sends them again and again when loop is set.
type scriptConn struct {
	req    []byte
	resp   *bytes.Reader
	frames []byte
	loop   bool
}

func (c *scriptConn) Write(p []byte) (int, error) {
	if c.resp != nil {
		return len(p), nil // the client's control frames
	}
	c.req = append(c.req, p...)
	if !bytes.Contains(c.req, []byte("\r\n\r\n")) {
		return len(p), nil
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(c.req)))
	if err != nil {
		return 0, err
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	c.resp = bytes.NewReader(append([]byte(resp), c.frames...))
	return len(p), nil
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if c.resp == nil {
		return 0, io.EOF
	}
	if c.loop && c.resp.Len() == 0 {
		c.resp.Reset(c.frames)
	}
	return c.resp.Read(p)
}

func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzCheckPayloads: a frame that CheckPayloads accepts decodes with PayloadsChecked exactly as
// without it (the same message, or the same error for a fault CheckPayloads does not look
// for, such as a topic that is not UTF-8).
func FuzzCheckPayloads(f *testing.F) {
	for _, s := range []string{
		"\x04\x0d\x04\x00\x01realtime:roommove{\"x\":1}",
		"\x04\x0d\x04\x00\x01realtime:roommove{\"x\":",
		"\x04\x0d\x04\x07\x01realtime:roommove{\"a\":1}{\"x\":1}",
		"\x04\x0d\x04\x07\x01realtime:roommove{\"a\":1{\"x\":1}",
		"\x04\x0d\x04\x00\x00realtime:roommove\xff\x00",
		"\x03\x01\x01\x0d\x04\x00\x0145realtime:roommove{\"x\":1}",
		"\x04\x0d",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		plain := transport.Decoder{Version: transport.V2, Side: transport.ClientSide}
		var want transport.Message
		wantErr := plain.Decode(true, frame, &want)
		if !transport.CheckPayloads(frame) {
			return
		}
		checked := transport.Decoder{Version: transport.V2, Side: transport.ClientSide, PayloadsChecked: true}
		var got transport.Message
		gotErr := checked.Decode(true, frame, &got)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("decoding %q with PayloadsChecked: %v; without: %v", frame, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decoding %q with PayloadsChecked gives %+v; without, %+v", frame, got, want)
		}
	})
}
