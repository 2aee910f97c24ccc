//go:build interop

// Package interop_test runs @supabase/realtime-js, the reference client, against testutil's
// fake server, next to clients of this SDK. When realtime-js and the fake server disagree, the
// fake server is wrong (unless docs/protocol.md, written from the real server, says
// otherwise).
//
// Run it with
//
//	cd testutil/interop && npm ci && cd ../.. && go test -race -count=1 -tags interop ./testutil/interop/
//
// It skips when node or the npm packages are missing.
package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/go-supabase/realtime/transport"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// ignoreOrigin leaves out where a Go broadcast came from (its topic and receive sequence number),
// which the comparisons with realtime-js do not concern.
var ignoreOrigin = cmpopts.IgnoreFields(client.Broadcast{}, "Topic", "Seq")

const (
	// realtimeJSVersion is the realtime-js the suite is written against (package.json pins it).
	realtimeJSVersion = "2.119.0"
	apiKey            = "interop-anon-key"
	// accessToken is the user token of the httpSend scenario. The fake server does not check
	// JWTs, so any string serves.
	accessToken = "interop-user-token"
	// bigID is 2^53+1: JavaScript numbers cannot hold it, so it travels as a string.
	bigID = "9007199254740993"

	// nodeTimeout is the hard limit of a node process; the scripts' own limit is lower.
	nodeTimeout   = 40 * time.Second
	scriptTimeout = 30 * time.Second
	// waitTimeout bounds each wait for something a node process or a Go client should see.
	waitTimeout = 15 * time.Second
)

func TestRealtimeJS(t *testing.T) {
	requireRealtimeJS(t)
	t.Run("ConnectJoin", testConnectJoin)
	t.Run("Heartbeats", testHeartbeats)
	t.Run("Reconnect", testReconnect)
	t.Run("Broadcast", testBroadcast)
	t.Run("Binary", testBinary)
	t.Run("HTTPSend", testHTTPSend)
}

// requireRealtimeJS skips the test when node or the npm packages are missing, and fails it when
// the installed realtime-js is not the pinned version.
func requireRealtimeJS(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("interop: node is not on PATH; install Node.js 20 or newer")
	}
	for _, p := range []string{"node_modules/@supabase/realtime-js/package.json", "node_modules/ws/package.json"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("interop: testutil/interop/%s is missing; run `npm ci` in testutil/interop (or `make interop`)", p)
		}
	}
	b, err := os.ReadFile("node_modules/@supabase/realtime-js/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Version != realtimeJSVersion {
		t.Fatalf("installed @supabase/realtime-js is %s; want %s (run `npm ci` in testutil/interop)", pkg.Version, realtimeJSVersion)
	}
}

// ---- scenarios ----

