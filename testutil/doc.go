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
