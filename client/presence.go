package client

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// The server's client presence rate limit: more than 5 track or untrack pushes within 30 s
// on one channel make the server close the channel ("Client presence rate limit exceeded").
// The client keeps under it with a sliding window, plus a margin for the server's window
// starting a little after ours.
const (
	presenceLimit  = 5
	presenceWindow = 30 * time.Second
	presenceMargin = time.Second
)

// presenceFeature is the presence part of a channel: the state and its Phoenix sync, the
// subscriptions, the tracked state (tracked again after every rejoin) and the rate guard.
type presenceFeature struct {
	baseFeature
	tracker *presence.Tracker // nil until presence is used
	feeds   []*stream.Feed[presence.Event]
	tracked json.RawMessage // the last state tracked, or nil
	sentAt  []time.Time     // presence pushes sent within the current window
	pending *presencePush   // a push waiting for room under the rate limit
	timer   *time.Timer

	job             *presenceJob // a message handled off the router goroutine (presencejob.go)
	refusedThisJoin bool         // a refusal was logged as a warning since the join
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
	listen(ch, feed, func(s *chanState) { s.cold().pres.addFeed(feed) })
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
	if err := ch.gone(); err != nil {
		return err
	}
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
	fut, settle := acks.New[Reply]()
	if err := ch.run(func(s *chanState) error { return s.cold().pres.push(payload, settle) }); err != nil {
		return err
	}
	_, err := fut.Wait(ctx)
	return ctxError(ctx, err)
}

func (f *presenceFeature) track() *presence.Tracker {
	if f.tracker == nil {
		f.tracker = presence.NewTracker()
		f.tracker.SetLimits(f.presenceLimits())
	}
	return f.tracker
}

// wanted says whether the channel uses presence: it has a presence subscription or a tracked
// state.
func (f *presenceFeature) wanted() bool { return len(f.feeds) > 0 || f.tracked != nil }

// enabled says whether to send config.presence.enabled as true.
func (f *presenceFeature) enabled() bool {
	switch f.s.ch.cfg.presenceEnabled {
	case 1:
		return true
	case -1:
		return false
	}
	return f.wanted()
}

func (f *presenceFeature) configure(p *joinPayload) {
	p.Config.Presence.Key = f.s.ch.cfg.presenceKey
	p.Config.Presence.Enabled = f.enabled()
}

func (f *presenceFeature) addFeed(feed *stream.Feed[presence.Event]) {
	s := f.s
	enabledBefore := f.enabled()
	f.settleJob(false)
	f.feeds = addFeed(f.feeds, feed)
	// A newcomer gets the current state at once, if there is one.
	if t := f.tracker; t != nil && t.Synced() {
		feed.Send(presence.Sync{State: t.State()}, 0)
	}
	if !enabledBefore && f.enabled() && s.state() == ChannelJoined {
		s.r.c.log.Info("realtime: rejoining to turn presence on", "topic", s.topic())
		s.toJoining()
	}
}