// testConnectJoin: realtime-js with its defaults reaches SUBSCRIBED; the server saw vsn=2.0.0
// and the API key in the upgrade query, and a phx_join with a config.
func testConnectJoin(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const topic = "realtime:interop:join"
	js := startNode(t, srv, "join.js", "--url", srv.URL(), "--key", apiKey, "--topic", "interop:join")

	var ep struct {
		URL          string `json:"url"`
		Vsn          string `json:"vsn"`
		HTTPEndpoint string `json:"http_endpoint"`
	}
	js.waitFor("the endpoint", kind("endpoint")).decode(t, &ep)
	wantEP := srv.URL() + "/websocket?apikey=" + apiKey + "&vsn=2.0.0"
	if ep.URL != wantEP || ep.Vsn != "2.0.0" {
		t.Errorf("realtime-js endpoint = %q (vsn %q); want %q (vsn 2.0.0)", ep.URL, ep.Vsn, wantEP)
	}
	if want := srv.HTTPURL() + "/api/broadcast"; ep.HTTPEndpoint != want {
		t.Errorf("realtime-js httpEndpoint = %q; want %q", ep.HTTPEndpoint, want)
	}

	var joined struct {
		Topic     string `json:"topic"`
		JoinRef   string `json:"join_ref"`
		State     string `json:"state"`
		Connected bool   `json:"connected"`
	}
	js.waitFor("SUBSCRIBED", kind("joined")).decode(t, &joined)
	if joined.Topic != topic || joined.State != "joined" || !joined.Connected {
		t.Errorf("realtime-js after SUBSCRIBED: topic %q, state %q, connected %v; want %q, joined, true", joined.Topic, joined.State, joined.Connected, topic)
	}

	conns := srv.Conns()
	if len(conns) != 1 {
		t.Fatalf("server has %d connections; want 1", len(conns))
	}
	c := conns[0]
	if got := c.Query().Get("vsn"); got != "2.0.0" {
		t.Errorf("upgrade query vsn = %q; want 2.0.0 (query %v)", got, c.Query())
	}
	if got := c.Query().Get("apikey"); got != apiKey {
		t.Errorf("upgrade query apikey = %q; want %q", got, apiKey)
	}
	if c.Version() != transport.V2 {
		t.Errorf("connection version = %q; want %q", c.Version(), transport.V2)
	}

	joins := framesOf(srv, topic, transport.EventJoin)
	if len(joins) != 1 {
		t.Fatalf("server received %d phx_join frames on %s; want 1", len(joins), topic)
	}
	join := joins[0]
	if join.Binary || !bytes.HasPrefix(join.Data, []byte(`["`)) {
		t.Errorf("phx_join frame = %q; want a V2 JSON array text frame", join.Data)
	}
	if join.JoinRef == "" || join.Ref != join.JoinRef {
		t.Errorf("phx_join join_ref %q, ref %q; want equal, non-null", join.JoinRef, join.Ref)
	}
	if joined.JoinRef != join.JoinRef || c.JoinRef(topic) != join.JoinRef {
		t.Errorf("join_ref: realtime-js %q, server channel %q; want the frame's %q", joined.JoinRef, c.JoinRef(topic), join.JoinRef)
	}
	var payload map[string]any
	if err := json.Unmarshal(join.Payload, &payload); err != nil {
		t.Fatalf("phx_join payload %q: %v", join.Payload, err)
	}
	if _, ok := payload["config"]; !ok {
		t.Fatalf("phx_join payload %s has no config key (the server would use the legacy API)", join.Payload)
	}
	wantPayload := map[string]any{"config": map[string]any{
		"broadcast":        map[string]any{"ack": false, "self": false},
		"presence":         map[string]any{"key": "", "enabled": false},
		"postgres_changes": []any{},
		"private":          false,
	}}
	if diff := cmp.Diff(wantPayload, payload); diff != "" {
		t.Errorf("phx_join payload mismatch (-want +got):\n%s", diff)
	}
	js.finish()
}

// testHeartbeats: with a 500 ms heartbeat, realtime-js sends heartbeats on "phoenix", each is
// answered ok, and the socket stays open.
func testHeartbeats(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	js := startNode(t, srv, "heartbeat.js", "--url", srv.URL(), "--key", apiKey, "--interval-ms", "500", "--duration-ms", "1750")

	var sum struct {
		Statuses  []string `json:"statuses"`
		Opens     int      `json:"opens"`
		Closes    int      `json:"closes"`
		Connected bool     `json:"connected"`
	}
	js.waitFor("the summary after 3.5 heartbeat intervals", kind("summary")).decode(t, &sum)
	if n := countOf(sum.Statuses, "ok"); n < 2 {
		t.Errorf("realtime-js heartbeat statuses %q: %d ok; want at least 2", sum.Statuses, n)
	}
	for _, bad := range []string{"timeout", "error", "disconnected"} {
		if slices.Contains(sum.Statuses, bad) {
			t.Errorf("realtime-js heartbeat statuses %q include %q", sum.Statuses, bad)
		}
	}
	if sum.Opens != 1 || sum.Closes != 0 || !sum.Connected {
		t.Errorf("realtime-js socket: %d opens, %d closes, connected %v; want 1, 0, true", sum.Opens, sum.Closes, sum.Connected)
	}
	if n := len(srv.Conns()); n != 1 {
		t.Errorf("server has %d connections; want 1", n)
	}

	hbs := framesOf(srv, transport.TopicPhoenix, transport.EventHeartbeat)
	if len(hbs) < 2 {
		t.Fatalf("server received %d heartbeats on %q; want at least 2", len(hbs), transport.TopicPhoenix)
	}
	refs := map[string]bool{}
	for _, f := range hbs {
		if f.Conn != hbs[0].Conn {
			t.Errorf("heartbeats came on connections %d and %d; want one connection", hbs[0].Conn, f.Conn)
		}
		if !bytes.HasPrefix(f.Data, []byte(`[null,"`)) || f.JoinRef != "" || f.Ref == "" || string(f.Payload) != "{}" {
			t.Errorf("heartbeat frame %q; want [null,ref,\"phoenix\",\"heartbeat\",{}]", f.Data)
		}
		if refs[f.Ref] {
			t.Errorf("heartbeat ref %q repeated", f.Ref)
		}
		refs[f.Ref] = true
	}
	js.finish()
}

