//go:build interop

package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

// TestRealtimeJSPresence runs the presence scenario (presence.js).
func TestRealtimeJSPresence(t *testing.T) {
	requireRealtimeJS(t)
	t.Parallel()
	t.Run("Presence", testPresence)
}

// presMeta is one presence meta in a form shared by realtime-js, Go and the server: its phx_ref
// (realtime-js's presence_ref) and its tracked fields as canonical JSON (keys sorted, numbers
// as written, phx_ref, phx_ref_prev and presence_ref left out).
type presMeta struct {
	Ref    string
	Fields string
}

// presState is a presence state: metas by key, in state order.
type presState map[string][]presMeta

// presEvent is a join or leave event: Current is the key's metas before a join or after a
// leave, Delta the metas that joined or left.
type presEvent struct {
	Event   string
	Key     string
	Current []presMeta
	Delta   []presMeta
}

func (e presEvent) String() string {
	return fmt.Sprintf("%s %s current=%v delta=%v", e.Event, e.Key, e.Current, e.Delta)
}

func sortPresEvents(evs []presEvent) []presEvent {
	slices.SortStableFunc(evs, func(a, b presEvent) int { return strings.Compare(a.String(), b.String()) })
	return evs
}

// presCanonFields returns the JSON object raw without the keys drop, re-encoded with sorted keys
// and numbers exactly as written.
func presCanonFields(raw []byte, drop ...string) (string, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return "", fmt.Errorf("meta %s: %v", raw, err)
	}
	if m == nil {
		return "", fmt.Errorf("meta %s is not an object", raw)
	}
	for _, k := range drop {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// goPresMetas converts the metas of the Go SDK (or the server).
func goPresMetas(t *testing.T, ms []presence.Meta) []presMeta {
	t.Helper()
	var out []presMeta
	for _, m := range ms {
		f, err := presCanonFields(m.Raw, "phx_ref", "phx_ref_prev")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, presMeta{Ref: m.Ref, Fields: f})
	}
	return out
}

func goPresState(t *testing.T, m map[string][]presence.Meta) presState {
	t.Helper()
	out := presState{}
	for k, ms := range m {
		out[k] = goPresMetas(t, ms)
	}
	return out
}

// jsPresMetas converts metas as realtime-js hands them out (phx_ref renamed presence_ref).
func jsPresMetas(t *testing.T, ms []json.RawMessage) []presMeta {
	t.Helper()
	var out []presMeta
	for _, raw := range ms {
		var ref struct {
			Ref string `json:"presence_ref"`
		}
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatalf("realtime-js meta %s: %v", raw, err)
		}
		f, err := presCanonFields(raw, "presence_ref")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, presMeta{Ref: ref.Ref, Fields: f})
	}
	return out
}

// presJS is a realtime-js participant (presence.js).
type presJS struct {
	name, vsn string
	p         *nodeProc
	mark      int // index of the sync line that settled the previous step
	pushes    int // track/untrack commands sent
}

// presGo is a Go participant.
type presGo struct {
	name   string
	srv    *testutil.Server // described in failure messages
	ch     *client.Channel
	events *subscribe.Subscription[presence.Event]
}

