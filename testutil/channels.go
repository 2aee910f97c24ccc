package testutil

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/transport"
)

// channel is one join of a topic on a connection.
type channel struct {
	conn    *Conn
	topic   string
	joinRef string
	cfg     joinConfig
	// pgWaited: the join waited for its postgres_changes subscription, which is live
	// (pgwait.go).
	pgWaited bool

	mu    sync.Mutex
	token string // the channel token (auth.go)
	// auth.go: the token checks and the cached private write permission
	expiry     *time.Timer
	expiryGen  int
	ended      bool
	writeKnown bool
	write      bool
}

func (ch *channel) setToken(t string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.token = t
}

// streamKey separates public and private channels of the same name: they never see each
// other's messages (docs/protocol.md §4.1).
func (ch *channel) streamKey() string {
	if ch.cfg.private {
		return "private:" + ch.topic
	}
	return "public:" + ch.topic
}

// joinConfig is what the server reads from a phx_join payload (docs/protocol.md §4.2). Invalid
// values fall back to the defaults, as on the real server.
type joinConfig struct {
	hasConfig        bool
	ack, self        bool
	replay           json.RawMessage
	replicationReady bool
	presenceKey      string
	presenceEnabled  bool
	postgres         []json.RawMessage
	pgWait           bool  // postgres_changes_options.wait
	pgTimeout        int64 // postgres_changes_options.timeout, ms
	private          bool
}

// flexBool reads the server's "flexible" booleans: true/false or case-insensitive strings.
func flexBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(s, "true")
	}
	return false
}

func parseJoin(payload []byte) joinConfig {
	var p struct {
		Config json.RawMessage `json:"config"`
	}
	_ = json.Unmarshal(payload, &p)
	var cfg joinConfig
	if len(p.Config) == 0 {
		return cfg
	}
	cfg.hasConfig = true
	var c struct {
		Broadcast struct {
			Ack              json.RawMessage `json:"ack"`
			Self             json.RawMessage `json:"self"`
			Replay           json.RawMessage `json:"replay"`
			ReplicationReady json.RawMessage `json:"replication_ready"`
		} `json:"broadcast"`
		Presence struct {
			Key     json.RawMessage `json:"key"`
			Enabled json.RawMessage `json:"enabled"`
		} `json:"presence"`
		PostgresChanges []json.RawMessage `json:"postgres_changes"`
		PostgresOptions struct {
			Wait    json.RawMessage `json:"wait"`
			Timeout json.RawMessage `json:"timeout"`
		} `json:"postgres_changes_options"`
		Private json.RawMessage `json:"private"`
	}
	_ = json.Unmarshal(p.Config, &c)
	cfg.ack = flexBool(c.Broadcast.Ack)
	cfg.self = flexBool(c.Broadcast.Self)
	cfg.replay = c.Broadcast.Replay
	// The server checks raw truthiness here: anything but absent, null or false is on.
	rr := bytes.TrimSpace(c.Broadcast.ReplicationReady)
	cfg.replicationReady = len(rr) > 0 && string(rr) != "null" && string(rr) != "false"
	cfg.presenceEnabled = flexBool(c.Presence.Enabled)
	var key string
	if json.Unmarshal(c.Presence.Key, &key) == nil {
		cfg.presenceKey = key
	} else if n := bytes.TrimSpace(c.Presence.Key); len(n) > 0 && (n[0] == '-' || (n[0] >= '0' && n[0] <= '9')) {
		cfg.presenceKey = string(n) // numbers are accepted and stringified
	}
	for _, b := range c.PostgresChanges {
		if len(bytes.TrimSpace(b)) > 0 && string(bytes.TrimSpace(b)) != "null" {
			cfg.postgres = append(cfg.postgres, b)
		}
	}
	cfg.pgWait = flexBool(c.PostgresOptions.Wait)
	cfg.pgTimeout = pgWaitTimeout(c.PostgresOptions.Timeout)
	cfg.private = flexBool(c.Private)
	return cfg
}

