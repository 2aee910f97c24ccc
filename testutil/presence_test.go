package testutil_test

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
)

// diffMeta returns the only meta under key on one side ("joins" or "leaves") of the
// presence_diff frame f, and checks its phx_ref has the server's form.
func diffMeta(t *testing.T, f, side, key string) presence.Meta {
	t.Helper()
	fr := decode(t, f)
	if fr.Event != "presence_diff" {
		t.Fatalf("got %s; want a presence_diff", f)
	}
	d, err := presence.ParseDiff(fr.Payload)
	if err != nil {
		t.Fatalf("ParseDiff(%s): %v", fr.Payload, err)
	}
	metas := d.Joins[key]
	if side == "leaves" {
		metas = d.Leaves[key]
	}
	if len(metas) != 1 {
		t.Fatalf("%s of %s: %d metas under %q; want 1", side, f, len(metas), key)
	}
	checkRef(t, metas[0].Ref)
	return metas[0]
}

// checkRef fails unless ref is base64 of 8 bytes, 12 characters, like Phoenix's refs.
func checkRef(t *testing.T, ref string) {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(ref)
	if len(ref) != 12 || err != nil || len(b) != 8 {
		t.Errorf("phx_ref %q is not base64 of 8 bytes", ref)
	}
}

// track sends a presence track push with the given payload JSON.
func track(c *wsClient, joinRef, ref, topic, payload string) {
	c.push(joinRef, ref, topic, "presence", `{"type":"presence","event":"track","payload":`+payload+`}`)
}

func TestPresenceStateOnJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		alice := dial(t, srv, transport.V2)
		if got, want := alice.join("lobby", "1", presenceConfig("alice", true)), joinReply("1", "lobby"); got != want {
			t.Fatalf("join reply = %s; want %s", got, want)
		}
		if diff := cmp.Diff([]string{`["1",null,"realtime:lobby","presence_state",{}]`}, alice.rest()); diff != "" {
			t.Errorf("after the join with nobody present (-want +got):\n%s", diff)
		}

		track(alice, "1", "2", "lobby", `{"user":"alice","online_at":"2026-08-21T10:00:00Z"}`)
		frames := alice.rest()
		if len(frames) != 2 {
			t.Fatalf("after track: %q; want a diff and a reply", frames)
		}
		ref := diffMeta(t, frames[0], "joins", "alice").Ref
		want := []string{
			fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{"alice":{"metas":[{"phx_ref":%q,"online_at":"2026-08-21T10:00:00Z","user":"alice"}]}},"leaves":{}}]`, ref),
			okReply("1", "2", "lobby"),
		}
		if diff := cmp.Diff(want, frames); diff != "" {
			t.Errorf("after track (-want +got):\n%s", diff)
		}

		bob := dial(t, srv, transport.V2)
		if got, want := bob.join("lobby", "7", presenceConfig("bob", true)), joinReply("7", "lobby"); got != want {
			t.Fatalf("join reply = %s; want %s", got, want)
		}
		wantState := fmt.Sprintf(`["7",null,"realtime:lobby","presence_state",{"alice":{"metas":[{"phx_ref":%q,"online_at":"2026-08-21T10:00:00Z","user":"alice"}]}}]`, ref)
		if diff := cmp.Diff([]string{wantState}, bob.rest()); diff != "" {
			t.Errorf("presence_state of a later join (-want +got):\n%s", diff)
		}

		// Presence disabled: the reply and nothing else.
		carol := dial(t, srv, transport.V2)
		if got, want := carol.join("lobby", "1", presenceConfig("", false)), joinReply("1", "lobby"); got != want {
			t.Fatalf("join reply = %s; want %s", got, want)
		}
		carol.none()
		alice.none()
	})
}

func TestPresenceUpdateAndUntrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		srv.SetPresenceRateLimit(0, 0)
		a := dial(t, srv, transport.V2)
		a.join("lobby", "1", presenceConfig("bob", true))
		// Joined with presence disabled: it still gets every diff of the public stream.
		b := dial(t, srv, transport.V2)
		b.join("lobby", "1", presenceConfig("", false))
		a.rest()

		track(a, "1", "2", "lobby", `{"status":"online"}`)
		frames := a.rest()
		r1 := diffMeta(t, frames[0], "joins", "bob").Ref
		joined := fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{"bob":{"metas":[{"phx_ref":%q,"status":"online"}]}},"leaves":{}}]`, r1)
		if diff := cmp.Diff([]string{joined, okReply("1", "2", "lobby")}, frames); diff != "" {
			t.Errorf("track (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{joined}, b.rest()); diff != "" {
			t.Errorf("track seen by a presence-disabled channel (-want +got):\n%s", diff)
		}

		// The same payload again, written differently: ok and no diff.
		track(a, "1", "3", "lobby", ` { "status" : "online" } `)
		if diff := cmp.Diff([]string{okReply("1", "3", "lobby")}, a.rest()); diff != "" {
			t.Errorf("same payload (-want +got):\n%s", diff)
		}
		b.none()

		// A changed payload: one diff, the leave of the old meta and the join of the new one.
		track(a, "1", "4", "lobby", `{"status":"away"}`)
		frames = a.rest()
		r2 := diffMeta(t, frames[0], "joins", "bob").Ref
		if r2 == r1 {
			t.Errorf("an update kept phx_ref %q", r1)
		}
		updated := fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{"bob":{"metas":[{"phx_ref":%q,"phx_ref_prev":%q,"status":"away"}]}},"leaves":{"bob":{"metas":[{"phx_ref":%q,"status":"online"}]}}}]`, r2, r1, r1)
		if diff := cmp.Diff([]string{updated, okReply("1", "4", "lobby")}, frames); diff != "" {
			t.Errorf("update (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{updated}, b.rest()); diff != "" {
			t.Errorf("update seen by the other channel (-want +got):\n%s", diff)
		}
		wantMeta := presence.Meta{Ref: r2, PrevRef: r1, Raw: []byte(fmt.Sprintf(`{"phx_ref":%q,"phx_ref_prev":%q,"status":"away"}`, r2, r1))}
		if diff := cmp.Diff(map[string][]presence.Meta{"bob": {wantMeta}}, srv.Presence("lobby", false)); diff != "" {
			t.Errorf("Presence (-want +got):\n%s", diff)
		}

		// Untrack (the server lowercases the event): the leave of the current meta.
		a.push("1", "5", "lobby", "presence", `{"type":"presence","event":"UNTRACK"}`)
		left := fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{},"leaves":{"bob":{"metas":[{"phx_ref":%q,"phx_ref_prev":%q,"status":"away"}]}}}]`, r2, r1)
		if diff := cmp.Diff([]string{left, okReply("1", "5", "lobby")}, a.rest()); diff != "" {
			t.Errorf("untrack (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{left}, b.rest()); diff != "" {
			t.Errorf("untrack seen by the other channel (-want +got):\n%s", diff)
		}
		if got := srv.Presence("realtime:lobby", false); len(got) != 0 {
			t.Errorf("Presence after untrack = %v; want empty", got)
		}

		// Untrack of nothing: ok, no diff. Tracking the last payload again is a new join.
		a.push("1", "6", "lobby", "presence", `{"type":"presence","event":"untrack"}`)
		if diff := cmp.Diff([]string{okReply("1", "6", "lobby")}, a.rest()); diff != "" {
			t.Errorf("second untrack (-want +got):\n%s", diff)
		}
		b.none()
		track(a, "1", "7", "lobby", `{"status":"away"}`)
		frames = a.rest()
		r3 := diffMeta(t, frames[0], "joins", "bob").Ref
		rejoined := fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{"bob":{"metas":[{"phx_ref":%q,"status":"away"}]}},"leaves":{}}]`, r3)
		if diff := cmp.Diff([]string{rejoined, okReply("1", "7", "lobby")}, frames); diff != "" {
			t.Errorf("track after untrack (-want +got):\n%s", diff)
		}
	})
}

func TestPresenceReplies(t *testing.T) {
	tests := []struct {
		name    string
		payload string // of the presence push
		want    string // the reply, with join_ref "1" and ref "2"
	}{
		{"string payload", `{"type":"presence","event":"track","payload":"x"}`,
			`["1","2","realtime:lobby","phx_reply",{"response":{"reason":"Presence track payload must be a map"},"status":"error"}]`},
		{"array payload", `{"type":"presence","event":"track","payload":[1]}`,
			`["1","2","realtime:lobby","phx_reply",{"response":{"reason":"Presence track payload must be a map"},"status":"error"}]`},
		{"null payload", `{"type":"presence","event":"track","payload":null}`,
			`["1","2","realtime:lobby","phx_reply",{"response":{"reason":"Presence track payload must be a map"},"status":"error"}]`},
		{"unknown event", `{"type":"presence","event":"update","payload":{"a":1}}`,
			`["1","2","realtime:lobby","phx_reply",{"response":{},"status":"error"}]`},
		{"no event", `{"type":"presence","payload":{"a":1}}`, okReply("1", "2", "lobby")},
		{"untrack with nothing tracked", `{"type":"presence","event":"untrack"}`, okReply("1", "2", "lobby")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				a := dial(t, srv, transport.V2)
				a.join("lobby", "1", presenceConfig("k", true))
				other := dial(t, srv, transport.V2)
				other.join("lobby", "1", presenceConfig("", false))
				a.rest()
				a.push("1", "2", "lobby", "presence", tt.payload)
				if diff := cmp.Diff([]string{tt.want}, a.rest()); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
				other.none()
				if got := srv.Presence("lobby", false); len(got) != 0 {
					t.Errorf("Presence = %v; want empty", got)
				}
			})
		})
	}

	t.Run("track without payload", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			a := dial(t, srv, transport.V2)
			a.join("lobby", "1", presenceConfig("k", false))
			a.push("1", "2", "lobby", "presence", `{"type":"presence","event":"track"}`)
			frames := a.rest()
			ref := diffMeta(t, frames[0], "joins", "k").Ref
			want := []string{
				fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{"k":{"metas":[{"phx_ref":%q}]}},"leaves":{}}]`, ref),
				okReply("1", "2", "lobby"),
			}
			if diff := cmp.Diff(want, frames); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})

	t.Run("event not a string", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := testutil.NewServer(t)
			a := dial(t, srv, transport.V2)
			a.join("lobby", "1", presenceConfig("k", false))
			// The server's String.downcase raises: the channel crashes.
			a.push("1", "2", "lobby", "presence", `{"type":"presence","event":7}`)
			if diff := cmp.Diff([]string{`["1","1","realtime:lobby","phx_error",{}]`}, a.rest()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got := srv.Conns()[0].Topics(); len(got) != 0 {
				t.Errorf("Topics after the crash = %q; want none", got)
			}
		})
	})
}

