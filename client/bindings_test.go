package client

import (
	"context"
	"testing"

	"github.com/go-supabase/realtime/internal/stream"
)

// Adding bindings scans the list for ended ones only when it is full: the ended ones of a
// quiet channel stay bounded, and adding N costs O(N) in all, whatever share of them ends.
func TestAddBindingPrunesWhenFull(t *testing.T) {
	var g stream.Group
	var bs []*broadcastBinding
	var live []*broadcastBinding
	scanned := 0
	for i := range 5000 {
		if len(bs) == cap(bs) {
			scanned += len(bs)
		}
		core, feed := stream.New[Broadcast](context.Background(), &g, "test", nil)
		b := &broadcastBinding{feed: feed}
		bs = addBinding(bs, b)
		if i%3 == 0 || i > 1000 && i%50 != 0 {
			core.Stop() // ended, never sent to again
		} else {
			live = append(live, b)
		}
		if len(bs) > 5*len(live)+8 {
			t.Fatalf("after %d adds: %d bindings kept for %d live ones", i+1, len(bs), len(live))
		}
	}
	if scanned > 4*5000 {
		t.Errorf("%d bindings scanned for 5,000 adds; want O(adds)", scanned)
	}
	for _, b := range live {
		b.feed.Close(nil)
	}
	g.Wait()
}
