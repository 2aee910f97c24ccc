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
	// Topic and Seq are the event's Origin: its channel and its receive sequence number. A
	// change matched by several subscriptions has the same Seq in each.
	Topic string
	Seq   uint64
	// Change is the row change; its zero value for a gap marker.
	pgchanges.Change
	// Gap is set, and Change empty, for a gap marker.
	Gap *Gap
	// Bindings are the bindings the change matched, in the order they were given: those of
	// the subscription for OnPostgresChanges and OnPostgresChangesOf, those of the channel
	// for an ordered subscription (Channel.OnEvents, Client.OnEvents; identical bindings
	// once). A gap marker lists them all. The slice is shared: do not modify it.
	Bindings []pgchanges.Binding
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

// PostgresChanges makes the channel listen to the row changes of bindings for as long as it
// lives, without a subscription of their own: they go into every join, like those of
// OnPostgresChanges, and their changes reach the channel's ordered subscriptions (OnEvents).
// Channel refuses bindings that fail validation.
func PostgresChanges(bindings ...pgchanges.Binding) ChannelOption {
	return func(c *channelConfig) { c.bindings = append(c.bindings, bindings...) }
}

// pgSub is a set of bindings and where their changes go: one OnPostgresChanges subscription,
// or the channel's PostgresChanges option (no feed).
type pgSub struct {
	feed     *stream.Feed[PostgresEvent] // nil for the channel's own bindings
	bindings []pgchanges.Binding         // distinct, in the order given
	keys     []string
	ids      []int64 // the server's id of each binding in the current join, once hasID
	hasID    bool
	cu       *catchUp // the catch-up of OnPostgresChangesWithCatchUp, or nil
}

func newPgSub(feed *stream.Feed[PostgresEvent], bindings []pgchanges.Binding) *pgSub {
	p := &pgSub{feed: feed}
	for _, b := range bindings {
		if k := b.Key(); !slices.Contains(p.keys, k) {
			p.bindings, p.keys = append(p.bindings, b), append(p.keys, k)
		}
	}
	p.ids = make([]int64, len(p.bindings))
	return p
}

// match returns the bindings of p that a change of type t listing ids matched, or nil. A
// single binding or a run of neighbours is a slice of p.bindings: nothing is allocated.
func (p *pgSub) match(ids []int64, t pgchanges.Event) []pgchanges.Binding {
	if !p.hasID {
		return nil
	}
	first, last, n := -1, -1, 0
	for i := range p.bindings {
		if slices.Contains(ids, p.ids[i]) && p.bindings[i].MatchesEvent(t) {
			if first < 0 {
				first = i
			}
			last = i
			n++
		}
	}
	switch {
	case n == 0:
		return nil
	case n == last-first+1:
		return p.bindings[first : last+1 : last+1]
	}
	out := make([]pgchanges.Binding, 0, n)
	for i := first; i <= last; i++ {
		if slices.Contains(ids, p.ids[i]) && p.bindings[i].MatchesEvent(t) {
			out = append(out, p.bindings[i])
		}
	}
	return out
}

// postgresFeature is the postgres_changes part of a channel: its bindings (in the join config,
// mapped to the ids of the server's reply), their subscriptions, and the readiness future of
// the current join.
type postgresFeature struct {
	baseFeature
	subs       []*pgSub
	all        *pgSub     // the channel's distinct bindings, for ordered subscriptions; nil when stale
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

// init adds the bindings of the channel's PostgresChanges option.
func (f *postgresFeature) init(bindings []pgchanges.Binding) {
	if len(bindings) > 0 {
		f.subs = append(f.subs, newPgSub(nil, bindings))
	}
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
//
// Changes of different subscriptions reach them in order each, but their order between
// subscriptions is lost; to keep it, put the bindings in one subscription (OnPostgresChangesOf)
// or read the channel's ordered stream (OnEvents).
func (ch *Channel) OnPostgresChanges(ctx context.Context, binding pgchanges.Binding, opts ...subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	return ch.onPostgres(ctx, []pgchanges.Binding{binding}, nil, opts)
}

// OnPostgresChangesOf is OnPostgresChanges for several bindings in one subscription: it
// delivers the changes of all of them in the order they arrived, each change once, however
// many of them it matched; its Bindings says which. Identical bindings count once. An empty
// list or a binding that fails validation gives a subscription closed at once with an
// invalid_argument error.
func (ch *Channel) OnPostgresChangesOf(ctx context.Context, bindings []pgchanges.Binding, opts ...subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	return ch.onPostgres(ctx, bindings, nil, opts)
}

func (ch *Channel) onPostgres(ctx context.Context, bindings []pgchanges.Binding, catchUpFn CatchUpFunc, opts []subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	names := make([]string, len(bindings))
	for i, b := range bindings {
		names[i] = b.String()
	}
	sub, feed := newSub[PostgresEvent](ctx, &ch.c.group, "postgres_changes "+strings.Join(names, ", ")+" on "+ch.topic, ch.c.subOptions(opts))
	if len(bindings) == 0 {
		feed.Close(invalidArgument("OnPostgresChangesOf needs at least one binding"))
		return sub
	}
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			feed.Close(wrapInvalid(err))
			return sub
		}
	}
	p := newPgSub(feed, bindings)
	if catchUpFn != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		p.cu = &catchUp{s: ch.s, fn: catchUpFn, feed: feed, subCtx: ctx}
	}
	listen(ch, feed, func(s *chanState) { s.cold().pg.add(p) })
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
		if len(s.cold().pg.subs) == 0 {
			f = acks.Settled(System{}, nil)
			return nil
		}
		if s.cold().pg.ready == nil {
			s.cold().pg.ready = newReadiness()
		}
		f = s.cold().pg.ready.fut
		return nil
	})
	if err != nil {
		return acks.Settled(System{}, err)
	}
	return f
}