// bindingID is the id of a postgres_changes binding: the same for identical items (the server
// uses Erlang's phash2; any stable hash into 0..2^27-1 serves).
func bindingID(item map[string]any) int64 {
	keys := make([]string, 0, len(item))
	for k := range item {
		if k != "id" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := fnv.New32a()
	for _, k := range keys {
		v, _ := json.Marshal(item[k])
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(v)
		h.Write([]byte{0})
	}
	return int64(h.Sum32() & (1<<27 - 1))
}

func (s *Server) subscribe(ch *channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ch.streamKey()
	if s.topics[k] == nil {
		s.topics[k] = make(map[*channel]struct{})
	}
	s.topics[k][ch] = struct{}{}
}

// unsubscribe ends a channel on the server: it stops receiving, and its presence leaves.
func (s *Server) unsubscribe(ch *channel) {
	ch.stopAuth()
	s.mu.Lock()
	k := ch.streamKey()
	_, was := s.topics[k][ch]
	delete(s.topics[k], ch)
	if len(s.topics[k]) == 0 {
		delete(s.topics, k)
	}
	s.mu.Unlock()
	if was {
		s.presenceLeave(ch)
	}
}

// subscribers returns the channels joined to a stream, in connection order.
func (s *Server) subscribers(streamKey string) []*channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*channel, 0, len(s.topics[streamKey]))
	for ch := range s.topics[streamKey] {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].conn.id < out[j].conn.id })
	return out
}

// relay fans a broadcast push out like the real server (docs/protocol.md §5): a JSON push goes out
// as JSON with its payload as sent; a binary kind 3 push goes out as kind 4 to version 2.0.0
// sockets and as JSON to 1.0.0 ones, which never get raw bytes. The sender is left out unless
// it joined with self; with ack it gets an empty ok reply after publishing, or the string
// error "payload_size_exceeded" for a payload over the limit.
func (s *Server) relay(from *channel, m *transport.Message) {
	s.relayWithID(from, m, "")
}

// relayWithID is relay; with id, the ok reply to an ack is {"id":id} (a persisted broadcast).
// It reports whether the broadcast was published (its size within the limit).
func (s *Server) relayWithID(from *channel, m *transport.Message, id string) bool {
	size := len(m.Payload) + len(m.Data)
	s.mu.Lock()
	limit := s.maxPayload
	s.mu.Unlock()
	if limit > 0 && size > limit {
		if from.cfg.ack {
			from.conn.reply(from.joinRef, m.Ref, m.Topic, "error", []byte(`"payload_size_exceeded"`))
		}
		return false
	}
	out := *m
	if out.Binary {
		out.Meta = nil // the server parses a kind 3's metadata, then discards it
	}
	for _, ch := range s.subscribers(from.streamKey()) {
		if ch == from && !from.cfg.self {
			continue
		}
		ch.conn.deliverBroadcast(m.Topic, &out)
	}
	if from.cfg.ack {
		resp := []byte("{}")
		if id != "" {
			resp = transport.AppendQuote([]byte(`{"id":`), id)
			resp = append(resp, '}')
		}
		from.conn.reply(from.joinRef, m.Ref, m.Topic, "ok", resp)
	}
	return true
}

// deliverBroadcast sends a broadcast to this connection in the form its version takes: a
// broadcast that is not binary goes out as JSON (its Payload as it came, or built from its
// parts); a binary one as kind 4 to a version 2.0.0 socket and as JSON to a 1.0.0 one, which
// never gets raw bytes.
func (c *Conn) deliverBroadcast(topic string, m *transport.Message) {
	out := transport.Message{Topic: topic, Event: transport.EventBroadcast, UserEvent: m.UserEvent, Data: m.Data, Meta: m.Meta, Raw: m.Raw}
	switch {
	case !m.Binary:
		out.Payload = m.Payload
	case c.vsn == transport.V2:
		out.Binary = true
	case m.Raw:
		return
	}
	c.send(out)
}