func TestPresenceLeavesWhenChannelEnds(t *testing.T) {
	tests := []struct {
		name    string
		end     func(a *wsClient)
		wantOwn []string // what a gets
	}{
		{"leave", func(a *wsClient) { a.push("1", "3", "lobby", "phx_leave", `{}`) },
			[]string{okReply("1", "3", "lobby"), `["1","1","realtime:lobby","phx_close",{}]`}},
		{"duplicate join", func(a *wsClient) { a.push("4", "4", "lobby", "phx_join", `{"config":{}}`) },
			[]string{`["1","1","realtime:lobby","phx_close",{}]`, joinReply("4", "lobby")}},
		{"socket loss", func(a *wsClient) { a.close() }, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := testutil.NewServer(t)
				a := dial(t, srv, transport.V2)
				a.join("lobby", "1", presenceConfig("alice", false))
				b := dial(t, srv, transport.V2)
				b.join("lobby", "1", presenceConfig("bob", true))
				b.rest()
				track(a, "1", "2", "lobby", `{"n":1}`)
				a.rest()
				frames := b.rest()
				if len(frames) != 1 {
					t.Fatalf("b got %q; want the join of alice", frames)
				}
				meta := diffMeta(t, frames[0], "joins", "alice")

				tt.end(a)
				left := fmt.Sprintf(`[null,null,"realtime:lobby","presence_diff",{"joins":{},"leaves":{"alice":{"metas":[%s]}}}]`, meta.Raw)
				if diff := cmp.Diff([]string{left}, b.rest()); diff != "" {
					t.Errorf("seen by the other channel (-want +got):\n%s", diff)
				}
				if got := a.rest(); tt.name != "socket loss" {
					if diff := cmp.Diff(tt.wantOwn, got); diff != "" {
						t.Errorf("seen by the channel that ended (-want +got):\n%s", diff)
					}
				}
				if got := srv.Presence("lobby", false); len(got) != 0 {
					t.Errorf("Presence = %v; want empty", got)
				}
			})
		})
	}
}

func TestPresenceGeneratedKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := dial(t, srv, transport.V2)
		uuidV1 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
		var keys []string
		for i, joinRef := range []string{"1", "2"} { // the second join is a duplicate join
			a.join("lobby", joinRef, `{"presence":{"key":""}}`)
			track(a, joinRef, "9", "lobby", fmt.Sprintf(`{"i":%d}`, i))
			a.rest()
			state := srv.Presence("lobby", false)
			if len(state) != 1 {
				t.Fatalf("Presence = %v; want one key", state)
			}
			for k := range state {
				if !uuidV1.MatchString(k) {
					t.Errorf("generated key %q is not a UUIDv1", k)
				}
				keys = append(keys, k)
			}
		}
		if keys[0] == keys[1] {
			t.Errorf("two joins got the same generated key %q", keys[0])
		}

		// A number is accepted as the key, stringified.
		b := dial(t, srv, transport.V2)
		b.join("room", "1", `{"presence":{"key":42,"enabled":true}}`)
		track(b, "1", "2", "room", `{}`)
		b.rest()
		if _, ok := srv.Presence("room", false)["42"]; !ok {
			t.Errorf("Presence = %v; want key 42", srv.Presence("room", false))
		}
	})
}

func TestPresenceRateLimit(t *testing.T) {
	closed := []string{
		`["1",null,"realtime:lobby","system",{"channel":"lobby","extension":"system","message":"Client presence rate limit exceeded","status":"error"}]`,
		`["1","1","realtime:lobby","phx_close",{}]`,
	}
	// setup joins a (the pusher, key "a") and an observer to lobby.
	setup := func(t *testing.T) (*testutil.Server, *wsClient, *wsClient) {
		srv := testutil.NewServer(t)
		a := dial(t, srv, transport.V2)
		a.join("lobby", "1", presenceConfig("a", false))
		obs := dial(t, srv, transport.V2)
		obs.join("lobby", "1", presenceConfig("obs", true))
		obs.rest()
		return srv, a, obs
	}
	// pushes sends n tracks with changing payloads and checks each was answered ok.
	pushes := func(t *testing.T, a *wsClient, n int) {
		t.Helper()
		for i := range n {
			ref := fmt.Sprint(100 + i)
			track(a, "1", ref, "lobby", fmt.Sprintf(`{"i":%s}`, ref))
			frames := a.rest()
			if len(frames) == 0 || frames[len(frames)-1] != okReply("1", ref, "lobby") {
				t.Fatalf("push %d: %q; want an ok reply last", i+1, frames)
			}
		}
	}

	t.Run("sixth push in 30s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, a, obs := setup(t)
			pushes(t, a, 5)
			obs.rest()
			time.Sleep(29 * time.Second)
			track(a, "1", "9", "lobby", `{"i":9}`)
			if diff := cmp.Diff(closed, a.rest()); diff != "" {
				t.Errorf("sixth push (-want +got):\n%s", diff)
			}
			frames := obs.rest()
			if len(frames) != 1 {
				t.Fatalf("observer got %q; want the leave of a", frames)
			}
			diffMeta(t, frames[0], "leaves", "a")
			if got := srv.Conns()[0].Topics(); len(got) != 0 {
				t.Errorf("Topics = %q; want none: the channel is closed", got)
			}
			// The channel is gone on the server.
			track(a, "1", "10", "lobby", `{}`)
			want := `[null,"10","realtime:lobby","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]`
			if diff := cmp.Diff([]string{want}, a.rest()); diff != "" {
				t.Errorf("push after the close (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("new window after 30s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, a, _ := setup(t)
			pushes(t, a, 5)
			time.Sleep(30*time.Second + time.Millisecond)
			pushes(t, a, 5)
			track(a, "1", "9", "lobby", `{"i":9}`)
			if diff := cmp.Diff(closed, a.rest()); diff != "" {
				t.Errorf("sixth push of the second window (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("errors count", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, a, _ := setup(t)
			for i := range 5 {
				a.push("1", fmt.Sprint(i), "lobby", "presence", `{"type":"presence","event":"update"}`)
			}
			a.rest()
			a.push("1", "9", "lobby", "presence", `{"type":"presence","event":"untrack"}`)
			if diff := cmp.Diff(closed, a.rest()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})

	t.Run("configured", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, a, _ := setup(t)
			srv.SetPresenceRateLimit(2, time.Minute)
			pushes(t, a, 2)
			time.Sleep(59 * time.Second)
			track(a, "1", "9", "lobby", `{"i":9}`)
			if diff := cmp.Diff(closed, a.rest()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})

	t.Run("disabled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv, a, _ := setup(t)
			srv.SetPresenceRateLimit(0, time.Minute)
			pushes(t, a, 20)
		})
	})
}

func TestPresenceStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		pub := dial(t, srv, transport.V2)
		pub.join("lobby", "1", presenceConfig("pub", true))
		priv := dial(t, srv, transport.V2)
		priv.join("lobby", "1", `{"presence":{"key":"priv","enabled":true},"private":true}`)
		pub.rest()
		priv.rest()

		track(priv, "1", "2", "lobby", `{"secret":true}`)
		frames := priv.rest()
		diffMeta(t, frames[0], "joins", "priv")
		pub.none()
		if got := srv.Presence("lobby", false); len(got) != 0 {
			t.Errorf("public Presence = %v; want empty", got)
		}
		if got := srv.Presence("lobby", true); len(got["priv"]) != 1 {
			t.Errorf("private Presence = %v; want priv", got)
		}

		// Two channels under one key: two metas, in track order.
		other := dial(t, srv, transport.V2)
		other.join("lobby", "1", `{"presence":{"key":"priv","enabled":true},"private":true}`)
		track(other, "1", "2", "lobby", `{"secret":false}`)
		priv.rest()
		metas := srv.Presence("lobby", true)["priv"]
		if len(metas) != 2 || string(metas[0].Raw) == string(metas[1].Raw) {
			t.Errorf("private Presence = %v; want two metas under priv", metas)
		}
	})
}

