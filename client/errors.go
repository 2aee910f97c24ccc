package client

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-supabase/realtime/internal/acktable"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/transport"
)

// Code classifies an [Error], like realtime-ex's Supabase.Realtime.Error codes.
type Code string

// The error codes.
const (
	// CodeTimeout: no reply came within the push timeout.
	CodeTimeout Code = "timeout"
	// CodeClosed: the client, or the channel, was closed.
	CodeClosed Code = "closed"
	// CodeDisconnected: the socket dropped while the operation waited for its reply.
	CodeDisconnected Code = "disconnected"
	// CodeJoinRejected: the server refused to join the channel.
	CodeJoinRejected Code = "join_rejected"
	// CodeUnauthorized: a token or an RLS policy was refused.
	CodeUnauthorized Code = "unauthorized"
	// CodeRateLimited: a server or client-side rate limit was reached.
	CodeRateLimited Code = "rate_limited"
	// CodeSlowConsumer: a subscription was evicted because its reader fell behind.
	CodeSlowConsumer Code = "slow_consumer"
	// CodeInvalidArgument: the call's input was refused before anything was sent.
	CodeInvalidArgument Code = "invalid_argument"
	// CodeServerError: the server answered with an error, or broke the protocol.
	CodeServerError Code = "server_error"
)

// Error is the error type of the SDK. Message keeps the server's exact reason string when
// there is one; Details holds context such as the topic, the HTTP status or the close code.
// Match it by code with errors.Is and the sentinels below:
//
//	if errors.Is(err, client.ErrTimeout) { … }
//
// Temporary (or [IsTemporary]) says whether retrying can help.
type Error struct {
	// Code classifies the error; errors.Is matches it against the sentinels.
	Code Code
	// Message says what went wrong, with the server's exact reason when there is one.
	Message string
	// Details holds context such as the topic, the HTTP status or the close code.
	Details map[string]any

	err       error // the cause, if any
	sentinel  bool
	temporary int8 // 0: by Code; 1: temporary; -1: not
}

// The sentinels errors.Is matches an *Error against, by code.
var (
	ErrTimeout         = &Error{Code: CodeTimeout, Message: "timed out", sentinel: true}
	ErrClosed          = &Error{Code: CodeClosed, Message: "closed", sentinel: true}
	ErrDisconnected    = &Error{Code: CodeDisconnected, Message: "disconnected", sentinel: true}
	ErrJoinRejected    = &Error{Code: CodeJoinRejected, Message: "join rejected", sentinel: true}
	ErrUnauthorized    = &Error{Code: CodeUnauthorized, Message: "unauthorized", sentinel: true}
	ErrRateLimited     = &Error{Code: CodeRateLimited, Message: "rate limited", sentinel: true}
	ErrSlowConsumer    = &Error{Code: CodeSlowConsumer, Message: "slow consumer", sentinel: true}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument", sentinel: true}
	ErrServerError     = &Error{Code: CodeServerError, Message: "server error", sentinel: true}
)

// Error returns "realtime: <code>: <message>" followed by the details, sorted.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("realtime: ")
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Details) > 0 {
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%v", k, e.Details[k])
		}
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.err }

// Temporary reports whether the failed operation, retried later without changing anything,
// may succeed: the condition can clear by itself. It is true for timeout, disconnected and
// rate_limited errors, and for server errors that report a passing condition (a refused
// upgrade with a 5xx status, a database that is still starting, a server restarting); false
// for closed, unauthorized (a fresh token is needed), slow_consumer, invalid_argument, and for
// a join refused for a reason that will not change (an unknown project, a private-only
// project). Whatever it says, a subscribed channel keeps retrying in the background until
// Unsubscribe; Temporary tells whether waiting for that is worth it.
func (e *Error) Temporary() bool {
	switch e.temporary {
	case 1:
		return true
	case -1:
		return false
	}
	switch e.Code {
	case CodeTimeout, CodeDisconnected, CodeRateLimited, CodeServerError:
		return true
	}
	return false
}

// IsTemporary reports whether err is, or wraps, an [*Error] whose Temporary method reports
// true. Errors that are not the SDK's, such as a ctx's error, report false.
//
//	if err := ch.Subscribe(ctx); err != nil && !client.IsTemporary(err) {
//		log.Fatal(err) // fix the token or the configuration; waiting will not help
//	}
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary()
}

// withTemporary sets whether e is temporary, overriding the default of its code.
func (e *Error) withTemporary(temporary bool) *Error {
	e.temporary = -1
	if temporary {
		e.temporary = 1
	}
	return e
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.sentinel && t.Code == e.Code
}

// newError returns an *Error with the given code, message, cause and details (key, value
// pairs).
func newError(code Code, cause error, msg string, kv ...any) *Error {
	e := &Error{Code: code, Message: msg, err: cause}
	if len(kv) > 0 {
		e.Details = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			e.Details[fmt.Sprint(kv[i])] = kv[i+1]
		}
	}
	return e
}

// messageOf returns the message of an *Error, or the text of any other error without its
// "realtime: " prefix, so that an error quoted in another says "realtime:" once.
func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return strings.TrimPrefix(err.Error(), "realtime: ")
}

// withTopic returns err with the topic added to its details, when it is an *Error (a copy: err
// may be shared by several channels).
func withTopic(err error, topic string) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	cp := *e
	cp.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		cp.Details[k] = v
	}
	cp.Details["topic"] = topic
	return &cp
}

func invalidArgument(format string, args ...any) *Error {
	return newError(CodeInvalidArgument, nil, fmt.Sprintf(format, args...))
}

// wrapInvalid turns a transport or feature package validation error into an invalid_argument
// *Error that still matches the package's own sentinel.
func wrapInvalid(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, transport.ErrInvalidArgument.Error()+": ")
	return newError(CodeInvalidArgument, err, msg)
}

// fromAcks maps the ack table's error to an *Error.
func fromAcks(err error) error {
	if errors.Is(err, acktable.ErrTooManyPending) {
		return newError(CodeRateLimited, err, "too many acknowledgements pending; raise WithMaxPendingAcks or wait for replies")
	}
	return err
}

// slowConsumer is the error an evicted subscription ends with.
func slowConsumer(oe *subscribe.OverflowError) error {
	return newError(CodeSlowConsumer, oe, fmt.Sprintf("subscription evicted: its reader fell behind by %s", oe.Limit), "dropped", oe.Dropped)
}

// ServiceError is the service-tagged form of an error, for code that reports the errors of
// several Supabase services (auth, storage, realtime…) in one shape.
type ServiceError struct {
	// Service is always "realtime" for errors of this SDK.
	Service string
	// Code is the error code, such as "timeout" or "join_rejected".
	Code string
	// Message is the human-readable message, with the server's reason when there is one.
	Message string
	// Details holds context such as the topic or the HTTP status.
	Details map[string]any
	err     error
}

// Error returns "<service>: <code>: <message>".
func (e *ServiceError) Error() string {
	return e.Service + ": " + e.Code + ": " + e.Message
}

// Unwrap returns the original error.
func (e *ServiceError) Unwrap() error { return e.err }

// ToServiceError converts err to its service-tagged form: an *Error keeps its code, message
// and details; any other error becomes code "server_error" with its text. It returns nil for
// nil.
func ToServiceError(err error) *ServiceError {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		details := make(map[string]any, len(e.Details))
		for k, v := range e.Details {
			details[k] = v
		}
		return &ServiceError{Service: "realtime", Code: string(e.Code), Message: e.Message, Details: details, err: err}
	}
	return &ServiceError{Service: "realtime", Code: string(CodeServerError), Message: err.Error(), err: err}
}
