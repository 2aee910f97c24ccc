package client_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/client"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/testutil"
)

// After a gap the subscription delivers the gap marker, runs the catch-up function (again
// after it failed), and delivers the changes that arrived meanwhile only once it has returned.
func TestCatchUpRunsBeforeLaterChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("db")
		gaps := make(chan client.Gap, 4)
		release := make(chan struct{})
		var calls atomic.Int32
		fn := func(ctx context.Context, g client.Gap) error {
			gaps <- g
			if calls.Add(1) == 1 {
				return errors.New("database unreachable")
			}
			<-release
			return nil
		}
		sub := ch.OnPostgresChangesWithCatchUp(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"), fn)
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		insertMessage(srv, `{"id":1,"room_id":1}`)
		recv(t, sub)
		synctest.Wait()
		if n := calls.Load(); n != 0 {
			t.Fatalf("catch-up ran %d times without a gap", n)
		}

		srv.DropConnections()
		if ev := recv(t, sub); ev.Gap == nil {
			t.Fatalf("after the drop: %+v; want the gap marker", ev)
		}
		g := <-gaps // the first run fails
		if g.LastCommit.IsZero() || !g.Until.After(g.Since) {
			t.Errorf("gap bounds %+v", g)
		}
		insertMessage(srv, `{"id":2,"room_id":1}`)
		g2 := <-gaps // the retry, after the rejoin backoff
		if !g2.Since.Equal(g.Since) {
			t.Errorf("the retry got gap %+v; want %+v", g2, g)
		}
		insertMessage(srv, `{"id":3,"room_id":1}`)
		synctest.Wait()
		none(t, sub) // held while the catch-up runs
		close(release)
		for _, id := range []string{`"id":2`, `"id":3`} {
			if ev := recv(t, sub); !strings.Contains(string(ev.Record), id) {
				t.Errorf("after the catch-up: %+v; want %s", ev, id)
			}
		}
	})
}

// Close cancels the ctx of a catch-up under way and waits for it to return.
func TestCloseWaitsForTheCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer(t)
		c := newClient(t, srv)
		ch, _ := c.Channel("db")
		started := make(chan struct{})
		var returned atomic.Bool
		fn := func(ctx context.Context, g client.Gap) error {
			close(started)
			<-ctx.Done()
			time.Sleep(time.Second)
			returned.Store(true)
			return ctx.Err()
		}
		_ = ch.OnPostgresChangesWithCatchUp(t.Context(), pgchanges.On(pgchanges.Insert, "public", "messages"), fn)
		if err := ch.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.DropConnections()
		<-started
		c.Close()
		if !returned.Load() {
			t.Error("Close returned before the catch-up function")
		}
	})
}
