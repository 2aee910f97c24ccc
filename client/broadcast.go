package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strings"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// Broadcast is a broadcast message received on a channel. Whether it travelled as JSON or as a
// binary frame, it looks the same: the user's event name, and either a JSON payload or bytes.
// Each subscription receives its own copy of the value; its byte slices are shared with the
// other subscriptions and must not be modified.
type Broadcast struct {
	// Topic and Seq are the broadcast's Origin: its channel and its receive sequence number.
	Topic string
	Seq   uint64
	// Event is the user's event name, such as "new_message".
	Event string
	// Payload is the JSON payload, exactly as it arrived (numbers are not converted); nil
	// for a binary payload.
	Payload json.RawMessage
	// Binary is the payload of a binary broadcast (BroadcastBinary, octet-stream REST
	// messages, realtime.send_binary); nil for a JSON payload.
	Binary []byte
	// Meta is the metadata object of messages from the database and of replays, such as
	// {"id":"…","replayed":true}; nil when there is none.
	Meta json.RawMessage
	// Gap is set, and the rest empty, for a gap marker of a channel with AutoReplay: the
	// replay after a rejoin may not have brought every broadcast sent since Gap.Since.
	Gap *Gap
}

// Decode decodes the JSON payload into v, keeping numbers exact when v holds an interface
// (they decode as json.Number). It fails for a binary payload.
//
// The results and errors are encoding/json's: those of json.Unmarshal, or of a json.Decoder
// with UseNumber when v holds an interface. Decode is faster than either (a decoder compiled
// once per type parses straight into v, and hands what it does not support to encoding/json),
// with one difference: when the payload is not valid JSON, json.Unmarshal leaves v untouched,
// while Decode may have filled part of it before returning the same error. [DecodeBroadcast]
// has no such difference.
func (b Broadcast) Decode(v any) error {
	if err := b.checkJSON(); err != nil {
		return err
	}
	return decodeJSON(b.Payload, v)
}

// checkJSON fails unless the broadcast has a JSON payload.
func (b Broadcast) checkJSON() error {
	if b.Payload == nil {
		if b.Binary != nil {
			return invalidArgument("broadcast %q has a binary payload; read Binary instead", b.Event)
		}
		return invalidArgument("broadcast %q has no payload", b.Event)
	}
	return nil
}

// IsBinary reports whether the payload is bytes rather than JSON.
func (b Broadcast) IsBinary() bool { return b.Binary != nil }

// Replayed reports whether the message is a replay (its Meta has "replayed": true).
func (b Broadcast) Replayed() bool {
	if b.Meta == nil {
		return false
	}
	var m struct {
		Replayed bool `json:"replayed"`
	}
	return json.Unmarshal(b.Meta, &m) == nil && m.Replayed
}

// DecodeBroadcast decodes a broadcast's JSON payload into a T, as [Broadcast.Decode] does.
// The value and the error are exactly what encoding/json gives for a new T (json.Unmarshal,
// or a json.Decoder with UseNumber when T holds an interface): a zero T for a payload that
// is not valid JSON, and what could be decoded for a payload of the wrong shape.
func DecodeBroadcast[T any](b Broadcast) (T, error) {
	var v T
	if err := b.checkJSON(); err != nil {
		return v, err
	}
	err := decodeJSONFresh(b.Payload, &v)
	return v, err
}

// broadcastBinding routes broadcasts to one subscription.
type broadcastBinding struct {
	event string // "" matches every event
	feed  *stream.Feed[Broadcast]
}

func (b *broadcastBinding) matches(event string) bool {
	return b.event == "" || strings.EqualFold(b.event, event)
}

// broadcastFeature is the broadcast part of a channel: its join config and its subscriptions.
type broadcastFeature struct {
	baseFeature
	bindings []*broadcastBinding
	book     *replayBook // AutoReplay's bookkeeping, or nil
}

func (f *broadcastFeature) configure(p *joinPayload) {
	cfg := f.s.ch.cfg
	b := &p.Config.Broadcast
	b.Ack, b.Self, b.ReplicationReady = cfg.ack, cfg.self, cfg.replicationReady
	if cfg.replay {
		b.Replay = &replayConfig{Since: cfg.replaySince.UnixMilli(), Limit: cfg.replayLimit}
	}
	if cfg.autoReplay {
		if f.book == nil {
			f.book = newReplayBook(cfg.autoReplayLimit)
		}
		f.book.configure(p)
	}
}

