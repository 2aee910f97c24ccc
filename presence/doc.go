// Package presence implements the client side of Supabase Realtime (Phoenix) presence: parsing
// presence_state and presence_diff payloads, merging them into a [State] exactly as the Phoenix
// JavaScript client does, and reporting [Join], [Leave] and [Sync] events.
//
// The package is pure: no goroutines, no sockets, no clocks. The client package feeds a
// [Tracker] per channel from its router goroutine; fake servers and tests use [NewMeta],
// [EncodeState] and [EncodeDiff] to produce payloads.
//
// # Data model
//
// A presence key (config.presence.key of the join, or a server-generated UUID) maps to one
// [Meta] per tracked connection: the same user on a phone and a laptop is one key with two
// metas. Each meta carries the server's phx_ref, an opaque string unique to that track, in
// [Meta.Ref]; realtime-js renames the field presence_ref, while here [Meta.Raw] keeps the meta
// object as the server sent it, phx_ref included. An update of a tracked payload replaces a
// meta by a new one with a new phx_ref whose phx_ref_prev names the old one. phx_ref_prev
// belongs to the diff, not to the member: like realtime-js, a [State] keeps no meta with it
// (neither in Raw nor in [Meta.PrevRef]), so a member's metas look the same in every State,
// [Sync] and Current list whatever path they took. Only the New metas of a [Join] still say,
// in PrevRef, which Ref they replaced.
//
// Metas are matched by Ref, never by key alone: a leave removes exactly the metas it lists, and
// a key disappears only when its last meta leaves.
//
// # Sync algorithm
//
// The algorithm is Phoenix's (presence.js syncState/syncDiff), as realtime-js runs it:
//
//   - Pending buffer. Until a presence_state arrives for the current join, presence_diff
//     messages are buffered in arrival order, not applied ([Tracker.HandleDiff]). A rejoin
//     ([Tracker.Reset]) makes the tracker pending again but keeps its state.
//   - presence_state ([SyncState], [Tracker.HandleState]). Keys present now but missing from the
//     new state leave with all their metas. For keys in both, the new metas with an unknown
//     Ref join and the current metas whose Ref is missing leave. Keys only in the new state
//     join. These joins and leaves are applied as a diff; then the buffered diffs are applied
//     in order, and one [Sync] event follows. Members that left while the client was away
//     therefore produce Leave events instead of staying as ghosts.
//   - presence_diff ([SyncDiff], [Tracker.HandleDiff]). All joins are applied before all leaves.
//     A join sets the key's metas to the joined metas, with the current metas whose Ref is not
//     among them put in front. A leave removes the listed Refs and deletes the key when nothing
//     remains; a leave for an absent key is skipped. Because joins go first, an update (join of
//     the new meta plus leave of the old one in the same diff) ends with only the new meta and
//     gives a Join then a Leave. One Sync follows each diff.
//
// Within one message keys are processed in sorted order, so events are deterministic. Events
// report only real changes: a join of a Ref already present (which still replaces the meta, as
// in Phoenix) or a leave of a Ref that is not present produces no event. This is where the
// package differs from the Phoenix client, which reports such no-op joins and leaves, for
// example when diffs buffered before a presence_state are replayed over a state that already
// includes them.
//
// # Immutability
//
// A [State] is a persistent map: it never changes once made, and each update returns a new
// State that shares every unchanged key with the old one (a hash array mapped trie, so applying
// a one-member diff to a state of any size copies only a handful of small nodes). A State handed
// out in a [Sync] event, by [Tracker.State] or by the sync functions stays exactly as it was
// while the tracker moves on, and may be read from any goroutine.
//
// The slices returned by [State.Get] and [State.Map] and those inside events are copies the
// caller owns. Those yielded by [State.All] are the State's own and must not be modified. The
// bytes of [Meta.Raw] are shared between states and events and must be treated as read-only,
// like a string. The package never modifies a value it was given or one it handed out; values
// passed to [SyncState] and [SyncDiff] are copied.
//
// # Malformed input and bounds
//
// The parsers and the [Tracker] accept arbitrary bytes: invalid input returns an error wrapping
// [ErrMalformed] and never panics. A meta must be a JSON object with a string phx_ref.
//
// A Tracker can be bounded ([Tracker.SetLimits], [Limits]): members beyond the bounds are
// refused, and so are members whose key is not valid UTF-8 (the parsers, like encoding/json,
// replace such bytes with U+FFFD; the Tracker refuses them instead, so that two keys never
// merge into one). The rest of the message applies, and a [*RefusedError] says what was left
// out.
package presence
