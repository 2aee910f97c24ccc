package transport_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The worked example of docs/protocol.md §2.3: what realtime-js sends (kind 3, 33 bytes) and what
// another V2 subscriber receives (kind 4, 29 bytes).
func TestBinaryWorkedExample(t *testing.T) {
	kind3 := append(hexBytes(t, "03 01 01 0D 04 00 01 34 35"), "realtime:roommove{\"x\":1}"...)
	kind4 := append(hexBytes(t, "04 0D 04 00 01"), "realtime:roommove{\"x\":1}"...)
	if len(kind3) != 33 || len(kind4) != 29 {
		t.Fatalf("fixture lengths %d, %d; want 33, 29", len(kind3), len(kind4))
	}
	push := transport.Message{JoinRef: "4", Ref: "5", Topic: "realtime:room", Event: "broadcast",
		UserEvent: "move", Data: []byte(`{"x":1}`), Binary: true}
	got, bin, err := transport.Encode(nil, transport.V2, transport.ClientSide, &push)
	if err != nil || !bin {
		t.Fatalf("Encode(kind 3) = %v, binary %v", err, bin)
	}
	if !bytes.Equal(got, kind3) {
		t.Errorf("Encode(kind 3) = % x\nwant % x", got, kind3)
	}
	var m transport.Message
	if err := transport.Decode(transport.V2, transport.ServerSide, true, kind3, &m); err != nil {
		t.Fatalf("Decode(kind 3) = %v", err)
	}
	if diff := cmp.Diff(push, m); diff != "" {
		t.Errorf("Decode(kind 3) mismatch (-want +got):\n%s", diff)
	}

	out := transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "move", Data: []byte(`{"x":1}`), Binary: true}
	got, _, err = transport.Encode(nil, transport.V2, transport.ServerSide, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, kind4) {
		t.Errorf("Encode(kind 4) = % x\nwant % x", got, kind4)
	}
	if err := transport.Decode(transport.V2, transport.ClientSide, true, kind4, &m); err != nil {
		t.Fatalf("Decode(kind 4) = %v", err)
	}
	if diff := cmp.Diff(out, m); diff != "" {
		t.Errorf("Decode(kind 4) mismatch (-want +got):\n%s", diff)
	}
}

