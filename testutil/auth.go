package testutil

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// Authentication and authorization, as supabase/realtime 2.129.8 does them. All of it is
// opt-in: a Server without [WithJWTSecret] accepts any token, and one without
// [Server.SetPrivatePolicy] lets every private channel read and write.
//
//   - Upgrade (docs/protocol.md §1.2, §1.3): the socket token is the x-api-key header, else the apikey
//     query parameter. Without one the upgrade gets 401 {"error":"API key is missing"}; with a
//     secret the token must also be a valid JWT (see jwt.go), else 401 with the server's text.
//     Every refused upgrade waits [Server.SetConnectErrorDelay] first.
//   - Join (§4.4): the channel token is the join payload's access_token (or user_token); a value
//     starting with "sb_", null or absent means the socket token. The checks run in the server's
//     order: topic name, the faults of [Server.FailJoins] that come before the token
//     (rate limits, tenant, …), the token, the faults that come after it (database, RLS), the
//     private read policy, replay faults, then replay. Every error reply waits
//     [Server.SetJoinErrorDelay] first; ClientJoinRateLimitReached and TenantNotFound also
//     close the socket with 1001.
//   - While joined (§8.4), with a secret, the channel token is checked again every
//     min(5 min, time to exp); when it fails the channel gets the system error
//     "Token has expired N seconds ago" and phx_close. The socket stays open.
//   - access_token (§8.1) is never answered. It is ignored when equal to the channel token,
//     null, not a string, or starting with "sb_". Otherwise it becomes the channel token; with
//     a secret it is validated (a failure shuts the channel) and the expiry check re-armed; a
//     private channel's read is checked again ("You no longer have permission to read from this
//     Channel topic: <sub>" when denied) and its cached write permission forgotten; the
//     postgres_changes subscription is re-created.
//   - Private channels (§5.3, §5.7, §6.1, §8.5): read is checked at join; write lazily, on the
//     first broadcast or presence push, and cached until the next access_token. A broadcast
//     without write is dropped without any reply, even with ack; a presence push without write
//     gets {"response":{},"status":"error"}.
//   - Replay (§5.5): allowed on private channels only, with since (Unix ms) an integer and
//     limit, when present, an integer (clamped to 1..25, 25 when absent). The server keeps the
//     broadcasts of private channels (from sockets and the REST API) and replays the newest
//     limit of those at or after since right after the join reply, oldest first, with the
//     metadata {"id":…,"replayed":true}.
//   - REST (§5.6): with a secret, the bearer token (else the apikey header) must be a valid JWT,
//     else 401 {"message":"Unauthorized"}. Private messages without write are skipped by the
//     batch endpoint (still 202) and refused by the single one (403 {"message":"Unauthorized"}).

// Policy decides, like the RLS policies of realtime.messages, whether a token may read and
// write a private channel. topic is the subtopic (without "realtime:"); claims are the decoded
// claims of the channel's token (nil when it is not a JWT). A Policy is called from the
// server's goroutines, possibly concurrently, and must not call the Server.
type Policy func(topic string, claims map[string]any) (read, write bool)

// confirmTokenInterval is the longest time between two checks of a joined channel's token.
const confirmTokenInterval = 5 * time.Minute

// maxStoredBroadcasts bounds the broadcasts kept for replay per private topic.
const maxStoredBroadcasts = 1000

// authState is the authentication state of a Server.
type authState struct {
	mu           sync.Mutex
	policy       Policy
	connectDelay time.Duration
	joinErrDelay time.Duration
	stored       map[string][]storedBroadcast // topic → broadcasts of its private stream, oldest first

	done      chan struct{} // closed when the server closes, to cut the error delays short
	closeOnce sync.Once
}

// storedBroadcast is a broadcast of a private channel, kept for replay.
type storedBroadcast struct {
	id     string
	at     time.Time
	event  string
	data   []byte
	raw    bool // data is bytes, not JSON
	binary bool // it came as a binary user broadcast (kind 3, or the REST single endpoint)
}

func newAuthState() *authState {
	return &authState{stored: make(map[string][]storedBroadcast), done: make(chan struct{})}
}

func (a *authState) close() { a.closeOnce.Do(func() { close(a.done) }) }

