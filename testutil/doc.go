// Package testutil provides a fake Supabase Realtime server for tests — the SDK's own and its
// users' — plus goroutine-leak checks and a log recorder.
//
// [NewServer] starts a [Server] in the style of net/http/httptest: in memory by default
// (clients reach it through [Server.Dialer], over net.Pipe connections that work inside a
// testing/synctest bubble), or on a loopback port after [Server.Start]. It speaks the protocol
// of the real server: it answers heartbeats, joins and leaves, relays broadcasts with the self
// and ack semantics of the real one, serves the REST broadcast endpoints, keeps presence and
// routes injected Postgres changes, and records every frame it receives. Faults can be
// injected: unanswered heartbeats, close frames of any code, dropped connections, refused
// upgrades, delayed or failing joins, channels shut by the server, raw frames.
//
// # Limits
//
// The server enforces the real server's tenant limits (the fake server is one tenant), with
// their defaults, refusals and effects:
//
//   - Channels per socket, [DefaultMaxChannelsPerClient] ([WithMaxChannelsPerClient],
//     [Server.SetMaxChannelsPerClient]): one join more is refused with
//     "ChannelRateLimitReached: Too many channels"; the socket and its other channels are
//     fine. A duplicate join of an open topic closes the old channel first (phx_close with its
//     join_ref), so it does not count twice.
//   - Joins per second, [DefaultMaxJoinsPerSecond] ([WithMaxJoinsPerSecond],
//     [Server.SetMaxJoinsPerSecond], [Server.JoinRate]): a rolling average taken like the real
//     server's: a counter that starts at the first join, ticks at once and then every 5 s, and
//     averages the last 12 ticks (about a minute): avg = joins in those ticks / ticks / 5. The
//     limit trips at a tick where avg >= the limit and resets at one where avg < the limit, so
//     a burst keeps it tripped for up to a minute. A counter idle at one of its 10-minute
//     checks stops, and the next join starts a fresh one. While tripped, a join is refused with
//     "ClientJoinRateLimitReached: Too many joins per second" and its socket is then closed
//     with 1001, and upgrades get HTTP 429 {"error":"Too many joins per second"}. The counter
//     reads time.Now when used (no background ticker), so it follows a testing/synctest
//     bubble's fake clock.
//   - Concurrent users, [DefaultMaxConcurrentUsers] ([WithMaxConcurrentUsers],
//     [Server.SetMaxConcurrentUsers]): a socket counts from its first accepted join until it
//     closes. With the limit reached, upgrades get HTTP 429 {"error":"Too many connected
//     users"}, and a join on a socket not yet counted is refused with
//     "ConnectionRateLimitReached: Too many connected users".
//
// A join's checks run in the real server's order: topic name, the faults of [Server.FailJoins]
// that stand for earlier checks, concurrent users, joins per second, channels per socket, the
// token, the private read policy, replay. The real server waits ~5 s before every join error
// reply; the fake server answers at once unless [WithJoinErrorDelay] or
// [Server.SetJoinErrorDelay] asks for that wait (the default stays 0 so that tests that do not
// care about it stay fast).
//
// # Postgres changes
//
// Changes are injected with [Server.InjectChange] and routed to the bindings of each join.
// [Server.SetPostgresReadyDelay] sets how long a subscription takes to become live (default:
// at once), [Server.StallPostgres] holds subscriptions as if the database were out of reach,
// [Server.FailPostgres] makes them fail, and [Server.PublishTable] declares the published
// tables and their columns, against which bindings are then checked (unknown table, filter on
// an unknown column). Without postgres_changes_options.wait, a join is answered at once and the
// outcome follows as a system message ("Subscribed to PostgreSQL" or the error).
//
// A join whose config has "postgres_changes_options": {"wait": true, "timeout": ms} (timeout
// 15000 by default, clamped to 20000) and bindings is answered only once its subscription is
// live: the ok reply with the binding ids, then "Subscribed to PostgreSQL". A subscription that
// cannot work refuses the join with "RealtimeDisabledForConfiguration: <the system error's
// message>"; one not live within the timeout with "PostgresChangesSubscribeTimeout: Timed out
// after <timeout>ms waiting for the postgres_changes subscription". Like every join error they
// come after the join error delay. Nothing else on the socket is answered while the join waits,
// as on the real server.
//
// # Persisted broadcasts
//
// [WithBroadcastPersistence] or [Server.SetBroadcastPersistence] turns on the real server's
// per-tenant persistence flag (off by default): a broadcast pushed on a private channel is
// stored for replay under a new UUID, and the reply to a push with ack is
// {"response":{"id":"<that UUID>"},"status":"ok"}; its replay carries the same id. Public
// channels are unchanged. The REST single-message endpoint takes ?persist=true and answers 422
// {"message":"Persistence is only supported for private channels"} unless ?private=true too.
// (Whatever the flag, the fake server keeps the broadcasts of private channels for replay.)
//
// # Authentication and the fakeserver program
//
// Authentication is opt-in. A server started [WithJWTSecret] checks JWTs like the real one: the
// socket token at the upgrade, the channel token at each join and until it expires,
// access_token pushes and REST tokens; [SignJWT] signs tokens for it. [Server.SetPrivatePolicy]
// stands in for the RLS policies of private channels. Without them any token is accepted and
// private channels allow everything.
//
// The same server runs as a program, testutil/cmd/fakeserver, for clients in other languages;
// [Server.ControlHandler] is its HTTP control API.
//
// [VerifyNone] and [VerifyTestMain] fail tests that leak goroutines.
package testutil