func (f *broadcastFeature) end(cause error) {
	if f.s.r.stage.f == f {
		f.s.r.stage.flush()
	}
	for _, b := range f.bindings {
		b.feed.Close(cause)
	}
	f.bindings = nil
}

// OnBroadcast returns a subscription to the channel's broadcasts whose event equals event,
// compared case-insensitively; "*" (or ":all") receives every event. It can be called before
// or after Subscribe. ctx bounds the subscription's life: when it is done the channel from C
// closes and Err is nil.
func (ch *Channel) OnBroadcast(ctx context.Context, event string, opts ...subscribe.Option) *subscribe.Subscription[Broadcast] {
	desc := "broadcast " + event + " on " + ch.topic
	sub, feed := newSub[Broadcast](ctx, &ch.c.group, desc, ch.c.subOptions(opts))
	if event == "*" || event == ":all" {
		event = ""
	}
	b := &broadcastBinding{event: event, feed: feed}
	listen(ch, feed, func(s *chanState) { s.cold().bcast.bindings = addBinding(s.cold().bcast.bindings, b) })
	return sub
}

// addBinding appends b to bs; see addLive.
func addBinding(bs []*broadcastBinding, b *broadcastBinding) []*broadcastBinding {
	return addLive(bs, b, pruneBindings)
}

// addLive appends e to the list of subscriptions s, first dropping the ended ones with prune
// when s is full: the ended subscriptions of a quiet channel do not pile up, and adding N
// costs O(N) in all rather than a scan of the list per subscription. (Traffic drops the ended
// ones too, as it finds them.) When more than half survive, the capacity doubles, so that the
// next scan waits for as many adds as it scans.
func addLive[E any](s []E, e E, prune func([]E) []E) []E {
	if n := cap(s); len(s) == n && n >= 8 {
		s = prune(s)
		if len(s) > n/2 {
			s = slices.Grow(s, 2*n-len(s))
		}
	}
	return append(s, e)
}

// pruneBindings drops the bindings whose subscription has ended.
func pruneBindings(bs []*broadcastBinding) []*broadcastBinding {
	kept := bs[:0]
	for _, b := range bs {
		if b.feed.Accepting() {
			kept = append(kept, b)
		}
	}
	clear(bs[len(kept):])
	return kept
}

// route delivers a broadcast to the matching subscriptions, in order. Consecutive broadcasts
// of the channel that the router handles in one go are staged (see bcastStage) and delivered
// together when something else comes, so that each subscription takes them in a row.
func (f *broadcastFeature) route(m *transport.Message) {
	r := f.s.r
	if f.book != nil {
		r.stage.flush()
		f.routeNow(m)
		return
	}
	seq := f.s.nextSeq()
	if len(f.bindings) == 0 && !f.s.eventsWanted() {
		return
	}
	b := Broadcast{Topic: f.s.topic(), Seq: seq, Event: m.UserEvent, Meta: m.Meta}
	if m.Raw {
		b.Binary = m.Data
	} else {
		b.Payload = m.Data
	}
	r.stage.add(f, b, len(m.Data)+len(m.Meta)+len(m.UserEvent))
}

// routeNow delivers a broadcast of a channel with AutoReplay at once.
func (f *broadcastFeature) routeNow(m *transport.Message) {
	dup, gap := f.book.receive(m)
	if dup {
		return
	}
	seq := f.s.nextSeq()
	if len(f.bindings) > 0 || f.s.eventsWanted() {
		b := Broadcast{Topic: f.s.topic(), Seq: seq, Event: m.UserEvent, Meta: m.Meta}
		if m.Raw {
			b.Binary = m.Data
		} else {
			b.Payload = m.Data
		}
		var st bcastStage
		st.add(f, b, len(m.Data)+len(m.Meta)+len(m.UserEvent))
		st.flush()
	}
	if gap != nil {
		f.markGap(gap)
	}
}

// stageLen is the most broadcasts a bcastStage holds (at most 64: see stream.Feed.SendRun). A
// run longer than a subscription's channel buffer (17 broadcasts by default) would send every
// run's tail through the pending queue and its drain goroutine.
const stageLen = 16

// bcastStage holds broadcasts of one channel that the router has routed but not yet delivered.
// Delivering a run of them subscription by subscription rather than broadcast by broadcast
// takes each subscription's lock once for the run, and hands its reader the run in one wake-up
// instead of one per broadcast; each subscription still receives them in order. The router
// delivers the stage before it handles anything else (flush), so that nothing else can tell
// the difference.
type bcastStage struct {
	f     *broadcastFeature
	n     int
	evs   [stageLen]stream.Shared[Broadcast] // the subscriptions that must queue one share a copy
	sizes [stageLen]int                      // their sizes, for the pending limits
	masks []uint64                           // flush's: the events each subscription matches
}