// WithJWTSecret makes the server verify JWTs (HS256, HS384 or HS512) against secret: the
// socket token at the upgrade, the channel token at each join and while joined, access_token
// pushes and REST tokens (docs/protocol.md §1.3, §4.4, §5.6, §8). Without it, or with "", the
// server accepts any token. Sign tokens for it with [SignJWT].
func WithJWTSecret(secret string) ServerOption {
	return func(o *serverOptions) { o.jwtSecret = secret }
}

// SetConnectErrorDelay makes the server wait d before it answers an upgrade it refuses (the
// real server waits ~2 s). The default is 0. The wait uses the time package, so it follows a
// testing/synctest bubble's fake clock.
func (s *Server) SetConnectErrorDelay(d time.Duration) {
	s.authz.mu.Lock()
	defer s.authz.mu.Unlock()
	s.authz.connectDelay = d
}

// SetJoinErrorDelay makes the server wait d before each error reply to a join, whatever its
// reason (the real server waits ~5 s). Nothing else on that connection is answered meanwhile,
// as on the real server. The default is 0. The wait uses the time package, so it follows a
// testing/synctest bubble's fake clock.
func (s *Server) SetJoinErrorDelay(d time.Duration) {
	s.authz.mu.Lock()
	defer s.authz.mu.Unlock()
	s.authz.joinErrDelay = d
}

// SetPrivatePolicy sets the policy of private channels (config.private): joins need read,
// broadcasts and presence pushes need write. nil, the default, allows everything. A channel's
// write permission is decided at its first write and kept until its next access_token, as on
// the real server.
func (s *Server) SetPrivatePolicy(p Policy) {
	s.authz.mu.Lock()
	defer s.authz.mu.Unlock()
	s.authz.policy = p
}

func (s *Server) privatePolicy() Policy {
	s.authz.mu.Lock()
	defer s.authz.mu.Unlock()
	return s.authz.policy
}

// ChannelToken returns the token of the current join of topic on this connection: the join's
// access_token, or the socket token when the join had none, then the last access_token the
// server took. It returns "" when topic is not joined.
func (c *Conn) ChannelToken(topic string) string {
	ch := c.channel(fullTopic(topic))
	if ch == nil {
		return ""
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.token
}

// ShutChannels shuts every channel of topic (public and private), as the real server does on
// a rate limit or another shutdown (docs/protocol.md §8.4): each gets [J,null,T,"system",
// {"channel":…,"extension":"system","message":message,"status":"error"}] and then
// [J,J,T,"phx_close",{}], and ends; the sockets stay open. It returns the number of channels
// shut. message is, for instance, "Too many messages per second".
func (s *Server) ShutChannels(topic, message string) int {
	t := fullTopic(topic)
	n := 0
	for _, private := range []bool{false, true} {
		for _, ch := range s.subscribers(streamKey(private, t)) {
			if ch.conn.shutChannel(ch, message) {
				n++
			}
		}
	}
	return n
}

// sleepUnless waits d, or until one of stop is closed.
func sleepUnless(d time.Duration, stop ...<-chan struct{}) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var s0, s1 <-chan struct{}
	if len(stop) > 0 {
		s0 = stop[0]
	}
	if len(stop) > 1 {
		s1 = stop[1]
	}
	select {
	case <-t.C:
	case <-s0:
	case <-s1:
	}
}

// connectErrorWait waits the connect error delay.
func (s *Server) connectErrorWait() {
	s.authz.mu.Lock()
	d := s.authz.connectDelay
	s.authz.mu.Unlock()
	sleepUnless(d, s.authz.done)
}

// socketToken returns the token of an upgrade request: the x-api-key header, else the apikey
// query parameter (docs/protocol.md §1.2).
func socketToken(h http.Header, q url.Values) string {
	if t := h.Get("x-api-key"); t != "" {
		return t
	}
	return q.Get("apikey")
}

// checkUpgrade returns the status and error text to refuse an upgrade with, or 0.
func (s *Server) checkUpgrade(r *http.Request) (int, string) {
	tok := socketToken(r.Header, r.URL.Query())
	if tok == "" {
		return http.StatusUnauthorized, "API key is missing"
	}
	if s.opts.jwtSecret != "" {
		if _, e := verifyJWT(tok, s.opts.jwtSecret, time.Now()); e.kind != jwtOK {
			return http.StatusUnauthorized, e.socketMessage()
		}
	}
	return 0, ""
}

