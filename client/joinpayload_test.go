package client

import (
	"encoding/json"
	"testing"
)

// A join payload is written as encoding/json marshals it, HTML escapes aside.
func TestJoinPayloadJSON(t *testing.T) {
	full := func() joinPayload {
		var p joinPayload
		c := &p.Config
		c.Broadcast.Ack, c.Broadcast.Self, c.Broadcast.ReplicationReady = true, true, true
		c.Broadcast.Replay = &replayConfig{Since: 1767225600000, Limit: 10}
		c.Presence.Key, c.Presence.Enabled = "user \"1\"\n\u2028é", true
		c.PostgresChanges = []json.RawMessage{json.RawMessage(`{"event":"*","schema":"public"}`), json.RawMessage(`{"event":"INSERT","schema":"s","table":"t"}`)}
		c.PostgresChangesOptions = &pgChangesOptions{Wait: true, Timeout: 10000}
		c.Private = true
		p.AccessToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
		return p
	}
	cases := map[string]func() joinPayload{
		"zero": func() joinPayload { return joinPayload{} },
		"default": func() joinPayload {
			var p joinPayload
			p.Config.PostgresChanges = []json.RawMessage{}
			p.AccessToken = "key"
			return p
		},
		"full": full,
		"replay without limit": func() joinPayload {
			p := full()
			p.Config.Broadcast.Replay.Limit = 0
			p.Config.PostgresChangesOptions = nil
			p.AccessToken = ""
			return p
		},
		"bad UTF-8": func() joinPayload {
			p := full()
			p.Config.Presence.Key = "a\xffb\x01"
			return p
		},
	}
	for name, mk := range cases {
		p := mk()
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	// HTML characters are not escaped, which changes the bytes, not the value.
	p := full()
	p.Config.Presence.Key = "<a&b>"
	got := p.appendJSON(nil)
	var a, b any
	want, _ := json.Marshal(p)
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(want, &b)
	if g, w := mustJSON(a), mustJSON(b); g != w {
		t.Errorf("HTML: got %s, want %s", g, w)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
