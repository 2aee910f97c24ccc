package testutil

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/transport"
)

// Server-side presence (docs/protocol.md §6), as supabase/realtime 2.129.8 does it
// (RealtimeChannel.PresenceHandler over Phoenix.Tracker):
//
//   - Presence is kept per stream: a public and a private channel of the same topic never see
//     each other's presence.
//   - Each join tracks at most one meta, under the key of config.presence.key, or else a key
//     the server generates for that join (a UUIDv1). A meta is the tracked object plus phx_ref
//     (base64 of 8 random bytes) and, after an update, phx_ref_prev.
//   - A track reply is {"response":{},"status":"ok"}. The same payload tracked again changes
//     nothing; a different one is an update: one presence_diff with the leave of the old meta
//     and the join of the new one. An untrack makes the meta leave. A payload that is not an
//     object gets the error "Presence track payload must be a map"; an unknown event an empty
//     error; a push without an event key an ok that does nothing.
//   - presence_state is pushed right after the join reply when the join had
//     config.presence.enabled; presence_diff goes to every channel of the stream, the sender's
//     own and those joined with presence disabled included.
//   - When a channel ends (leave, duplicate join, socket loss, server shutdown) its meta leaves.
//   - More than [DefaultPresenceRateLimit] presence pushes with an event within
//     [DefaultPresenceRateWindow] on one channel close it with the system error "Client
//     presence rate limit exceeded" and phx_close ([Server.SetPresenceRateLimit]). The window
//     is fixed: it starts at the first push and a push after it ends starts a new one.

// The default client presence rate limit of the real server: 5 presence pushes per 30 s per
// channel (docs/protocol.md §4.7).
const (
	// DefaultPresenceRateLimit is the number of presence pushes a channel may make per window.
	DefaultPresenceRateLimit = 5
	// DefaultPresenceRateWindow is the length of a presence rate window.
	DefaultPresenceRateWindow = 30 * time.Second
)

// serverExt is the presence and postgres_changes state of a Server.
type serverExt struct {
	mu      sync.Mutex
	chans   map[*channel]*chanState // every joined channel, from its join to its end
	nextSeq uint64                  // orders tracks

	rateN   int
	ratePer time.Duration

	pgDelay time.Duration
	pgFail  map[string]string // topic ("" = any) → system error message
}

// chanState is what presence and postgres_changes keep for one join.
type chanState struct {
	// presence
	key       string        // the presence key of this join
	tracked   bool          // a meta is tracked
	payload   string        // canonical JSON of the last tracked payload; "" when none
	meta      presence.Meta // the tracked meta
	seq       uint64        // when the meta was first tracked, for ordering
	rateCount int
	rateReset time.Time // end of the current rate window; zero before the first push

	// postgres_changes
	pg        *pgState
	ready     chan struct{} // closed once the join's reply and system messages are out, or the channel ended
	readyOnce sync.Once
}

func (cs *chanState) markReady() { cs.readyOnce.Do(func() { close(cs.ready) }) }

func newServerExt() *serverExt {
	return &serverExt{
		chans:   make(map[*channel]*chanState),
		rateN:   DefaultPresenceRateLimit,
		ratePer: DefaultPresenceRateWindow,
		pgFail:  make(map[string]string),
	}
}

// ext returns the presence and postgres_changes state of s.
func (s *Server) ext() *serverExt { return s.feat }

// stateLocked returns the state of ch, creating it if ch is still subscribed; nil once ch has
// ended. e.mu must be held.
func (s *Server) stateLocked(e *serverExt, ch *channel) *chanState {
	if cs := e.chans[ch]; cs != nil {
		return cs
	}
	s.mu.Lock()
	_, live := s.topics[ch.streamKey()][ch]
	s.mu.Unlock()
	if !live {
		return nil
	}
	key := ch.cfg.presenceKey
	if key == "" {
		key = newUUIDv1()
	}
	cs := &chanState{key: key, ready: make(chan struct{})}
	e.chans[ch] = cs
	return cs
}

// SetPresenceRateLimit sets the client presence rate limit: more than n presence pushes
// within per on one channel close it with the system error "Client presence rate limit
// exceeded". n <= 0 or per <= 0 disables the limit. The default is
// [DefaultPresenceRateLimit] per [DefaultPresenceRateWindow]. Windows are measured with the
// time package, so they follow a testing/synctest bubble's fake clock.
func (s *Server) SetPresenceRateLimit(n int, per time.Duration) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rateN, e.ratePer = n, per
}