// testReconnect: after the server cuts the socket, realtime-js reconnects and rejoins with a
// fresh join_ref.
func testReconnect(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const topic = "realtime:interop:reconnect"
	js := startNode(t, srv, "reconnect.js", "--url", srv.URL(), "--key", apiKey, "--topic", "interop:reconnect", "--reconnect-ms", "100")

	type joinedLine struct {
		JoinRef string `json:"join_ref"`
		N       int    `json:"n"`
	}
	var first, second joinedLine
	js.waitFor("the first SUBSCRIBED", func(l line) bool { return l.Kind == "joined" && l.N == 1 }).decode(t, &first)
	control(t, srv, "drop")
	js.waitFor("SUBSCRIBED again after POST /testutil/v1/drop", func(l line) bool { return l.Kind == "joined" && l.N == 2 }).decode(t, &second)

	var sum struct {
		Statuses  []string `json:"statuses"`
		Opens     int      `json:"opens"`
		Closes    int      `json:"closes"`
		Connected bool     `json:"connected"`
	}
	js.waitFor("the summary", kind("summary")).decode(t, &sum)
	if sum.Opens != 2 || sum.Closes != 1 || !sum.Connected {
		t.Errorf("realtime-js socket: %d opens, %d closes, connected %v; want 2, 1, true", sum.Opens, sum.Closes, sum.Connected)
	}
	if countOf(sum.Statuses, "SUBSCRIBED") != 2 {
		t.Errorf("realtime-js statuses %q; want SUBSCRIBED twice", sum.Statuses)
	}

	joins := framesOf(srv, topic, transport.EventJoin)
	if len(joins) != 2 {
		t.Fatalf("server received %d phx_join frames on %s; want 2", len(joins), topic)
	}
	if joins[0].JoinRef == joins[1].JoinRef {
		t.Errorf("both phx_join frames have join_ref %q; want different join_refs", joins[0].JoinRef)
	}
	if joins[0].Conn == joins[1].Conn {
		t.Errorf("both phx_join frames came on connection %d; want the second on a new connection", joins[0].Conn)
	}
	if got, want := []string{first.JoinRef, second.JoinRef}, []string{joins[0].JoinRef, joins[1].JoinRef}; !slices.Equal(got, want) {
		t.Errorf("realtime-js join_refs %q; server saw %q", got, want)
	}
	conns := srv.Conns()
	if len(conns) != 1 || !slices.Contains(conns[0].Topics(), topic) {
		t.Errorf("server connections after the reconnect: %d; want 1 joined to %s", len(conns), topic)
	}
	js.finish()
}

// broadcastBody is the payload every participant of testBroadcast sends.
type broadcastBody struct {
	ID   string `json:"id"`
	N    int    `json:"n"`
	From string `json:"from"`
}

