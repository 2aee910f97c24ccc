// Package transport is the socket layer of the Supabase Realtime SDK: URL building, the
// serializers of the Phoenix protocol as Realtime speaks it, and [Conn], a self-healing
// WebSocket connection. It knows nothing of channels or subscriptions.
//
// # Serializers
//
// [Encode] and [Decode] are pure functions over the three wire forms: version 1.0.0 JSON
// objects, version 2.0.0 JSON arrays, and version 2.0.0 binary frames of kinds 0 to 4, with
// the client's and the server's layouts (the server's kind 0 has no ref). Decoding reads only
// what routing needs — refs, topic, event, a reply's status, a broadcast's event — and leaves
// every payload as the raw bytes of the frame, so numbers are never converted. Malformed input
// returns an error wrapping [ErrMalformed]; it never panics. Input the protocol cannot carry,
// such as a binary header field over 255 bytes, returns an error wrapping
// [ErrInvalidArgument] and produces no frame.
//
// # Connection
//
// A [Conn] runs a supervisor goroutine that owns the state machine (closed → connecting →
// open → closing) and reports every change with its cause; while a socket is open it also runs
// one reader and one writer goroutine. The writer sends a heartbeat on topic "phoenix" every
// interval; a heartbeat still unanswered when the next is due, with nothing received from the
// server in between, is a timeout: the socket is closed with 1000 "heartbeat timeout" and
// reopened. Any drop — a close frame of any code, a network failure, a timeout — leads to a
// reconnect with backoff unless the user closed the Conn. Frames sent while the socket is down
// wait in a bounded send buffer and go out in order when it reopens; overflow drops the oldest
// frame, counts it and logs it. While the socket is open, Send waits, bounded by its context,
// only when the writer is thousands of frames behind; if the socket drops meanwhile, the frame
// goes to the send buffer. A refused upgrade is reported as an [*UpgradeError] with the
// HTTP status and the server's error text; [Conn.Connect] returns at once on one that
// retrying cannot fix by itself (401, 403, 404: see [UpgradeError.Temporary]), while the Conn
// keeps retrying in the background.
//
// # Observability
//
// [Conn.Stats] returns the connection's counters — frames and bytes each way, opens and
// reconnects, failed dials, frames dropped by the send buffer, heartbeat round-trip times —
// read atomically, without a lock. [Config.OnHeartbeat] and [Config.OnDrop] report the same
// events as they happen, and [Config.RequestHeader] adds headers (such as a W3C traceparent)
// to each upgrade request.
package transport
