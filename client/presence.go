package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// The server's client presence rate limit (PROTOCOL.md §4.7): more than 5 track or untrack
// pushes within 30 s on one channel close the channel. The client keeps under it with a
// sliding window, plus a margin for the server's fixed window starting a little after ours.
const (
	presenceLimit  = 5
	presenceWindow = 30 * time.Second
	presenceMargin = time.Second
)

// presenceState is a channel's presence bookkeeping, owned by the router goroutine.
type presenceState struct {
	tracker  *presence.Tracker
	feeds    []*stream.Feed[presence.Event]
	tracked  json.RawMessage // the last state tracked (re-tracked after every rejoin), or nil
	sentAt   []time.Time     // presence pushes sent within the current window
	pending  *presencePush   // a push waiting for room under the rate limit
	timer    *time.Timer
	snapshot presence.State
}

// presencePush is a track (payload non-nil) or untrack waiting for room under the rate limit;
// every caller that asked for it, or for a later state that replaced it, waits on its reply.
type presencePush struct {
	payload json.RawMessage
	waiters []acks.Settle[Reply]
}

// OnPresence returns a subscription to the channel's presence events, in order: Join and Leave
// for each change, then a Sync carrying the whole state after each presence message. Having a
// presence subscription turns presence on for the channel (config.presence.enabled); adding
// the first one to a channel already joined without presence rejoins it, with a short gap.
//
// The subscription conflates by default: a reader that falls behind does not queue events
// without bound; the newest event replaces the one waiting. Such a reader may therefore miss
// Join and Leave events (each one missed is counted by Dropped and the episode is logged), but
// the last event it reads once it catches up is always a Sync with the current state, so the
// state it ends with is right. Pass subscribe.WithOverflow(subscribe.Evict) and a larger
// subscribe.WithBuffer to receive every event or be told with an error.
func (ch *Channel) OnPresence(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[presence.Event] {
	all := append(stream.ConflateDefaults(), ch.c.subOptions(opts)...)
	sub, feed := newSub[presence.Event](ctx, &ch.c.group, "presence on "+ch.topic, all)
	if err := ch.c.exec(func() { ch.c.r.addPresenceFeed(ch, feed) }); err != nil {
		feed.Close(err)
	}
	return sub
}

// PresenceState returns the current presence state of the channel: an immutable snapshot that
// never changes under its holder.
func (ch *Channel) PresenceState() presence.State {
	if s := ch.presSnap.Load(); s != nil {
		return *s
	}
	return presence.State{}
}

// Track sets this client's presence on the channel to state, a JSON object (a struct or map,
// or a json.RawMessage), and waits for the server's reply. Tracking again replaces the state
// (other members see a leave of the old meta and a join of the new one). The state is tracked
// again automatically after every rejoin. If the channel is not joined yet, the track is sent
// once it is.
//
// The server closes a channel that sends more than 5 track or untrack pushes within 30 s. The
// client keeps under that limit: a call beyond it waits for room, and calls made while one
// waits coalesce into one push of the latest state, whose reply they all get. ctx bounds only
// the wait.
func (ch *Channel) Track(ctx context.Context, state any) error {
	data, err := marshalPayload(state)
	if err != nil {
		return err
	}
	if !transport.IsObject(data) {
		return invalidArgument("presence state must be a JSON object (the server refuses others: \"Presence track payload must be a map\")")
	}
	return ch.presencePush(ctx, data)
}

// Untrack removes this client's presence from the channel and waits for the reply; the state
// is no longer tracked after rejoins. It is subject to the same rate limit as Track.
func (ch *Channel) Untrack(ctx context.Context) error { return ch.presencePush(ctx, nil) }

func (ch *Channel) presencePush(ctx context.Context, payload json.RawMessage) error {
	if err := ch.c.start(); err != nil {
		return err
	}
	fut, settle := acks.New[Reply]()
	if err := ch.c.exec(func() { ch.c.r.presencePush(ch, payload, settle) }); err != nil {
		return err
	}
	_, err := fut.Wait(ctx)
	return ctxError(ctx, err)
}

func (ch *Channel) pres() *presenceState {
	if ch.presence == nil {
		ch.presence = &presenceState{tracker: presence.NewTracker()}
	}
	return ch.presence
}

// wantsPresence says whether presence must be enabled in the join config.
func (ch *Channel) wantsPresence() bool {
	p := ch.presence
	return p != nil && (len(p.feeds) > 0 || p.tracked != nil)
}

func (r *router) addPresenceFeed(ch *Channel, feed *stream.Feed[presence.Event]) {
	p := ch.pres()
	enabledBefore := ch.presenceEnabled()
	p.feeds = append(pruneFeeds(p.feeds), feed)
	// A newcomer gets the current state at once, if there is one.
	if p.tracker.Synced() {
		feed.Send(presence.Sync{State: p.tracker.State()}, 0)
	}
	if !enabledBefore && ch.presenceEnabled() && ch.State() == ChannelJoined {
		r.c.log.Info("realtime: rejoining to turn presence on", "topic", ch.topic)
		r.join(ch)
	}
}

func pruneFeeds[T any](fs []*stream.Feed[T]) []*stream.Feed[T] {
	kept := fs[:0]
	for _, f := range fs {
		if f.Accepting() {
			kept = append(kept, f)
		}
	}
	clear(fs[len(kept):])
	return kept
}

// presencePush sends a track or untrack now if the rate limit allows, else queues it
// (coalescing with one already queued).
func (r *router) presencePush(ch *Channel, payload json.RawMessage, settle acks.Settle[Reply]) {
	if !ch.want {
		settle(Reply{}, newError(CodeClosed, nil, "channel is not subscribed; call Subscribe first", "topic", ch.topic))
		return
	}
	p := ch.pres()
	enabledBefore := ch.presenceEnabled()
	p.tracked = payload
	if !enabledBefore && ch.presenceEnabled() {
		// The next join carries enabled; the server turns presence on for this join itself.
		r.c.log.Debug("realtime: presence on after track", "topic", ch.topic)
	}
	if p.pending != nil {
		p.pending.payload = payload
		p.pending.waiters = append(p.pending.waiters, settle)
		return
	}
	p.pending = &presencePush{payload: payload, waiters: []acks.Settle[Reply]{settle}}
	r.flushPresence(ch)
}

// flushPresence sends the queued presence push when the channel is joined and the window has
// room, or arms a timer for when it will.
func (r *router) flushPresence(ch *Channel) {
	p := ch.presence
	if p == nil || p.pending == nil || ch.State() != ChannelJoined {
		return
	}
	now := time.Now()
	kept := p.sentAt[:0]
	for _, t := range p.sentAt {
		if now.Sub(t) < presenceWindow+presenceMargin {
			kept = append(kept, t)
		}
	}
	p.sentAt = kept
	if len(p.sentAt) >= presenceLimit {
		if p.timer == nil {
			wait := presenceWindow + presenceMargin - now.Sub(p.sentAt[0])
			r.c.log.Info("realtime: presence rate limit: coalescing until the window has room", "topic", ch.topic, "wait", wait.String())
			p.timer = time.AfterFunc(wait, func() {
				r.c.post(func() {
					p.timer = nil
					r.flushPresence(ch)
				})
			})
		}
		return
	}
	push := p.pending
	p.pending = nil
	p.sentAt = append(p.sentAt, now)
	r.sendPresence(ch, push.payload, func(rep Reply, err error) {
		for _, w := range push.waiters {
			w(rep, err)
		}
	})
}

// sendPresence pushes a track (payload non-nil) or an untrack on the joined channel; done gets
// the reply.
func (r *router) sendPresence(ch *Channel, payload json.RawMessage, done func(Reply, error)) {
	body := map[string]any{"type": "presence", "event": "untrack"}
	if payload != nil {
		body = map[string]any{"type": "presence", "event": "track", "payload": payload}
	}
	data, _ := json.Marshal(body)
	ref := r.c.conn.MakeRef()
	m := transport.Message{JoinRef: ch.joinRef, Ref: ref, Topic: ch.topic, Event: transport.EventPresence, Payload: data}
	if err := r.c.acks.AddFunc(ref, r.epoch, r.c.cfg.timeout, ch.timeoutErr(m), done); err != nil {
		done(Reply{}, fromAcks(err))
		return
	}
	if err := r.c.conn.Post(r.epoch, &m); err != nil {
		r.c.acks.Settle(ref, Reply{}, wrapSendError(err))
	}
}

// beforeJoin makes the tracker wait for the new join's presence_state and opens a fresh rate
// window (the server counts per channel process, which a join replaces).
func (r *router) beforeJoin(ch *Channel) {
	if p := ch.presence; p != nil {
		p.tracker.Reset()
		p.sentAt = nil
		stopTimer(&p.timer)
	}
	r.beforeJoinPostgres(ch)
}

// afterJoined re-tracks the last tracked state and sends what waited for the join.
func (r *router) afterJoined(ch *Channel) {
	if p := ch.presence; p != nil {
		if p.pending != nil {
			r.flushPresence(ch)
		} else if p.tracked != nil {
			payload := p.tracked
			r.sendPresence(ch, payload, func(_ Reply, err error) {
				if err != nil {
					r.c.log.Warn("realtime: re-tracking presence after the rejoin failed", "topic", ch.topic, "error", err.Error())
				}
			})
			p.sentAt = append(p.sentAt, time.Now())
		}
	}
	r.afterJoinedPostgres(ch)
}

func (r *router) routePresenceState(ch *Channel, m *transport.Message) {
	p := ch.pres()
	evs, err := p.tracker.HandleState(m.Payload)
	if err != nil {
		r.c.log.Warn("realtime: dropped a malformed presence_state", "topic", ch.topic, "error", err.Error())
		return
	}
	r.deliverPresence(ch, evs)
}

func (r *router) routePresenceDiff(ch *Channel, m *transport.Message) {
	p := ch.pres()
	evs, err := p.tracker.HandleDiff(m.Payload)
	if err != nil {
		r.c.log.Warn("realtime: dropped a malformed presence_diff", "topic", ch.topic, "error", err.Error())
		return
	}
	r.deliverPresence(ch, evs)
}

func (r *router) deliverPresence(ch *Channel, evs []presence.Event) {
	if len(evs) == 0 {
		return
	}
	p := ch.presence
	st := p.tracker.State()
	ch.presSnap.Store(&st)
	for _, ev := range evs {
		p.feeds = deliver(p.feeds, ev, presenceSize(ev))
	}
}

func presenceSize(ev presence.Event) int {
	switch e := ev.(type) {
	case presence.Join:
		return metasSize(e.New) + metasSize(e.Current)
	case presence.Leave:
		return metasSize(e.Left) + metasSize(e.Current)
	}
	return 64
}

func metasSize(ms []presence.Meta) int {
	n := 0
	for _, m := range ms {
		n += len(m.Raw)
	}
	return n
}

// socketLostPresence keeps the state: the next presence_state after the rejoin says who left
// meanwhile.
func (r *router) socketLostPresence(ch *Channel) {
	if p := ch.presence; p != nil {
		stopTimer(&p.timer)
	}
}

// leftPresence empties the state when the channel is left: members leave, then a Sync of
// nobody.
func (r *router) leftPresence(ch *Channel) {
	p := ch.presence
	if p == nil {
		return
	}
	stopTimer(&p.timer)
	if p.pending != nil {
		for _, w := range p.pending.waiters {
			w(Reply{}, newError(CodeClosed, nil, "channel left before the presence push was sent", "topic", ch.topic))
		}
		p.pending = nil
	}
	if p.tracker.State().Len() == 0 {
		return
	}
	p.tracker.Reset()
	evs, _ := p.tracker.HandleState([]byte("{}"))
	r.deliverPresence(ch, evs)
}

func (r *router) endPresence(ch *Channel, cause error) {
	p := ch.presence
	if p == nil {
		return
	}
	for _, f := range p.feeds {
		f.Close(cause)
	}
	p.feeds = nil
	stopTimer(&p.timer)
	if p.pending != nil {
		for _, w := range p.pending.waiters {
			w(Reply{}, cause)
		}
		p.pending = nil
	}
}

// String describes a presence push for logs.
func (p *presencePush) String() string {
	if p.payload == nil {
		return "untrack"
	}
	return fmt.Sprintf("track (%d bytes)", len(p.payload))
}
