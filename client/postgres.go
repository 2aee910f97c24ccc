package client

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// PostgresEvent is what a postgres_changes subscription delivers: a row change, or — when the
// channel has joined again after being away — a gap marker saying that changes may have been
// missed meanwhile (the server does not replay them; query the table to catch up).
type PostgresEvent struct {
	// Change is the row change; its zero value for a gap marker.
	pgchanges.Change
	// Gap is set, and Change empty, for a gap marker.
	Gap *Gap
}

// Gap describes a period in which a channel was not joined, so changes may have been missed.
type Gap struct {
	// Since is when the channel stopped being joined; Until when it was joined again.
	Since, Until time.Time
	// LastCommit is the commit timestamp of the last change delivered before the gap (zero if
	// none), a watermark for catching up.
	LastCommit time.Time
	// Cause says why the channel left (a lost socket, a phx_error, …), or nil.
	Cause error
}

// pgBinding routes changes to one subscription.
type pgBinding struct {
	binding pgchanges.Binding
	key     string
	feed    *stream.Feed[PostgresEvent]
	id      int64
	hasID   bool
	cu      *catchUp // the catch-up of OnPostgresChangesWithCatchUp, or nil
}

// postgresFeature is the postgres_changes part of a channel: its bindings (in the join config,
// mapped to the ids of the server's reply), their subscriptions, and the readiness future of
// the current join.
type postgresFeature struct {
	baseFeature
	bindings   []*pgBinding
	ready      *readiness // the readiness of the current or next join, or nil
	waiting    bool       // the join in flight or the current one waits for the bindings
	lastCommit time.Time  // commit timestamp of the last change delivered
}

// readiness is the future of one join's "Subscribed to PostgreSQL".
type readiness struct {
	fut    *acks.Future[System]
	settle acks.Settle[System]
}

func newReadiness() *readiness {
	f, s := acks.New[System]()
	return &readiness{fut: f, settle: s}
}

// OnPostgresChanges returns a subscription to the row changes that binding selects. Call it
// before Subscribe so the binding goes into the join; called on a joined channel it rejoins the
// channel with the full set of bindings (a short gap, reported by a gap marker). Identical
// bindings share one server subscription. A binding that fails validation gives a subscription
// that is closed at once, whose Err is an invalid_argument error.
//
// A change reaches the subscription when the server lists this binding's id in the change's
// ids and the event matches (case-insensitively; "*" matches all). Values stay exact (see
// package pgchanges); decode a record with pgchanges.Decode. After a rejoin the bindings are
// subscribed again and re-mapped to the new ids, the subscription stays open, and a
// PostgresEvent whose Gap is set marks the gap (OnPostgresChangesWithCatchUp catches up on
// it). A binding with a filter receives DELETEs only from tables with REPLICA IDENTITY FULL.
func (ch *Channel) OnPostgresChanges(ctx context.Context, binding pgchanges.Binding, opts ...subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	return ch.onPostgres(ctx, binding, nil, opts)
}

func (ch *Channel) onPostgres(ctx context.Context, binding pgchanges.Binding, catchUpFn CatchUpFunc, opts []subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	sub, feed := newSub[PostgresEvent](ctx, &ch.c.group, "postgres_changes "+binding.String()+" on "+ch.topic, ch.c.subOptions(opts))
	if err := binding.Validate(); err != nil {
		feed.Close(wrapInvalid(err))
		return sub
	}
	pb := &pgBinding{binding: binding, key: binding.Key(), feed: feed}
	if catchUpFn != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		pb.cu = &catchUp{s: ch.s, fn: catchUpFn, feed: feed, subCtx: ctx}
	}
	listen(ch, feed, func(s *chanState) { s.pg.add(pb) })
	return sub
}

// PostgresReady returns a future that settles when the server reports that the channel's
// postgres_changes bindings are live, or with the server's error. Changes made before it
// settles may not be delivered. By default (see PostgresChangesWait) a join waits until the
// bindings are live, so the future of a join is settled by the time Subscribe returns. Without
// waiting, it settles on the system message "Subscribed to PostgreSQL", which can come seconds
// after the join.
// Each join has its own: the future of a join that ends before its bindings are live settles
// with the cause (a lost socket, a leave, a close), and PostgresReady then returns the future
// of the next join. For a channel without bindings it is settled already.
func (ch *Channel) PostgresReady() *acks.Future[System] {
	var f *acks.Future[System]
	err := ch.run(func(s *chanState) error {
		if len(s.pg.bindings) == 0 {
			f = acks.Settled(System{}, nil)
			return nil
		}
		if s.pg.ready == nil {
			s.pg.ready = newReadiness()
		}
		f = s.pg.ready.fut
		return nil
	})
	if err != nil {
		return acks.Settled(System{}, err)
	}
	return f
}

func (f *postgresFeature) prune() {
	f.bindings = slices.DeleteFunc(f.bindings, func(b *pgBinding) bool {
		if b.feed.Accepting() {
			return false
		}
		if b.cu != nil {
			b.cu.end()
		}
		return true
	})
}

func (f *postgresFeature) add(pb *pgBinding) {
	s := f.s
	f.prune()
	isNew := true
	for _, b := range f.bindings {
		if b.key == pb.key {
			pb.id, pb.hasID, isNew = b.id, b.hasID, false
			break
		}
	}
	f.bindings = append(f.bindings, pb)
	if isNew && s.want && (s.state() == ChannelJoined || s.joinRef != "") {
		s.r.c.log.Info("realtime: rejoining to add a postgres_changes binding", "topic", s.topic(), "binding", pb.binding.String())
		s.toJoining()
	}
}