// add stages b, a broadcast of f, delivering the stage first if it holds another channel's or
// is full.
func (st *bcastStage) add(f *broadcastFeature, b Broadcast, size int) {
	if st.f != f || st.n == stageLen {
		st.flush()
		st.f = f
	}
	if len(f.bindings) > 1 {
		st.evs[st.n] = f.s.r.bcastLog.Share(b)
	} else {
		st.evs[st.n] = stream.Single(b)
	}
	st.sizes[st.n] = size
	st.n++
}

// flush delivers the staged broadcasts to the matching subscriptions and the ordered ones.
//
// It goes segment by segment: a segment is a stretch of broadcasts that every subscription
// matches alike (all of them or none), such as a stretch of one event name. Within a segment
// each subscription takes its run in turn; a segment is delivered to all its subscriptions
// before the next segment to any. So a reader that selects over several subscriptions of the
// channel, one per event name, still sees the events in wire order when it keeps up.
func (st *bcastStage) flush() {
	f, evs, sizes := st.f, st.evs[:st.n], st.sizes[:st.n]
	if f == nil {
		return
	}
	st.f, st.n = nil, 0
	defer clear(evs)
	all := uint64(1)<<len(evs) - 1
	// The events each subscription matches, and where two neighbours are matched differently
	// by some subscription (bit i: between event i and i+1).
	masks := st.masks[:0]
	var cuts uint64
	for _, bb := range f.bindings {
		mask := all
		if bb.event != "" {
			mask = 0
			match := false
			for i := range evs {
				// A stretch of one event name, the common case, is compared once.
				if ev := evs[i].Value().Event; i == 0 || ev != evs[i-1].Value().Event {
					match = bb.matches(ev)
				}
				if match {
					mask |= 1 << i
				}
			}
		}
		masks = append(masks, mask)
		cuts |= (mask ^ mask>>1) & (all >> 1)
	}
	st.masks = masks
	defer clear(masks)
	dead := false
	ordered := f.s.eventsWanted()
	for lo := 0; lo < len(evs); {
		hi := len(evs) // the segment is lo…hi-1
		if c := cuts >> lo; c != 0 {
			hi = lo + bits.TrailingZeros64(c) + 1
		}
		seg := all >> (len(evs) - (hi - lo)) << lo
		for k, bb := range f.bindings {
			if m := masks[k] & seg; m != 0 && !bb.feed.SendRun(evs, sizes, m) {
				dead = true
				masks[k] = 0
			}
		}
		if ordered {
			for i := lo; i < hi; i++ {
				f.s.cold().evs.emit(*evs[i].Value(), sizes[i])
			}
		}
		lo = hi
	}
	if dead {
		f.bindings = pruneBindings(f.bindings)
	}
	if len(evs)*len(f.bindings) >= yieldDeliveries {
		// The readers just woken run before the router routes more: a reader that keeps up
		// then finds runs in its channel instead of waking once per event, and backlogs stay
		// short. The router waits for none of them: it only lets them go first.
		runtime.Gosched()
	}
}

// yieldDeliveries is the number of deliveries of one flush from which the router yields the
// processor after it.
const yieldDeliveries = 4096

// Broadcast sends a broadcast of event with payload to the channel's other subscribers (and
// to itself with BroadcastSelf). payload is a json.RawMessage, sent as it is, or any value
// json.Marshal accepts; on protocol 1.0.0 it must be a JSON object. On protocol 2.0.0 it goes
// out as a binary frame, as realtime-js sends it. With WithHTTPFallback, while the socket is
// not open, a broadcast with an object payload goes through the REST API instead.
//
// Without BroadcastAck, Broadcast returns once the frame is queued: at once on a joined
// channel, or buffered until the join (up to the push buffer) on a channel that is joining.
// With BroadcastAck it waits for the server's acknowledgement. ctx bounds only the wait.
func (ch *Channel) Broadcast(ctx context.Context, event string, payload any) error {
	if err := ch.gone(); err != nil {
		return err
	}
	m, err := ch.broadcastMessage(event, payload)
	if err != nil {
		return err
	}
	if ch.c.cfg.httpFallback && ch.live.Load() == nil && ch.c.ConnectionState() != transport.StateOpen && transport.IsObject(m.Data) {
		return ch.httpBroadcast(ctx, event, m.Data)
	}
	fut, err := ch.push(ctx, m, ch.cfg.ack)
	if err != nil || fut == nil {
		return err
	}
	_, err = fut.Wait(ctx)
	return ctxError(ctx, err)
}

