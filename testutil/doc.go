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
// upgrades, delayed or failing joins, raw frames.
//
// The same server runs as a program, testutil/cmd/fakeserver, for clients in other languages;
// [Server.ControlHandler] is its HTTP control API.
//
// [VerifyNone] and [VerifyTestMain] fail tests that leak goroutines.
package testutil
