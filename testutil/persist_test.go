package testutil_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
)

// ackID returns the id of the reply to a broadcast with ack, or "" for {"response":{}}.
func ackID(t *testing.T, reply string) string {
	t.Helper()
	var p struct {
		Response map[string]string `json:"response"`
		Status   string            `json:"status"`
	}
	if err := json.Unmarshal(decode(t, reply).Payload, &p); err != nil || p.Status != "ok" {
		t.Fatalf("not an ok reply: %s", reply)
	}
	if len(p.Response) > 1 {
		t.Errorf("reply %s: want at most an id", reply)
	}
	return p.Response["id"]
}

func TestBroadcastPersistence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithBroadcastPersistence())
		c := dial(t, srv, transport.V2)
		c.join("room", "1", `{"broadcast":{"ack":true},"private":true}`)
		c.join("pub", "2", `{"broadcast":{"ack":true}}`)
		c.push("1", "3", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"n":1}}`)
		id := ackID(t, c.next())
		if !uuidRE.MatchString(id) {
			t.Fatalf("ack id %q; want a UUID", id)
		}
		c.push("2", "4", "pub", "broadcast", `{"type":"broadcast","event":"e","payload":{"n":2}}`)
		if got, want := c.next(), okReply("2", "4", "pub"); got != want {
			t.Errorf("ack on a public channel = %s; want %s", got, want)
		}
		// The message is stored under that id: a replay carries it.
		r := dial(t, srv, transport.V2)
		r.send(`["1","1","realtime:room","phx_join",{"config":{"private":true,"broadcast":{"replay":{"since":0}}}}]`)
		r.reply("room", "1")
		want := `["1",null,"realtime:room","broadcast",{"event":"e","meta":{"id":"` + id + `","replayed":true},"payload":{"n":1},"type":"broadcast"}]`
		if got := r.next(); got != want {
			t.Errorf("replay = %s; want %s", got, want)
		}
		r.none()

		// Off: the reply is empty again.
		srv.SetBroadcastPersistence(false)
		c.push("1", "5", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"n":3}}`)
		if got, want := c.next(), okReply("1", "5", "room"); got != want {
			t.Errorf("ack without persistence = %s; want %s", got, want)
		}
	})
}

// A denied private write is still dropped without any reply, and an oversized one gets the
// size error; neither is stored.
func TestBroadcastPersistenceRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret), testutil.WithBroadcastPersistence())
		var pol subPolicy
		srv.SetPrivatePolicy(pol.policy)
		reader := dialAuth(t, srv, userToken(time.Hour, "sub", "reader"), nil)
		reader.joinWithPayload("room", "1", privateJoin(userToken(time.Hour, "sub", "reader")))
		reader.rest()
		reader.push("1", "2", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{}}`)
		reader.none()
		srv.SetMaxPayload(10)
		writer := dialAuth(t, srv, userToken(time.Hour, "sub", "writer"), nil)
		writer.joinWithPayload("room", "1", privateJoin(userToken(time.Hour, "sub", "writer")))
		writer.rest()
		writer.push("1", "2", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"big":"xxxxxxxxxxxxxxxx"}}`)
		if got, want := writer.next(), `["1","2","realtime:room","phx_reply",{"response":"payload_size_exceeded","status":"error"}]`; got != want {
			t.Errorf("oversized = %s; want %s", got, want)
		}
		srv.SetMaxPayload(0)
		r := dialAuth(t, srv, userToken(time.Hour, "sub", "reader"), nil)
		r.joinWithPayload("room", "1", `{"config":{"private":true,"broadcast":{"replay":{"since":0}}},"access_token":"`+userToken(time.Hour, "sub", "reader")+`"}`)
		r.none()
	})
}

func TestRESTPersist(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithBroadcastPersistence())
		h := http.Header{"Apikey": {testKey}, "Content-Type": {"application/json"}}
		base := srv.HTTPURL() + "/api/broadcast/room/events/e"
		if status, body := httpPost(t, srv, base+"?persist=true", h, `{"n":1}`); status != http.StatusUnprocessableEntity ||
			body != `{"message":"Persistence is only supported for private channels"}` {
			t.Errorf("persist on a public channel = %d %s; want 422", status, body)
		}
		if status, body := httpPost(t, srv, base+"?persist=true&private=true", h, `{"n":2}`); status != http.StatusAccepted {
			t.Errorf("persist on a private channel = %d %s; want 202", status, body)
		}
		r := dial(t, srv, transport.V2)
		r.send(`["1","1","realtime:room","phx_join",{"config":{"private":true,"broadcast":{"replay":{"since":0}}}}]`)
		r.reply("room", "1")
		if got := r.rest(); len(got) != 1 || !strings.Contains(got[0], `"replayed":true`) {
			t.Errorf("replay = %q; want the one private message", got)
		}
	})
}