// testBroadcast: two realtime-js clients (vsn 2.0.0), one realtime-js client on vsn 1.0.0, two
// Go clients (2.0.0) and one Go client on 1.0.0 join one topic with self and ack; each sends one
// broadcast, every one of them receives all six (its own included), realtime-js's acks resolve
// "ok" and Go's Broadcast returns nil.
func testBroadcast(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const sub = "interop:broadcast"
	const topic = "realtime:" + sub

	type jsPeer struct {
		name, vsn string
		n         int
		p         *nodeProc
	}
	jsPeers := []*jsPeer{{name: "js1", vsn: "2.0.0", n: 1}, {name: "js2", vsn: "2.0.0", n: 2}, {name: "jsv1", vsn: "1.0.0", n: 5}}
	for _, j := range jsPeers {
		j.p = startNode(t, srv, "broadcast.js", "--url", srv.URL(), "--key", apiKey, "--topic", sub,
			"--name", j.name, "--event", "from-"+j.name, "--n", fmt.Sprint(j.n), "--vsn", j.vsn)
	}
	type goPeer struct {
		name string
		n    int
		ch   *client.Channel
		msgs *subscribe.Subscription[client.Broadcast]
	}
	goPeers := []*goPeer{{name: "go1", n: 3}, {name: "go2", n: 4}, {name: "gov1", n: 6}}
	for _, g := range goPeers {
		var opts []client.Option
		if g.name == "gov1" {
			opts = append(opts, client.WithProtocolVersion(transport.V1))
		}
		g.ch, g.msgs = goSubscribed(t, newGoClient(t, srv, opts...), sub, client.BroadcastSelf(), client.BroadcastAck())
	}
	for _, j := range jsPeers {
		var ready struct{ Vsn string }
		j.p.waitFor("ready (SUBSCRIBED)", kind("ready")).decode(t, &ready)
		if ready.Vsn != j.vsn {
			t.Errorf("%s: realtime-js vsn %q; want %q", j.name, ready.Vsn, j.vsn)
		}
	}

	want := map[string]broadcastBody{}
	for _, j := range jsPeers {
		want["from-"+j.name] = broadcastBody{ID: bigID, N: j.n, From: j.name}
	}
	for _, g := range goPeers {
		want["from-"+g.name] = broadcastBody{ID: bigID, N: g.n, From: g.name}
	}

	// Everyone sends: realtime-js on command, Go here. With ack on, Broadcast waits for the
	// server's reply.
	for _, j := range jsPeers {
		j.p.send("send")
	}
	for _, g := range goPeers {
		// The Go payload also carries bigID as a JSON number, which only Go receives exactly.
		body := fmt.Sprintf(`{"id":%q,"n":%d,"from":%q,"exact":%s}`, bigID, g.n, g.name, bigID)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := g.ch.Broadcast(ctx, "from-"+g.name, json.RawMessage(body))
		cancel()
		if err != nil {
			t.Errorf("%s: Broadcast(ctx, %q, …) = %v; want nil (acknowledged)", g.name, "from-"+g.name, err)
		}
	}
	for _, j := range jsPeers {
		var sent struct{ Event, Result string }
		j.p.waitFor("the result of send()", kind("send")).decode(t, &sent)
		if sent.Result != "ok" {
			t.Errorf("%s: await channel.send({type: 'broadcast', event: %q, …}) = %q; want \"ok\" (acknowledged)", j.name, sent.Event, sent.Result)
		}
	}

	// Every participant receives all six, exactly once.
	for _, j := range jsPeers {
		got := jsBroadcasts(t, j.p, slices.Sorted(maps.Keys(want)))
		for ev, b := range got {
			if b.PayloadType != "object" {
				t.Errorf("%s received %s with a payload of type %q; want object", j.name, ev, b.PayloadType)
			}
		}
		gotBodies := map[string]broadcastBody{}
		for ev, b := range got {
			var body broadcastBody
			if err := json.Unmarshal(b.Payload, &body); err != nil {
				t.Errorf("%s received %s with payload %s: %v", j.name, ev, b.Payload, err)
			}
			gotBodies[ev] = body
		}
		if diff := cmp.Diff(want, gotBodies); diff != "" {
			t.Errorf("%s (realtime-js, vsn %s) received broadcasts mismatch (-want +got):\n%s", j.name, j.vsn, diff)
		}
	}
	for _, g := range goPeers {
		got := goBroadcasts(t, g.name, g.msgs, len(want))
		gotBodies := map[string]broadcastBody{}
		for ev, b := range got {
			if b.IsBinary() {
				t.Errorf("%s received %s as binary %v; want JSON", g.name, ev, b.Binary)
				continue
			}
			var body struct {
				broadcastBody
				Exact json.Number `json:"exact"`
			}
			if err := b.Decode(&body); err != nil {
				t.Errorf("%s: %s.Decode: %v (payload %s)", g.name, ev, err, b.Payload)
			}
			gotBodies[ev] = body.broadcastBody
			if strings.HasPrefix(ev, "from-go") && body.Exact.String() != bigID {
				t.Errorf("%s received %s with exact = %s; want %s (payload %s)", g.name, ev, body.Exact, bigID, b.Payload)
			}
		}
		if diff := cmp.Diff(want, gotBodies); diff != "" {
			t.Errorf("%s (Go) received broadcasts mismatch (-want +got):\n%s", g.name, diff)
		}
	}

	// On the wire: realtime-js and Go on 2.0.0 send kind 3 binary frames, on 1.0.0 a JSON
	// object (docs/protocol.md §5.1).
	sent := map[string]bool{}
	for _, f := range framesOf(srv, topic, transport.EventBroadcast) {
		sent[f.UserEvent] = f.Binary
	}
	wantWire := map[string]bool{"from-js1": true, "from-js2": true, "from-go1": true, "from-go2": true, "from-jsv1": false, "from-gov1": false}
	if diff := cmp.Diff(wantWire, sent); diff != "" {
		t.Errorf("broadcast frames binary (true) or text (false) mismatch (-want +got):\n%s", diff)
	}
	for _, j := range jsPeers {
		j.p.finish()
	}
}

