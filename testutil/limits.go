package testutil

import (
	"net/http"
	"time"
)

// Tenant limits, as supabase/realtime enforces them (the fake server is one tenant):
//
//   - Channels per socket ([DefaultMaxChannelsPerClient]): a join on a socket that already has
//     that many channels open is refused with "ChannelRateLimitReached: Too many channels". The
//     socket and its other channels are untouched. A duplicate join of a topic the socket has
//     open closes the old channel first, so it does not count twice.
//   - Joins per second ([DefaultMaxJoinsPerSecond]): a rolling average computed like the real
//     server's rate counter. The counter starts at the first join (or upgrade) and ticks every
//     5 s, the first tick at once; each tick pushes the joins counted since the previous one
//     into a list of the last 12 and takes avg = sum / len / 5. The limit trips at a tick where
//     avg >= the limit and resets at a tick where avg < the limit; in between it stays tripped
//     (tens of seconds after a burst). A counter whose 12 buckets are all empty at one of its
//     10-minute idle checks stops, and the next join starts a fresh one. Joins are counted when
//     they pass this check, even if a later check refuses them. While tripped, a join is
//     refused with "ClientJoinRateLimitReached: Too many joins per second" and its socket is
//     then closed with 1001, and upgrades get HTTP 429 {"error":"Too many joins per second"}.
//     Nothing ticks in the background: the counter catches up from time.Now at each use, so a
//     testing/synctest bubble's fake clock drives it.
//   - Concurrent users ([DefaultMaxConcurrentUsers]): a socket counts from its first accepted
//     join until it closes. With that many sockets counted, upgrades get HTTP 429
//     {"error":"Too many connected users"}, and a join on a socket not counted yet is refused
//     with "ConnectionRateLimitReached: Too many connected users".
//
// The join checks run in the real server's order, after the topic name and the faults of
// [Server.FailJoins] that come before the token: concurrent users, joins per second, channels
// per socket, then the token and the rest. Upgrades are checked after the token. Refusals
// wait [Server.SetJoinErrorDelay] (joins) or [Server.SetConnectErrorDelay] (upgrades) first,
// like every other refusal.

// The real server's default tenant limits.
const (
	// DefaultMaxChannelsPerClient is the default number of channels one socket may have open.
	DefaultMaxChannelsPerClient = 100
	// DefaultMaxJoinsPerSecond is the default limit of the tenant's average joins per second.
	DefaultMaxJoinsPerSecond = 100
	// DefaultMaxConcurrentUsers is the default number of sockets with joins the tenant may have.
	DefaultMaxConcurrentUsers = 200
)

// The real server's join error replies of the limits.
const (
	reasonTooManyChannels = "ChannelRateLimitReached: Too many channels"
	reasonTooManyJoins    = "ClientJoinRateLimitReached: Too many joins per second"
	reasonTooManyUsers    = "ConnectionRateLimitReached: Too many connected users"
)

// The rate counter of joins per second (Realtime.RateCounter with the options the server
// gives the joins counter).
const (
	rateTick    = 5 * time.Second
	rateBuckets = 12
	rateIdle    = 10 * time.Minute
)

// limitState is the tenant limits of a Server and what they count. Guarded by Server.mu.
type limitState struct {
	maxChannels int
	maxJoins    int
	maxUsers    int
	users       int // sockets counted as users
	joins       rateCounter
}

// WithMaxChannelsPerClient sets the number of channels one socket may have open (default
// [DefaultMaxChannelsPerClient]; n <= 0: no limit). See [Server.SetMaxChannelsPerClient].
func WithMaxChannelsPerClient(n int) ServerOption {
	return func(o *serverOptions) { o.maxChannels = &n }
}

// WithMaxJoinsPerSecond sets the limit of the tenant's average joins per second (default
// [DefaultMaxJoinsPerSecond]; n <= 0: no limit). See [Server.SetMaxJoinsPerSecond].
func WithMaxJoinsPerSecond(n int) ServerOption {
	return func(o *serverOptions) { o.maxJoins = &n }
}

// WithMaxConcurrentUsers sets the number of sockets with joins the tenant may have (default
// [DefaultMaxConcurrentUsers]; n <= 0: no limit). See [Server.SetMaxConcurrentUsers].
func WithMaxConcurrentUsers(n int) ServerOption {
	return func(o *serverOptions) { o.maxUsers = &n }
}

// SetMaxChannelsPerClient sets the number of channels one socket may have open; the join of
// one more is refused with "ChannelRateLimitReached: Too many channels". n <= 0 removes the
// limit. Channels already open stay open.
func (s *Server) SetMaxChannelsPerClient(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.maxChannels = n
}