// The stages of a join's checks at which a fault of FailJoins applies (docs/protocol.md §4.4: …
// joins/s → channels per client → token → DB connection → RLS policies → replay permission →
// replay).
const (
	stageBeforeToken = iota // restarting, tenant, private_only, max users, joins/s, channels per client, and unknown reasons
	stageToken              // the token
	stageAfterToken         // the database connection and the RLS policies
	stageReplay             // replay
)

// faultStage returns the stage of a join's checks that produces reason.
func faultStage(reason string) int {
	code, _, _ := strings.Cut(reason, ":")
	switch code {
	case "InvalidJWTToken", "MalformedJWT", "JwtSignatureError", "JwtSignerError":
		return stageToken
	case "Unauthorized", "IncreaseConnectionPool", "DatabaseLackOfConnections", "DatabaseConnectionRateLimitReached",
		"UnableToConnectToProject", "InitializingProjectConnection", "MissingPartition", "QueryCanceled",
		"Realtime was unable to connect to the project database":
		return stageAfterToken
	case "UnableToReplayMessages":
		return stageReplay
	}
	return stageBeforeToken
}

// joinGrant is what an accepted join is given.
type joinGrant struct {
	token  string
	replay *replayParams // nil without replay
}

// replayParams are the valid replay parameters of a join.
type replayParams struct {
	since int64 // Unix ms
	limit int
}

// admitJoin runs the checks of a join in the server's order and returns the reason to refuse
// it with, or "".
func (s *Server) admitJoin(c *Conn, m *transport.Message, cfg *joinConfig) (joinGrant, string) {
	var g joinGrant
	if m.Topic == "realtime:" {
		return g, "TopicNameRequired: You must provide a topic name"
	}
	if r, ok := s.nextJoinFailure(m.Topic, stageBeforeToken); ok {
		return g, r
	}
	g.token = joinToken(m.Payload, socketToken(c.header, c.query))
	if r, ok := s.nextJoinFailure(m.Topic, stageToken); ok {
		return g, r
	}
	if s.opts.jwtSecret != "" {
		if _, e := verifyJWT(g.token, s.opts.jwtSecret, time.Now()); e.kind != jwtOK {
			return g, e.joinReason()
		}
	}
	if r, ok := s.nextJoinFailure(m.Topic, stageAfterToken); ok {
		return g, r
	}
	sub := strings.TrimPrefix(m.Topic, "realtime:")
	if p := s.privatePolicy(); cfg.private && p != nil {
		if read, _ := p(sub, peekClaims(g.token)); !read {
			return g, "Unauthorized: You do not have permissions to read from this Channel topic: " + sub
		}
	}
	if r, ok := s.nextJoinFailure(m.Topic, stageReplay); ok {
		return g, r
	}
	if rp := bytes.TrimSpace(cfg.replay); len(rp) > 0 && string(rp) != "null" {
		if !cfg.private {
			return g, "UnableToReplayMessages: Replay is not allowed for public channels"
		}
		params, ok := parseReplay(rp)
		if !ok {
			return g, "UnableToReplayMessages: Replay params are not valid"
		}
		g.replay = &params
	}
	return g, ""
}

// joinToken returns the channel token of a join: access_token, else user_token, when it is a
// string not starting with "sb_"; else the socket token (docs/protocol.md §4.2).
func joinToken(payload []byte, socketTok string) string {
	var p map[string]json.RawMessage
	_ = json.Unmarshal(payload, &p)
	for _, k := range []string{"access_token", "user_token"} {
		var tok string
		if raw := bytes.TrimSpace(p[k]); len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &tok) != nil {
			continue
		}
		if strings.HasPrefix(tok, "sb_") {
			return socketTok
		}
		return tok
	}
	return socketTok
}

