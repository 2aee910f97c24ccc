// Package interop holds the realtime-js interop suite: @supabase/realtime-js, the reference
// JavaScript client (pinned in package.json), driven by small node scripts against testutil's
// fake server, next to clients of this SDK. It checks the fake server's fidelity, and the SDK's
// interoperability, against the client the real server is built for.
//
// The suite is interop_test.go, behind the build tag "interop" because it needs node and the
// npm packages:
//
//	make interop
//
// or, by hand, from the repository root:
//
//	(cd testutil/interop && npm ci)
//	go test -race -count=1 -tags interop ./testutil/interop/
//
// See README.md for what each scenario checks. The package has no Go code of its own.
package interop