// Presence returns the presence state of a stream: every tracked meta by key, in the order
// they were first tracked. topic may omit the "realtime:" prefix; private selects the private
// stream of that topic.
func (s *Server) Presence(topic string, private bool) map[string][]presence.Meta {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	state := e.presenceLocked(streamKey(private, fullTopic(topic)))
	for k, metas := range state {
		for i := range metas {
			metas[i].Raw = bytes.Clone(metas[i].Raw)
		}
		state[k] = metas
	}
	return state
}

// presenceLocked returns the presence state of a stream. e.mu must be held.
func (e *serverExt) presenceLocked(streamKey string) map[string][]presence.Meta {
	var tracked []*chanState
	for ch, cs := range e.chans {
		if cs.tracked && ch.streamKey() == streamKey {
			tracked = append(tracked, cs)
		}
	}
	sort.Slice(tracked, func(i, j int) bool { return tracked[i].seq < tracked[j].seq })
	state := make(map[string][]presence.Meta)
	for _, cs := range tracked {
		state[cs.key] = append(state[cs.key], cs.meta)
	}
	return state
}

// afterJoinPresence pushes presence_state after a join that enabled presence.
func (s *Server) afterJoinPresence(ch *channel) {
	if !ch.cfg.presenceEnabled {
		return
	}
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.stateLocked(e, ch) == nil {
		return
	}
	payload, err := presence.EncodeState(e.presenceLocked(ch.streamKey()))
	if err != nil {
		s.opts.logger.Error("testutil: cannot encode presence_state", "error", err.Error())
		return
	}
	ch.conn.send(transport.Message{JoinRef: ch.joinRef, Topic: ch.topic, Event: transport.EventPresState, Payload: payload})
}

// presenceEvent handles a "presence" push: track or untrack.
func (s *Server) presenceEvent(ch *channel, m *transport.Message) {
	ok := func() { ch.conn.reply(ch.joinRef, m.Ref, m.Topic, "ok", []byte("{}")) }
	var push map[string]json.RawMessage
	if json.Unmarshal(m.Payload, &push) != nil || push == nil {
		ok() // not an object: the handler's catch-all clause answers ok
		return
	}
	rawEvent, hasEvent := push["event"]
	if !hasEvent {
		ok()
		return
	}
	e := s.ext()
	e.mu.Lock()
	cs := s.stateLocked(e, ch)
	if cs == nil {
		e.mu.Unlock()
		return // the channel ended meanwhile
	}
	if !e.allowLocked(cs, time.Now()) {
		e.mu.Unlock()
		ch.conn.shutChannel(ch, "Client presence rate limit exceeded")
		return
	}
	var event string
	if json.Unmarshal(rawEvent, &event) != nil {
		e.mu.Unlock()
		// String.downcase/2 raises on a non-string: the channel process crashes.
		if ch.conn.removeChannel(ch) {
			ch.conn.send(transport.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.topic, Event: transport.EventError, Payload: []byte("{}")})
		}
		return
	}
	if !s.mayWrite(ch) {
		e.mu.Unlock()
		// A private channel without write (auth.go): an empty error.
		ch.conn.reply(ch.joinRef, m.Ref, m.Topic, "error", []byte("{}"))
		return
	}
	switch asciiLower(event) {
	case "track":
		payload, has := push["payload"]
		if !has {
			payload = json.RawMessage("{}")
		}
		if !transport.IsObject(payload) {
			e.mu.Unlock()
			ch.conn.replyReason(ch.joinRef, m.Ref, m.Topic, "Presence track payload must be a map")
			return
		}
		canon := canonicalJSON(payload)
		if cs.tracked && cs.payload == canon {
			e.mu.Unlock()
			ok() // no change
			return
		}
		var d presence.Diff
		meta := newPresenceMeta(newPhxRef(), "", payload)
		if cs.tracked {
			meta = newPresenceMeta(meta.Ref, cs.meta.Ref, payload)
			d.Leaves = map[string][]presence.Meta{cs.key: {cs.meta}}
		} else {
			e.nextSeq++
			cs.seq = e.nextSeq
		}
		d.Joins = map[string][]presence.Meta{cs.key: {meta}}
		cs.tracked, cs.meta, cs.payload = true, meta, canon
		s.presenceDiffLocked(ch, d)
		e.mu.Unlock()
		ok()
	case "untrack":
		if cs.tracked {
			d := presence.Diff{Leaves: map[string][]presence.Meta{cs.key: {cs.meta}}}
			cs.tracked, cs.meta, cs.payload = false, presence.Meta{}, ""
			s.presenceDiffLocked(ch, d)
		}
		e.mu.Unlock()
		ok()
	default:
		e.mu.Unlock()
		ch.conn.reply(ch.joinRef, m.Ref, m.Topic, "error", []byte("{}"))
	}
}

