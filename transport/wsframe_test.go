package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/go-supabase/realtime/transport"
)

// Frame opcodes and header bits, as the server sends them.
const (
	opCont   = 0
	opText   = 1
	opBinary = 2
	opClose  = 8
	opPing   = 9
	opPong   = 10
	finBit   = 0x80
)

// wsFrame encodes one unmasked frame: b0 is the first header byte (FIN, RSV bits, opcode).
func wsFrame(b0 byte, payload []byte) []byte {
	var out []byte
	switch n := len(payload); {
	case n < 126:
		out = append(out, b0, byte(n))
	case n <= 0xffff:
		out = append(out, b0, 126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b0, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func join(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

type readMsg struct {
	Binary bool
	Data   string
}

// readAll reads messages until an error.
func readAll(stream []byte, limit int64) ([]readMsg, []transport.Control, error) {
	fr := transport.NewFrameReader(bytes.NewReader(stream), limit)
	var msgs []readMsg
	for {
		bin, data, err := fr.Next()
		if err != nil {
			return msgs, fr.Controls, err
		}
		msgs = append(msgs, readMsg{bin, string(data)})
	}
}

func TestFrameReader(t *testing.T) {
	big := strings.Repeat("b", 70_000)
	mid := strings.Repeat("m", 300)
	eof := transport.CloseError{Code: 1006}
	protocol := transport.CloseError{Code: 1002} // a protocol error, which the reader closes with 1002
	for _, tt := range []struct {
		name     string
		stream   []byte
		limit    int64
		msgs     []readMsg
		controls []transport.Control
		err      transport.CloseError // Code 1006: the stream ended; 1002: a protocol error
	}{
		{name: "text and binary", stream: join(wsFrame(finBit|opText, []byte("hello")), wsFrame(finBit|opBinary, []byte{0, 1, 2})),
			msgs: []readMsg{{false, "hello"}, {true, "\x00\x01\x02"}}, err: eof},
		{name: "empty", stream: wsFrame(finBit|opText, nil), msgs: []readMsg{{false, ""}}, err: eof},
		{name: "16-bit and 64-bit lengths", stream: join(wsFrame(finBit|opText, []byte(mid)), wsFrame(finBit|opBinary, []byte(big))),
			msgs: []readMsg{{false, mid}, {true, big}}, err: eof},
		{name: "fragments with control frames between them",
			stream: join(wsFrame(opText, []byte("one ")), wsFrame(finBit|opPing, []byte("p1")), wsFrame(opCont, nil),
				wsFrame(finBit|opPong, []byte("x")), wsFrame(opCont, []byte("two ")), wsFrame(finBit|opPing, nil),
				wsFrame(finBit|opCont, []byte("three")), wsFrame(opBinary, []byte{9}), wsFrame(finBit|opCont, []byte{8})),
			msgs:     []readMsg{{false, "one two three"}, {true, "\x09\x08"}},
			controls: []transport.Control{{websocket.PongMessage, "p1"}, {websocket.PongMessage, ""}}, err: eof},
		{name: "ping", stream: join(wsFrame(finBit|opPing, []byte("are you there")), wsFrame(finBit|opText, []byte("m"))),
			msgs: []readMsg{{false, "m"}}, controls: []transport.Control{{websocket.PongMessage, "are you there"}}, err: eof},
		{name: "close with a code and reason", stream: join(wsFrame(finBit|opText, []byte("m")), wsFrame(finBit|opClose, closePayload(4001, "bye")), wsFrame(finBit|opText, []byte("after"))),
			msgs: []readMsg{{false, "m"}}, controls: []transport.Control{{websocket.CloseMessage, string(closePayload(4001, ""))}},
			err: transport.CloseError{Code: 4001, Reason: "bye"}},
		{name: "close without a code", stream: wsFrame(finBit|opClose, nil),
			controls: []transport.Control{{websocket.CloseMessage, ""}}, err: transport.CloseError{Code: 1005}},
		{name: "close between fragments", stream: join(wsFrame(opText, []byte("a")), wsFrame(finBit|opClose, closePayload(1001, ""))),
			controls: []transport.Control{{websocket.CloseMessage, string(closePayload(1001, ""))}}, err: transport.CloseError{Code: 1001}},
		{name: "close with a code no server may send", stream: wsFrame(finBit|opClose, closePayload(1006, "")), err: protocol},
		{name: "close with a reason that is not UTF-8", stream: wsFrame(finBit|opClose, closePayload(1000, "\xff")), err: protocol},
		{name: "masked", stream: []byte{finBit | opText, 0x80 | 1, 1, 2, 3, 4, 'x'}, err: protocol},
		{name: "RSV1", stream: wsFrame(finBit|0x40|opText, []byte("x")), err: protocol},
		{name: "RSV2", stream: wsFrame(finBit|0x20|opText, []byte("x")), err: protocol},
		{name: "RSV3", stream: wsFrame(finBit|0x10|opBinary, []byte("x")), err: protocol},
		{name: "reserved data opcode", stream: wsFrame(finBit|3, []byte("x")), err: protocol},
		{name: "reserved control opcode", stream: wsFrame(finBit|0xb, nil), err: protocol},
		{name: "control frame over 125 bytes", stream: wsFrame(finBit|opPing, bytes.Repeat([]byte("p"), 126)), err: protocol},
		{name: "fragmented control frame", stream: wsFrame(opPing, []byte("p")), err: protocol},
		{name: "continuation without a message", stream: wsFrame(finBit|opCont, []byte("x")), err: protocol},
		{name: "new message inside a fragmented one", stream: join(wsFrame(opText, []byte("a")), wsFrame(finBit|opText, []byte("b"))), err: protocol},
		{name: "truncated header", stream: []byte{finBit | opText}, err: eof},
		{name: "truncated length", stream: []byte{finBit | opText, 126, 1}, err: eof},
		{name: "truncated payload", stream: wsFrame(finBit|opText, []byte("hello"))[:5], err: eof},
		{name: "at the read limit", stream: wsFrame(finBit|opText, []byte(mid)), limit: 300, msgs: []readMsg{{false, mid}}, err: eof},
		{name: "over the read limit", stream: join(wsFrame(finBit|opText, []byte("m")), wsFrame(finBit|opText, []byte(mid))), limit: 299,
			msgs: []readMsg{{false, "m"}}, controls: []transport.Control{{websocket.CloseMessage, string(closePayload(1009, ""))}},
			err: transport.CloseError{Code: 1009, Reason: "frame larger than the read limit"}},
		{name: "fragments over the read limit", stream: join(wsFrame(opText, []byte(mid[:200])), wsFrame(finBit|opCont, []byte(mid[:200]))), limit: 399,
			controls: []transport.Control{{websocket.CloseMessage, string(closePayload(1009, ""))}},
			err:      transport.CloseError{Code: 1009, Reason: "frame larger than the read limit"}},
		{name: "64-bit length with its top bit set", stream: []byte{finBit | opBinary, 127, 0x80, 0, 0, 0, 0, 0, 0, 1},
			controls: []transport.Control{{websocket.CloseMessage, string(closePayload(1009, ""))}},
			err:      transport.CloseError{Code: 1009, Reason: "frame larger than the read limit"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.limit
			if limit == 0 {
				limit = 1 << 20
			}
			msgs, controls, err := readAll(tt.stream, limit)
			if diff := cmp.Diff(tt.msgs, msgs); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if tt.err.Code == 1002 {
				if len(controls) != 1 || controls[0].Opcode != websocket.CloseMessage || !strings.HasPrefix(controls[0].Payload, "\x03\xea") {
					t.Errorf("controls = %q; want one close frame with code 1002", controls)
				}
				var ce *transport.CloseError
				if cause := transport.ReadError(err); err == nil || errors.As(cause, &ce) || !strings.Contains(cause.Error(), "connection lost: websocket: ") {
					t.Errorf("error = %v, reported as %v; want a protocol error", err, cause)
				}
				return
			}
			if diff := cmp.Diff(tt.controls, controls); diff != "" {
				t.Errorf("control frames written (-want +got):\n%s", diff)
			}
			cause := transport.ReadError(err)
			var ce *transport.CloseError
			if tt.err.Code == 1006 {
				if !errors.Is(cause, io.ErrUnexpectedEOF) || errors.As(cause, &ce) {
					t.Errorf("error = %v, reported as %v; want a lost connection (unexpected EOF)", err, cause)
				}
				return
			}
			if !errors.As(cause, &ce) || *ce != tt.err {
				t.Errorf("error = %v, reported as %v; want %v", err, cause, &tt.err)
			}
		})
	}
}

// A message costs one allocation, its payload, exactly sized; a frame over the read limit is
// refused from its header, before anything is allocated for it.
func TestFrameReaderAllocations(t *testing.T) {
	small := wsFrame(finBit|opText, []byte(`[null,null,"realtime:room1","broadcast",{"event":"msg","payload":{},"type":"broadcast"}]`))
	stream := bytes.Repeat(small, 200)
	r := bytes.NewReader(stream)
	fr := transport.NewFrameReader(r, 1<<20)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, data, err := fr.Next(); err != nil || cap(data) != len(small)-2 {
			t.Fatalf("Next = %d bytes of capacity, %v", cap(data), err)
		}
	}); allocs != 1 {
		t.Errorf("a message costs %v allocations; want 1", allocs)
	}

	for _, tc := range []struct {
		name  string
		size  int
		limit int64
		max   float64 // bytes allocated, as a multiple of size
	}{
		{"8 MiB frame", 8 << 20, 64 << 20, 1.05},
		{"frame over the limit", 48 << 20, 1 << 20, 0.01},
	} {
		hdr := wsFrame(finBit|opBinary, nil)[:1]
		hdr = append(hdr, 127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(tc.size))
		stream := io.MultiReader(bytes.NewReader(hdr), io.LimitReader(zeros{}, int64(tc.size)))
		fr := transport.NewFrameReader(stream, tc.limit)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, data, err := fr.Next()
		runtime.ReadMemStats(&after)
		if tc.size <= int(tc.limit) && (err != nil || len(data) != tc.size || cap(data) != tc.size) {
			t.Fatalf("%s: Next = %d bytes (capacity %d), %v", tc.name, len(data), cap(data), err)
		}
		if ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(tc.size); ratio > tc.max {
			t.Errorf("%s: reading it allocated %.3f times its size; want at most %v", tc.name, ratio, tc.max)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// oneFrameReader hands out one frame per Read, as a quiet socket does.
type oneFrameReader struct{ frames [][]byte }

func (r *oneFrameReader) Read(p []byte) (int, error) {
	if len(r.frames) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.frames[0])
	if r.frames[0] = r.frames[0][n:]; len(r.frames[0]) == 0 {
		r.frames = r.frames[1:]
	}
	return n, nil
}

// A reader starts with a small buffer and moves to a larger one once its socket has carried
// enough; no message is cut or lost across the move. A socket that carried little, such as one
// that only joined channels, keeps the small buffer.
func TestFrameReaderGrowsUnderLoad(t *testing.T) {
	var frames [][]byte
	var want []readMsg
	for i := range 1000 {
		payload := bytes.Repeat([]byte{byte('a' + i%26)}, 50+i*37%3000)
		frames = append(frames, wsFrame(finBit|opText, payload))
		want = append(want, readMsg{false, string(payload)})
	}
	fr := transport.NewFrameReader(bytes.NewReader(join(frames...)), 1<<20)
	var got []readMsg
	for {
		bin, data, err := fr.Next()
		if err != nil {
			break
		}
		got = append(got, readMsg{bin, string(data)})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	if !fr.Grown() {
		t.Error("a flood kept the small buffer")
	}

	var small [][]byte
	for i := range 100 {
		small = append(small, wsFrame(finBit|opText, bytes.Repeat([]byte{'q'}, 20+i%200)))
	}
	quiet := transport.NewFrameReader(&oneFrameReader{frames: small}, 1<<20)
	for range 100 {
		if _, _, err := quiet.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if quiet.Grown() {
		t.Error("a quiet socket moved to the large buffer")
	}
}
