package pgchanges

import (
	"errors"
	"fmt"
)

// ErrInvalidArgument is wrapped by every error about a binding or filter that the caller built
// wrongly: an unknown event, a missing schema and table, a bad filter condition.
var ErrInvalidArgument = errors.New("pgchanges: invalid argument")

// ErrMalformed is wrapped by every error about input from the server that does not have the
// expected shape: a change that is not JSON, a value that does not fit its column type.
var ErrMalformed = errors.New("pgchanges: malformed change")

// ErrNoColumn is wrapped by the error of [Change.Value] and [Change.OldValue] when the record has
// no such column (it was not selected, or it is an unchanged TOAST column).
var ErrNoColumn = errors.New("pgchanges: no such column in record")

// ErrMismatch is wrapped by the error of [MatchReply] when the server's echo of the bindings in
// the join reply does not correspond to the bindings that were sent.
var ErrMismatch = errors.New("pgchanges: mismatch between server and client bindings")

// ColumnError reports a record value that could not be converted: by [Change.Value],
// [Change.Values] and their Old variants, or by [Decode] into a Go field.
type ColumnError struct {
	Column string // the record key
	Type   string // the column's columns[].type; empty when the change does not list the column
	GoType string // the Go type decoded into; empty for Value and Values
	Err    error  // what went wrong; wraps ErrMalformed when the value does not fit its column type
}

// Error describes the column, its types and the cause.
func (e *ColumnError) Error() string {
	typ := e.Type
	if typ == "" {
		typ = "unknown type"
	}
	if e.GoType != "" {
		return fmt.Sprintf("pgchanges: column %q (%s) into %s: %v", e.Column, typ, e.GoType, e.Err)
	}
	return fmt.Sprintf("pgchanges: column %q (%s): %v", e.Column, typ, e.Err)
}

// Unwrap returns the cause.
func (e *ColumnError) Unwrap() error { return e.Err }

// wrapf returns an error wrapping sentinel with a formatted detail.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// invalid returns an error wrapping ErrInvalidArgument with a formatted detail.
func invalid(format string, args ...any) error { return wrapf(ErrInvalidArgument, format, args...) }

// malformed returns an error wrapping ErrMalformed with a formatted detail.
func malformed(format string, args ...any) error { return wrapf(ErrMalformed, format, args...) }