// BroadcastNoWait sends a broadcast like Broadcast but never waits for the server's
// acknowledgement, even on a channel with BroadcastAck: it returns once the frame is queued
// (or buffered until the join), and the acknowledgement, when it comes, is ignored. The other
// broadcasts of the channel are still acknowledged and waited for. ctx bounds only the wait for
// room in the socket's send queue. It does not use WithHTTPFallback: while the socket is not
// open the broadcast waits in the push buffer for the join.
func (ch *Channel) BroadcastNoWait(ctx context.Context, event string, payload any) error {
	if err := ch.gone(); err != nil {
		return err
	}
	m, err := ch.broadcastMessage(event, payload)
	if err != nil {
		return err
	}
	_, err = ch.push(ctx, m, false)
	return err
}

// BroadcastWithAck sends a broadcast like Broadcast and returns the future of the server's
// acknowledgement, for pipelining: select on its Done channel or Wait on it. The channel needs
// the BroadcastAck option. It never blocks: the frame is queued at once, whatever the socket's
// backlog (the acknowledgements pending are bounded by WithMaxPendingAcks instead), and the
// future settles with the reply, or an error with code timeout, disconnected or closed.
func (ch *Channel) BroadcastWithAck(event string, payload any) (*acks.Future[Reply], error) {
	if err := ch.gone(); err != nil {
		return nil, err
	}
	if !ch.cfg.ack {
		return nil, invalidArgument("BroadcastWithAck needs a channel created with the BroadcastAck option")
	}
	m, err := ch.broadcastMessage(event, payload)
	if err != nil {
		return nil, err
	}
	return ch.push(nil, m, true)
}

// BroadcastBinary sends a broadcast whose payload is raw bytes (binary encoding, protocol
// 2.0.0 only). Receivers on protocol 1.0.0 never get it.
func (ch *Channel) BroadcastBinary(ctx context.Context, event string, data []byte) error {
	if err := ch.gone(); err != nil {
		return err
	}
	if ch.c.cfg.version != transport.V2 {
		return invalidArgument("BroadcastBinary needs protocol version 2.0.0")
	}
	if err := checkEvent(event); err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	m := transport.Message{Topic: ch.topic, Event: transport.EventBroadcast, UserEvent: event, Data: data, Raw: true, Binary: true}
	fut, err := ch.push(ctx, m, ch.cfg.ack)
	if err != nil || fut == nil {
		return err
	}
	_, err = fut.Wait(ctx)
	return ctxError(ctx, err)
}

func checkEvent(event string) error {
	if event == "" {
		return invalidArgument("broadcast event name is empty")
	}
	return nil
}

// broadcastMessage validates and encodes a JSON broadcast.
func (ch *Channel) broadcastMessage(event string, payload any) (transport.Message, error) {
	if err := checkEvent(event); err != nil {
		return transport.Message{}, err
	}
	data, err := marshalPayload(payload)
	if err != nil {
		return transport.Message{}, err
	}
	v2 := ch.c.cfg.version == transport.V2
	if !v2 && !transport.IsObject(data) {
		return transport.Message{}, invalidArgument("on protocol 1.0.0 a broadcast payload must be a JSON object (the server cannot fan out others)")
	}
	return transport.Message{Topic: ch.topic, Event: transport.EventBroadcast, UserEvent: event, Data: data, Binary: v2}, nil
}

// marshalPayload returns payload as JSON: a json.RawMessage is checked and kept, anything else
// goes through json.Marshal.
func marshalPayload(payload any) ([]byte, error) {
	switch p := payload.(type) {
	case json.RawMessage:
		if !json.Valid(p) {
			return nil, invalidArgument("payload is not valid JSON")
		}
		return p, nil
	case []byte:
		return nil, invalidArgument("payload is []byte: use BroadcastBinary for bytes, or json.RawMessage for JSON text")
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, newError(CodeInvalidArgument, err, "payload cannot be encoded as JSON: "+err.Error())
	}
	return b, nil
}

