package testutil_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// subPolicy is a private-channel policy on the sub claim: "reader" and "writer" read every
// topic but "forbidden"; only "writer" writes. It counts its calls.
type subPolicy struct{ calls atomic.Int32 }

func (p *subPolicy) policy(topic string, claims map[string]any) (read, write bool) {
	p.calls.Add(1)
	sub, _ := claims["sub"].(string)
	read = (sub == "reader" || sub == "writer") && topic != "forbidden"
	return read, sub == "writer"
}

// privateJoin is a join payload of a private channel with ack and self, presence enabled and
// the given access token.
func privateJoin(token string) string {
	return fmt.Sprintf(`{"config":{"broadcast":{"ack":true,"self":true},"presence":{"key":"k","enabled":false},"postgres_changes":[],"private":true},"access_token":%q}`, token)
}

func TestPrivatePolicyJoinAndWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		var pol subPolicy
		srv.SetPrivatePolicy(pol.policy)
		reader, writer := userToken(time.Hour, "sub", "reader"), userToken(time.Hour, "sub", "writer")
		r := dialAuth(t, srv, reader, nil)
		w := dialAuth(t, srv, writer, nil)

		for _, tt := range []struct{ topic, payload, want string }{
			{"forbidden", privateJoin(reader), joinErrorReply("1", "1", "forbidden", "Unauthorized: You do not have permissions to read from this Channel topic: forbidden")},
			{"room", privateJoin(userToken(time.Hour, "sub", "nobody")), joinErrorReply("1", "1", "room", "Unauthorized: You do not have permissions to read from this Channel topic: room")},
			{"forbidden", `{"config":{"private":false}}`, joinReply("1", "forbidden")}, // public channels are not checked
			{"room", privateJoin(reader), joinReply("1", "room")},
		} {
			if got := r.joinWithPayload(tt.topic, "1", tt.payload); got != tt.want {
				t.Errorf("join of %s = %s; want %s", tt.topic, got, tt.want)
			}
		}
		if got, want := w.joinWithPayload("room", "7", privateJoin(writer)), joinReply("7", "room"); got != want {
			t.Errorf("writer's join = %s; want %s", got, want)
		}

		// A broadcast without write is dropped: no reply even with ack, no delivery, not even
		// to the sender with self.
		calls := pol.calls.Load()
		r.push("1", "2", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"from":"reader"}}`)
		r.push("1", "3", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"from":"reader"}}`)
		r.none()
		w.none()
		if n := pol.calls.Load() - calls; n != 1 {
			t.Errorf("policy called %d times for two broadcasts; want 1 (write is cached)", n)
		}
		// The writer's broadcasts go through.
		w.push("7", "8", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"from":"writer"}}`)
		msg := `[null,null,"realtime:room","broadcast",{"type":"broadcast","event":"e","payload":{"from":"writer"}}]`
		if diff := cmp.Diff([]string{msg, okReply("7", "8", "room")}, w.rest()); diff != "" {
			t.Errorf("writer (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{msg}, r.rest()); diff != "" {
			t.Errorf("reader (-want +got):\n%s", diff)
		}

		// Presence without write: an empty error reply.
		track(r.wsClient, "1", "4", "room", `{"user":"reader"}`)
		if diff := cmp.Diff([]string{`["1","4","realtime:room","phx_reply",{"response":{},"status":"error"}]`}, r.rest()); diff != "" {
			t.Errorf("reader's track (-want +got):\n%s", diff)
		}
		r.push("1", "5", "room", "presence", `{"type":"presence","event":"untrack"}`)
		if diff := cmp.Diff([]string{`["1","5","realtime:room","phx_reply",{"response":{},"status":"error"}]`}, r.rest()); diff != "" {
			t.Errorf("reader's untrack (-want +got):\n%s", diff)
		}
		track(w.wsClient, "7", "9", "room", `{"user":"writer"}`)
		if frames := w.rest(); len(frames) != 2 || frames[1] != okReply("7", "9", "room") {
			t.Errorf("writer's track: %q; want a presence_diff and an ok reply", frames)
		}
		r.rest()

		// A new token is a new write decision.
		r.push("1", "10", "room", "access_token", fmt.Sprintf(`{"access_token":%q}`, userToken(2*time.Hour, "sub", "writer")))
		r.none()
		r.push("1", "11", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{"from":"promoted"}}`)
		if frames := r.rest(); len(frames) != 2 || frames[1] != okReply("1", "11", "room") {
			t.Errorf("after a writer token: %q; want the echo and an ok reply", frames)
		}
		w.rest()

		// A token that loses read shuts the channel.
		r.push("1", "12", "room", "access_token", fmt.Sprintf(`{"access_token":%q}`, userToken(2*time.Hour, "sub", "nobody")))
		if diff := cmp.Diff(shutFrames("1", "room", "You no longer have permission to read from this Channel topic: room"), r.rest()); diff != "" {
			t.Errorf("after losing read (-want +got):\n%s", diff)
		}
		r.open()
	})
}

func TestPrivatePolicyWithoutSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		var got map[string]any
		srv.SetPrivatePolicy(func(topic string, claims map[string]any) (bool, bool) {
			got = claims
			return true, false
		})
		c := dialAuth(t, srv, testKey, nil)
		// The claims are decoded, not verified.
		c.joinWithPayload("room", "1", privateJoin(testutil.SignJWT("whatever", map[string]any{"sub": "alice"})))
		if diff := cmp.Diff(map[string]any{"sub": "alice"}, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		c.joinWithPayload("opaque", "2", privateJoin("not-a-jwt"))
		if got != nil {
			t.Errorf("claims of an opaque token = %v; want nil", got)
		}
		c.push("1", "3", "room", "broadcast", `{"type":"broadcast","event":"e","payload":{}}`)
		c.none()
	})
}

func TestPrivatePolicyREST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		var pol subPolicy
		srv.SetPrivatePolicy(pol.policy)
		reader, writer := userToken(time.Hour, "sub", "reader"), userToken(time.Hour, "sub", "writer")
		pub := dialAuth(t, srv, reader, nil)
		priv := dialAuth(t, srv, reader, nil)
		pub.join("room", "1", `{}`)
		priv.joinWithPayload("room", "2", privateJoin(reader))
		priv.rest()

		batch := `{"messages":[{"topic":"room","event":"a","payload":{"n":1},"private":true},{"topic":"room","event":"b","payload":{"n":2}}]}`
		bearer := func(tok string) http.Header {
			return http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
		}
		if status, body := httpPost(t, srv, srv.HTTPURL()+"/api/broadcast", bearer(reader), batch); status != http.StatusAccepted {
			t.Errorf("batch as reader = %d %s; want 202", status, body)
		}
		if diff := cmp.Diff([]string{`[null,null,"realtime:room","broadcast",{"event":"b","payload":{"n":2},"type":"broadcast"}]`}, pub.rest()); diff != "" {
			t.Errorf("public subscriber (-want +got):\n%s", diff)
		}
		priv.none() // the private message was skipped
		if status, body := httpPost(t, srv, srv.HTTPURL()+"/api/broadcast", bearer(writer), batch); status != http.StatusAccepted {
			t.Errorf("batch as writer = %d %s; want 202", status, body)
		}
		if diff := cmp.Diff([]string{`[null,null,"realtime:room","broadcast",{"event":"a","payload":{"n":1},"type":"broadcast"}]`}, priv.rest()); diff != "" {
			t.Errorf("private subscriber (-want +got):\n%s", diff)
		}
		pub.rest()

		single := srv.HTTPURL() + "/api/broadcast/room/events/s?private=true"
		if status, body := httpPost(t, srv, single, bearer(reader), `{"n":3}`); status != http.StatusForbidden || body != `{"message":"Unauthorized"}` {
			t.Errorf("single as reader = %d %s; want 403 {\"message\":\"Unauthorized\"}", status, body)
		}
		priv.none()
		if status, body := httpPost(t, srv, single, bearer(writer), `{"n":3}`); status != http.StatusAccepted {
			t.Errorf("single as writer = %d %s; want 202", status, body)
		}
		var m transport.Message
		frames := priv.rest()
		if len(frames) != 1 || transport.Decode(transport.V2, transport.ClientSide, true, []byte(frames[0]), &m) != nil || m.UserEvent != "s" || string(m.Data) != `{"n":3}` {
			t.Errorf("private subscriber after the single endpoint: %q; want one kind 4 broadcast s {\"n\":3}", frames)
		}
		pub.none()
	})
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestReplayErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t, testutil.WithJWTSecret(jwtSecret))
		c := dialAuth(t, srv, userToken(time.Hour, "sub", "reader"), nil)
		const invalid = "UnableToReplayMessages: Replay params are not valid"
		tests := []struct {
			name, config, reason string
		}{
			{"public", `{"broadcast":{"replay":{"since":0,"limit":5}}}`, "UnableToReplayMessages: Replay is not allowed for public channels"},
			{"public with bad params", `{"broadcast":{"replay":{"since":"x"}}}`, "UnableToReplayMessages: Replay is not allowed for public channels"},
			{"since missing", `{"private":true,"broadcast":{"replay":{"limit":5}}}`, invalid},
			{"since a string", `{"private":true,"broadcast":{"replay":{"since":"1760000000000"}}}`, invalid},
			{"since a float", `{"private":true,"broadcast":{"replay":{"since":1.5}}}`, invalid},
			{"since null", `{"private":true,"broadcast":{"replay":{"since":null}}}`, invalid},
			{"limit a string", `{"private":true,"broadcast":{"replay":{"since":0,"limit":"5"}}}`, invalid},
			{"not an object", `{"private":true,"broadcast":{"replay":5}}`, invalid},
			{"valid", `{"private":true,"broadcast":{"replay":{"since":0,"limit":5}}}`, ""},
			{"limit null", `{"private":true,"broadcast":{"replay":{"since":0,"limit":null}}}`, ""},
			{"limit out of range", `{"private":true,"broadcast":{"replay":{"since":0,"limit":1000}}}`, ""},
			{"replay null", `{"broadcast":{"replay":null}}`, ""},
		}
		for i, tt := range tests {
			topic, ref := fmt.Sprintf("r%d", i), fmt.Sprint(i+1)
			want := joinReply(ref, topic)
			if tt.reason != "" {
				want = joinErrorReply(ref, ref, topic, tt.reason)
			}
			if got := c.join(topic, ref, tt.config); got != want {
				t.Errorf("%s: join = %s; want %s", tt.name, got, want)
			}
		}
		// Replay needs read.
		var pol subPolicy
		srv.SetPrivatePolicy(pol.policy)
		if got, want := c.join("forbidden", "50", `{"private":true,"broadcast":{"replay":{"since":0}}}`),
			joinErrorReply("50", "50", "forbidden", "Unauthorized: You do not have permissions to read from this Channel topic: forbidden"); got != want {
			t.Errorf("replay without read: join = %s; want %s", got, want)
		}
		c.none()
	})
}

func TestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		w := dialAuth(t, srv, testKey, nil)
		w.join("room", "1", `{"private":true}`)
		w.join("room2", "2", `{"private":true}`)
		w.join("pub", "3", `{}`)
		start := time.Now()
		for i := 1; i <= 3; i++ {
			w.push("1", fmt.Sprint(10+i), "room", "broadcast", fmt.Sprintf(`{"type":"broadcast","event":"e%d","payload":{"n":%d}}`, i, i))
			w.push("3", fmt.Sprint(20+i), "pub", "broadcast", `{"type":"broadcast","event":"public","payload":{}}`)
			time.Sleep(time.Second)
		}
		// A binary kind 3 push, and a REST message with an id.
		data, _, err := transport.Encode(nil, transport.V2, transport.ClientSide, &transport.Message{JoinRef: "1", Ref: "30", Topic: "realtime:room", Event: "broadcast", UserEvent: "bin", Data: []byte{1, 2}, Raw: true, Binary: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if status, body := httpPost(t, srv, srv.HTTPURL()+"/api/broadcast", http.Header{"Apikey": {testKey}},
			`{"messages":[{"topic":"room","event":"rest","payload":{"n":4},"private":true,"id":"0b4a5d3c-0000-4000-8000-000000000001"}]}`); status != 202 {
			t.Fatalf("POST = %d %s", status, body)
		}
		w.push("2", "40", "room2", "broadcast", `{"type":"broadcast","event":"other","payload":{}}`)
		w.rest()

		type replayed struct {
			event, data string
			binary      bool
		}
		check := func(name string, c *authClient, joinRef string, vsn transport.Version, want []replayed) {
			t.Helper()
			frames := c.rest()
			if len(frames) != len(want) {
				t.Fatalf("%s: %d frames %q; want %d replays", name, len(frames), frames, len(want))
			}
			for i, f := range frames {
				var m transport.Message
				binary := !strings.HasPrefix(f, "[") && !strings.HasPrefix(f, "{")
				if err := transport.Decode(vsn, transport.ClientSide, binary, []byte(f), &m); err != nil {
					t.Fatalf("%s: frame %q: %v", name, f, err)
				}
				var meta struct {
					ID       string `json:"id"`
					Replayed bool   `json:"replayed"`
				}
				if err := json.Unmarshal(m.Meta, &meta); err != nil || !meta.Replayed || !uuidRE.MatchString(meta.ID) {
					t.Errorf("%s: frame %q: meta %s; want {\"id\":<uuid>,\"replayed\":true}", name, f, m.Meta)
				}
				if !binary && vsn == transport.V2 && m.JoinRef != joinRef {
					t.Errorf("%s: frame %q: join_ref %q; want %q", name, f, m.JoinRef, joinRef)
				}
				got := replayed{m.UserEvent, string(m.Data), binary}
				if got != want[i] {
					t.Errorf("%s: replay %d = %+v; want %+v", name, i, got, want[i])
				}
			}
		}

		r := dialAuth(t, srv, testKey, nil)
		since := start.Add(time.Second).UnixMilli()
		r.join("room", "5", fmt.Sprintf(`{"private":true,"broadcast":{"replay":{"since":%d,"limit":25}}}`, since))
		check("since the second", r, "5", transport.V2, []replayed{
			{"e2", `{"n":2}`, false}, {"e3", `{"n":3}`, false}, {"bin", "\x01\x02", true}, {"rest", `{"n":4}`, false},
		})
		r.join("room", "6", fmt.Sprintf(`{"private":true,"broadcast":{"replay":{"since":%d,"limit":2}}}`, start.UnixMilli()))
		r.rest() // the phx_close of the duplicate join's old channel comes first
		r.join("room", "7", fmt.Sprintf(`{"private":true,"broadcast":{"replay":{"since":%d,"limit":0}}}`, start.UnixMilli()))
		frames := r.rest()
		if len(frames) != 2 || frames[0] != phxCloseFrame("6", "room") || !strings.Contains(frames[1], `"event":"rest"`) {
			t.Errorf("limit 0 (clamped to 1): %q; want the old join's phx_close and the newest message", frames)
		}
		r.join("room", "8", fmt.Sprintf(`{"private":true,"broadcast":{"replay":{"since":%d}}}`, time.Now().Add(time.Second).UnixMilli()))
		if diff := cmp.Diff([]string{phxCloseFrame("7", "room")}, r.rest()); diff != "" {
			t.Errorf("since the future (-want +got):\n%s", diff)
		}
		// A version 1.0.0 socket gets JSON, and no raw bytes: of the newest three, e3, bin and
		// rest, bin is left out.
		v1 := dial(t, srv, transport.V1)
		v1.send(fmt.Sprintf(`{"topic":"realtime:room","event":"phx_join","payload":{"config":{"private":true,"broadcast":{"replay":{"since":%d,"limit":3}}}},"ref":"9","join_ref":"9"}`, since))
		v1.next() // the reply
		check("version 1.0.0", &authClient{wsClient: v1}, "", transport.V1, []replayed{{"e3", `{"n":3}`, false}, {"rest", `{"n":4}`, false}})
		// The REST message keeps its id.
		r2 := dialAuth(t, srv, testKey, nil)
		r2.join("room", "1", fmt.Sprintf(`{"private":true,"broadcast":{"replay":{"since":%d,"limit":1}}}`, since))
		if f := r2.next(); !strings.Contains(f, `"meta":{"id":"0b4a5d3c-0000-4000-8000-000000000001","replayed":true}`) {
			t.Errorf("REST replay = %s; want its id in meta", f)
		}
	})
}
