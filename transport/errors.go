package transport

import (
	"errors"
	"fmt"
)

// Sentinel errors of the transport. The client package re-exports the ones users check.
var (
	// ErrInvalidArgument is wrapped by errors about input the protocol cannot carry; nothing
	// was sent.
	ErrInvalidArgument = errors.New("realtime: invalid argument")
	// ErrMalformed is wrapped by errors about frames that are not valid protocol messages.
	ErrMalformed = errors.New("realtime: malformed frame")
	// ErrClosed is returned by operations on a connection that was closed by its user.
	ErrClosed = errors.New("realtime: connection closed")
	// ErrHeartbeatTimeout is the cause of a reconnect after a heartbeat went unanswered.
	ErrHeartbeatTimeout = errors.New("realtime: heartbeat timeout")
)

func invalidArg(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidArgument, msg) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// UpgradeError reports that the server refused the WebSocket upgrade with an HTTP response: its
// status and the text of its {"error": …} body.
type UpgradeError struct {
	// StatusCode is the HTTP status, such as 401 or 429.
	StatusCode int
	// Message is the server's error text, such as "Token has expired", or the start of the
	// body when it is not the usual JSON.
	Message string
}

// Temporary reports whether the refusal may go away by itself, so that retrying the same
// request later can succeed: true for 408, 425, 429 and the 5xx statuses (a rate limit, an
// overloaded or restarting server), false for the other statuses, such as 401 (the token was
// refused: expired, malformed, badly signed), 403 (the project is suspended, or the protocol
// version is not spoken) and 404 (the project does not exist). A [Conn] keeps retrying either
// way; [Conn.Connect] returns at once on a refusal that is not temporary.
func (e *UpgradeError) Temporary() bool { return TemporaryStatus(e.StatusCode) }

// TemporaryStatus reports whether an HTTP error status may go away by itself (408, 425, 429
// and 5xx), as [UpgradeError.Temporary] does; the client package classifies its REST errors
// with it too.
func TemporaryStatus(status int) bool {
	return status >= 500 || status == 408 || status == 425 || status == 429
}

// Error describes the refusal.
func (e *UpgradeError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("realtime: websocket upgrade refused: HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("realtime: websocket upgrade refused: HTTP %d: %s", e.StatusCode, e.Message)
}

// CloseError reports that the server closed the WebSocket with a close frame.
type CloseError struct {
	// Code is the close code, such as 1000, 1001 or 1012.
	Code int
	// Reason is the close reason the server gave, often empty.
	Reason string
}

// Error describes the close.
func (e *CloseError) Error() string {
	s := fmt.Sprintf("realtime: connection closed by the server with code %d", e.Code)
	if name := closeCodeName(e.Code); name != "" {
		s += " (" + name + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func closeCodeName(code int) string {
	switch code {
	case 1000:
		return "normal closure"
	case 1001:
		return "going away"
	case 1006:
		return "abnormal closure"
	case 1009:
		return "message too big"
	case 1011:
		return "internal error"
	case 1012:
		return "service restart"
	}
	return ""
}