// push sends m (a channel push; its refs are set here) at once when the channel is joined, or
// buffers it until the join. With acked it registers and returns the future of the reply. A nil
// ctx never waits for room in the socket's queue (the push is queued past its bound); any
// other ctx bounds that wait.
func (ch *Channel) push(ctx context.Context, m transport.Message, acked bool) (*acks.Future[Reply], error) {
	c := ch.c
	m.Ref = c.makeRef()
	if live := ch.live.Load(); live != nil {
		return ch.sendLive(ctx, live, m, acked)
	}
	var (
		live *liveJoin
		fut  *acks.Future[Reply]
	)
	err := ch.run(func(s *chanState) error {
		var err error
		live, fut, err = s.bufferPush(m, acked)
		return err
	})
	if err != nil {
		return nil, err
	}
	if live != nil {
		return ch.sendLive(ctx, live, m, acked)
	}
	return fut, nil
}

// sendLive writes a push on the joined channel's socket. The caller's ctx bounds only the wait
// for room in the socket's queue; with a nil ctx the push does not wait.
func (ch *Channel) sendLive(ctx context.Context, live *liveJoin, m transport.Message, acked bool) (*acks.Future[Reply], error) {
	c := ch.c
	m.JoinRef = live.joinRef
	var fut *acks.Future[Reply]
	if acked {
		f, err := c.acks.Add(m.Ref, live.sock.tag(), c.cfg.timeout, ch.timeoutErr(m))
		if err != nil {
			return nil, fromAcks(err)
		}
		fut = f
	}
	var err error
	if ctx == nil {
		err = live.sock.conn.Post(live.epoch, &m)
	} else {
		err = live.sock.conn.SendOn(ctx, live.epoch, &m)
	}
	if err != nil {
		err = wrapSendError(err)
		if acked {
			c.acks.Settle(m.Ref, Reply{}, err)
		}
		return nil, err
	}
	return fut, nil
}

// timeoutErr returns the error a push's future settles with when no reply comes.
func (ch *Channel) timeoutErr(m transport.Message) func() error {
	timeout := ch.c.cfg.timeout
	what := m.Event
	if m.UserEvent != "" {
		what = fmt.Sprintf("%s %q", m.Event, m.UserEvent)
	}
	return func() error {
		return newError(CodeTimeout, nil, fmt.Sprintf("no reply to %s within %v", what, timeout), "topic", ch.topic)
	}
}

// wrapSendError maps a transport send error to an *Error.
func wrapSendError(err error) error {
	switch {
	case errors.Is(err, transport.ErrInvalidArgument):
		return wrapInvalid(err)
	case errors.Is(err, transport.ErrClosed):
		return closedError()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newError(CodeTimeout, err, "waiting for room in the send queue: "+err.Error())
	}
	return err
}

// ctxError keeps an ack's error, or makes the caller's ctx error a timeout *Error.
func ctxError(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return newError(CodeTimeout, err, "waiting for the reply: "+err.Error())
	}
	return err
}

// Message is a low-level push: Type "broadcast" sends a broadcast of Event
// with Payload; "presence" tracks (Event "track", Payload the state) or untracks; any other
// Type is pushed as that event with the payload {"type", "event", "payload"}, and Send waits
// for the server's reply (the server ignores events it does not know, so those time out).
type Message struct {
	// Type is "broadcast", "presence", or another event type to push as is.
	Type string
	// Event is the broadcast's event name, or "track"/"untrack" for presence.
	Event string
	// Payload is the broadcast's payload or the tracked state: anything json.Marshal accepts.
	Payload any
}

// Send sends a low-level push; see Message.
func (ch *Channel) Send(ctx context.Context, msg Message) error {
	if err := ch.gone(); err != nil {
		return err
	}
	switch msg.Type {
	case "broadcast":
		return ch.Broadcast(ctx, msg.Event, msg.Payload)
	case "presence":
		switch strings.ToLower(msg.Event) {
		case "track":
			return ch.Track(ctx, msg.Payload)
		case "untrack":
			return ch.Untrack(ctx)
		}
		return invalidArgument("presence message event must be track or untrack, got %q", msg.Event)
	case "":
		return invalidArgument("message type is empty")
	}
	body := map[string]any{"type": msg.Type, "event": msg.Event}
	if msg.Payload != nil {
		body["payload"] = msg.Payload
	}
	data, err := marshalPayload(body)
	if err != nil {
		return err
	}
	fut, err := ch.push(ctx, transport.Message{Topic: ch.topic, Event: msg.Type, Payload: data}, true)
	if err != nil {
		return err
	}
	_, err = fut.Wait(ctx)
	return ctxError(ctx, err)
}
