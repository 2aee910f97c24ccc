package client

import (
	"strings"
	"time"
)

// Joins that wait for their postgres_changes subscription.
//
// A join whose config holds "postgres_changes_options": {"wait": true, "timeout": <ms>} and at
// least one binding is not answered by the server until the Postgres subscription is live (the
// server retries internally meanwhile); then come the ok reply and the system message
// "Subscribed to PostgreSQL". The timeout defaults to 15 s and the server caps it at 20 s; the
// option means nothing to a join without bindings. The server refuses such a join with one of
// two reasons:
//
//   - "RealtimeDisabledForConfiguration: <message>": the bindings cannot work (a filter on an
//     unknown column, a table not published). The same join would fail again, so the channel
//     ends for good with a *PostgresConfigError.
//   - "PostgresChangesSubscribeTimeout: Timed out after <N>ms waiting for the postgres_changes
//     subscription": transient; the channel rejoins with its backoff, as after any refusal.
//
// Like every join error, both come after the server's delay of about 5 s before a refusal, so
// such a join may take the wait's timeout plus that delay to be answered: the join's own
// timeout covers both.

// Limits of postgres_changes_options.timeout.
const (
	// DefaultPostgresWait is how long a join waits for its postgres_changes subscription by
	// default (the server's default).
	DefaultPostgresWait = 15 * time.Second
	// MaxPostgresWait is the longest wait the server grants; longer ones are cut to it.
	MaxPostgresWait = 20 * time.Second
	// serverJoinErrorDelay is how long the server waits before it answers a join with an error.
	serverJoinErrorDelay = 5 * time.Second
)

// reasonConfigDisabled prefixes the reason of a join whose postgres_changes bindings cannot
// work.
const reasonConfigDisabled = "RealtimeDisabledForConfiguration"

// PostgresChangesWait sets whether a join of a channel with postgres_changes bindings waits
// until they are live (postgres_changes_options.wait), and for how long the server may take to
// make them live (0: DefaultPostgresWait; above MaxPostgresWait: MaxPostgresWait). Waiting is
// on by default: Subscribe then returns once changes flow, and a change committed after it
// returns is delivered. Turned off, Subscribe returns as soon as the server accepts the join
// and the bindings go live later; wait for PostgresReady before relying on changes.
func PostgresChangesWait(on bool, timeout time.Duration) ChannelOption {
	return func(c *channelConfig) {
		c.pgNoWait = !on
		c.pgWait = min(max(timeout, 0), MaxPostgresWait)
	}
}

// PostgresConfigError is the cause of the end of a channel whose postgres_changes bindings the
// server cannot serve (a filter on an unknown column, a table not in the publication): its
// join was refused with "RealtimeDisabledForConfiguration: …", which no retry can change. The
// channel's subscriptions end with an *Error (code join_rejected, the server's exact reason in
// its Message) that wraps it; find it with errors.As.
type PostgresConfigError struct {
	// Message is the server's explanation, the part of the reason after the code.
	Message string
}

// Error returns the server's explanation.
func (e *PostgresConfigError) Error() string {
	return "postgres_changes bindings refused by the server: " + e.Message
}

// pgChangesOptions is the join config's postgres_changes_options.
type pgChangesOptions struct {
	Wait    bool  `json:"wait"`
	Timeout int64 `json:"timeout"`
}

// waitTimeout is the wait the channel asks for.
func (f *postgresFeature) waitTimeout() time.Duration {
	if d := f.s.ch.cfg.pgWait; d > 0 {
		return d
	}
	return DefaultPostgresWait
}

// configureWait asks the server to answer the join only once the bindings are live, unless
// the channel has no bindings or turned waiting off.
func (f *postgresFeature) configureWait(p *joinPayload) {
	f.waiting = len(p.Config.PostgresChanges) > 0 && !f.s.ch.cfg.pgNoWait
	if f.waiting {
		p.Config.PostgresChangesOptions = &pgChangesOptions{Wait: true, Timeout: f.waitTimeout().Milliseconds()}
	}
}

// joinWait is how much longer than a plain join the server may take to answer the join in
// flight: the wait for the bindings, then the delay before an error reply.
func (f *postgresFeature) joinWait() time.Duration {
	if !f.waiting {
		return 0
	}
	return f.waitTimeout() + serverJoinErrorDelay
}

// refused ends the channel for good when the server says its bindings cannot work.
func (f *postgresFeature) refused(reason string) error {
	msg, ok := strings.CutPrefix(reason, reasonConfigDisabled+":")
	if !ok {
		return nil
	}
	cause := &PostgresConfigError{Message: strings.TrimSpace(msg)}
	return newError(CodeJoinRejected, cause, reason, "topic", f.s.topic())
}

// liveAtJoin settles the readiness of a join that waited: its ok reply means the bindings are
// live (the system message that follows changes nothing).
func (f *postgresFeature) liveAtJoin() {
	if f.waiting && f.ready != nil {
		f.ready.settle(System{Status: "ok", Extension: "postgres_changes", Message: "Subscribed to PostgreSQL",
			Channel: f.s.ch.subtopic()}, nil)
	}
}
