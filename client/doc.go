// Package client is the user-facing API of the Supabase Realtime SDK: a [Client] holds one
// self-healing socket, and [Channel]s joined on it carry broadcast, presence and Postgres
// changes.
//
// Every On… method returns a typed Go channel inside a *subscribe.Subscription[T]; every
// acknowledged operation waits for, or returns, a future; every blocking call takes a context.
//
//	rt, _ := client.New("https://<ref>.supabase.co", apiKey)
//	defer rt.Close()
//	ch, _ := rt.Channel("room:lobby")
//	msgs := ch.OnBroadcast(ctx, "*")
//	if err := ch.Subscribe(ctx); err != nil { … }
//	for m := range msgs.C() { … }
//
// or everything on the channel, in order, from one subscription: ch.OnEvents(ctx).
//
// # Order
//
// Each subscription delivers its events in the order their frames arrived, but every On…
// call is its own Go channel, so the order between subscriptions is lost: a reader selecting
// over a broadcast and a postgres subscription may see a change before the broadcast that
// came first. When that order matters, read one ordered stream: [Channel.OnEvents] delivers
// everything that happens on a channel — broadcasts, postgres changes, presence events,
// system messages, state changes — as [Event] values in exactly the order they arrived, and
// [Client.OnEvents] does the same over every channel of the client, in the order of the
// socket. [Channel.OnPostgresChangesOf] keeps the changes of several bindings in order in one
// subscription.
//
// Every event a channel delivers carries its channel's topic and a receive sequence number
// ([Origin]), the same in every subscription, growing for the life of the *Channel across
// rejoins, so events from several subscriptions can be merged back in order.
//
// Per-kind subscriptions remain the right tool for independent consumers (each has its own
// buffer and pace: a slow one neither holds up nor evicts the others), for filtering on the way
// in (by broadcast event, by binding), and for presence, whose subscriptions conflate so that a
// slow reader skips to the latest state.
//
// # Contexts
//
// A ctx has one meaning per call. On a blocking call (Connect, Subscribe, Unsubscribe,
// Broadcast, Track, a future's Wait) it bounds that wait only and never touches the shared
// socket: when it ends, the call returns and the client carries on (the join still completes,
// the socket keeps reconnecting). On an On… call it bounds the subscription's life: when it is
// done, the subscription's channel closes and its Err is nil.
//
// # Durability
//
// A channel the user has subscribed stays subscribed until Unsubscribe, a close by the server,
// or Close. After a reconnect or a phx_error it rejoins with a fresh join_ref, the current
// access token and its full configuration (every postgres_changes binding, re-mapped to the new
// ids); its subscriptions stay open across it. The gap is observable: channel state changes
// (OnState) and, on postgres_changes subscriptions, a gap marker.
//
// # Missing nothing
//
// Changes and broadcasts can be missed in four places; each has its remedy.
//
//   - Before the bindings are live. The server makes a channel's Postgres subscription live
//     some time after the join. By default (PostgresChangesWait) a channel with bindings
//     asks the server to answer its join only once they are live, so Subscribe returns when
//     changes flow and a change committed after it returns is delivered. The server waits up
//     to 15 s by default (20 s at most) and answers a refusal only after its usual delay of
//     about 5 s before a join error, so the join's timeout is the push timeout plus both. A
//     refusal "RealtimeDisabledForConfiguration: …" means the bindings can never work (a
//     filter on an unknown column, a table not published): the channel ends for good with a
//     *PostgresConfigError. "PostgresChangesSubscribeTimeout: …" is transient: the channel
//     rejoins with backoff. Take a snapshot of the data after Subscribe, not before.
//   - While the channel is away. After a reconnect or a rejoin, a postgres_changes
//     subscription gets a gap marker (PostgresEvent.Gap): the server does not replay
//     changes. OnPostgresChangesWithCatchUp runs a catch-up function for every gap before any
//     later change is delivered; apply changes idempotently, since one can arrive both in the
//     catch-up and live. Private channels can replay broadcasts the server stored (for 72
//     hours, at most 25 a time): AutoReplay does it on every rejoin, suppresses what was
//     already delivered, and marks a gap on the broadcast subscriptions when the replay may
//     not cover it. Broadcasts are stored when sent with persistence: HTTPSend's Persist, or
//     on projects with broadcast persistence, where the reply to a broadcast with
//     BroadcastAck carries the stored message's id (Reply.MessageID).
//   - Deletes that a filter cannot see. A binding with a filter receives a DELETE only if the
//     table has REPLICA IDENTITY FULL: with the default replica identity, the old record holds
//     only the primary key, so the filter has nothing to match.
//   - Changes the server drops. When a project exceeds its database events rate, the server
//     drops changes without telling the client, and no gap marker can see it. Reconcile
//     periodically (run the catch-up on a timer) where it matters.
//
// examples/todosync puts these together.
//
// # Errors
//
// Errors are *Error values with a Code (timeout, closed, disconnected, join_rejected,
// unauthorized, rate_limited, slow_consumer, invalid_argument, server_error) and the server's
// exact reason in Message; match them with errors.Is(err, client.ErrTimeout) and friends.
// [Error.Temporary] (or [IsTemporary]) says whether retrying can help. Input the protocol
// cannot carry is refused with invalid_argument before anything is sent. API keys and tokens
// never appear in errors or log lines.
//
// # Failing fast
//
// Connect and Subscribe return at the first definitive answer: a refused join, or a socket
// refused for a reason retrying cannot fix by itself (an invalid or expired token, a
// suspended or unknown project), even with a ctx that never ends. The client and the channel
// keep retrying in the background all the same, until Close or Unsubscribe, so that a fresh
// token or the server's recovery ends in a join without another call. Only a server that
// cannot be reached at all keeps the call waiting until its ctx ends.
//
// # Observability
//
// [Client.Stats] returns counters for a dashboard: frames and bytes each way, reconnects,
// rejoins, open sockets, channels by state, events delivered and dropped (by where), heartbeat
// round-trip times and pending acknowledgements. [WithObserver] tells a function of connection
// state changes, joins with their latency, rejoins, heartbeat round trips, drops, gaps and the
// server's error reasons, off the router's path. [WithRequestHeaders] adds headers derived
// from a ctx, such as a W3C traceparent, to the upgrade request and to REST calls.
//
// # Channel lifecycle
//
// A [Channel] is a handle; its state lives with the router goroutine, which moves it between
// Closed, Joining, Joined, Leaving and Errored, one function per target state. Each move stops
// the timers, forgets the refs and settles the waiters and futures it makes moot (a Subscribe
// waiting for a join that failed, the PostgresReady future of a join that ended, the pushes
// buffered for a join that will not come), so every future settles. A channel that is over for
// good — removed with [Client.RemoveChannel], closed by the server for a reason no fresh token
// can undo, or closed with its client — refuses every call with an error matching [ErrClosed],
// ends its subscriptions, and leaves its topic to a new [Client.Channel].
//
// # Sockets and the server's limits
//
// The server takes at most 100 channels on one socket by default. A Client therefore holds a
// pool of sockets: it places channels on its first socket until it holds
// [WithMaxChannelsPerSocket] channels (default 100), then opens another, up to [WithMaxSockets]
// (default 10). A channel stays on its socket while joined; it moves only when it (re)joins.
// Every socket heartbeats and reconnects on its own, and a socket other than the first that is
// left without channels closes after twice the heartbeat interval. Each limit of the server is
// handled in its own scope, and none delays channels it does not concern:
//
//   - "ChannelRateLimitReached: Too many channels" (channels per socket): the socket is full, not
//     penalised; the channel moves to a socket with room at once.
//   - "ClientJoinRateLimitReached: Too many joins per second" (the tenant's joins, averaged over
//     about a minute; the server then closes the socket with 1001), "DatabaseConnectionRateLimitReached"
//     (the tenant's database), and an upgrade refused with HTTP 429: the client holds off every
//     join and reconnect for [DefaultRateLimitHoldOff] (70 s ±15%, [WithRateLimitHoldOff]), long
//     enough for the server's average to fall.
//   - "ConnectionRateLimitReached: Too many connected users" (every socket counts as a user):
//     no new socket is opened for the hold-off; the channel joins on a socket the server already
//     counts, or waits.
//   - "Too many messages per second" and "Too many presence messages per second" (the tenant's
//     event rates; the server closes the channels that receive): the channel rejoins alone
//     after the hold-off.
//   - "Client presence rate limit exceeded" (more than 5 track or untrack pushes within 30 s on
//     one channel; Track keeps under it): the channel rejoins alone after its backoff.
//
// The error of such a refusal or closure keeps the server's reason in its Message and says in
// Details["retry_in"] how long the client holds off; it also reaches the channel's state
// changes. Joins are paced besides: a burst of up to 1,000, then 50 per second
// ([WithJoinRate]), so that one client never trips the tenant's joins per second by itself.
//
// # Concurrency
//
// Client and Channel are safe for concurrent use. Subscriptions and futures are too. Channel
// state (its join, its pushes waiting for the join, its routing tables) is owned by the
// router goroutine; user calls that change it run as short functions on that goroutine and
// wait for them, and the hot path of a push on a joined channel goes straight to the socket's
// queue. The SDK never runs user code — a token callback, a log handler — while it holds a
// lock, and the router never waits on it.
//
// # Goroutines
//
// A Client runs a fixed set of goroutines, started when first needed (Connect, Subscribe or an
// On… call) and stopped by Close, which returns only after all of them have exited:
//
//   - the router: decodes every frame from the reader, in wire order, and routes it by topic,
//     channel and binding to the subscriptions; settles replies; runs the channels' state
//     machines. It never blocks on a subscriber. When it takes several broadcasts of a channel
//     off the socket at once, it hands a stretch of them that the subscriptions match alike
//     (such as a stretch of one event name) to each subscription as a run, so that a reader is
//     woken once for the run rather than once per broadcast. Each subscription still receives
//     them in wire order, a stretch reaches all its subscriptions before the next stretch
//     reaches any, and everything else the router handles comes after them. After a large
//     fan-out (4,096 deliveries or more) the router yields the processor, so that the readers
//     it woke run before it routes more; it waits for none of them;
//   - the supervisor (package transport): dials, reconnects with backoff, reports state;
//   - the reader and the writer of the open socket (package transport): one each, as gorilla
//     websocket allows; the writer also sends the heartbeats;
//   - for each subscription whose reader has fallen behind, one delivery goroutine that drains
//     its pending queue into its channel and exits once the backlog is gone;
//   - while the WithAccessToken callback is being called, one goroutine for that call, so that
//     neither the router nor a dial waits on user code. Calls are single-flight: there is never
//     more than one. Its ctx is cancelled by Close, which waits for it to return;
//   - with WithObserver, one goroutine that calls the observer, fed by a bounded queue that
//     never blocks the router; Close lets it finish what is queued and waits for it.
//
// Timers (timeouts, rejoin and reconnect delays) are not goroutines while they wait; when one
// fires, its function only posts work to the router.
//
// Frames are decoded by the router, so that reading the next frame and decoding this one run in
// parallel; a large frame (64 KiB or more) is decoded by its socket's reader instead.
//
// # Slow subscribers
//
// The router never waits for a subscription's reader. Each subscription has a Go channel (its
// buffer) and behind it a pending queue that absorbs what the reader has not taken yet, in
// order (see package subscribe). What happens when a reader is slower than the server sends
// depends on the subscription's overflow policy:
//
//   - Lossless subscriptions (policy Evict, the default) slow the socket down: flow control.
//     While their pending queues hold more than WithFlowControl's high mark in all (2 MiB by
//     default, client-wide), the client stops reading its sockets before the next frame, and
//     TCP slows the server; it reads on once they hold less than half the mark. The router
//     goes on delivering what was read already, and heartbeats are no issue: a pause is never
//     taken for a dead server. Stats().Flow counts the pauses and their length. So a reader
//     slower than the flood gets every event, at its own pace, in bounded memory, as a
//     hand-written single-goroutine reader would; the other channels of the client are slowed
//     with it, as they share its sockets.
//   - A reader that takes nothing at all must not stop everyone: when a subscription over the
//     mark takes nothing for a second while the client waits for it, it stops counting for
//     flow control until it has caught up (Stats().Flow.Exempted), and the sockets flow again.
//     Its queue then grows up to its pending limits (65,536 events or 64 MiB by default;
//     subscribe.WithPendingLimits), and the client-wide budget (WithPendingBudget, 128 MiB)
//     applies to all queues together: past either, the subscription is evicted, its channel
//     closed and its Err wrapping ErrSlowConsumer. A stuck reader costs the others one such
//     second, not one per frame.
//   - Subscriptions that chose to drop (DropOldest, DropNewest, Conflate: presence, state
//     changes) never slow the socket: past their pending limits they drop, count it in Dropped
//     and log it. The budget applies to them too.
//
// WithFlowControl(0) turns flow control off: every slow reader is then handled by its pending
// limits and the budget alone.
//
// # Bounds against a broken or hostile server
//
// No frame holds the router for long, and no input makes the client hold memory without bound:
//
//   - A frame is at most WithReadLimit bytes (64 MiB by default); a larger one closes the socket
//     (code 1009), and the client reconnects.
//   - A presence message whose processing grows with its size or with the channel's state is
//     computed on a goroutine of its own, and its events are delivered a slice at a time, so
//     other channels' events keep flowing meanwhile; the channel's own later messages wait for
//     it, in order.
//   - A channel's presence state holds at most PresenceLimits members and metas (100,000 and
//     200,000 by default); what is refused beyond them reaches OnSystem and the log.
//   - The subscriptions of a client hold at most WithPendingBudget bytes for readers that fell
//     behind (128 MiB by default); past it the heaviest is evicted with ErrSlowConsumer. Flow
//     control keeps lossless subscriptions far below it (see Slow subscribers).
//   - Frames read but not yet routed take at most 256 KiB twice over (the router's inbox and
//     the batch it works on), or one larger frame: the sockets' readers wait for room.
//   - The large frames (64 KiB or more) the client works on at once take at most 64 MiB in
//     all, or one larger frame alone: a frame counts from the moment its socket's reader takes
//     it off the socket until the router is done with it, including while it waits behind its
//     channel's presence work and while the presence message it carries is computed and its
//     events delivered. A socket's reader waits before taking a large frame that would go past
//     that; it still counts as alive meanwhile (no heartbeat timeout), small frames never
//     wait, and the channels of the other sockets keep flowing. In all, a server that sends
//     presence messages of tens of megabytes in a row costs the client a few of them at once,
//     not one for each that it sends.
//   - Topics, event names and presence keys that are not valid UTF-8 are refused and logged.
package client
