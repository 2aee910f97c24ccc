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
// PostgresEvent whose Gap is set marks the gap.
func (ch *Channel) OnPostgresChanges(ctx context.Context, binding pgchanges.Binding, opts ...subscribe.Option) *subscribe.Subscription[PostgresEvent] {
	sub, feed := newSub[PostgresEvent](ctx, &ch.c.group, "postgres_changes "+binding.String()+" on "+ch.topic, ch.c.subOptions(opts))
	if err := binding.Validate(); err != nil {
		feed.Close(wrapInvalid(err))
		return sub
	}
	pb := &pgBinding{binding: binding, key: binding.Key(), feed: feed}
	if err := ch.c.exec(func() { ch.c.r.addPostgres(ch, pb) }); err != nil {
		feed.Close(err)
	}
	return sub
}

// PostgresReady returns a future that settles when the server reports that the channel's
// postgres_changes bindings are live ("Subscribed to PostgreSQL", which can take seconds after
// the join), or with the server's error. Changes made before it settles may not be delivered.
// Each join has its own: after a rejoin, call PostgresReady again. For a channel without
// bindings it is settled already.
func (ch *Channel) PostgresReady() *acks.Future[System] {
	var f *acks.Future[System]
	if err := ch.c.exec(func() {
		if len(ch.pg) == 0 {
			f = acks.Settled(System{}, nil)
			return
		}
		if ch.pgReady == nil {
			ch.pgReady = newReadiness()
		}
		f = ch.pgReady.fut
	}); err != nil {
		return acks.Settled(System{}, err)
	}
	return f
}

func (r *router) addPostgres(ch *Channel, pb *pgBinding) {
	ch.pg = slices.DeleteFunc(ch.pg, func(b *pgBinding) bool { return !b.feed.Accepting() })
	isNew := !slices.ContainsFunc(ch.pg, func(b *pgBinding) bool { return b.key == pb.key })
	if !isNew {
		for _, b := range ch.pg {
			if b.key == pb.key {
				pb.id, pb.hasID = b.id, b.hasID
				break
			}
		}
	}
	ch.pg = append(ch.pg, pb)
	if isNew && ch.want && (ch.State() == ChannelJoined || ch.joinRef != "") {
		r.c.log.Info("realtime: rejoining to add a postgres_changes binding", "topic", ch.topic, "binding", pb.binding.String())
		r.join(ch)
	}
}

// uniqueBindings returns the distinct bindings in the order they were added: what the join
// config lists (the server collapses identical ones anyway).
func (ch *Channel) uniqueBindings() []pgchanges.Binding {
	var out []pgchanges.Binding
	seen := map[string]bool{}
	for _, b := range ch.pg {
		if !seen[b.key] {
			seen[b.key] = true
			out = append(out, b.binding)
		}
	}
	return out
}

// postgresConfig is the join config's postgres_changes list (never null).
func (ch *Channel) postgresConfig() []json.RawMessage {
	out := []json.RawMessage{}
	for _, b := range ch.uniqueBindings() {
		raw, err := b.MarshalJSON()
		if err == nil {
			out = append(out, raw)
		}
	}
	return out
}

func (r *router) beforeJoinPostgres(ch *Channel) {
	ch.pg = slices.DeleteFunc(ch.pg, func(b *pgBinding) bool { return !b.feed.Accepting() })
	for _, b := range ch.pg {
		b.hasID = false
	}
	if len(ch.pg) > 0 && (ch.pgReady == nil || ch.pgReady.fut.Err() != nil || isDone(ch.pgReady.fut.Done())) {
		ch.pgReady = newReadiness()
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

// afterJoin maps the join reply's binding ids onto the channel's bindings, by index and then
// by value; a mismatch is an error naming the binding.
func (r *router) afterJoin(ch *Channel, response []byte) error {
	uniq := ch.uniqueBindings()
	if len(uniq) == 0 {
		return nil
	}
	items, has, err := pgchanges.ParseReplyBindings(response)
	if err != nil {
		return newError(CodeServerError, err, "malformed postgres_changes in the join reply: "+err.Error(), "topic", ch.topic)
	}
	if !has {
		r.c.log.Warn("realtime: the join reply has no postgres_changes; no change will be delivered", "topic", ch.topic)
		return nil
	}
	ids, err := pgchanges.MatchReply(uniq, items)
	if err != nil {
		return newError(CodeServerError, err, "mismatch between server and client bindings for postgres changes: "+err.Error(), "topic", ch.topic)
	}
	byKey := make(map[string]int64, len(uniq))
	for i, b := range uniq {
		byKey[b.Key()] = ids[i]
	}
	for _, b := range ch.pg {
		b.id, b.hasID = byKey[b.key], true
	}
	return nil
}

// afterJoinedPostgres marks the gap of a rejoin on every postgres subscription.
func (r *router) afterJoinedPostgres(ch *Channel) {
	if ch.downSince.IsZero() {
		return
	}
	gap := &Gap{Since: ch.downSince, Until: time.Now(), LastCommit: ch.lastCommit, Cause: ch.downCause}
	ch.downSince, ch.downCause = time.Time{}, nil
	for _, b := range ch.pg {
		b.feed.Send(PostgresEvent{Gap: gap}, 0)
	}
}

// routePostgres delivers a change to the bindings whose id it lists and whose event matches.
// Only the envelope of the change is parsed; the record stays raw.
func (r *router) routePostgres(ch *Channel, m *transport.Message) {
	if len(ch.pg) == 0 {
		return
	}
	change, ids, err := r.pgParser.ParsePayload(m.Payload)
	if err != nil {
		r.c.log.Warn("realtime: dropped a malformed postgres_changes", "topic", ch.topic, "error", err.Error())
		return
	}
	if !change.CommitTimestamp.IsZero() {
		ch.lastCommit = change.CommitTimestamp
	}
	ev := PostgresEvent{Change: change}
	dead := false
	for _, b := range ch.pg {
		if b.hasID && slices.Contains(ids, b.id) && b.binding.MatchesEvent(change.Type) {
			if !b.feed.Send(ev, len(m.Payload)) {
				dead = true
			}
		}
	}
	if dead {
		ch.pg = slices.DeleteFunc(ch.pg, func(b *pgBinding) bool { return !b.feed.Accepting() })
	}
}

// systemFeatures settles the readiness future from the postgres_changes extension's system
// messages. A transient error (an Elixir-inspected term such as {:error, "Too many database
// timeouts"}) is retried by the server, so it does not settle it.
func (r *router) systemFeatures(ch *Channel, s System) {
	if s.Extension != "postgres_changes" || ch.pgReady == nil {
		return
	}
	switch {
	case s.Status == "ok":
		ch.pgReady.settle(s, nil)
	case strings.HasPrefix(s.Message, "{:error"):
	default:
		ch.pgReady.settle(s, newError(CodeServerError, nil, s.Message, "topic", ch.topic, "extension", s.Extension))
	}
}

func (r *router) endPostgres(ch *Channel, cause error) {
	for _, b := range ch.pg {
		b.feed.Close(cause)
	}
	ch.pg = nil
	if ch.pgReady != nil {
		ch.pgReady.settle(System{}, cause)
	}
}

// endFeatureSubscriptions ends the presence and postgres subscriptions of a channel.
func (r *router) endFeatureSubscriptions(ch *Channel, cause error) {
	r.endPresence(ch, cause)
	r.endPostgres(ch, cause)
}