// presWaitFrom is nodeProc.waitFor starting at line index from; it returns the index of the
// first line from there that satisfies match.
func presWaitFrom(p *nodeProc, from int, what string, match func(line) bool) int {
	p.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	seen := from
	for {
		p.mu.Lock()
		var lines []line
		base := seen
		if seen < len(p.lines) {
			lines = p.lines[seen:]
			seen = len(p.lines)
		}
		ch, eof := p.changed, p.eof
		p.mu.Unlock()
		for i, l := range lines {
			switch l.Kind {
			case "error":
				p.t.Fatalf("%s failed while waiting for %s: %s\n%s", p.name, what, l.Raw, p.transcript())
			case "garbage":
				p.t.Fatalf("%s wrote a line the test cannot parse (%s) while waiting for %s: %s\n%s", p.name, l.Error, what, l.Raw, p.transcript())
			}
			if match(l) {
				return base + i
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

// presJSSyncLine is a {"kind":"sync"} line of presence.js.
type presJSSyncLine struct {
	N     int                          `json:"n"`
	State map[string][]json.RawMessage `json:"state"`
}

// presJSLine is a {"kind":"presence"} line of presence.js.
type presJSLine struct {
	Event       string            `json:"event"`
	Key         string            `json:"key"`
	Current     []json.RawMessage `json:"current"`
	Delta       []json.RawMessage `json:"delta"`
	PayloadKeys []string          `json:"payload_keys"`
}

// settle waits until realtime-js's presenceState() equals want after a sync, and returns the
// join and leave events it reported since the previous step.
func (j *presJS) settle(t *testing.T, step string, want presState) []presEvent {
	t.Helper()
	idx := presWaitFrom(j.p, j.mark+1, fmt.Sprintf("step %q: a sync with presenceState() = %v", step, want), func(l line) bool {
		if l.Kind != "sync" {
			return false
		}
		var s presJSSyncLine
		l.decode(t, &s)
		got := presState{}
		for k, ms := range s.State {
			got[k] = jsPresMetas(t, ms)
		}
		return cmp.Equal(want, got)
	})
	j.p.mu.Lock()
	lines := slices.Clone(j.p.lines[j.mark+1 : idx+1])
	j.p.mu.Unlock()
	j.mark = idx

	// The settled state as realtime-js exposes it: phx_ref renamed presence_ref, phx_ref_prev
	// dropped.
	var s presJSSyncLine
	lines[len(lines)-1].decode(t, &s)
	for k, ms := range s.State {
		for _, raw := range ms {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			_, ref := m["presence_ref"]
			_, phx := m["phx_ref"]
			_, prev := m["phx_ref_prev"]
			if !ref || phx || prev {
				t.Errorf("%s: step %q: presenceState()[%q] meta %s; want presence_ref and neither phx_ref nor phx_ref_prev", j.name, step, k, raw)
			}
		}
	}

	var evs []presEvent
	for _, l := range lines {
		if l.Kind != "presence" {
			continue
		}
		var e presJSLine
		l.decode(t, &e)
		deltaKey := map[string]string{"join": "newPresences", "leave": "leftPresences"}[e.Event]
		if want := []string{"currentPresences", deltaKey, "event", "key"}; !slices.Equal(e.PayloadKeys, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: %s event payload keys %q; want %q", j.name, e.Event, e.PayloadKeys, slices.Sorted(slices.Values(want)))
		}
		evs = append(evs, presEvent{Event: e.Event, Key: e.Key, Current: jsPresMetas(t, e.Current), Delta: jsPresMetas(t, e.Delta)})
	}
	return sortPresEvents(evs)
}

// settle reads the Go participant's presence events until a Sync whose state equals want, and
// returns the Join and Leave events read.
func (g *presGo) settle(t *testing.T, step string, want presState) []presEvent {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var evs []presEvent
	var last presState
	for {
		select {
		case ev, ok := <-g.events.C():
			if !ok {
				t.Fatalf("%s: step %q: presence subscription closed: %v", g.name, step, g.events.Err())
			}
			switch e := ev.(type) {
			case presence.Join:
				evs = append(evs, presEvent{Event: "join", Key: e.Key, Current: goPresMetas(t, e.Current), Delta: goPresMetas(t, e.New)})
			case presence.Leave:
				evs = append(evs, presEvent{Event: "leave", Key: e.Key, Current: goPresMetas(t, e.Current), Delta: goPresMetas(t, e.Left)})
			case presence.Sync:
				last = goPresState(t, e.State.Map())
				if cmp.Equal(want, last) {
					if n := g.events.Dropped(); n != 0 {
						t.Errorf("%s: %d presence events dropped", g.name, n)
					}
					if got := goPresState(t, g.ch.PresenceState().Map()); !cmp.Equal(want, got) {
						t.Errorf("%s: step %q: PresenceState() after the Sync mismatch (-want +got):\n%s", g.name, step, cmp.Diff(want, got))
					}
					return sortPresEvents(evs)
				}
			}
		case <-timer.C:
			t.Fatalf("%s: step %q: no Sync with the state %v within %v; last Sync %v; events %v\n%s", g.name, step, want, waitTimeout, last, evs, describeServer(g.srv))
		}
	}
}

// presServerState waits until the server's presence state of topic has exactly the keys of
// model, one meta each with the tracked fields model gives, and returns it.
func presServerState(t *testing.T, srv *testutil.Server, topic string, model map[string]string) presState {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := goPresState(t, srv.Presence(topic, false))
		ok := len(got) == len(model)
		for k, fields := range model {
			ms := got[k]
			ok = ok && len(ms) == 1 && ms[0].Fields == fields && ms[0].Ref != ""
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("server presence of %s: %v; want keys and fields %v", topic, got, model)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// presWantEvents derives the events that take a participant from before to after (one meta per
// key): a new key joins; a key whose meta changed joins with the new meta and then leaves with
// the old one (an update); a key gone leaves.
func presWantEvents(before, after presState) []presEvent {
	var evs []presEvent
	for k, a := range after {
		b, had := before[k]
		switch {
		case !had:
			evs = append(evs, presEvent{Event: "join", Key: k, Delta: a})
		case !cmp.Equal(a, b):
			evs = append(evs, presEvent{Event: "join", Key: k, Current: b, Delta: a},
				presEvent{Event: "leave", Key: k, Current: a, Delta: b})
		}
	}
	for k, b := range before {
		if _, has := after[k]; !has {
			evs = append(evs, presEvent{Event: "leave", Key: k, Delta: b})
		}
	}
	return sortPresEvents(evs)
}

// testPresence: three realtime-js clients (two on vsn 2.0.0, one on 1.0.0) and two Go clients
// join one topic with their own presence keys. Everyone tracks; js1 and go1 update their
// state; js2 untracks and go2 leaves the channel. After each step every remaining participant
// holds the server's state (keys, one meta each, tracked fields, phx_ref / presence_ref), and
// the join and leave events each one reported for the step are the same, derived from the
// server's states before and after.
func testPresence(t *testing.T) {
	srv := newServer(t)
	const sub = "interop:presence"
	const topic = "realtime:" + sub
	ctx := t.Context()

	jsPeers := []*presJS{{name: "js1", vsn: "2.0.0"}, {name: "js2", vsn: "2.0.0"}, {name: "jsv1", vsn: "1.0.0"}}
	for _, j := range jsPeers {
		j.mark = -1
		j.p = startNode(t, srv, "presence.js", "--url", srv.URL(), "--key", apiKey, "--topic", sub,
			"--name", j.name, "--presence-key", j.name, "--vsn", j.vsn)
	}
	goPeers := []*presGo{{name: "go1"}, {name: "go2"}}
	for _, g := range goPeers {
		g.srv = srv
		c := newGoClient(t, srv)
		ch, err := c.Channel(sub, client.PresenceKey(g.name))
		if err != nil {
			t.Fatalf("Channel(%q) = %v", sub, err)
		}
		g.ch = ch
		// Every event, none conflated.
		g.events = ch.OnPresence(ctx, subscribe.WithBuffer(256), subscribe.WithOverflow(subscribe.Evict))
		sctx, cancel := context.WithTimeout(ctx, waitTimeout)
		err = ch.Subscribe(sctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: Subscribe = %v", g.name, err)
		}
	}
	for _, j := range jsPeers {
		var ready struct{ Vsn string }
		j.p.waitFor("ready (SUBSCRIBED)", kind("ready")).decode(t, &ready)
		if ready.Vsn != j.vsn {
			t.Errorf("%s: realtime-js vsn %q; want %q", j.name, ready.Vsn, j.vsn)
		}
	}

	// The state a participant tracks at a step.
	stateOf := func(name string, step int) json.RawMessage {
		lang := "go"
		if strings.HasPrefix(name, "js") {
			lang = "js"
		}
		status := map[int]string{1: "online", 2: "away"}[step]
		return json.RawMessage(fmt.Sprintf(`{"name":%q,"status":%q,"step":%d,"tags":["a","b"],"profile":{"lang":%q,"n":%d},"ratio":0.5,"note":"h\u00e9llo \u2603"}`,
			name, status, step, lang, step*10))
	}
	model := map[string]string{} // key → canonical tracked fields
	track := func(name string, step int) {
		f, err := presCanonFields(stateOf(name, step))
		if err != nil {
			t.Fatal(err)
		}
		model[name] = f
	}
	jsCmd := func(j *presJS, cmd string) {
		j.pushes++
		j.p.send(cmd)
	}
	jsPushed := func(j *presJS) {
		n := 0
		var r struct{ Action, Result string }
		j.p.waitFor(fmt.Sprintf("the result of push %d", j.pushes), func(l line) bool {
			if l.Kind == "pushed" {
				n++
			}
			return l.Kind == "pushed" && n == j.pushes
		}).decode(t, &r)
		if r.Result != "ok" {
			t.Errorf("%s: await channel.%s(…) = %q; want \"ok\"", j.name, r.Action, r.Result)
		}
	}
	goDo := func(g *presGo, what string, f func(context.Context) error) {
		cctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		if err := f(cctx); err != nil {
			t.Fatalf("%s: %s = %v", g.name, what, err)
		}
	}

	// step checks that every remaining participant reaches the server's state and reported
	// the events that lead there from the previous step's state.
	prev := presState{}
	step := func(name string, js []*presJS, gos []*presGo) presState {
		t.Helper()
		want := presServerState(t, srv, topic, model)
		wantEvents := presWantEvents(prev, want)
		for _, j := range js {
			if got := j.settle(t, name, want); !cmp.Equal(wantEvents, got) {
				t.Errorf("step %q: %s (realtime-js, vsn %s) join/leave events mismatch (-want +got):\n%s", name, j.name, j.vsn, cmp.Diff(wantEvents, got))
			}
		}
		for _, g := range gos {
			if got := g.settle(t, name, want); !cmp.Equal(wantEvents, got) {
				t.Errorf("step %q: %s (Go) Join/Leave events mismatch (-want +got):\n%s", name, g.name, cmp.Diff(wantEvents, got))
			}
		}
		prev = want
		return want
	}

	// Everyone has its first presence_state (empty) before anybody tracks, so that every
	// track reaches every participant as a presence_diff.
	step("joined", jsPeers, goPeers)

	// 1. Everyone tracks.
	for _, j := range jsPeers {
		track(j.name, 1)
		jsCmd(j, "track "+string(stateOf(j.name, 1)))
	}
	for _, g := range goPeers {
		track(g.name, 1)
		goDo(g, "Track", func(c context.Context) error { return g.ch.Track(c, stateOf(g.name, 1)) })
	}
	for _, j := range jsPeers {
		jsPushed(j)
	}
	tracked := step("track", jsPeers, goPeers)
	if got, want := slices.Sorted(maps.Keys(tracked)), []string{"go1", "go2", "js1", "js2", "jsv1"}; !slices.Equal(got, want) {
		t.Fatalf("keys after everyone tracked: %q; want %q", got, want)
	}

	// 2. js1 and go1 update their state.
	js1, js2, go1, go2 := jsPeers[0], jsPeers[1], goPeers[0], goPeers[1]
	track(js1.name, 2)
	jsCmd(js1, "track "+string(stateOf(js1.name, 2)))
	track(go1.name, 2)
	goDo(go1, "Track", func(c context.Context) error { return go1.ch.Track(c, stateOf(go1.name, 2)) })
	jsPushed(js1)
	updated := step("update", jsPeers, goPeers)
	for k := range updated {
		changed := updated[k][0].Ref != tracked[k][0].Ref
		if want := k == "js1" || k == "go1"; changed != want {
			t.Errorf("after the update, the phx_ref of %s changed: %v; want %v (%s → %s)", k, changed, want, tracked[k][0].Ref, updated[k][0].Ref)
		}
	}
	// The updated metas carry phx_ref_prev on the server; like realtime-js's presenceState(),
	// Go's PresenceState() leaves it out (it is an internal of the diff that replaced the meta).
	for _, k := range []string{"js1", "go1"} {
		if ms := srv.Presence(topic, false)[k]; len(ms) != 1 || ms[0].PrevRef != tracked[k][0].Ref {
			t.Errorf("server meta of %s after the update: %+v; want phx_ref_prev %q", k, ms, tracked[k][0].Ref)
		}
		for _, g := range goPeers {
			if ms := g.ch.PresenceState().Get(k); len(ms) != 1 || ms[0].PrevRef != "" || strings.Contains(string(ms[0].Raw), "phx_ref_prev") {
				t.Errorf("%s: PresenceState().Get(%q) = %+v; want one meta without phx_ref_prev", g.name, k, ms)
			}
		}
	}

	// 3. js2 untracks (and stays subscribed); go2 leaves the channel.
	delete(model, js2.name)
	jsCmd(js2, "untrack")
	delete(model, go2.name)
	goDo(go2, "Unsubscribe", go2.ch.Unsubscribe)
	jsPushed(js2)
	final := step("untrack and leave", jsPeers, []*presGo{go1})
	if got, want := slices.Sorted(maps.Keys(final)), []string{"go1", "js1", "jsv1"}; !slices.Equal(got, want) {
		t.Errorf("keys at the end: %q; want %q", got, want)
	}

	for _, j := range jsPeers {
		j.p.finish()
	}
}