// A binary payload from the database carries metadata whose length is its real byte count.
func TestBinaryKind4WithMetadata(t *testing.T) {
	meta := `{"id":"0b1e5a3c-1f2a-4b5c-8d9e-0f1a2b3c4d5e"}`
	frame := append([]byte{4, 13, 3, byte(len(meta)), 0}, "realtime:roombin"+meta...)
	frame = append(frame, 0xDE, 0xAD, 0xBE, 0xEF)
	if len(meta) != 45 {
		t.Fatalf("meta is %d bytes; want 45 (docs/protocol.md §2.3)", len(meta))
	}
	var m transport.Message
	if err := transport.Decode(transport.V2, transport.ClientSide, true, frame, &m); err != nil {
		t.Fatal(err)
	}
	want := transport.Message{Topic: "realtime:room", Event: "broadcast", UserEvent: "bin", Meta: []byte(meta),
		Data: []byte{0xDE, 0xAD, 0xBE, 0xEF}, Raw: true, Binary: true}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name  string
		vsn   transport.Version
		side  transport.Side
		frame string
		want  transport.Message
	}{
		{
			name:  "v2 heartbeat reply",
			vsn:   transport.V2,
			frame: `[null,"12","phoenix","phx_reply",{"response":{},"status":"ok"}]`,
			want: transport.Message{Ref: "12", Topic: "phoenix", Event: "phx_reply", Status: "ok",
				Payload: []byte(`{"response":{},"status":"ok"}`), Data: []byte(`{}`)},
		},
		{
			name:  "v2 json broadcast keeps numbers exact",
			vsn:   transport.V2,
			frame: `[null,null,"realtime:room1","broadcast",{"event":"move","payload":{"n":9007199254740993,"f":1.10},"type":"broadcast"}]`,
			want: transport.Message{Topic: "realtime:room1", Event: "broadcast", UserEvent: "move",
				Payload: []byte(`{"event":"move","payload":{"n":9007199254740993,"f":1.10},"type":"broadcast"}`),
				Data:    []byte(`{"n":9007199254740993,"f":1.10}`)},
		},
		{
			name:  "v2 replayed broadcast with meta",
			vsn:   transport.V2,
			frame: `["3",null,"realtime:r","broadcast",{"event":"e","meta":{"id":"x","replayed":true},"payload":{},"type":"broadcast"}]`,
			want: transport.Message{JoinRef: "3", Topic: "realtime:r", Event: "broadcast", UserEvent: "e",
				Payload: []byte(`{"event":"e","meta":{"id":"x","replayed":true},"payload":{},"type":"broadcast"}`),
				Data:    []byte(`{}`), Meta: []byte(`{"id":"x","replayed":true}`)},
		},
		{
			name:  "v2 error reply with a string response",
			vsn:   transport.V2,
			frame: `["1","7","realtime:r","phx_reply",{"response":"payload_size_exceeded","status":"error"}]`,
			want: transport.Message{JoinRef: "1", Ref: "7", Topic: "realtime:r", Event: "phx_reply", Status: "error",
				Payload: []byte(`{"response":"payload_size_exceeded","status":"error"}`), Data: []byte(`"payload_size_exceeded"`)},
		},
		{
			name:  "v2 extra elements ignored, white space allowed",
			vsn:   transport.V2,
			frame: " [ \"1\" , \"1\" , \"realtime:r\" , \"phx_close\" , { } , 5 ] \n",
			want:  transport.Message{JoinRef: "1", Ref: "1", Topic: "realtime:r", Event: "phx_close", Payload: []byte(`{ }`)},
		},
		{
			name:  "v2 escaped strings",
			vsn:   transport.V2,
			frame: `[null,null,"realtime:caf\u00e9","sys\"tem",{}]`,
			want:  transport.Message{Topic: "realtime:café", Event: `sys"tem`, Payload: []byte(`{}`)},
		},
		{
			name:  "v1 server output",
			vsn:   transport.V1,
			frame: `{"event":"phx_reply","payload":{"response":{"postgres_changes":[]},"status":"ok"},"ref":"1","topic":"realtime:room1"}`,
			want: transport.Message{Ref: "1", Topic: "realtime:room1", Event: "phx_reply", Status: "ok",
				Payload: []byte(`{"response":{"postgres_changes":[]},"status":"ok"}`), Data: []byte(`{"postgres_changes":[]}`)},
		},
		{
			name:  "v1 client push with join_ref, decoded by the server",
			vsn:   transport.V1,
			side:  transport.ServerSide,
			frame: `{"topic":"realtime:room1","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`,
			want:  transport.Message{JoinRef: "1", Ref: "1", Topic: "realtime:room1", Event: "phx_join", Payload: []byte(`{"config":{}}`)},
		},
		{
			name:  "v1 ref null",
			vsn:   transport.V1,
			frame: `{"event":"broadcast","payload":{"event":"move","payload":{"x":1},"type":"broadcast"},"ref":null,"topic":"realtime:room1"}`,
			want: transport.Message{Topic: "realtime:room1", Event: "broadcast", UserEvent: "move",
				Payload: []byte(`{"event":"move","payload":{"x":1},"type":"broadcast"}`), Data: []byte(`{"x":1}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got transport.Message
			if err := transport.Decode(tt.vsn, tt.side, false, []byte(tt.frame), &got); err != nil {
				t.Fatalf("Decode(%s) = %v", tt.frame, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", tt.frame, diff)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name   string
		vsn    transport.Version
		binary bool
		frame  string
	}{
		{"not json", transport.V2, false, `hello`},
		{"bare string", transport.V2, false, `"hello"`},
		{"four elements", transport.V2, false, `[null,null,"t","e"]`},
		{"v1 object on v2", transport.V2, false, `{"topic":"t","event":"e","payload":{},"ref":null}`},
		{"v1 missing ref", transport.V1, false, `{"topic":"t","event":"e","payload":{}}`},
		{"topic not a string", transport.V2, false, `[null,null,1,"e",{}]`},
		{"event null", transport.V2, false, `[null,null,"t",null,{}]`},
		{"trailing garbage", transport.V2, false, `[null,null,"t","e",{}]x`},
		{"unterminated payload", transport.V2, false, `[null,null,"t","e",{"a":1]`},
		{"bad number", transport.V2, false, `[null,null,"t","e",{"a":01}]`},
		{"control char", transport.V2, false, "[null,null,\"t\x01\",\"e\",{}]"},
		{"reply without status", transport.V2, false, `[null,"1","phoenix","phx_reply",{"response":{}}]`},
		{"reply not an object", transport.V2, false, `[null,"1","phoenix","phx_reply",[]]`},
		{"binary on v1", transport.V1, true, "\x04\x01\x01\x00\x01te{}"},
		{"empty binary", transport.V2, true, ""},
		{"unknown kind", transport.V2, true, "\x09abc"},
		{"kind 3 sent to a client", transport.V2, true, "\x03\x00\x00\x01\x01\x00\x01te{}"},
		{"short header", transport.V2, true, "\x04\x01"},
		{"field past end", transport.V2, true, "\x04\x20\x01\x00\x01te"},
		{"kind 4 bad json", transport.V2, true, "\x04\x01\x01\x00\x01te{"},
		{"kind 4 meta not object", transport.V2, true, "\x04\x01\x01\x02\x00te[]xx"},
		{"topic not UTF-8", transport.V2, false, "[null,null,\"t\xff\",\"e\",{}]"},
		{"event with an unpaired surrogate", transport.V2, false, `[null,null,"t","e\ud800",{}]`},
		{"broadcast event not UTF-8", transport.V2, false, "[null,null,\"t\",\"broadcast\",{\"event\":\"x\xfe\",\"payload\":{}}]"},
		{"v1 topic not UTF-8", transport.V1, false, "{\"topic\":\"t\xff\",\"event\":\"e\",\"payload\":{},\"ref\":null}"},
		{"reply status not UTF-8", transport.V2, false, "[\"1\",\"2\",\"t\",\"phx_reply\",{\"status\":\"o\xffk\",\"response\":{}}]"},
		{"reply status with an unpaired surrogate", transport.V2, false, `["1","2","t","phx_reply",{"status":"ok\udc00","response":{}}]`},
		{"binary topic not UTF-8", transport.V2, true, "\x02\x02\x01t\xffe{}"},
		{"binary broadcast event not UTF-8", transport.V2, true, "\x04\x01\x01\x00\x01t\xff{}"},
		{"deep nesting", transport.V2, false, `[null,null,"t","e",` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m transport.Message
			err := transport.Decode(tt.vsn, transport.ClientSide, tt.binary, []byte(tt.frame), &m)
			if !errors.Is(err, transport.ErrMalformed) {
				t.Fatalf("Decode(%q) = %v; want an error wrapping ErrMalformed", tt.frame, err)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		vsn    transport.Version
		side   transport.Side
		msg    transport.Message
		want   string
		binary bool
	}{
		{
			name: "v2 heartbeat",
			vsn:  transport.V2,
			msg:  transport.Message{Ref: "12", Topic: "phoenix", Event: "heartbeat"},
			want: `[null,"12","phoenix","heartbeat",{}]`,
		},
		{
			name: "v1 heartbeat",
			vsn:  transport.V1,
			msg:  transport.Message{Ref: "12", Topic: "phoenix", Event: "heartbeat"},
			want: `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"12"}`,
		},
		{
			name: "v1 join with join_ref",
			vsn:  transport.V1,
			msg:  transport.Message{JoinRef: "1", Ref: "1", Topic: "realtime:room1", Event: "phx_join", Payload: []byte(`{"config":{}}`)},
			want: `{"topic":"realtime:room1","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`,
		},
		{
			name: "v1 json broadcast push",
			vsn:  transport.V1,
			msg:  transport.Message{JoinRef: "1", Ref: "2", Topic: "realtime:r", Event: "broadcast", UserEvent: "move", Data: []byte(`{"x":1}`)},
			want: `{"topic":"realtime:r","event":"broadcast","payload":{"event":"move","payload":{"x":1},"type":"broadcast"},"ref":"2","join_ref":"1"}`,
		},
		{
			name: "server v1 output has no join_ref, sorted keys",
			vsn:  transport.V1,
			side: transport.ServerSide,
			msg:  transport.Message{JoinRef: "1", Ref: "1", Topic: "realtime:room1", Event: "phx_reply", Status: "ok", Data: []byte(`{"postgres_changes":[]}`)},
			want: `{"event":"phx_reply","payload":{"response":{"postgres_changes":[]},"status":"ok"},"ref":"1","topic":"realtime:room1"}`,
		},
		{
			name: "server v2 json broadcast with meta",
			vsn:  transport.V2,
			side: transport.ServerSide,
			msg:  transport.Message{Topic: "realtime:r", Event: "broadcast", UserEvent: "e", Meta: []byte(`{"id":"x"}`), Data: []byte(`{}`)},
			want: `[null,null,"realtime:r","broadcast",{"event":"e","meta":{"id":"x"},"payload":{},"type":"broadcast"}]`,
		},
		{
			name:   "client kind 0 push",
			vsn:    transport.V2,
			msg:    transport.Message{JoinRef: "1", Ref: "2", Topic: "t", Event: "e", Payload: []byte{1, 2}, Binary: true},
			want:   "\x00\x01\x01\x01\x01" + "12te\x01\x02",
			binary: true,
		},
		{
			name:   "server kind 0 push has no ref",
			vsn:    transport.V2,
			side:   transport.ServerSide,
			msg:    transport.Message{JoinRef: "1", Topic: "t", Event: "e", Payload: []byte{1}, Binary: true},
			want:   "\x00\x01\x01\x01" + "1te\x01",
			binary: true,
		},
		{
			name:   "server kind 1 reply",
			vsn:    transport.V2,
			side:   transport.ServerSide,
			msg:    transport.Message{JoinRef: "1", Ref: "2", Topic: "t", Event: "phx_reply", Status: "ok", Data: []byte{9}, Binary: true},
			want:   "\x01\x01\x01\x01\x02" + "12tok\x09",
			binary: true,
		},
		{
			name:   "server kind 2 broadcast",
			vsn:    transport.V2,
			side:   transport.ServerSide,
			msg:    transport.Message{Topic: "t", Event: "e", Payload: []byte{7}, Binary: true},
			want:   "\x02\x01\x01" + "te\x07",
			binary: true,
		},
		{
			name:   "client kind 3 raw bytes",
			vsn:    transport.V2,
			msg:    transport.Message{JoinRef: "1", Ref: "2", Topic: "t", Event: "broadcast", UserEvent: "e", Data: []byte{0xFF}, Raw: true, Binary: true},
			want:   "\x03\x01\x01\x01\x01\x00\x00" + "12te\xFF",
			binary: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bin, err := transport.Encode(nil, tt.vsn, tt.side, &tt.msg)
			if err != nil {
				t.Fatalf("Encode = %v", err)
			}
			if string(got) != tt.want || bin != tt.binary {
				t.Errorf("Encode = %q (binary %v); want %q (binary %v)", got, bin, tt.want, tt.binary)
			}
			// Everything encoded decodes back on the other side.
			other := transport.ServerSide
			if tt.side == transport.ServerSide {
				other = transport.ClientSide
			}
			var m transport.Message
			if err := transport.Decode(tt.vsn, other, bin, got, &m); err != nil {
				t.Errorf("Decode(Encode) = %v", err)
			}
			if m.Topic != tt.msg.Topic || m.Event != tt.msg.Event {
				t.Errorf("Decode(Encode) = %s; want topic %q event %q", &m, tt.msg.Topic, tt.msg.Event)
			}
		})
	}
}

func TestEncodeInvalidArgument(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		vsn  transport.Version
		msg  transport.Message
	}{
		{"topic over 255 bytes", transport.V2, transport.Message{Topic: "realtime:" + long, Event: "broadcast", UserEvent: "e", Data: []byte(`{}`), Binary: true}},
		{"event over 255 bytes", transport.V2, transport.Message{Topic: "t", Event: "broadcast", UserEvent: long, Data: []byte(`{}`), Binary: true}},
		{"meta over 255 bytes", transport.V2, transport.Message{Topic: "t", Event: "broadcast", UserEvent: "e", Meta: []byte(`{"a":"` + long + `"}`), Binary: true}},
		{"ref over 255 bytes", transport.V2, transport.Message{Ref: long, Topic: "t", Event: "x", Binary: true}},
		{"multi-byte topic over 255 bytes", transport.V2, transport.Message{Topic: strings.Repeat("é", 128), Event: "broadcast", UserEvent: "e", Binary: true}},
		{"binary on v1", transport.V1, transport.Message{Topic: "t", Event: "broadcast", UserEvent: "e", Binary: true}},
		{"raw bytes in a text frame", transport.V2, transport.Message{Topic: "t", Event: "broadcast", UserEvent: "e", Data: []byte{1}, Raw: true}},
		{"payload not json", transport.V2, transport.Message{Topic: "t", Event: "e", Payload: []byte(`{`)}},
		{"broadcast data not json", transport.V2, transport.Message{Topic: "t", Event: "broadcast", UserEvent: "e", Data: []byte(`nope`), Binary: true}},
		{"meta not an object", transport.V2, transport.Message{Topic: "t", Event: "broadcast", UserEvent: "e", Meta: []byte(`[]`), Binary: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := transport.Encode([]byte("keep"), tt.vsn, transport.ClientSide, &tt.msg)
			if !errors.Is(err, transport.ErrInvalidArgument) {
				t.Fatalf("Encode = %v; want an error wrapping ErrInvalidArgument", err)
			}
			if string(got) != "keep" {
				t.Errorf("Encode wrote %q on error; want dst unchanged", got)
			}
		})
	}
	// Exactly 255 bytes is fine.
	ok := transport.Message{Topic: strings.Repeat("t", 255), Event: "broadcast", UserEvent: "e", Data: []byte(`{}`), Binary: true}
	if _, _, err := transport.Encode(nil, transport.V2, transport.ClientSide, &ok); err != nil {
		t.Errorf("Encode(255-byte topic) = %v; want nil", err)
	}
}

func TestAppendQuote(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\x00\x1f", "é ✓ \u2028", "bad \xff utf8"} {
		got := string(transport.AppendQuote(nil, s))
		back, err := transport.UnquoteString([]byte(got))
		if err != nil {
			t.Errorf("UnquoteString(AppendQuote(%q)) = %v", s, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("round trip of %q = %q; want %q", s, back, want)
		}
	}
}

func TestParseIntList(t *testing.T) {
	got, err := transport.ParseIntList([]byte(` [31186290, "96213457" ,-1] `), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{31186290, 96213457, -1}, got); diff != "" {
		t.Errorf("ParseIntList mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`[1.5]`, `[1,]`, `{}`, `[1`, `["x"]`} {
		if _, err := transport.ParseIntList([]byte(bad), nil); err == nil {
			t.Errorf("ParseIntList(%s) = nil error; want an error", bad)
		}
	}
}

// A name that holds U+FFFD itself, as the character or its escape, is valid: only a
// replacement made in decoding is refused.
func TestDecodeLiteralReplacementCharacter(t *testing.T) {
	for _, frame := range []string{`[null,null,"t\uFFFD","e",{}]`, "[null,null,\"t\uFFFD\",\"e\",{}]", `[null,null,"t\ud83d\ude00","e",{}]`} {
		var m transport.Message
		if err := transport.Decode(transport.V2, transport.ClientSide, false, []byte(frame), &m); err != nil {
			t.Errorf("Decode(%q) = %v", frame, err)
		}
	}
}

// TestDecoderRefusesBadNamesEveryTime checks that a decoder, which caches the names it has
// seen, refuses a binary frame's name that is not UTF-8 each time it comes, and still takes
// the same name once it is valid.
func TestDecoderRefusesBadNamesEveryTime(t *testing.T) {
	d := transport.Decoder{Version: transport.V2, Side: transport.ClientSide}
	var m transport.Message
	for _, frame := range []string{"\x04\x01\x01\x00\x01t\xff{}", "\x04\x01\x01\x00\x01t\xff{}", "\x02\x02\x01t\xffe{}", "\x02\x02\x01t\xffe{}"} {
		if err := d.Decode(true, []byte(frame), &m); !errors.Is(err, transport.ErrMalformed) {
			t.Errorf("Decode(%q) = %v; want an error wrapping ErrMalformed", frame, err)
		}
	}
	if err := d.Decode(true, []byte("\x04\x01\x02\x00\x01t\xc3\xa9{}"), &m); err != nil || m.UserEvent != "é" {
		t.Errorf("Decode of a valid name = %q, %v", m.UserEvent, err)
	}
}