func (f *postgresFeature) prune() {
	n := len(f.subs)
	f.subs = slices.DeleteFunc(f.subs, func(p *pgSub) bool {
		if p.feed == nil || p.feed.Accepting() {
			return false
		}
		if p.cu != nil {
			p.cu.end()
		}
		return true
	})
	if len(f.subs) != n {
		f.all = nil
	}
}

// known returns the id of the binding of key in the current join, if a binding of the
// channel has it.
func (f *postgresFeature) known(key string) (id int64, ok bool) {
	for _, p := range f.subs {
		if i := slices.Index(p.keys, key); i >= 0 {
			return p.ids[i], p.hasID
		}
	}
	return 0, false
}

func (f *postgresFeature) add(p *pgSub) {
	s := f.s
	f.prune()
	isNew, hasID := false, true
	for i, k := range p.keys {
		id, ok := f.known(k)
		if !ok {
			isNew = true
		}
		p.ids[i], hasID = id, hasID && ok
	}
	p.hasID = hasID && !isNew
	f.subs = append(f.subs, p)
	f.all = nil
	if isNew && s.want && (s.state() == ChannelJoined || s.joinRef != "") {
		s.r.c.log.Info("realtime: rejoining to add a postgres_changes binding", "topic", s.topic(), "binding", p.bindings[0].String())
		s.toJoining()
	}
}

// unique returns the distinct bindings in the order they were added: what the join config
// lists (the server collapses identical ones anyway).
func (f *postgresFeature) unique() []pgchanges.Binding {
	var out []pgchanges.Binding
	seen := map[string]bool{}
	for _, p := range f.subs {
		for i, b := range p.bindings {
			if !seen[p.keys[i]] {
				seen[p.keys[i]] = true
				out = append(out, b)
			}
		}
	}
	return out
}

// allBindings returns the channel's distinct bindings with their ids, for ordered
// subscriptions.
func (f *postgresFeature) allBindings() *pgSub {
	if f.all != nil {
		return f.all
	}
	all := newPgSub(nil, f.unique())
	all.hasID = true
	for i, k := range all.keys {
		id, ok := f.known(k)
		all.ids[i], all.hasID = id, all.hasID && ok
	}
	f.all = all
	return all
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
	for _, p := range f.subs {
		p.hasID = false
	}
	f.all = nil
	if len(f.subs) > 0 && (f.ready == nil || isDone(f.ready.fut.Done())) {
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
	for _, p := range f.subs {
		for i, k := range p.keys {
			p.ids[i] = byKey[k]
		}
		p.hasID = true
	}
	f.all = nil
	return nil
}

// joined marks the gap of a rejoin on every postgres subscription.
func (f *postgresFeature) joined() {
	s := f.s
	f.liveAtJoin()
	if !s.cold().downSince.IsZero() && len(f.subs) > 0 {
		gap := &Gap{Since: s.cold().downSince, Until: time.Now(), LastCommit: f.lastCommit, Cause: s.cold().downCause}
		ev := PostgresEvent{Topic: s.topic(), Seq: s.nextSeq(), Gap: gap}
		for _, p := range f.subs {
			if p.feed != nil {
				ev.Bindings = p.bindings
				p.feed.Send(ev, 0)
			}
		}
		if s.eventsWanted() {
			ev.Bindings = f.allBindings().bindings
			s.cold().evs.emit(ev, 0)
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
	for _, p := range f.subs {
		if p.feed != nil {
			p.feed.Close(cause)
		}
		if p.cu != nil {
			p.cu.end()
		}
	}
	f.subs, f.all = nil, nil
	f.settleReady(cause)
}

// route delivers a change to the subscriptions with a binding whose id it lists and whose
// event matches, once each, and to the ordered subscriptions. Only the envelope of the change
// is parsed; the record stays raw. Every change takes a receive sequence number, even one
// nobody receives or a malformed one.
func (f *postgresFeature) route(m *transport.Message) {
	s := f.s
	ordered := s.eventsWanted()
	if len(f.subs) == 0 && !ordered {
		s.nextSeq()
		return
	}
	change, ids, err := s.r.pgParser.ParsePayload(m.Payload)
	seq := s.nextSeq()
	if err != nil {
		s.r.c.log.Warn("realtime: dropped a malformed postgres_changes", "topic", s.topic(), "error", err.Error())
		return
	}
	if !change.CommitTimestamp.IsZero() {
		f.lastCommit = change.CommitTimestamp
	}
	ev := PostgresEvent{Topic: s.topic(), Seq: seq, Change: change}
	dead := false
	for _, p := range f.subs {
		if p.feed == nil {
			continue
		}
		if ev.Bindings = p.match(ids, change.Type); ev.Bindings != nil && !p.feed.Send(ev, len(m.Payload)) {
			dead = true
		}
	}
	if dead {
		f.prune()
	}
	if ordered {
		if ev.Bindings = f.allBindings().match(ids, change.Type); ev.Bindings != nil {
			s.cold().evs.emit(ev, len(m.Payload))
		}
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