// SetMaxJoinsPerSecond sets the limit of the tenant's average joins per second (see the
// package documentation for how the average is taken). Like a tenant update on the real server,
// it restarts the counter, which clears a tripped limit. n <= 0 removes the limit.
func (s *Server) SetMaxJoinsPerSecond(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.maxJoins = n
	s.limits.joins = rateCounter{}
}

// SetMaxConcurrentUsers sets the number of sockets with joins the tenant may have. n <= 0
// removes the limit. Sockets already counted stay counted.
func (s *Server) SetMaxConcurrentUsers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.maxUsers = n
}

// JoinRate returns the tenant's joins per second as the rate counter last computed it, and
// whether the limit is tripped, as of now.
func (s *Server) JoinRate() (avg float64, tripped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.limits.joins
	r.advance(time.Now(), s.limits.maxJoins)
	return r.avg, r.tripped
}

// admitLimits runs the checks of a join that come before the token: the faults of FailJoins
// of that stage, then the tenant limits. It returns the reason to refuse the join with, or "".
func (s *Server) admitLimits(c *Conn, topic string) string {
	if topic == "realtime:" {
		return "" // admitJoin refuses it, before anything else
	}
	if r, ok := s.nextJoinFailure(topic, stageBeforeToken); ok {
		return r
	}
	c.mu.Lock()
	open := len(c.channels)
	c.mu.Unlock()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.limits
	if l.maxUsers > 0 && !c.counted && l.users >= l.maxUsers {
		return reasonTooManyUsers
	}
	if !l.joins.allow(now, l.maxJoins) {
		return reasonTooManyJoins
	}
	if l.maxChannels > 0 && open >= l.maxChannels {
		return reasonTooManyChannels
	}
	return ""
}

// countUser counts c as a user of the tenant once it has a channel.
func (s *Server) countUser(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.counted {
		c.counted = true
		s.limits.users++
	}
}

// uncountUserLocked forgets c as a user; c has closed. s.mu must be held.
func (s *Server) uncountUserLocked(c *Conn) {
	if c.counted {
		c.counted = false
		s.limits.users--
	}
}

// checkLimitsUpgrade returns the status and error text to refuse an upgrade with because of
// the tenant limits, or 0.
func (s *Server) checkLimitsUpgrade() (int, string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.limits
	if l.maxUsers > 0 && l.users >= l.maxUsers {
		return http.StatusTooManyRequests, "Too many connected users"
	}
	if l.joins.start.IsZero() {
		l.joins.begin(now)
	}
	l.joins.advance(now, l.maxJoins)
	if l.joins.tripped {
		return http.StatusTooManyRequests, "Too many joins per second"
	}
	return 0, ""
}

// rateCounter is a rate counter of the real server: ticks every rateTick from its start (the
// first at once), an average over the last rateBuckets ticks, a limit that trips and resets
// only at ticks, and an idle stop. It computes its ticks lazily from the time it is given.
type rateCounter struct {
	start   time.Time // zero when there is no counter
	ticks   int64     // ticks done since start, the one at start included
	count   int       // events since the last tick
	buckets []int     // newest first
	avg     float64
	tripped bool
}

// begin starts a counter at now, with its first tick.
func (r *rateCounter) begin(now time.Time) {
	*r = rateCounter{start: now}
	r.tick(0)
	r.ticks = 1
}

// advance does the ticks due by now, and the idle stop.
func (r *rateCounter) advance(now time.Time, limit int) {
	if r.start.IsZero() {
		return
	}
	due := int64(now.Sub(r.start)/rateTick) + 1
	idleEvery := int64(rateIdle / rateTick)
	for r.ticks < due {
		r.tick(limit)
		r.ticks++
		if (r.ticks-1)%idleEvery == 0 && r.idle() {
			*r = rateCounter{}
			return
		}
	}
}

func (r *rateCounter) idle() bool {
	for _, n := range r.buckets {
		if n != 0 {
			return false
		}
	}
	return true
}

func (r *rateCounter) tick(limit int) {
	r.buckets = append([]int{r.count}, r.buckets...)
	if len(r.buckets) > rateBuckets {
		r.buckets = r.buckets[:rateBuckets]
	}
	r.count = 0
	sum := 0
	for _, n := range r.buckets {
		sum += n
	}
	r.avg = float64(sum) / float64(len(r.buckets)) / rateTick.Seconds()
	// Trips at a tick where avg >= limit, resets at one where avg < limit.
	r.tripped = limit > 0 && r.avg >= float64(limit)
}

// allow reports whether an event may happen now (the limit is not tripped), and counts it if
// so.
func (r *rateCounter) allow(now time.Time, limit int) bool {
	r.advance(now, limit)
	if r.start.IsZero() {
		r.begin(now)
	}
	if r.tripped {
		return false
	}
	r.count++
	return true
}
