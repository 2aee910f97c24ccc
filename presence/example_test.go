package presence_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-supabase/realtime/presence"
)

// refs formats the Refs of metas.
func refs(ms []presence.Meta) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Ref)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// printEvents prints events one a line.
func printEvents(events []presence.Event) {
	for _, ev := range events {
		switch ev := ev.(type) {
		case presence.Join:
			fmt.Printf("join  %s: current %s, new %s\n", ev.Key, refs(ev.Current), refs(ev.New))
		case presence.Leave:
			fmt.Printf("leave %s: current %s, left %s\n", ev.Key, refs(ev.Current), refs(ev.Left))
		case presence.Sync:
			b, _ := json.Marshal(ev.State)
			fmt.Printf("sync  %s\n", b)
		}
	}
}

// A tracker receives the presence_state sent after the join, then a presence_diff in which bob
// changes his status: a join of the new meta (with phx_ref_prev) and a leave of the old one.
func ExampleTracker() {
	tr := presence.NewTracker()

	events, err := tr.HandleState([]byte(`{
		"alice":{"metas":[{"phx_ref":"a1","status":"online"}]},
		"bob":{"metas":[{"phx_ref":"b1","status":"online"}]}}`))
	if err != nil {
		panic(err)
	}
	printEvents(events)

	events, err = tr.HandleDiff([]byte(`{
		"joins":{"bob":{"metas":[{"phx_ref":"b2","phx_ref_prev":"b1","status":"away"}]}},
		"leaves":{"bob":{"metas":[{"phx_ref":"b1","status":"online"}]}}}`))
	if err != nil {
		panic(err)
	}
	printEvents(events)
	// Output:
	// join  alice: current [], new [a1]
	// join  bob: current [], new [b1]
	// sync  {"alice":[{"phx_ref":"a1","status":"online"}],"bob":[{"phx_ref":"b1","status":"online"}]}
	// join  bob: current [b1], new [b2]
	// leave bob: current [b2], left [b1]
	// sync  {"alice":[{"phx_ref":"a1","status":"online"}],"bob":[{"phx_ref":"b2","status":"away"}]}
}

// After a reconnect the channel rejoins: Reset makes the tracker wait for the new
// presence_state, buffering diffs meanwhile. Members that left while the client was away
// (alice's phone) leave when the state arrives; nobody stays behind as a ghost.
func ExampleTracker_Reset() {
	tr := presence.NewTracker()
	_, _ = tr.HandleState([]byte(`{"alice":{"metas":[{"phx_ref":"phone"},{"phx_ref":"laptop"}]}}`))

	tr.Reset()
	events, _ := tr.HandleDiff([]byte(`{"joins":{"carol":{"metas":[{"phx_ref":"c1"}]}},"leaves":{}}`))
	fmt.Println("buffered:", len(events), "events; synced:", tr.Synced())

	events, _ = tr.HandleState([]byte(`{"alice":{"metas":[{"phx_ref":"laptop"}]}}`))
	printEvents(events)
	// Output:
	// buffered: 0 events; synced: false
	// leave alice: current [laptop], left [phone]
	// join  carol: current [], new [c1]
	// sync  {"alice":[{"phx_ref":"laptop"}],"carol":[{"phx_ref":"c1"}]}
}

// SyncDiff is the pure function behind the tracker: it returns a new State and never changes
// the one it was given.
func ExampleSyncDiff() {
	d, _ := presence.ParseDiff([]byte(`{"joins":{"bob":{"metas":[{"phx_ref":"b1"}]}},"leaves":{}}`))
	before := presence.State{}
	after, events := presence.SyncDiff(before, d)
	printEvents(events)
	fmt.Println("before:", before.Len(), "keys; after:", after.Keys())
	// Output:
	// join  bob: current [], new [b1]
	// before: 0 keys; after: [bob]
}

// Metas decode into the type the clients tracked; numbers stay exact.
func ExampleDecodeMetas() {
	type device struct {
		UserID int64  `json:"user_id"`
		Status string `json:"status"`
	}
	state, _ := presence.ParseState([]byte(`{"u1":{"metas":[
		{"phx_ref":"r1","user_id":9007199254740993,"status":"online"},
		{"phx_ref":"r2","user_id":9007199254740993,"status":"away"}]}}`))
	devices, err := presence.DecodeMetas[device](state["u1"])
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", devices)
	// Output:
	// [{UserID:9007199254740993 Status:online} {UserID:9007199254740993 Status:away}]
}

// A fake server builds metas as the Realtime server does and encodes the payloads.
func ExampleEncodeDiff() {
	old, _ := presence.NewMeta("GH2wMJ0VtBk=", "", map[string]any{"status": "online"})
	updated, _ := presence.NewMeta("GH2wNtq9aP4=", old.Ref, map[string]any{"status": "away"})
	payload, _ := presence.EncodeDiff(presence.Diff{
		Joins:  map[string][]presence.Meta{"bob-key": {updated}},
		Leaves: map[string][]presence.Meta{"bob-key": {old}},
	})
	fmt.Println(string(payload))
	// Output:
	// {"joins":{"bob-key":{"metas":[{"phx_ref":"GH2wNtq9aP4=","phx_ref_prev":"GH2wMJ0VtBk=","status":"away"}]}},"leaves":{"bob-key":{"metas":[{"phx_ref":"GH2wMJ0VtBk=","status":"online"}]}}}
}
