package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/jsonscan"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/pgchanges"
	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// ChannelState is the state of a channel, as realtime-js names them.
type ChannelState int32

// The channel states.
const (
	// ChannelClosed: not joined, and not trying to be (the start, and after Unsubscribe or a
	// close by the server).
	ChannelClosed ChannelState = iota
	// ChannelJoining: a join is in flight, or waits for the socket.
	ChannelJoining
	// ChannelJoined: the server accepted the join.
	ChannelJoined
	// ChannelLeaving: a leave is in flight.
	ChannelLeaving
	// ChannelErrored: the join failed, the server reported an error or the socket dropped; a
	// rejoin is scheduled.
	ChannelErrored
)

// String returns the state's name: closed, joining, joined, leaving or errored.
func (s ChannelState) String() string {
	switch s {
	case ChannelClosed:
		return "closed"
	case ChannelJoining:
		return "joining"
	case ChannelJoined:
		return "joined"
	case ChannelLeaving:
		return "leaving"
	case ChannelErrored:
		return "errored"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// ChannelStateChange reports a transition of a channel.
type ChannelStateChange struct {
	// Topic and Seq are the change's Origin: its channel and its receive sequence number.
	Topic string
	Seq   uint64
	// Old is the state the channel left, New the state it entered.
	Old, New ChannelState
	// Err is the cause of a change to Errored or Closed that the user did not ask for: the
	// server's reason for refusing a join, a lost socket, a close by the server.
	Err error
}

// ChannelOption configures a channel; see Client.Channel.
type ChannelOption func(*channelConfig)

type channelConfig struct {
	self, ack        bool
	presenceKey      string
	presenceEnabled  int8 // 0: automatic, 1: forced on, -1: forced off
	private          bool
	replaySince      time.Time
	replayLimit      int
	replay           bool
	replicationReady bool
	autoReplay       bool
	autoReplayLimit  int
	pgNoWait         bool                // joins do not wait for their postgres_changes bindings
	pgWait           time.Duration       // how long they wait; 0: DefaultPostgresWait
	bindings         []pgchanges.Binding // the PostgresChanges option's
	presenceLimits   *presence.Limits    // nil: the client's
}

// defaultChannelConfig is the configuration of every channel made without options, shared.
var defaultChannelConfig channelConfig

func (a *channelConfig) equal(b *channelConfig) bool {
	return a.self == b.self && a.ack == b.ack && a.presenceKey == b.presenceKey &&
		a.presenceEnabled == b.presenceEnabled && a.private == b.private && a.replay == b.replay &&
		a.replaySince.Equal(b.replaySince) && a.replayLimit == b.replayLimit && a.replicationReady == b.replicationReady &&
		a.pgNoWait == b.pgNoWait && a.pgWait == b.pgWait &&
		a.autoReplay == b.autoReplay && a.autoReplayLimit == b.autoReplayLimit &&
		slices.EqualFunc(a.bindings, b.bindings, func(x, y pgchanges.Binding) bool { return x.Key() == y.Key() }) &&
		(a.presenceLimits == nil) == (b.presenceLimits == nil) && (a.presenceLimits == nil || *a.presenceLimits == *b.presenceLimits)
}

// BroadcastSelf makes the server deliver this channel's own broadcasts back to it
// (config.broadcast.self).
func BroadcastSelf() ChannelOption { return func(c *channelConfig) { c.self = true } }

// BroadcastAck makes the server acknowledge every broadcast (config.broadcast.ack): Broadcast
// then waits for the reply, and BroadcastWithAck becomes available.
func BroadcastAck() ChannelOption { return func(c *channelConfig) { c.ack = true } }

// PresenceKey sets the key this client's presence is tracked under (config.presence.key).
// Without one the server generates a new key at every join, so each rejoin appears as a new
// member.
func PresenceKey(key string) ChannelOption { return func(c *channelConfig) { c.presenceKey = key } }

// PresenceEnabled forces config.presence.enabled on or off. By default it is sent as true
// when the channel has a presence subscription or has tracked a state.
func PresenceEnabled(on bool) ChannelOption {
	return func(c *channelConfig) {
		c.presenceEnabled = -1
		if on {
			c.presenceEnabled = 1
		}
	}
}

// PresenceLimits bounds the channel's presence state: at most members keys with metas metas
// (tracked connections) in all; 0 leaves that bound off. It overrides the client's
// WithPresenceLimits. Beyond a bound the state does not grow, and nothing is silently lost:
//
//   - a presence_state keeps the members that fit, in the order the server sent them; a
//     presence_diff applies its leaves and the joins that fit, in key order;
//   - the members left out never appear in PresenceState or in presence events;
//   - each message with a refusal reaches the channel's OnSystem subscriptions as a System
//     error with Extension "presence", whose Message says how many members and metas were
//     refused and what the limits are, and is logged (a warning for the first of each join).
//
// Members whose key is not valid UTF-8, which no server that follows the protocol sends, are
// refused and reported the same way.
func PresenceLimits(members, metas int) ChannelOption {
	return func(c *channelConfig) {
		c.presenceLimits = &presence.Limits{MaxMembers: max(members, 0), MaxMetas: max(metas, 0)}
	}
}

// Private makes the channel private: authorized by the RLS policies of realtime.messages
// (config.private). A public and a private channel of the same name never see each other's
// messages.
func Private() ChannelOption { return func(c *channelConfig) { c.private = true } }

// Replay asks the server to replay the broadcasts stored since since, at most limit of them
// (1 to 25; 0 for the server's default of 25), right after joining
// (config.broadcast.replay). Private channels only. Replayed broadcasts carry
// {"replayed": true} in their Meta.
func Replay(since time.Time, limit int) ChannelOption {
	return func(c *channelConfig) { c.replay, c.replaySince, c.replayLimit = true, since, limit }
}

// ReplicationReady asks the server for a system message once its replication connection is
// ready (config.broadcast.replication_ready), so that database-originated broadcasts are not
// missed right after joining.
func ReplicationReady() ChannelOption { return func(c *channelConfig) { c.replicationReady = true } }

// Channel returns the channel of topic ("realtime:" is added when missing), creating it. Asking
// again with the same options returns the same *Channel; with other options, an error. It does
// no I/O: call Subscribe to join.
func (c *Client) Channel(topic string, opts ...ChannelOption) (*Channel, error) {
	sub := strings.TrimPrefix(topic, "realtime:")
	if strings.TrimSpace(sub) == "" {
		return nil, invalidArgument("topic is empty")
	}
	if !utf8.ValidString(topic) {
		return nil, invalidArgument("topic %q is not valid UTF-8", topic)
	}
	cfg := &defaultChannelConfig
	if len(opts) > 0 {
		cfg = new(channelConfig)
		for _, o := range opts {
			o(cfg)
		}
	}
	for _, b := range cfg.bindings {
		if err := b.Validate(); err != nil {
			return nil, wrapInvalid(err)
		}
	}
	if cfg.replay {
		switch {
		case !cfg.private:
			return nil, invalidArgument("Replay is only allowed on private channels (add the Private option)")
		case cfg.replaySince.IsZero():
			return nil, invalidArgument("Replay needs a since time")
		case cfg.replayLimit < 0 || cfg.replayLimit > 25:
			return nil, invalidArgument("Replay limit must be between 1 and 25 (0 for the server's default), got %d", cfg.replayLimit)
		}
	}
	if cfg.autoReplay {
		switch {
		case !cfg.private:
			return nil, invalidArgument("AutoReplay is only allowed on private channels (add the Private option)")
		case cfg.autoReplayLimit < 0 || cfg.autoReplayLimit > 25:
			return nil, invalidArgument("AutoReplay limit must be between 1 and 25 (0 for 25), got %d", cfg.autoReplayLimit)
		}
	}
	return c.channelFor(fullTopic(topic), cfg)
}

// Channel is one Realtime channel: a topic joined on the client's socket. Create it with
// Client.Channel. Its methods are safe for concurrent use. Once subscribed it stays joined,
// rejoining after reconnects and errors, until Unsubscribe, a close by the server, or the
// client's Close.
//
// A Channel is a handle: its state lives with the client's router goroutine, which runs every
// change of it (see the package documentation). A channel that is over for good — removed with
// Client.RemoveChannel, closed by the server, or closed with its client — refuses every call
// with an error matching ErrClosed that says why, and every On… call on it returns a
// subscription already ended with that error. Client.Channel then makes a new one for the topic.
type Channel struct {
	c     *Client
	topic string
	cfg   *channelConfig // &defaultChannelConfig for a channel without options

	state atomic.Int32
	// live is set while the channel is joined: pushes go straight to the socket with it.
	live atomic.Pointer[liveJoin]
	// ended is set when the channel is over for good: the error every call returns.
	ended atomic.Pointer[Error]
	// presSnap is the presence state, published by the router for PresenceState.
	presSnap atomic.Pointer[presence.State]

	// s is the channel's state, owned by the router goroutine.
	s *chanState
}

// liveJoin is the join a joined channel's pushes are sent under: its join_ref, and the socket
// and connection it was made on.
type liveJoin struct {
	joinRef string
	sock    *socket
	epoch   uint64
}

func newChannel(c *Client, topic string, cfg *channelConfig) *Channel {
	// The handle and the router's state live and die together: one allocation.
	both := &struct {
		ch Channel
		s  chanState
	}{}
	ch := &both.ch
	ch.c, ch.topic, ch.cfg = c, topic, &defaultChannelConfig
	if !cfg.equal(&defaultChannelConfig) {
		ch.cfg = cfg
	}
	ch.s = &both.s
	initChanState(ch.s, ch)
	return ch
}

// Topic returns the channel's full topic, such as "realtime:room:lobby".
func (ch *Channel) Topic() string { return ch.topic }

// String describes the channel.
func (ch *Channel) String() string { return "channel " + ch.topic }

// State returns the channel's state.
func (ch *Channel) State() ChannelState { return ChannelState(ch.state.Load()) }

// gone returns the error of a channel that is over for good, or nil.
func (ch *Channel) gone() error {
	if e := ch.ended.Load(); e != nil {
		return e
	}
	return nil
}

// run runs fn on the router goroutine with the channel's state and waits for it. It refuses,
// without running fn, a channel that is over for good or a closed client.
func (ch *Channel) run(fn func(s *chanState) error) error {
	if err := ch.gone(); err != nil {
		return err
	}
	var err error
	if e := ch.c.exec(func() {
		if ch.s.ended {
			err = ch.gone()
			return
		}
		err = fn(ch.s)
	}); e != nil {
		return e
	}
	return err
}

// listen adds a subscription's feed to the channel with add (on the router goroutine), or ends
// the feed at once with the error of a channel that cannot take it.
func listen[T any](ch *Channel, feed *stream.Feed[T], add func(s *chanState)) {
	if err := ch.run(func(s *chanState) error { add(s); return nil }); err != nil {
		feed.Close(err)
	}
}

// OnState returns a subscription to the channel's state changes, in order; ctx bounds its
// life. It ends, after the change to Closed, when the channel is over for good.
func (ch *Channel) OnState(ctx context.Context, opts ...subscribe.Option) *subscribe.Subscription[ChannelStateChange] {
	sub, feed := newSub[ChannelStateChange](ctx, &ch.c.group, "state of "+ch.topic, ch.c.subOptions(opts))
	listen(ch, feed, func(s *chanState) { s.cold().stateFeeds = append(s.cold().stateFeeds, feed) })
	return sub
}

// Subscribe joins the channel and waits for the server's answer. It connects the client if
// needed. It returns at the first definitive answer:
//
//   - nil once joined;
//   - an *Error with code join_rejected (or unauthorized, rate_limited) holding the server's
//     exact reason when the join is refused;
//   - an *Error with code unauthorized (or server_error) holding the HTTP status and the
//     server's text when the server refuses the socket for a reason retrying cannot fix by
//     itself, such as 401 "The token provided is not a valid JWT";
//   - ErrTimeout when no answer came within the push timeout (WithTimeout).
//
// Whatever the error, the channel keeps trying to join in the background, with backoff,
// until Unsubscribe (as realtime-js does): a refusal that a fresh token or the server's
// recovery clears ends in a join without another call. [IsTemporary] tells whether waiting for
// that is worth it; call Unsubscribe to stop. ctx bounds only this wait: when the server
// cannot be reached at all (a dial refused or timing out), the wait lasts until ctx ends and
// the error wraps the last connection error.
func (ch *Channel) Subscribe(ctx context.Context) error {
	if err := ch.gone(); err != nil {
		return err
	}
	c := ch.c
	if err := c.start(); err != nil {
		return err
	}
	w := newWaiter()
	// Not run: Subscribe waits for the join, not for the router to take the call first.
	if !c.inbox.put(event{fn: func() {
		if ch.s.ended {
			w.settle(ch.gone())
			return
		}
		ch.s.subscribe(w)
	}}, false) {
		return closedError()
	}
	// The socket starts only now: the router takes events in order, so the waiter is in place
	// before the first attempt's outcome arrives, and a refused upgrade reaches this call.
	c.pool.primary().conn.Start()
	select {
	case <-w.done:
	case <-ctx.Done():
	case <-c.routerDone:
	}
	if err, ok := w.result(); ok {
		return err
	}
	if ctx.Err() == nil {
		// The router settles every waiter it holds as it stops; a call it never took is
		// refused like any call on a closed client.
		return closedError()
	}
	ch.c.post(func() { ch.s.dropWaiter(w) })
	if ch.c.ConnectionState() != transport.StateOpen {
		if last := ch.c.r.lastConnErr.Load(); last != nil {
			return newError(CodeTimeout, errors.Join(ctx.Err(), *last), "subscribe: socket not connected: "+messageOf(*last), "topic", ch.topic)
		}
	}
	return newError(CodeTimeout, ctx.Err(), "subscribe: "+ctx.Err().Error(), "topic", ch.topic)
}

// Unsubscribe leaves the channel (phx_leave) and waits for the reply, bounded by ctx and the
// push timeout; a leave that times out counts as done, as in realtime-js. The channel's
// subscriptions stay open: a later Subscribe rejoins.
func (ch *Channel) Unsubscribe(ctx context.Context) error {
	fut, settle := acks.New[struct{}]()
	if err := ch.run(func(s *chanState) error { s.unsubscribe(settle); return nil }); err != nil {
		return err
	}
	_, err := fut.Wait(ctx)
	return err
}

// joinPayload is the payload of a phx_join: it always has a config, even an empty one (a join
// without one asks the server for its old, topic-named Postgres API).
type joinPayload struct {
	Config struct {
		Broadcast struct {
			Ack              bool          `json:"ack"`
			Self             bool          `json:"self"`
			Replay           *replayConfig `json:"replay,omitempty"`
			ReplicationReady bool          `json:"replication_ready,omitempty"`
		} `json:"broadcast"`
		Presence struct {
			Key     string `json:"key"`
			Enabled bool   `json:"enabled"`
		} `json:"presence"`
		PostgresChanges        []json.RawMessage `json:"postgres_changes"`
		PostgresChangesOptions *pgChangesOptions `json:"postgres_changes_options,omitempty"`
		Private                bool              `json:"private"`
	} `json:"config"`
	AccessToken string `json:"access_token,omitempty"`
}

type replayConfig struct {
	Since int64 `json:"since"`
	Limit int   `json:"limit,omitempty"`
}

// appendJSON appends the payload to b as encoding/json marshals it, except that strings keep
// the characters it escapes for HTML (the same JSON value): a join's payload costs one
// allocation, in the frame.
func (p *joinPayload) appendJSON(b []byte) []byte {
	c := &p.Config
	b = append(b, `{"config":{"broadcast":{"ack":`...)
	b = strconv.AppendBool(b, c.Broadcast.Ack)
	b = append(b, `,"self":`...)
	b = strconv.AppendBool(b, c.Broadcast.Self)
	if r := c.Broadcast.Replay; r != nil {
		b = append(b, `,"replay":{"since":`...)
		b = strconv.AppendInt(b, r.Since, 10)
		if r.Limit != 0 {
			b = append(b, `,"limit":`...)
			b = strconv.AppendInt(b, int64(r.Limit), 10)
		}
		b = append(b, '}')
	}
	if c.Broadcast.ReplicationReady {
		b = append(b, `,"replication_ready":true`...)
	}
	b = append(b, `},"presence":{"key":`...)
	b = jsonscan.AppendQuote(b, c.Presence.Key)
	b = append(b, `,"enabled":`...)
	b = strconv.AppendBool(b, c.Presence.Enabled)
	b = append(b, `},"postgres_changes":`...)
	if c.PostgresChanges == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, raw := range c.PostgresChanges {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, raw...)
		}
		b = append(b, ']')
	}
	if o := c.PostgresChangesOptions; o != nil {
		b = append(b, `,"postgres_changes_options":{"wait":`...)
		b = strconv.AppendBool(b, o.Wait)
		b = append(b, `,"timeout":`...)
		b = strconv.AppendInt(b, o.Timeout, 10)
		b = append(b, '}')
	}
	b = append(b, `,"private":`...)
	b = strconv.AppendBool(b, c.Private)
	b = append(b, '}')
	if p.AccessToken != "" {
		b = append(b, `,"access_token":`...)
		b = jsonscan.AppendQuote(b, p.AccessToken)
	}
	return append(b, '}')
}
