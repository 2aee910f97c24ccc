package client

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-supabase/realtime/presence"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
	"github.com/gorilla/websocket"
)

// Defaults of a Client, like realtime-js's unless noted.
const (
	// DefaultHeartbeat is the heartbeat interval.
	DefaultHeartbeat = transport.DefaultHeartbeat
	// DefaultTimeout bounds a push's wait for its reply (joins included). The server answers
	// a refused join after about 5 s, so it is not lower than that.
	DefaultTimeout = 10 * time.Second
	// DefaultSendBuffer is the number of frames kept while the socket is down.
	DefaultSendBuffer = transport.DefaultSendBuffer
	// DefaultPushBuffer is the number of pushes a channel keeps until it has joined.
	DefaultPushBuffer = 100
	// DefaultMaxPendingAcks bounds the pushes waiting for a reply on one client.
	DefaultMaxPendingAcks = 10000
	// DefaultMaxChannelsPerSocket is the server's own default limit of channels on one socket
	// (max_channels_per_client).
	DefaultMaxChannelsPerSocket = 100
	// DefaultMaxSockets bounds the client's pool of sockets: 10 sockets of 100 channels hold
	// 1,000 channels, and every socket counts as one of the tenant's connected users (200 by
	// default), so one client cannot take the tenant's room from every other.
	DefaultMaxSockets = 10
	// DefaultJoinRate and DefaultJoinBurst pace the client's joins: a burst of up to 1,000, then
	// 50 per second. The server refuses joins, tenant-wide, once their rate averaged over about a
	// minute reaches its limit (100 per second by default, so 6,000 in a minute); one client
	// paced this way stays under 4,000 in any minute.
	DefaultJoinRate  = 50.0
	DefaultJoinBurst = 1000
	// DefaultRateLimitHoldOff is how long the client holds off after a tenant-wide limit of the
	// server (joins per second, connected users, database connections, messages per second),
	// jittered by ±15%: the server averages its counters over about 60 s, so retrying sooner
	// only keeps them tripped.
	DefaultRateLimitHoldOff = 70 * time.Second
	// DefaultReadLimit is the largest frame the client accepts from the server: 64 MiB. The
	// server's own limits keep its frames far smaller (a broadcast's payload is at most a few
	// MB), so a larger frame means a broken or hostile server.
	DefaultReadLimit = transport.DefaultReadLimit
	// DefaultPendingBudget bounds the bytes that the subscriptions of one client hold for
	// readers that have fallen behind, all together: 128 MiB, twice one subscription's own
	// limit, so that two stuck readers fill it and a third is never allowed to grow it further.
	DefaultPendingBudget = 128 << 20
	// DefaultFlowControl is the high mark of flow control (see WithFlowControl): 2 MiB of
	// events waiting for lossless subscriptions' readers, client-wide. That is thousands of
	// typical events, enough to ride over a reader's hiccups without pausing the socket, and
	// it keeps a client that floods one slow reader within about 25 MB of memory in all.
	DefaultFlowControl = 2 << 20
	// DefaultPresenceMaxMembers and DefaultPresenceMaxMetas bound a channel's presence state:
	// 100,000 members (keys) with 200,000 metas (tracked connections) in all, far above what a
	// tenant's connected users can reach by default, and some tens of MB of memory.
	DefaultPresenceMaxMembers = 100_000
	DefaultPresenceMaxMetas   = 200_000
)

// DefaultRejoinBackoff is the delay before channel rejoin attempt n (0 for the first): 1 s,
// 2 s, 5 s, then 10 s, as realtime-js, with ±20% jitter.
func DefaultRejoinBackoff(attempt int) time.Duration {
	steps := [...]time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}
	d := steps[len(steps)-1]
	if attempt >= 0 && attempt < len(steps) {
		d = steps[attempt]
	}
	return transport.Jitter(d, 0.2)
}

// Option configures a Client; see New.
type Option func(*config) error

