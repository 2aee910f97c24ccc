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
// # Errors
//
// Errors are *Error values with a Code (timeout, closed, disconnected, join_rejected,
// unauthorized, rate_limited, slow_consumer, invalid_argument, server_error) and the server's
// exact reason in Message; match them with errors.Is(err, client.ErrTimeout) and friends.
// Input the protocol cannot carry is refused with invalid_argument before anything is sent.
// API keys and tokens never appear in errors or log lines.
//
// # Concurrency
//
// Client and Channel are safe for concurrent use. Subscriptions and futures are too. Channel
// state (its join, its pushes waiting for the join, its routing tables) is owned by the
// router goroutine; user calls that change it run as short functions on that goroutine and
// wait for them, and the hot path of a push on a joined channel goes straight to the socket's
// queue.
//
// # Goroutines
//
// A Client runs a fixed set of goroutines, started when first needed (Connect, Subscribe or an
// On… call) and stopped by Close, which returns only after all of them have exited:
//
//   - the router: takes every message from the reader, in wire order, and routes it by topic,
//     channel and binding to the subscriptions; settles replies; runs channel state machines.
//     It never blocks on a subscriber;
//   - the supervisor (package transport): dials, reconnects with backoff, reports state;
//   - the reader and the writer of the open socket (package transport): one each, as gorilla
//     websocket allows; the writer also sends the heartbeats;
//   - for each subscription whose reader has fallen behind, one delivery goroutine that drains
//     its pending queue into its channel and exits once the backlog is gone;
//   - while the WithAccessToken callback is being called outside a dial (before a rejoin, or
//     ahead of a token's expiry), one goroutine for that call, so that the router never waits
//     on user code. Calls are single-flight: there is never more than one.
//
// Timers (timeouts, rejoin and reconnect delays) are not goroutines while they wait; when one
// fires, its function only posts work to the router.
//
// Frames are decoded where it is cheapest: text frames (JSON, whose validation is the costly
// part) by the router, so that reading and decoding run in parallel; binary frames in the
// reader.
package client