// testBinary: a Go client's BroadcastBinary reaches realtime-js as an ArrayBuffer, and
// realtime-js's send with an ArrayBuffer payload reaches Go as Broadcast.Binary; a realtime-js
// client on vsn 1.0.0 gets neither (binary payloads are not delivered to V1 sockets) but does
// get the JSON broadcast sent after them.
func testBinary(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const sub = "interop:binary"
	const topic = "realtime:" + sub
	js := startNode(t, srv, "broadcast.js", "--url", srv.URL(), "--key", apiKey, "--topic", sub,
		"--name", "js", "--event", "jsbin", "--bytes", "4,5,6")
	jsv1 := startNode(t, srv, "broadcast.js", "--url", srv.URL(), "--key", apiKey, "--topic", sub,
		"--name", "jsv1", "--vsn", "1.0.0")
	ch, msgs := goSubscribed(t, newGoClient(t, srv), sub, client.BroadcastSelf(), client.BroadcastAck())
	js.waitFor("ready (SUBSCRIBED)", kind("ready"))
	jsv1.waitFor("ready (SUBSCRIBED)", kind("ready"))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ch.BroadcastBinary(ctx, "bin", []byte{1, 2, 3}); err != nil {
		t.Errorf("BroadcastBinary(ctx, \"bin\", []byte{1, 2, 3}) = %v; want nil", err)
	}
	js.send("send")
	var sent struct{ Result string }
	js.waitFor("the result of send()", kind("send")).decode(t, &sent)
	if sent.Result != "ok" {
		t.Errorf("realtime-js: await channel.send({type: 'broadcast', event: 'jsbin', payload: ArrayBuffer}) = %q; want \"ok\"", sent.Result)
	}

	got := jsBroadcasts(t, js, []string{"bin", "jsbin"})
	type shape struct {
		Type  string
		Bytes []int
		Keys  []string
	}
	gotShapes := map[string]shape{}
	for ev, b := range got {
		gotShapes[ev] = shape{b.PayloadType, b.Bytes, b.MessageKeys}
	}
	wantShapes := map[string]shape{
		"bin":   {"ArrayBuffer", []int{1, 2, 3}, []string{"event", "payload", "type"}},
		"jsbin": {"ArrayBuffer", []int{4, 5, 6}, []string{"event", "payload", "type"}},
	}
	if diff := cmp.Diff(wantShapes, gotShapes); diff != "" {
		t.Errorf("realtime-js received binary broadcasts mismatch (-want +got):\n%s", diff)
	}

	gotGo := goBroadcasts(t, "go", msgs, 2)
	wantGo := map[string]client.Broadcast{
		"bin":   {Event: "bin", Binary: []byte{1, 2, 3}},
		"jsbin": {Event: "jsbin", Binary: []byte{4, 5, 6}},
	}
	if diff := cmp.Diff(wantGo, gotGo, ignoreOrigin); diff != "" {
		t.Errorf("Go received binary broadcasts mismatch (-want +got):\n%s", diff)
	}

	// The V1 client: a JSON marker sent after both binaries is the first broadcast it gets.
	if err := ch.Broadcast(ctx, "marker", map[string]string{"after": "binary"}); err != nil {
		t.Errorf("Broadcast(ctx, \"marker\", …) = %v; want nil", err)
	}
	first := jsv1.waitFor("the marker broadcast", kind("broadcast"))
	if first.Event != "marker" {
		t.Errorf("realtime-js on vsn 1.0.0 received %s first; want only the JSON marker (binary payloads never reach V1 sockets)", first.Raw)
	}
	var jsbin transport.Message
	for _, f := range framesOf(srv, topic, transport.EventBroadcast) {
		if f.UserEvent == "jsbin" {
			jsbin = f.Message
		}
	}
	if !jsbin.Binary || !jsbin.Raw || !bytes.Equal(jsbin.Data, []byte{4, 5, 6}) {
		t.Errorf("server received jsbin as binary=%v raw=%v data=%v; want a kind 3 frame with binary encoding and bytes 4 5 6", jsbin.Binary, jsbin.Raw, jsbin.Data)
	}
	js.finish()
	jsv1.finish()
}

