package client

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"time"

	"github.com/go-supabase/realtime/transport"
)

// Replay bookkeeping (AutoReplay).
//
// A private channel may ask, in its join config, for the broadcasts stored since a time:
// "broadcast": {"replay": {"since": <Unix ms>, "limit": <1..25>}}. The server pushes the newest
// limit of those stored at or after since, oldest first, right after the ok reply, each with
// the metadata {"id": "<uuid>", "replayed": true}. It keeps stored broadcasts for 72 hours.
// Only stored broadcasts replay: those sent with persistence, and those the database sends.
//
// With AutoReplay, every rejoin asks for the broadcasts stored since the last one this channel
// received, less a margin for the difference between the client's clock and the server's. The
// broadcasts received within that margin before the gap may come back: a replay is suppressed
// when its id is that of a broadcast already received, or, for broadcasts that arrived without
// an id, when it has the same event and payload as one received in the margin (each received
// one suppresses at most one replay). When the replay cannot cover the gap — it brought as many
// broadcasts as the limit and none of them had been received before, so older ones may be
// missing, or the last broadcast received is older than the server keeps them — a gap marker (a Broadcast whose Gap is set) is delivered
// to every broadcast subscription of the channel.

const (
	// replayRetention is how long the server keeps stored broadcasts.
	replayRetention = 72 * time.Hour
	// replaySkew is the clock-difference margin taken off the replay's since.
	replaySkew = 2 * time.Second
	// replayMaxLimit is the most broadcasts one replay brings.
	replayMaxLimit = 25
	// replayRecentCap bounds the broadcasts remembered for suppressing duplicates.
	replayRecentCap = 1024
)

// AutoReplay makes every rejoin of a private channel replay the broadcasts stored while it was
// away: at most limit of them (1 to 25; 0 for 25), starting from the last broadcast it received
// less a small clock margin. Replays of broadcasts already delivered are suppressed, and when
// the replay may not cover the whole gap (it reached the limit without reaching back to a
// broadcast already received, or the gap is older than the 72 hours the server keeps
// broadcasts) each broadcast subscription gets a gap marker: a
// Broadcast whose Gap is set. Only stored broadcasts replay (see HTTPSend's Persist and the
// server's broadcast persistence); the first join replays only with the Replay option.
func AutoReplay(limit int) ChannelOption {
	return func(c *channelConfig) { c.autoReplay, c.autoReplayLimit = true, limit }
}

// replayBook is the bookkeeping of AutoReplay. Owned by the router goroutine.
type replayBook struct {
	limit    int
	lastSeen time.Time // when the last broadcast arrived; zero before the first join
	replayed int       // replays received on the current join
	overlap  bool      // one of them had been received before: the replay reached back far enough
	since    time.Time // the since of the current join's replay, or zero
	recent   []seenBroadcast
	seed     maphash.Seed
}

// seenBroadcast is a broadcast received recently, kept to recognise its replay.
type seenBroadcast struct {
	at       time.Time
	id       string
	sum      uint64
	consumed bool
}

func newReplayBook(limit int) *replayBook {
	if limit <= 0 || limit > replayMaxLimit {
		limit = replayMaxLimit
	}
	return &replayBook{limit: limit, seed: maphash.MakeSeed()}
}

// configure asks a rejoin for the broadcasts stored since the last one received.
func (rb *replayBook) configure(p *joinPayload) {
	rb.replayed, rb.overlap, rb.since = 0, false, time.Time{}
	if rb.lastSeen.IsZero() {
		return // the first join: the Replay option, if any, decides
	}
	rb.since = rb.lastSeen.Add(-replaySkew)
	p.Config.Broadcast.Replay = &replayConfig{Since: rb.since.UnixMilli(), Limit: rb.limit}
}

// joined starts the bookkeeping at the first join and reports a gap that is older than the
// server keeps broadcasts.
func (rb *replayBook) joined(f *broadcastFeature) {
	now := time.Now()
	if rb.lastSeen.IsZero() {
		rb.lastSeen = now
		return
	}
	if !rb.since.IsZero() && now.Sub(rb.since) > replayRetention {
		f.markGap(&Gap{Since: rb.lastSeen, Until: now, Cause: f.s.cold().downCause})
	}
}

