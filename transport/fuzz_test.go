package transport_test

import (
	"testing"

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