// testHTTPSend: realtime-js's channel.httpSend (JSON and ArrayBuffer) and its deprecated
// implicit REST fallback (send on an unjoined channel) reach a Go client subscribed to the
// topic, with the URL and headers realtime-js derives.
func testHTTPSend(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const sub = "interop:http" // the ':' is percent-encoded in the URL path
	const topic = "realtime:" + sub
	_, msgs := goSubscribed(t, newGoClient(t, srv), sub)
	js := startNode(t, srv, "httpsend.js", "--url", srv.URL(), "--key", apiKey, "--topic", sub, "--token", accessToken)

	var ready struct {
		BroadcastEndpoint string `json:"broadcast_endpoint"`
	}
	js.waitFor("ready (SUBSCRIBED)", kind("ready")).decode(t, &ready)
	wantEndpoint := srv.HTTPURL() + "/api/broadcast?apikey=" + apiKey + "&vsn=2.0.0"
	if ready.BroadcastEndpoint != wantEndpoint {
		t.Errorf("realtime-js broadcastEndpointURL = %q; want %q", ready.BroadcastEndpoint, wantEndpoint)
	}
	joins := framesOf(srv, topic, transport.EventJoin)
	if len(joins) != 2 {
		t.Fatalf("server received %d phx_join frames on %s; want 2 (Go, realtime-js)", len(joins), topic)
	}
	if tok, _ := jsonField(joins[1].Payload, "access_token"); tok != accessToken {
		t.Errorf("realtime-js phx_join access_token = %q; want %q (from its accessToken callback); payload %s", tok, accessToken, joins[1].Payload)
	}

	js.send("send")
	js.waitFor("the result of the REST fallback", func(l line) bool { return l.Kind == "http" && l.Event == "http-fallback" })
	results := map[string]string{}
	for _, l := range js.linesOf("http") {
		var r struct {
			Event  string          `json:"event"`
			Result json.RawMessage `json:"result"`
		}
		l.decode(t, &r)
		results[r.Event] = string(r.Result)
	}
	wantResults := map[string]string{
		"http-json":     `{"success":true}`,
		"http-bin":      `{"success":true}`,
		"http-fallback": `"ok"`,
	}
	if diff := cmp.Diff(wantResults, results); diff != "" {
		t.Errorf("realtime-js REST results mismatch (-want +got):\n%s", diff)
	}

	jsonBody := func(n int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"id":"%s","n":%d}`, bigID, n)) }
	gotGo := goBroadcasts(t, "go", msgs, 3)
	wantGo := map[string]client.Broadcast{
		"http-json":     {Event: "http-json", Payload: jsonBody(1)},
		"http-bin":      {Event: "http-bin", Binary: []byte{7, 8, 9}},
		"http-fallback": {Event: "http-fallback", Payload: jsonBody(3)},
	}
	if diff := cmp.Diff(wantGo, gotGo, ignoreOrigin); diff != "" {
		t.Errorf("Go received REST broadcasts mismatch (-want +got):\n%s", diff)
	}
	gotJS := jsBroadcasts(t, js, []string{"http-bin", "http-fallback", "http-json"})
	if b := gotJS["http-bin"]; b.PayloadType != "ArrayBuffer" || !slices.Equal(b.Bytes, []int{7, 8, 9}) {
		t.Errorf("realtime-js received http-bin as %s %v; want ArrayBuffer [7 8 9]", b.PayloadType, b.Bytes)
	}

	reqs := srv.HTTPRequests()
	if len(reqs) != 3 {
		t.Fatalf("server received %d REST requests; want 3", len(reqs))
	}
	type req struct {
		Method, Path, Query, APIKey, Authorization, ContentType, Body string
		Status                                                        int
	}
	var gotReqs []req
	for _, r := range reqs {
		gotReqs = append(gotReqs, req{r.Method, r.Path, r.Query.Encode(), r.Header.Get("apikey"), r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), string(r.Body), r.Status})
	}
	query := url.Values{"apikey": {apiKey}, "vsn": {"2.0.0"}}.Encode()
	bearer := "Bearer " + accessToken
	wantReqs := []req{
		{"POST", "/realtime/v1/api/broadcast/" + sub + "/events/http-json", query, apiKey, bearer, "application/json", string(jsonBody(1)), http.StatusAccepted},
		{"POST", "/realtime/v1/api/broadcast/" + sub + "/events/http-bin", query, apiKey, bearer, "application/octet-stream", "\x07\x08\x09", http.StatusAccepted},
		{"POST", "/realtime/v1/api/broadcast", query, apiKey, bearer, "application/json",
			fmt.Sprintf(`{"messages":[{"topic":%q,"event":"http-fallback","payload":%s,"private":false}]}`, sub, jsonBody(3)), http.StatusAccepted},
	}
	if diff := cmp.Diff(wantReqs, gotReqs); diff != "" {
		t.Errorf("REST requests mismatch (-want +got):\n%s", diff)
	}
	js.finish()
}

// ---- the fake server and Go clients ----

func newServer(t *testing.T) *testutil.Server {
	t.Helper()
	srv := testutil.NewServer(t)
	srv.Start()
	return srv
}

func newGoClient(t *testing.T, srv *testutil.Server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL(), apiKey, append([]client.Option{client.WithDialer(srv.Dialer()), client.WithHTTPClient(srv.HTTPClient())}, opts...)...)
	if err != nil {
		t.Fatalf("client.New(%q, …) = %v", srv.URL(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// goSubscribed joins topic and returns the channel and a subscription to all its broadcasts.
func goSubscribed(t *testing.T, c *client.Client, topic string, opts ...client.ChannelOption) (*client.Channel, *subscribe.Subscription[client.Broadcast]) {
	t.Helper()
	ch, err := c.Channel(topic, opts...)
	if err != nil {
		t.Fatalf("Channel(%q) = %v", topic, err)
	}
	msgs := ch.OnBroadcast(context.Background(), "*")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatalf("Subscribe(%q) = %v", topic, err)
	}
	return ch, msgs
}

// goBroadcasts receives n broadcasts of distinct events from msgs and returns them by event.
func goBroadcasts(t *testing.T, who string, msgs *subscribe.Subscription[client.Broadcast], n int) map[string]client.Broadcast {
	t.Helper()
	got := map[string]client.Broadcast{}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for len(got) < n {
		select {
		case b, ok := <-msgs.C():
			if !ok {
				t.Fatalf("%s: broadcast subscription closed: %v; got %d of %d broadcasts", who, msgs.Err(), len(got), n)
			}
			if _, dup := got[b.Event]; dup {
				t.Errorf("%s received %q twice", who, b.Event)
			}
			got[b.Event] = b
		case <-timer.C:
			t.Fatalf("%s: got %d of %d broadcasts within %v: %q", who, len(got), n, waitTimeout, slices.Sorted(maps.Keys(got)))
		}
	}
	return got
}

// control calls the fake server's HTTP control API, POST /testutil/v1/<route>.
func control(t *testing.T, srv *testutil.Server, route string) {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + u.Host + "/testutil/v1/" + route
	resp, err := srv.HTTPClient().Post(endpoint, "application/json", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d %s; want 200", endpoint, resp.StatusCode, body)
	}
}

// framesOf returns the frames the server received with the given topic and event, in order.
func framesOf(srv *testutil.Server, topic, event string) []testutil.Frame {
	var out []testutil.Frame
	for _, f := range srv.Received() {
		if f.Topic == topic && f.Event == event {
			out = append(out, f)
		}
	}
	return out
}

func jsonField(obj []byte, key string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return "", false
	}
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return "", false
	}
	return s, true
}

func countOf[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// ---- node processes ----

// line is one JSON line a script wrote on stdout.
type line struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Event  string `json:"event"`
	Error  string `json:"error"`
	N      int    `json:"n"`
	// Raw is the line as written.
	Raw []byte `json:"-"`
}

func (l line) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(l.Raw, v); err != nil {
		t.Fatalf("decoding %s: %v", l.Raw, err)
	}
}

func kind(k string) func(line) bool { return func(l line) bool { return l.Kind == k } }

// jsBroadcast is a broadcast a script reported ({"kind":"broadcast"}).
type jsBroadcast struct {
	PayloadType string          `json:"payload_type"`
	Payload     json.RawMessage `json:"payload"`
	Bytes       []int           `json:"bytes"`
	MessageKeys []string        `json:"message_keys"`
	Envelope    json.RawMessage `json:"envelope"`
}

// jsBroadcasts waits until p has reported a broadcast of each of events, and returns them by
// event; a repeated event is an error.
func jsBroadcasts(t *testing.T, p *nodeProc, events []string) map[string]jsBroadcast {
	t.Helper()
	got := map[string]jsBroadcast{}
	for _, l := range p.linesOf("broadcast") {
		if _, dup := got[l.Event]; dup {
			t.Errorf("%s received %q twice", p.name, l.Event)
		}
		var b jsBroadcast
		l.decode(t, &b)
		got[l.Event] = b
	}
	for _, ev := range events {
		if _, ok := got[ev]; ok {
			continue
		}
		var b jsBroadcast
		p.waitFor(fmt.Sprintf("broadcast %q", ev), func(l line) bool { return l.Kind == "broadcast" && l.Event == ev }).decode(t, &b)
		got[ev] = b
	}
	return got
}

// nodeProc is a running node script.
type nodeProc struct {
	t      *testing.T
	srv    *testutil.Server // described in failure messages
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lockedBuffer
	exited chan struct{} // closed once the process has exited and its output is read
	err    error         // cmd.Wait's error, set before exited is closed

	mu      sync.Mutex
	lines   []line
	changed chan struct{} // closed and replaced when a line arrives or stdout ends
	eof     bool
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNode runs node script args in this directory. The process is killed, if still running,
// when the test ends.
func startNode(t *testing.T, srv *testutil.Server, script string, args ...string) *nodeProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	all := append([]string{script, "--timeout-ms", fmt.Sprint(scriptTimeout.Milliseconds())}, args...)
	cmd := exec.CommandContext(ctx, "node", all...)
	cmd.WaitDelay = 5 * time.Second
	p := &nodeProc{t: t, srv: srv, name: script, cmd: cmd, exited: make(chan struct{}), changed: make(chan struct{})}
	if i := slices.Index(args, "--name"); i >= 0 && i+1 < len(args) {
		p.name = script + " " + args[i+1]
	}
	cmd.Stderr = &p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting node %s: %v", script, err)
	}
	go func() {
		defer cancel()
		p.read(stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			cancel()
			<-p.exited
		}
	})
	return p
}

func (p *nodeProc) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		raw := bytes.Clone(sc.Bytes())
		var l line
		if err := json.Unmarshal(raw, &l); err != nil {
			l = line{Kind: "garbage", Error: err.Error()}
		}
		l.Raw = raw
		p.mu.Lock()
		p.lines = append(p.lines, l)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.eof = true
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// send writes a command line to the script's stdin.
func (p *nodeProc) send(cmd string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		p.t.Fatalf("%s: writing command %q: %v\n%s", p.name, cmd, err, p.transcript())
	}
}

// waitFor waits until the script writes a line that satisfies match (counting lines written
// already; each line is offered to match once) and returns it. It fails the test when the
// script ends first, reports an error, or waitTimeout passes.
func (p *nodeProc) waitFor(what string, match func(line) bool) line {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	seen := 0
	for {
		p.mu.Lock()
		lines, ch, eof := p.lines[seen:], p.changed, p.eof
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			switch l.Kind {
			case "error":
				p.t.Fatalf("%s failed while waiting for %s: %s\n%s", p.name, what, l.Raw, p.transcript())
			case "garbage":
				p.t.Fatalf("%s wrote a line the test cannot parse (%s) while waiting for %s: %s\n%s", p.name, l.Error, what, l.Raw, p.transcript())
			}
			if match(l) {
				return l
			}
		}
		if eof {
			p.t.Fatalf("%s ended before %s\n%s", p.name, what, p.transcript())
		}
		select {
		case <-ch:
		case <-timer.C:
			p.t.Fatalf("%s: no %s within %v\n%s", p.name, what, waitTimeout, p.transcript())
		}
	}
}

// linesOf returns the lines of a kind written so far.
func (p *nodeProc) linesOf(k string) []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []line
	for _, l := range p.lines {
		if l.Kind == k {
			out = append(out, l)
		}
	}
	return out
}

// finish closes the script's stdin, its signal to finish, waits for it to exit and checks that
// it succeeded: exit status 0, last line {"kind":"done"}.
func (p *nodeProc) finish() {
	p.t.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		p.t.Fatalf("%s did not exit within %v of the end of its input\n%s", p.name, waitTimeout, p.transcript())
	}
	p.mu.Lock()
	n := len(p.lines)
	last := line{}
	if n > 0 {
		last = p.lines[n-1]
	}
	p.mu.Unlock()
	if p.err != nil || last.Kind != "done" {
		p.t.Errorf("%s: exit %v, last line %s; want exit status 0 and {\"kind\":\"done\"}\n%s", p.name, p.err, last.Raw, p.transcript())
	}
	if s := p.stderr.String(); s != "" && testing.Verbose() {
		p.t.Logf("%s stderr:\n%s", p.name, s)
	}
}

// transcript returns what the script wrote, for failure messages.
func (p *nodeProc) transcript() string {
	p.mu.Lock()
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s stdout:\n", p.name)
	for _, l := range p.lines {
		b.Write(l.Raw)
		b.WriteByte('\n')
	}
	p.mu.Unlock()
	fmt.Fprintf(&b, "--- %s stderr:\n%s", p.name, p.stderr.String())
	b.WriteString(describeServer(p.srv))
	return b.String()
}

// describeServer summarizes what the server has seen, for failure messages.
func describeServer(srv *testutil.Server) string {
	var b strings.Builder
	conns := srv.Conns()
	frames := srv.Received()
	fmt.Fprintf(&b, "--- server: %d open connection(s), %d frame(s) received, %d REST request(s)\n", len(conns), len(frames), len(srv.HTTPRequests()))
	for _, c := range conns {
		fmt.Fprintf(&b, "conn %d vsn %s topics %q\n", c.ID(), c.Version(), c.Topics())
	}
	if len(frames) > 20 {
		frames = frames[len(frames)-20:]
		b.WriteString("last 20 frames:\n")
	}
	for _, f := range frames {
		fmt.Fprintf(&b, "conn %d: %s\n", f.Conn, f.Message.String())
	}
	return b.String()
}