// parseReplay reads config.broadcast.replay: since must be an integer, limit an integer when
// present (and not null).
func parseReplay(raw json.RawMessage) (replayParams, bool) {
	var p map[string]json.RawMessage
	if json.Unmarshal(raw, &p) != nil || p == nil {
		return replayParams{}, false
	}
	integer := func(v json.RawMessage) (int64, bool) {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		return n, err == nil
	}
	since, ok := integer(p["since"])
	if !ok {
		return replayParams{}, false
	}
	limit := int64(25)
	if v := bytes.TrimSpace(p["limit"]); len(v) > 0 && string(v) != "null" {
		if limit, ok = integer(v); !ok {
			return replayParams{}, false
		}
	}
	return replayParams{since: since, limit: int(max(1, min(limit, 25)))}, true
}

// refuseJoin answers a join with an error reply, after the join error delay; the reasons of
// a disconnect also close the socket with 1001 (docs/protocol.md §1.4).
func (c *Conn) refuseJoin(m *transport.Message, reason string) {
	c.srv.authz.mu.Lock()
	d := c.srv.authz.joinErrDelay
	c.srv.authz.mu.Unlock()
	sleepUnless(d, c.done, c.srv.authz.done)
	c.replyReason(m.JoinRef, m.Ref, m.Topic, reason)
	switch code, _, _ := strings.Cut(reason, ":"); code {
	case "ClientJoinRateLimitReached", "TenantNotFound":
		c.CloseWith(websocket.CloseGoingAway, "")
	}
}

// afterJoinAuth does what follows an accepted join's reply: the replay, then the first check
// of the token.
func (s *Server) afterJoinAuth(ch *channel, g joinGrant) {
	if g.replay != nil {
		s.replay(ch, *g.replay)
	}
	s.armExpiry(ch)
}

// armExpiry schedules the next check of ch's token, when the server verifies tokens: in
// min(5 min, time to exp), and at least a second.
func (s *Server) armExpiry(ch *channel) {
	if s.opts.jwtSecret == "" {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.ended {
		return
	}
	if ch.expiry != nil {
		ch.expiry.Stop()
	}
	ch.expiryGen++
	gen := ch.expiryGen
	d := confirmTokenInterval
	if exp, ok := tokenExp(peekClaims(ch.token)); ok {
		// Like the server: exp - now in whole seconds.
		if left := time.Duration(exp.Unix()-time.Now().Unix()) * time.Second; left < d {
			d = max(left, time.Second)
		}
	}
	ch.expiry = time.AfterFunc(d, func() { s.confirmToken(ch, gen) })
}

// confirmToken checks ch's token again: a failure shuts the channel, a success re-arms.
func (s *Server) confirmToken(ch *channel, gen int) {
	ch.mu.Lock()
	stale := ch.ended || ch.expiryGen != gen
	tok := ch.token
	ch.mu.Unlock()
	if stale {
		return
	}
	if _, e := verifyJWT(tok, s.opts.jwtSecret, time.Now()); e.kind != jwtOK {
		ch.conn.shutChannel(ch, e.shutdownMessage())
		return
	}
	s.armExpiry(ch)
}

// stopAuth stops ch's token checks; ch has ended.
func (ch *channel) stopAuth() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.ended = true
	if ch.expiry != nil {
		ch.expiry.Stop()
		ch.expiry = nil
	}
}

// accessToken handles an access_token push (docs/protocol.md §8.1). It never replies.
func (s *Server) accessToken(ch *channel, m *transport.Message) {
	var p map[string]json.RawMessage
	if json.Unmarshal(m.Payload, &p) != nil {
		return
	}
	raw := bytes.TrimSpace(p["access_token"])
	var tok string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &tok) != nil {
		return // absent, null or not a string
	}
	ch.mu.Lock()
	same := tok == ch.token
	ch.mu.Unlock()
	secret := s.opts.jwtSecret
	if same || strings.HasPrefix(tok, "sb_") || (secret == "" && tok == "") {
		return
	}
	ch.setToken(tok)
	if secret != "" {
		if _, e := verifyJWT(tok, secret, time.Now()); e.kind != jwtOK {
			ch.conn.shutChannel(ch, e.shutdownMessage())
			return
		}
		s.armExpiry(ch)
	}
	if ch.cfg.private {
		ch.mu.Lock()
		ch.writeKnown = false
		ch.mu.Unlock()
		if pol := s.privatePolicy(); pol != nil {
			sub := strings.TrimPrefix(ch.topic, "realtime:")
			if read, _ := pol(sub, peekClaims(tok)); !read {
				// Joined private channels were granted read, so this is a revocation.
				ch.conn.shutChannel(ch, "You no longer have permission to read from this Channel topic: "+sub)
				return
			}
		}
	}
	// The server re-creates the postgres_changes subscriptions with the new claims.
	s.postgresResubscribe(ch)
}