// receive records a broadcast. It reports whether it is a replay of one already delivered,
// and returns the gap to mark after it when it is the replay that reached the limit.
func (rb *replayBook) receive(m *transport.Message) (duplicate bool, gap *Gap) {
	now := time.Now()
	id, replayed := broadcastMeta(m.Meta)
	sum := rb.sum(m)
	if replayed {
		rb.replayed++
		duplicate = rb.seen(id, sum)
		rb.overlap = rb.overlap || duplicate
		if rb.replayed == rb.limit && !rb.overlap && !rb.since.IsZero() {
			gap = &Gap{Since: rb.since.Add(replaySkew), Until: now}
		}
	}
	rb.lastSeen = now
	if !duplicate {
		rb.remember(seenBroadcast{at: now, id: id, sum: sum, consumed: replayed})
	}
	return duplicate, gap
}

// joined is the broadcast feature's part of a join that succeeded: the replay bookkeeping
// starts, or checks the gap against the server's retention.
func (f *broadcastFeature) joined() {
	if f.book != nil {
		f.book.joined(f)
	}
}

// seen reports whether a replay with id and sum was received before, and uses up the match.
func (rb *replayBook) seen(id string, sum uint64) bool {
	if id != "" {
		for i := range rb.recent {
			if rb.recent[i].id == id {
				return true
			}
		}
	}
	for i := range rb.recent {
		r := &rb.recent[i]
		if r.id == "" && !r.consumed && r.sum == sum {
			r.consumed = true
			return true
		}
	}
	return false
}

// remember keeps a broadcast while a replay may still bring it back: twice the clock margin.
func (rb *replayBook) remember(b seenBroadcast) {
	cut := 0
	for cut < len(rb.recent) && (b.at.Sub(rb.recent[cut].at) > 2*replaySkew || len(rb.recent)-cut >= replayRecentCap) {
		cut++
	}
	if cut > 0 {
		rb.recent = append(rb.recent[:0], rb.recent[cut:]...)
	}
	rb.recent = append(rb.recent, b)
}

// sum fingerprints a broadcast's event and payload.
func (rb *replayBook) sum(m *transport.Message) uint64 {
	var h maphash.Hash
	h.SetSeed(rb.seed)
	h.WriteString(m.UserEvent)
	if m.Raw {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	h.Write(m.Data)
	return h.Sum64()
}

// broadcastMeta reads the id and the replayed flag of a broadcast's metadata.
func broadcastMeta(meta []byte) (id string, replayed bool) {
	if len(meta) == 0 || !bytes.Contains(meta, []byte(`"id"`)) && !bytes.Contains(meta, []byte(`"replayed"`)) {
		return "", false
	}
	var v struct {
		ID       string `json:"id"`
		Replayed bool   `json:"replayed"`
	}
	_ = json.Unmarshal(meta, &v)
	return v.ID, v.Replayed
}

// markGap delivers a gap marker to every broadcast subscription and to the ordered ones.
func (f *broadcastFeature) markGap(g *Gap) {
	f.s.r.stage.flush() // the broadcasts before it go first
	b := Broadcast{Topic: f.s.topic(), Seq: f.s.nextSeq(), Gap: g}
	dead := false
	for _, bb := range f.bindings {
		if !bb.feed.Send(b, 0) {
			dead = true
		}
	}
	if dead {
		f.bindings = pruneBindings(f.bindings)
	}
	if f.s.eventsWanted() {
		f.s.cold().evs.emit(b, 0)
	}
}

// MessageID returns the id the server gave a persisted broadcast, from the reply to a
// broadcast with BroadcastAck ({"id": "<uuid>"}), or "" when the reply has none (the broadcast
// was not stored).
func (r Reply) MessageID() string {
	if r.Status != "ok" || !bytes.Contains(r.Response, []byte(`"id"`)) {
		return ""
	}
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Response, &v)
	return v.ID
}
