package client

import (
	"context"
	"strings"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
)

// Event is one event of a channel as an ordered subscription delivers it ([Channel.OnEvents],
// [Client.OnEvents]): a [Broadcast], a [PostgresEvent], a [PresenceEvent], a [System] or a
// [ChannelStateChange]. The set is closed; read it with a type switch:
//
//	for ev := range sub.C() {
//		switch e := ev.(type) {
//		case client.Broadcast:          // e.Event, e.Payload
//		case client.PostgresEvent:      // e.Change (or e.Gap), e.Bindings
//		case client.PresenceEvent:      // e.Event is a presence.Join, Leave or Sync
//		case client.System:             // e.Status, e.Message
//		case client.ChannelStateChange: // e.Old, e.New, e.Err
//		}
//	}
//
// Values are shared read-only between subscriptions, like those of the per-kind ones.
type Event interface {
	// Origin returns the channel the event belongs to and its place in that channel's order.
	Origin() Origin
	isEvent()
}

// Origin says where an event came from and where it stands: its channel's full topic and its
// receive sequence number on that channel.
//
// Every event a channel delivers — each broadcast, postgres change or gap marker, presence
// Join, Leave or Sync, system message and state change — takes the channel's next number, in
// the order the channel handles them, which is the order their frames arrived (a presence
// message gives several events, numbered in the order they are delivered). Numbers start at 1
// and only grow for the life of the *Channel, across reconnects and rejoins; a new Channel for
// the same topic (after the old one is over for good) starts again at 1. Every subscription
// sees the same number for the same event, so events merged from several subscriptions of one
// channel can be put back in order by Seq, and a hole in a stream that takes every event shows
// events it missed. Events the channel drops (an earlier join's, malformed ones) take no
// number; events nobody subscribed to do.
type Origin struct {
	// Topic is the channel's full topic, such as "realtime:room:lobby".
	Topic string
	// Seq is the event's receive sequence number on the channel; 0 on a value the SDK did not
	// deliver (one built by hand) and on the Sync a new presence subscription starts with.
	Seq uint64
}

// PresenceEvent is a presence event with the channel it belongs to, as ordered subscriptions
// deliver it (OnPresence delivers the bare presence.Event).
type PresenceEvent struct {
	// Topic and Seq are the event's Origin.
	Topic string
	Seq   uint64
	// Event is a presence.Join, presence.Leave or presence.Sync.
	Event presence.Event
}

// Origin returns the event's topic and sequence number.
func (e PresenceEvent) Origin() Origin { return Origin{e.Topic, e.Seq} }

// Origin returns the broadcast's topic and sequence number.
func (b Broadcast) Origin() Origin { return Origin{b.Topic, b.Seq} }

// Origin returns the change's topic and sequence number.
func (e PostgresEvent) Origin() Origin { return Origin{e.Topic, e.Seq} }

// Origin returns the message's topic and sequence number.
func (s System) Origin() Origin { return Origin{s.Topic, s.Seq} }

// Origin returns the change's topic and sequence number.
func (c ChannelStateChange) Origin() Origin { return Origin{c.Topic, c.Seq} }

func (PresenceEvent) isEvent()      {}
func (Broadcast) isEvent()          {}
func (PostgresEvent) isEvent()      {}
func (System) isEvent()             {}
func (ChannelStateChange) isEvent() {}