func TestPresenceV1Frames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		a := dial(t, srv, transport.V1)
		a.send(`{"topic":"realtime:lobby","event":"phx_join","payload":{"config":{"presence":{"key":"v1","enabled":true}}},"ref":"1","join_ref":"1"}`)
		a.send(`{"topic":"realtime:lobby","event":"presence","payload":{"type":"presence","event":"track","payload":{"a":1}},"ref":"2","join_ref":"1"}`)
		frames := a.rest()
		if len(frames) != 4 {
			t.Fatalf("got %q; want the join reply, presence_state, presence_diff and the track reply", frames)
		}
		d, err := presence.ParseDiff([]byte(frames[2][len(`{"event":"presence_diff","payload":`) : len(frames[2])-len(`,"ref":null,"topic":"realtime:lobby"}`)]))
		if err != nil {
			t.Fatalf("presence_diff %s: %v", frames[2], err)
		}
		ref := d.Joins["v1"][0].Ref
		want := []string{
			`{"event":"phx_reply","payload":{"response":{"postgres_changes":[]},"status":"ok"},"ref":"1","topic":"realtime:lobby"}`,
			`{"event":"presence_state","payload":{},"ref":null,"topic":"realtime:lobby"}`,
			fmt.Sprintf(`{"event":"presence_diff","payload":{"joins":{"v1":{"metas":[{"phx_ref":%q,"a":1}]}},"leaves":{}},"ref":null,"topic":"realtime:lobby"}`, ref),
			`{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"2","topic":"realtime:lobby"}`,
		}
		if diff := cmp.Diff(want, frames); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