// allowLocked counts a presence push against the channel's rate window, like the server's
// limit_client_presence_event: the first push opens a window, a push after its end opens a new
// one, and a push once the window holds the maximum is refused. e.mu must be held.
func (e *serverExt) allowLocked(cs *chanState, now time.Time) bool {
	if e.rateN <= 0 || e.ratePer <= 0 {
		return true
	}
	switch {
	case cs.rateReset.IsZero() || now.After(cs.rateReset):
		cs.rateCount, cs.rateReset = 1, now.Add(e.ratePer)
	case cs.rateCount >= e.rateN:
		return false
	default:
		cs.rateCount++
	}
	return true
}

// presenceDiffLocked fans a presence_diff out to every channel of from's stream. e.mu must be
// held, so that diffs and presence_state go out in the order of the changes.
func (s *Server) presenceDiffLocked(from *channel, d presence.Diff) {
	payload, err := presence.EncodeDiff(d)
	if err != nil {
		s.opts.logger.Error("testutil: cannot encode presence_diff", "error", err.Error())
		return
	}
	for _, ch := range s.subscribers(from.streamKey()) {
		ch.conn.send(transport.Message{Topic: ch.topic, Event: transport.EventPresDiff, Payload: payload})
	}
}

// presenceLeave is called once when a channel has ended, after it stopped receiving: its
// presence leaves and its postgres_changes subscription stops.
func (s *Server) presenceLeave(ch *channel) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := e.chans[ch]
	if cs == nil {
		return
	}
	delete(e.chans, ch)
	if cs.pg != nil && cs.pg.timer != nil {
		cs.pg.timer.Stop()
	}
	cs.markReady()
	if cs.tracked {
		s.presenceDiffLocked(ch, presence.Diff{Leaves: map[string][]presence.Meta{cs.key: {cs.meta}}})
	}
}

// newPresenceMeta builds a meta like the server writes it: phx_ref, phx_ref_prev, then the
// tracked object's keys in sorted order (a later duplicate key wins), values as sent.
func newPresenceMeta(ref, prevRef string, payload json.RawMessage) presence.Meta {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(payload, &obj)
	delete(obj, "phx_ref")
	delete(obj, "phx_ref_prev")
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte(`{"phx_ref":`)
	b = transport.AppendQuote(b, ref)
	if prevRef != "" {
		b = append(b, `,"phx_ref_prev":`...)
		b = transport.AppendQuote(b, prevRef)
	}
	for _, k := range keys {
		b = append(b, ',')
		b = transport.AppendQuote(b, k)
		b = append(b, ':')
		var v bytes.Buffer
		if json.Compact(&v, obj[k]) != nil {
			v.Reset()
			v.Write(obj[k])
		}
		b = append(b, v.Bytes()...)
	}
	b = append(b, '}')
	return presence.Meta{Ref: ref, PrevRef: prevRef, Raw: b}
}

// canonicalJSON returns a form of a JSON value in which equal values are equal strings: keys
// sorted, numbers as written.
func canonicalJSON(raw json.RawMessage) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// newPhxRef returns a tracker ref like Phoenix's: base64 of 8 random bytes.
func newPhxRef() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newUUIDv1 returns a time-based UUID (version 1) with a random clock sequence and node, the
// form of the presence key the server generates for a join without one.
func newUUIDv1() string {
	var b [16]byte
	_, _ = rand.Read(b[8:])
	ts := uint64(time.Now().UnixNano()/100) + 0x01B21DD213814000 // 100 ns since 1582-10-15
	binary.BigEndian.PutUint32(b[0:], uint32(ts))
	binary.BigEndian.PutUint16(b[4:], uint16(ts>>32))
	binary.BigEndian.PutUint16(b[6:], uint16(ts>>48)&0x0fff|0x1000)
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	b[10] |= 0x01           // a random node has the multicast bit set
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// asciiLower lowercases the ASCII letters of s only, like String.downcase(s, :ascii).
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