// addFeed appends feed to fs; see addLive.
func addFeed[T any](fs []*stream.Feed[T], feed *stream.Feed[T]) []*stream.Feed[T] {
	return addLive(fs, feed, pruneFeeds[T])
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

// push sends a track or untrack now if the rate limit allows, else queues it (coalescing with
// one already queued).
func (f *presenceFeature) push(payload json.RawMessage, settle acks.Settle[Reply]) error {
	if !f.s.want {
		return newError(CodeClosed, nil, "channel is not subscribed; call Subscribe first", "topic", f.s.topic())
	}
	f.tracked = payload
	if f.pending != nil {
		f.pending.payload = payload
		f.pending.waiters = append(f.pending.waiters, settle)
		return nil
	}
	f.pending = &presencePush{payload: payload, waiters: []acks.Settle[Reply]{settle}}
	f.flush()
	return nil
}

// flush sends the queued presence push when the channel is joined and the window has room, or
// arms a timer for when it will.
func (f *presenceFeature) flush() {
	s := f.s
	if f.pending == nil || s.state() != ChannelJoined {
		return
	}
	now := time.Now()
	kept := f.sentAt[:0]
	for _, t := range f.sentAt {
		if now.Sub(t) < presenceWindow+presenceMargin {
			kept = append(kept, t)
		}
	}
	f.sentAt = kept
	if len(f.sentAt) >= presenceLimit {
		if f.timer == nil {
			wait := presenceWindow + presenceMargin - now.Sub(f.sentAt[0])
			s.r.c.log.Info("realtime: presence rate limit: coalescing until the window has room", "topic", s.topic(), "wait", wait.String())
			f.timer = time.AfterFunc(wait, func() {
				s.r.c.post(func() {
					f.timer = nil
					f.flush()
				})
			})
		}
		return
	}
	push := f.pending
	f.pending = nil
	f.sentAt = append(f.sentAt, now)
	f.send(push.payload, func(rep Reply, err error) {
		for _, w := range push.waiters {
			w(rep, err)
		}
	})
}

// send pushes a track (payload non-nil) or an untrack on the joined channel; done gets the
// reply.
func (f *presenceFeature) send(payload json.RawMessage, done func(Reply, error)) {
	s, r := f.s, f.s.r
	body := map[string]any{"type": "presence", "event": "untrack"}
	if payload != nil {
		body = map[string]any{"type": "presence", "event": "track", "payload": payload}
	}
	data, _ := json.Marshal(body)
	ref := r.c.makeRef()
	m := transport.Message{JoinRef: s.joinRef, Ref: ref, Topic: s.topic(), Event: transport.EventPresence, Payload: data}
	if err := r.c.acks.AddFunc(ref, s.sock.tag(), r.c.cfg.timeout, s.ch.timeoutErr(m), done); err != nil {
		done(Reply{}, fromAcks(err))
		return
	}
	if err := s.post(&m); err != nil {
		r.c.acks.Settle(ref, Reply{}, wrapSendError(err))
	}
}

// joining makes the tracker wait for the new join's presence_state and opens a fresh rate
// window (the server counts per channel process, which a join replaces).
func (f *presenceFeature) joining() {
	f.settleJob(true)
	f.refusedThisJoin = false
	if f.tracker != nil {
		f.tracker.Reset()
	}
	f.sentAt = nil
	stopTimer(&f.timer)
}

// joined tracks the last tracked state again, or sends what waited for the join.
func (f *presenceFeature) joined() {
	s := f.s
	switch {
	case f.pending != nil:
		f.flush()
	case f.tracked != nil:
		f.send(f.tracked, func(_ Reply, err error) {
			if err != nil {
				s.r.c.log.Warn("realtime: tracking presence again after the rejoin failed", "topic", s.topic(), "error", err.Error())
			}
		})
		f.sentAt = append(f.sentAt, time.Now())
	}
}

// down keeps the state when a join is lost (the next presence_state says who left meanwhile),
// and empties it when the user leaves: members leave, then a Sync of nobody.
func (f *presenceFeature) down(cause error) {
	stopTimer(&f.timer)
	if cause != nil {
		return
	}
	f.settleJob(true)
	f.failPending(newError(CodeClosed, nil, "channel left before the presence push was sent", "topic", f.s.topic()))
	if f.tracker == nil || f.tracker.State().Len() == 0 {
		return
	}
	f.tracker.Reset()
	evs, _ := f.tracker.HandleState([]byte("{}"))
	f.deliver(evs)
}

func (f *presenceFeature) end(cause error) {
	f.settleJob(true)
	for _, feed := range f.feeds {
		feed.Close(cause)
	}
	f.feeds = nil
	stopTimer(&f.timer)
	f.failPending(cause)
}

func (f *presenceFeature) failPending(err error) {
	if f.pending == nil {
		return
	}
	for _, w := range f.pending.waiters {
		w(Reply{}, err)
	}
	f.pending = nil
}

func (f *presenceFeature) routeState(m *transport.Message) { f.route(m, true) }

func (f *presenceFeature) routeDiff(m *transport.Message) { f.route(m, false) }

// deliver publishes the new state and hands the events to the subscriptions.
func (f *presenceFeature) deliver(evs []presence.Event) {
	f.publish(evs)
	for _, ev := range evs {
		f.deliverOne(ev)
	}
}

// deliverOne hands one event to the subscriptions and to the ordered stream.
func (f *presenceFeature) deliverOne(ev presence.Event) {
	o := &f.s.cold().evs
	seq, size := f.s.nextSeq(), presenceSize(ev)
	f.feeds = deliver(f.feeds, ev, size)
	if f.s.eventsWanted() {
		o.emit(PresenceEvent{Topic: f.s.topic(), Seq: seq, Event: ev}, size)
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