type config struct {
	tokenFn        func(context.Context) (string, error)
	token          string
	heartbeat      time.Duration
	timeout        time.Duration
	backoff        func(int) time.Duration
	rejoinBackoff  func(int) time.Duration
	sendBuffer     int
	pushBuffer     int
	maxPendingAcks int
	params         url.Values
	headers        http.Header
	version        transport.Version
	logger         *slog.Logger
	dialer         *websocket.Dialer
	httpClient     *http.Client
	keyInHeader    bool
	httpFallback   bool
	subOpts        []subscribe.Option

	maxPerSocket     int
	maxSockets       int
	joinRate         float64
	joinBurst        int
	rateLimitHoldOff time.Duration

	observer       func(Observation)
	requestHeaders func(context.Context, http.Header)

	readLimit     int64
	pendingBudget int64
	flowHigh      int64
	presence      presence.Limits
}

func defaultConfig() config {
	return config{
		heartbeat:      DefaultHeartbeat,
		timeout:        DefaultTimeout,
		backoff:        transport.DefaultBackoff,
		rejoinBackoff:  DefaultRejoinBackoff,
		sendBuffer:     DefaultSendBuffer,
		pushBuffer:     DefaultPushBuffer,
		maxPendingAcks: DefaultMaxPendingAcks,
		version:        transport.V2,

		maxPerSocket:     DefaultMaxChannelsPerSocket,
		maxSockets:       DefaultMaxSockets,
		joinRate:         DefaultJoinRate,
		joinBurst:        DefaultJoinBurst,
		rateLimitHoldOff: DefaultRateLimitHoldOff,

		readLimit:     DefaultReadLimit,
		pendingBudget: DefaultPendingBudget,
		flowHigh:      DefaultFlowControl,
		presence:      presence.Limits{MaxMembers: DefaultPresenceMaxMembers, MaxMetas: DefaultPresenceMaxMetas},
	}
}

// WithReadLimit sets the largest frame the client accepts from the server, in bytes (default
// DefaultReadLimit, 64 MiB). A larger frame is not read: the socket is closed with code 1009
// (message too big), the state change reports it, and the client reconnects and rejoins its
// channels as after any drop. Reading a frame costs up to about twice its size while it is
// read, so the limit bounds the memory one frame can take.
func WithReadLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return invalidArgument("WithReadLimit: limit must be positive, got %d", bytes)
		}
		c.readLimit = bytes
		return nil
	}
}

// WithPendingBudget bounds the bytes that all the client's subscriptions together hold for
// readers that have fallen behind (default DefaultPendingBudget, 128 MiB), on top of each
// subscription's own limits (see package subscribe). When an event takes the total beyond it,
// the subscription holding the most pending bytes is evicted, whatever its overflow policy:
// its channel closes and its Err wraps ErrSlowConsumer; then the next heaviest, until the
// total is within the budget. The heaviest goes first because it is the furthest behind and
// frees the most; readers that keep up are never touched. A budget of 0 turns it off.
func WithPendingBudget(bytes int64) Option {
	return func(c *config) error {
		if bytes < 0 {
			return invalidArgument("WithPendingBudget: budget must not be negative, got %d", bytes)
		}
		c.pendingBudget = bytes
		return nil
	}
}

// WithFlowControl sets the high mark of flow control (default DefaultFlowControl, 2 MiB): while
// the events waiting for the readers of lossless subscriptions (overflow policy Evict, the
// default) take more than high bytes in all, the client stops reading its sockets, so that TCP
// slows the server down, and reads on once they take less than half of it. A subscription whose
// reader takes nothing for a second while the client waits for it stops counting until it has
// caught up, and its pending limits and the client's budget apply to it as without flow
// control. See "Slow subscribers" in the package documentation. Zero or negative turns flow
// control off.
func WithFlowControl(high int64) Option {
	return func(c *config) error {
		c.flowHigh = max(high, 0)
		return nil
	}
}

// WithPresenceLimits bounds the presence state of each of the client's channels: at most
// members keys with metas metas (tracked connections) in all (defaults
// DefaultPresenceMaxMembers and DefaultPresenceMaxMetas); 0 leaves that bound off. A channel's
// PresenceLimits option overrides it. Beyond a bound the state does not grow: the members that
// do not fit are left out of the state, and each message with a refusal reaches the channel's
// OnSystem subscriptions as an error (see PresenceLimits) and is logged.
func WithPresenceLimits(members, metas int) Option {
	return func(c *config) error {
		if members < 0 || metas < 0 {
			return invalidArgument("WithPresenceLimits: limits must not be negative, got %d and %d", members, metas)
		}
		c.presence = presence.Limits{MaxMembers: members, MaxMetas: metas}
		return nil
	}
}