// mayWrite reports whether ch may broadcast and track presence: always on a public channel;
// on a private one as the policy decides at the first write, until the next access_token.
func (s *Server) mayWrite(ch *channel) bool {
	if !ch.cfg.private {
		return true
	}
	p := s.privatePolicy()
	if p == nil {
		return true
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.writeKnown {
		_, ch.write = p(strings.TrimPrefix(ch.topic, "realtime:"), peekClaims(ch.token))
		ch.writeKnown = true
	}
	return ch.write
}

// restMayWrite reports whether a REST request may broadcast to the private channel sub.
func (s *Server) restMayWrite(sub string, claims map[string]any) bool {
	p := s.privatePolicy()
	if p == nil {
		return true
	}
	_, write := p(sub, claims)
	return write
}

// broadcastPush handles a broadcast push: denied private writes are dropped without any reply
// (docs/protocol.md §5.3); the rest is relayed, and kept for replay when private.
func (s *Server) broadcastPush(ch *channel, m *transport.Message) {
	if !s.mayWrite(ch) {
		return
	}
	s.relay(ch, m)
	if !ch.cfg.private || m.UserEvent == "" {
		return
	}
	s.mu.Lock()
	limit := s.maxPayload
	s.mu.Unlock()
	if limit > 0 && len(m.Payload)+len(m.Data) > limit {
		return
	}
	s.storeBroadcast(ch.topic, storedBroadcast{event: m.UserEvent, data: bytes.Clone(m.Data), raw: m.Raw, binary: m.Binary})
}

// storeBroadcast keeps a broadcast of a private topic for replay, with a new id unless it
// has one.
func (s *Server) storeBroadcast(topic string, b storedBroadcast) {
	if b.id == "" {
		b.id = newUUIDv4()
	}
	b.at = time.Now()
	a := s.authz
	a.mu.Lock()
	defer a.mu.Unlock()
	list := append(a.stored[topic], b)
	if len(list) > maxStoredBroadcasts {
		list = list[len(list)-maxStoredBroadcasts:]
	}
	a.stored[topic] = list
}

// replay pushes the newest p.limit stored broadcasts of ch's topic sent at or after p.since,
// oldest first, with the metadata {"id":…,"replayed":true} (docs/protocol.md §5.5).
func (s *Server) replay(ch *channel, p replayParams) {
	a := s.authz
	a.mu.Lock()
	var sel []storedBroadcast
	for _, b := range a.stored[ch.topic] {
		if b.at.UnixMilli() >= p.since {
			sel = append(sel, b)
		}
	}
	a.mu.Unlock()
	if len(sel) > p.limit {
		sel = sel[len(sel)-p.limit:]
	}
	c := ch.conn
	for _, b := range sel {
		meta := fmt.Appendf(nil, `{"id":%q,"replayed":true}`, b.id)
		out := transport.Message{JoinRef: ch.joinRef, Topic: ch.topic, Event: transport.EventBroadcast, UserEvent: b.event, Data: b.data, Meta: meta, Raw: b.raw}
		switch {
		case b.binary && c.vsn == transport.V2:
			out.Binary = true
		case b.raw:
			continue // a version 1.0.0 socket never gets raw bytes
		}
		c.send(out)
	}
}

// checkRESTToken validates a REST token when the server checks JWTs; it returns a status and
// body to refuse with, or 0.
func (s *Server) checkRESTToken(token string) (int, string) {
	if s.opts.jwtSecret == "" {
		return 0, ""
	}
	if _, e := verifyJWT(token, s.opts.jwtSecret, time.Now()); e.kind != jwtOK {
		return http.StatusUnauthorized, `{"message":"Unauthorized"}`
	}
	return 0, ""
}

// newUUIDv4 returns a random UUID.
func newUUIDv4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
