package client

import (
	"context"
	"time"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
)

// CatchUpFunc brings the caller's copy of the data up to date after a gap: it reads what
// changed since gap.LastCommit (or gap.Since when nothing was delivered before) and applies it.
// See Channel.OnPostgresChangesWithCatchUp.
type CatchUpFunc func(ctx context.Context, gap Gap) error

// OnPostgresChangesWithCatchUp is OnPostgresChanges with a catch-up function run for every gap
// of the subscription: when the channel has joined again after being away (and its bindings are
// live again), the subscription delivers the gap marker, then catchUp runs with the gap's
// bounds, and only once it has returned nil are the changes that arrived meanwhile delivered,
// in order. So the reader never sees a change made after the gap before the catch-up has
// applied what the gap hid.
//
// catchUp runs on a goroutine of its own, never on the SDK's router, and one at a time for a
// subscription; gaps that come while it runs are caught up in turn. Changes that arrive
// meanwhile wait in the subscription's pending queue, within its limits (see package
// subscribe): a catch-up that takes longer than the queue can absorb evicts a subscription
// with the default policy. When catchUp returns an error it is logged and catchUp runs again
// for the same gap after the channel's rejoin backoff; return nil to give up on a gap. Its ctx
// is cancelled when the client closes, when the channel ends and when ctx is done; Close waits
// for it to return.
//
// Apply changes idempotently: a change can reach the caller twice, once read by catchUp and
// once delivered (it may have been committed after the gap began and still arrive live, or be
// delivered before the gap and still be unread in the subscription's channel when catchUp
// runs). Applying a row keyed by its primary key, and skipping a change older than the row
// already held (compare a version column or CommitTimestamp), makes the order harmless.
func (ch *Channel) OnPostgresChangesWithCatchUp(ctx context.Context, binding pgchanges.Binding, catchUp CatchUpFunc, opts ...subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	if catchUp == nil {
		sub, feed := newSub[PostgresEvent](ctx, &ch.c.group, "postgres_changes "+binding.String()+" on "+ch.topic, ch.c.subOptions(opts))
		feed.Close(invalidArgument("OnPostgresChangesWithCatchUp: nil catch-up function"))
		return sub
	}
	return ch.onPostgres(ctx, []pgchanges.Binding{binding}, catchUp, opts)
}

// catchUp runs a subscription's catch-up function for its gaps, one at a time, holding the
// subscription's later changes meanwhile. Owned by the router goroutine.
type catchUp struct {
	s       *chanState
	fn      CatchUpFunc
	feed    *stream.Feed[PostgresEvent]
	subCtx  context.Context
	pending []Gap // gaps to catch up, oldest first; the first may be running
	running bool
	live    bool // the bindings are live: a catch-up may start
	attempt int
	retry   *time.Timer
	cancel  context.CancelFunc // of the run under way
}

// gap holds the subscription's later changes and queues g for catching up.
func (cu *catchUp) gap(g Gap) {
	cu.feed.Hold()
	cu.pending = append(cu.pending, g)
}

// ready starts catching up once the bindings are live again.
func (cu *catchUp) ready() {
	cu.live = true
	cu.next()
}

// down stops new catch-ups until the bindings are live again; a run under way finishes.
func (cu *catchUp) down() { cu.live = false }

// next starts the catch-up of the oldest pending gap, or releases the held changes when there
// is none left.
func (cu *catchUp) next() {
	if cu.running || cu.retry != nil || !cu.live {
		return
	}
	if !cu.feed.Accepting() {
		cu.pending = nil
		return
	}
	if len(cu.pending) == 0 {
		cu.feed.Release()
		return
	}
	c := cu.s.r.c
	g := cu.pending[0]
	ctx, cancel := context.WithCancel(c.life)
	stop := context.AfterFunc(cu.subCtx, cancel)
	cu.running, cu.cancel = true, cancel
	c.catchUps.Go(func() {
		err := cu.fn(ctx, g)
		stop()
		cancel()
		c.post(func() { cu.finished(err) })
	})
}

// finished handles the return of a catch-up function.
func (cu *catchUp) finished(err error) {
	cu.running, cu.cancel = false, nil
	if !cu.feed.Accepting() {
		cu.pending = nil
		return
	}
	if err != nil {
		r := cu.s.r
		delay := r.c.cfg.rejoinBackoff(cu.attempt)
		cu.attempt++
		r.c.log.Warn("realtime: postgres_changes catch-up failed; retrying", "topic", cu.s.topic(), "error", err.Error(), "retry_in", delay.String())
		cu.retry = time.AfterFunc(delay, func() {
			r.c.post(func() {
				cu.retry = nil
				cu.next()
			})
		})
		return
	}
	cu.attempt = 0
	cu.pending = cu.pending[1:]
	cu.next()
}

// end stops catching up for good: the channel or the subscription is over.
func (cu *catchUp) end() {
	stopTimer(&cu.retry)
	if cu.cancel != nil {
		cu.cancel()
	}
	cu.pending = nil
}

// The postgres feature's side: each hook passes the channel's life on to the subscriptions that
// catch up.

// catchUpGap queues the gap on every subscription that catches up.
func (f *postgresFeature) catchUpGap(g *Gap) {
	for _, p := range f.subs {
		if p.cu != nil {
			p.cu.gap(*g)
		}
	}
}

// catchUpLive lets the catch-ups start: the bindings are live.
func (f *postgresFeature) catchUpLive() {
	for _, p := range f.subs {
		if p.cu != nil {
			p.cu.ready()
		}
	}
}

// catchUpDown holds new catch-ups until the bindings are live again.
func (f *postgresFeature) catchUpDown() {
	for _, p := range f.subs {
		if p.cu != nil {
			p.cu.down()
		}
	}
}