// WithMaxChannelsPerSocket sets how many channels the client places on one socket before it
// opens another (default 100, the server's default limit). A server configured lower refuses a
// join with "ChannelRateLimitReached: Too many channels": the client then learns the socket's
// real limit and moves the channel to a socket with room, at once.
func WithMaxChannelsPerSocket(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return invalidArgument("WithMaxChannelsPerSocket: limit must be positive, got %d", n)
		}
		c.maxPerSocket = n
		return nil
	}
}

// WithMaxSockets bounds the client's pool of sockets (default 10). Once every socket holds its
// limit of channels, a channel that cannot be placed fails its join with a rate_limited error
// and retries after the rejoin backoff.
func WithMaxSockets(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return invalidArgument("WithMaxSockets: bound must be positive, got %d", n)
		}
		c.maxSockets = n
		return nil
	}
}

// WithJoinRate paces the client's joins with a token bucket: at most burst joins at once, then
// perSecond per second (defaults DefaultJoinRate and DefaultJoinBurst). A perSecond of 0 turns
// pacing off. Joins wait their turn in the order they were asked for.
func WithJoinRate(perSecond float64, burst int) Option {
	return func(c *config) error {
		if perSecond < 0 || (perSecond > 0 && burst < 1) {
			return invalidArgument("WithJoinRate: rate must be 0 (off) or positive with a burst of at least 1, got %v and %d", perSecond, burst)
		}
		c.joinRate, c.joinBurst = perSecond, burst
		return nil
	}
}

// WithRateLimitHoldOff sets how long the client holds off after a tenant-wide limit of the
// server (default DefaultRateLimitHoldOff, jittered by ±15%).
func WithRateLimitHoldOff(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalidArgument("WithRateLimitHoldOff: duration must be positive, got %v", d)
		}
		c.rateLimitHoldOff = d
		return nil
	}
}

// WithAccessToken sets the callback that supplies the user's access token (a JWT, such as
// the session token of Supabase Auth), which channels join with and which the client pushes
// to joined channels when it changes. Default: none.
//
// The client calls it:
//   - before every dial of a socket (each first connection and each reconnect);
//   - before a join or rejoin, unless a call in the last 5 seconds already gave a token that is
//     not about to expire (a join right after a dial reuses the dial's token);
//   - ahead of the token's expiry, read from the JWT's exp claim: 60 seconds before it, or a
//     tenth of the token's lifetime before it for tokens that live less than 10 minutes
//     (tokens without exp, and opaque sb_… keys, are not refreshed on a timer);
//   - after the server closed a channel because its token expired or was refused, before the
//     rejoin.
//
// Calls are made one at a time on a goroutine of the client's (never while it holds a lock),
// each with a ctx that Close cancels and that ends after 30 seconds. When a call fails or
// returns "", the client logs it (never the token) and falls back to the last good token,
// then to the token of WithToken, then to the API key.
func WithAccessToken(fn func(ctx context.Context) (string, error)) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidArgument("WithAccessToken: nil callback")
		}
		c.tokenFn = fn
		return nil
	}
}

// WithToken sets a fixed access token for channels (a user JWT), used when there is no
// callback or it fails. Default: the API key.
func WithToken(token string) Option {
	return func(c *config) error { c.token = token; return nil }
}

// WithHeartbeat sets the heartbeat interval (default 25 s). A heartbeat unanswered when the
// next is due, with nothing received in between, is a timeout: the socket is closed and
// reopened.
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalidArgument("WithHeartbeat: interval must be positive, got %v", d)
		}
		c.heartbeat = d
		return nil
	}
}

// WithTimeout sets how long a push (join, leave, acknowledged broadcast, presence) waits for
// its reply (default 10 s).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalidArgument("WithTimeout: timeout must be positive, got %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithBackoff sets the delay before reconnect attempt n, counted from 0 (default
// transport.DefaultBackoff: 1 s, 2 s, 5 s, 10 s, then 10 s, jittered).
func WithBackoff(fn func(attempt int) time.Duration) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidArgument("WithBackoff: nil function")
		}
		c.backoff = fn
		return nil
	}
}