// OnEvents returns one subscription to everything that happens on the channel, in exactly the
// order it happened: broadcasts of every event name, postgres changes (one event per change,
// whichever and however many of the channel's bindings matched; see PostgresEvent.Bindings)
// and gap markers, presence Join, Leave and Sync events, system messages and the channel's
// state changes. ctx bounds its life; it ends, after the change to Closed, when the channel is
// over for good. Its limits and overflow policy are those of every subscription (default:
// evict a reader that falls too far behind; see package subscribe).
//
// It takes what the channel receives and asks for nothing more: postgres changes come from the
// bindings of the channel (its PostgresChanges option and its OnPostgresChanges
// subscriptions), and presence events only when presence is on (a presence subscription, a
// tracked state, or the PresenceEnabled option). Unlike OnPresence it does not start with a
// Sync of the current state (PresenceState returns it) and does not conflate.
//
// # One ordered stream or per-kind subscriptions
//
// Use OnEvents when the order between kinds matters — a typing indicator and the message sent
// after it, a row change and the broadcast announcing it, a state change and what arrived
// before it — or to handle a channel in one loop. Use the per-kind On… subscriptions for
// independent consumers (each with its own buffer and pace, so a slow one does not hold up or
// evict the others), for filtering by event name or binding on the way in, and for presence's
// conflation (a slow presence reader skips to the latest state instead of queueing every
// event). Both can be used at once; events carry the same Seq in both.
func (ch *Channel) OnEvents(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[Event] {
	sub, feed := newSub[Event](ctx, &ch.c.group, "events on "+ch.topic, ch.c.subOptions(opts))
	listen(ch, feed, func(s *chanState) { s.cold().evs.feeds = addFeed(s.cold().evs.feeds, feed) })
	return sub
}

// OnEvents returns one subscription to the events of every channel of the client, present and
// future, in the order the client received them: what Channel.OnEvents delivers, for all
// channels at once, each event saying its channel in Origin. ctx bounds its life; it ends when
// the client closes. Channels that end for good drop out of it after their change to Closed;
// a new channel for the same topic comes in.
//
// The order is the order of the socket: events of different channels appear in the order their
// frames arrived. A client whose channels are spread over several sockets keeps that order per
// socket only; events of channels on different sockets are interleaved as they are handled, and
// Origin.Seq orders each channel's own.
func (c *Client) OnEvents(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[Event] {
	return c.onEvents(ctx, nil, "events of every channel", opts)
}

// OnEventsOf is OnEvents for the channels of the given topics only ("realtime:" is added when
// missing), whether or not they exist yet.
func (c *Client) OnEventsOf(ctx context.Context, topics []string, opts ...subscribe.Option) *subscribe.Subscription[Event] {
	set := make(map[string]struct{}, len(topics))
	for _, t := range topics {
		set[fullTopic(t)] = struct{}{}
	}
	return c.onEvents(ctx, set, "events of the channels of "+strings.Join(topics, ", "), opts)
}

func (c *Client) onEvents(ctx context.Context, topics map[string]struct{}, desc string, opts []subscribe.Option) *subscribe.Subscription[Event] {
	sub, feed := newSub[Event](ctx, &c.group, desc, c.subOptions(opts))
	w := &wideFeed{feed: feed, topics: topics}
	if err := c.exec(func() { c.r.wide = append(pruneWide(c.r.wide), w) }); err != nil {
		feed.Close(err)
	}
	return sub
}

// wideFeed is a client-wide ordered subscription: every channel's events, or those of topics.
type wideFeed struct {
	feed   *stream.Feed[Event]
	topics map[string]struct{} // nil: every channel
}

func (w *wideFeed) wants(topic string) bool {
	if w.topics == nil {
		return true
	}
	_, ok := w.topics[topic]
	return ok
}

func pruneWide(ws []*wideFeed) []*wideFeed {
	kept := ws[:0]
	for _, w := range ws {
		if w.feed.Accepting() {
			kept = append(kept, w)
		}
	}
	clear(ws[len(kept):])
	return kept
}

// endWide ends the client-wide ordered subscriptions (the client is closing).
func (r *router) endWide(cause error) {
	for _, w := range r.wide {
		w.feed.Close(cause)
	}
	r.wide = nil
}

// eventsFeature is the ordered part of a channel: its OnEvents subscriptions. The other
// features hand it every event they deliver, numbered by chanState.nextSeq, through emit.
type eventsFeature struct {
	baseFeature
	feeds []*stream.Feed[Event]
}

// emit delivers ev, of size bytes, to the channel's ordered subscriptions and to the
// client-wide ones that take this channel.
func (f *eventsFeature) emit(ev Event, size int) {
	if len(f.feeds) > 0 {
		f.feeds = deliver(f.feeds, ev, size)
	}
	r := f.s.r
	if len(r.wide) == 0 {
		return
	}
	topic, dead := f.s.topic(), false
	for _, w := range r.wide {
		if w.wants(topic) && !w.feed.Send(ev, size) {
			dead = true
		}
	}
	if dead {
		r.wide = pruneWide(r.wide)
	}
}

func (f *eventsFeature) end(cause error) {
	for _, feed := range f.feeds {
		feed.Close(cause)
	}
	f.feeds = nil
}