// unique returns the distinct bindings in the order they were added: what the join config
// lists (the server collapses identical ones anyway).
func (f *postgresFeature) unique() []pgchanges.Binding {
	var out []pgchanges.Binding
	seen := map[string]bool{}
	for _, b := range f.bindings {
		if !seen[b.key] {
			seen[b.key] = true
			out = append(out, b.binding)
		}
	}
	return out
}

// configure lists the bindings in the join config (never null).
func (f *postgresFeature) configure(p *joinPayload) {
	p.Config.PostgresChanges = []json.RawMessage{}
	for _, b := range f.unique() {
		if raw, err := b.MarshalJSON(); err == nil {
			p.Config.PostgresChanges = append(p.Config.PostgresChanges, raw)
		}
	}
	f.configureWait(p)
}

func (f *postgresFeature) joining() {
	f.prune()
	for _, b := range f.bindings {
		b.hasID = false
	}
	if len(f.bindings) > 0 && (f.ready == nil || isDone(f.ready.fut.Done())) {
		f.ready = newReadiness()
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// accepted maps the join reply's binding ids onto the bindings, by index and then by value; a
// mismatch is an error naming the binding.
func (f *postgresFeature) accepted(response []byte) error {
	s := f.s
	uniq := f.unique()
	if len(uniq) == 0 {
		return nil
	}
	items, has, err := pgchanges.ParseReplyBindings(response)
	if err != nil {
		return newError(CodeServerError, err, "malformed postgres_changes in the join reply: "+err.Error(), "topic", s.topic())
	}
	if !has {
		s.r.c.log.Warn("realtime: the join reply has no postgres_changes; no change will be delivered", "topic", s.topic())
		return nil
	}
	ids, err := pgchanges.MatchReply(uniq, items)
	if err != nil {
		return newError(CodeServerError, err, "mismatch between server and client bindings for postgres changes: "+err.Error(), "topic", s.topic())
	}
	byKey := make(map[string]int64, len(uniq))
	for i, b := range uniq {
		byKey[b.Key()] = ids[i]
	}
	for _, b := range f.bindings {
		b.id, b.hasID = byKey[b.key], true
	}
	return nil
}

// joined marks the gap of a rejoin on every postgres subscription.
func (f *postgresFeature) joined() {
	s := f.s
	f.liveAtJoin()
	if !s.downSince.IsZero() {
		gap := &Gap{Since: s.downSince, Until: time.Now(), LastCommit: f.lastCommit, Cause: s.downCause}
		for _, b := range f.bindings {
			b.feed.Send(PostgresEvent{Gap: gap}, 0)
		}
		f.catchUpGap(gap)
	}
	if f.waiting {
		f.catchUpLive()
	}
}

// down settles the readiness of the join that ended; PostgresReady then returns the next
// join's.
func (f *postgresFeature) down(cause error) {
	if cause == nil {
		cause = newError(CodeClosed, nil, "channel left before its postgres_changes were live", "topic", f.s.topic())
	}
	f.settleReady(cause)
	f.catchUpDown()
}

func (f *postgresFeature) settleReady(err error) {
	if f.ready != nil {
		f.ready.settle(System{}, err)
		f.ready = nil
	}
}

func (f *postgresFeature) end(cause error) {
	for _, b := range f.bindings {
		b.feed.Close(cause)
		if b.cu != nil {
			b.cu.end()
		}
	}
	f.bindings = nil
	f.settleReady(cause)
}

// route delivers a change to the bindings whose id it lists and whose event matches. Only the
// envelope of the change is parsed; the record stays raw.
func (f *postgresFeature) route(m *transport.Message) {
	if len(f.bindings) == 0 {
		return
	}
	s := f.s
	change, ids, err := s.r.pgParser.ParsePayload(m.Payload)
	if err != nil {
		s.r.c.log.Warn("realtime: dropped a malformed postgres_changes", "topic", s.topic(), "error", err.Error())
		return
	}
	if !change.CommitTimestamp.IsZero() {
		f.lastCommit = change.CommitTimestamp
	}
	ev := PostgresEvent{Change: change}
	dead := false
	for _, b := range f.bindings {
		if b.hasID && slices.Contains(ids, b.id) && b.binding.MatchesEvent(change.Type) {
			if !b.feed.Send(ev, len(m.Payload)) {
				dead = true
			}
		}
	}
	if dead {
		f.prune()
	}
}

// system settles the readiness future from the postgres_changes extension's system messages.
// A transient error (an Elixir-inspected term such as {:error, "Too many database timeouts"})
// is retried by the server, so it does not settle it.
func (f *postgresFeature) system(sys System) {
	if sys.Extension != "postgres_changes" {
		return
	}
	if sys.Status == "ok" && !f.waiting {
		f.catchUpLive()
	}
	if f.ready == nil {
		return
	}
	switch {
	case sys.Status == "ok":
		f.ready.settle(sys, nil)
	case strings.HasPrefix(sys.Message, "{:error"):
	default:
		f.ready.settle(sys, newError(CodeServerError, nil, sys.Message, "topic", f.s.topic(), "extension", sys.Extension))
	}
}
