package transport_test

import (
	"testing"
	"unsafe"

	"github.com/go-supabase/realtime/transport"
)

// A Decoder with Known takes the strings Known returns as they are, and decodes the others as
// before.
func TestDecoderKnownStrings(t *testing.T) {
	topic := string([]byte("realtime:room"))
	asked := 0
	d := transport.Decoder{Version: transport.V2, Side: transport.ClientSide, Known: func(b []byte) (string, bool) {
		asked++
		if string(b) == topic {
			return topic, true
		}
		return "", false
	}}
	var m transport.Message
	for _, frame := range []string{
		`["1","2","realtime:room","phx_reply",{"status":"ok","response":{}}]`,
		`["1","3","realtime:room","phx_reply",{"status":"ok","response":{}}]`,
	} {
		if err := d.Decode(false, []byte(frame), &m); err != nil {
			t.Fatal(err)
		}
		if m.Topic != topic || unsafe.StringData(m.Topic) != unsafe.StringData(topic) {
			t.Errorf("topic %q is not Known's string", m.Topic)
		}
	}
	if asked == 0 {
		t.Error("Known was never asked")
	}
	if err := d.Decode(false, []byte(`["1","4","realtime:other","phx_reply",{"status":"ok","response":{}}]`), &m); err != nil {
		t.Fatal(err)
	}
	if m.Topic != "realtime:other" || m.Event != transport.EventReply || m.Status != "ok" {
		t.Errorf("decoded %q %q %q; want realtime:other phx_reply ok", m.Topic, m.Event, m.Status)
	}
}