// WithRejoinBackoff sets the delay before channel rejoin attempt n, counted from 0, after a
// join error or a phx_error (default DefaultRejoinBackoff: 1 s, 2 s, 5 s, then 10 s).
func WithRejoinBackoff(fn func(attempt int) time.Duration) Option {
	return func(c *config) error {
		if fn == nil {
			return invalidArgument("WithRejoinBackoff: nil function")
		}
		c.rejoinBackoff = fn
		return nil
	}
}

// WithSendBuffer sets how many frames are kept while the socket is down (default 100); past
// it the oldest are dropped, counted and logged.
func WithSendBuffer(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return invalidArgument("WithSendBuffer: size must be positive, got %d", n)
		}
		c.sendBuffer = n
		return nil
	}
}

// WithPushBuffer sets how many pushes a channel keeps until it has joined (default 100); past
// it the oldest are dropped, their futures failed, and the loss logged.
func WithPushBuffer(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return invalidArgument("WithPushBuffer: size must be positive, got %d", n)
		}
		c.pushBuffer = n
		return nil
	}
}

// WithMaxPendingAcks bounds the pushes waiting for a reply (default 10,000); past it, pushes
// fail at once with a rate_limited error.
func WithMaxPendingAcks(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return invalidArgument("WithMaxPendingAcks: bound must be positive, got %d", n)
		}
		c.maxPendingAcks = n
		return nil
	}
}

// WithParams adds query parameters to the socket URL (such as log_level). apikey and vsn are
// set by the client and cannot be overridden here. The values are copied.
func WithParams(params url.Values) Option {
	return func(c *config) error {
		if c.params == nil {
			c.params = url.Values{}
		}
		for k, vs := range params {
			c.params[k] = append(c.params[k], vs...)
		}
		return nil
	}
}

// WithHeaders adds headers to the upgrade request. They are copied.
func WithHeaders(h http.Header) Option {
	return func(c *config) error {
		if c.headers == nil {
			c.headers = http.Header{}
		}
		for k, vs := range h {
			for _, v := range vs {
				c.headers.Add(k, v)
			}
		}
		return nil
	}
}

// WithAPIKeyHeader sends the API key in the x-api-key header of the upgrade request instead
// of the apikey query parameter, so that it never appears in URLs (the server reads the header
// first).
func WithAPIKeyHeader() Option {
	return func(c *config) error { c.keyInHeader = true; return nil }
}

// WithProtocolVersion selects the serializer: transport.V2 ("2.0.0", the default, with binary
// broadcasts) or transport.V1 ("1.0.0", JSON only).
func WithProtocolVersion(v transport.Version) Option {
	return func(c *config) error {
		if !v.Valid() {
			return invalidArgument("WithProtocolVersion: %q is not 1.0.0 or 2.0.0", v)
		}
		c.version = v
		return nil
	}
}

// WithLogger sends the client's log lines to l (default: none). Secrets never appear in them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithDialer sets the websocket dialer (for proxies, TLS settings, or testutil's in-memory
// server). It is copied. The client reads the frames of its sockets itself, except through a
// proxy or a NetDial or NetDialTLSContext of the dialer's own, where gorilla/websocket reads
// them at one or two more allocations a message (see package transport, Reading frames).
func WithDialer(d *websocket.Dialer) Option {
	return func(c *config) error {
		if d == nil {
			return invalidArgument("WithDialer: nil dialer")
		}
		cp := *d
		c.dialer = &cp
		return nil
	}
}

// WithHTTPClient sets the HTTP client of the REST calls (HTTPSend and the HTTP fallback).
// Default: http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return invalidArgument("WithHTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithSubscriptionDefaults sets options applied to every subscription the client makes,
// before the options of the call.
func WithSubscriptionDefaults(opts ...subscribe.Option) Option {
	return func(c *config) error {
		c.subOpts = append(c.subOpts, opts...)
		return nil
	}
}
