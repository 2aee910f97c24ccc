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
// # Reading frames
//
// The upgrade is gorilla/websocket's: its Dialer sends the request and checks the response,
// and it writes every frame. The frames the server sends are read by the Conn itself, straight
// off the connection: each message costs one allocation, a buffer of exactly its length, which
// the frame header gives before the payload is read, so a message over [Config.ReadLimit] is
// refused (close code 1009) before anything is allocated for it, and a large message costs
// its size while it is read. Fragmented messages are put together, control frames between
// fragments are handled, a ping is answered with a pong carrying its payload, and a close
// frame is answered with its code and ends the socket with a [*CloseError] holding the
// server's code and reason. A frame the protocol forbids — masked, with RSV bits set (the SDK
// negotiates no extension), with an unknown opcode, a control frame over 125 bytes or
// fragmented — closes the socket with 1002 and is reported as a lost connection.
//
// So that nothing the server sends after its upgrade response is lost to the dialer's own
// buffered reader, the Conn dials the connection itself (through Dialer.NetDialContext when
// set, with the TLS handshake for wss:// done as the Dialer does it: a clone of
// Dialer.TLSClientConfig, the server name taken from the host when it has none) and hands the
// Dialer the response one byte at a time, up to the blank line that ends its headers. When
// that cannot be done — a proxy is used for the URL (Dialer.Proxy returns one), the Dialer
// has its own Dialer.NetDial or Dialer.NetDialTLSContext, or the server agreed to an extension
// such as permessage-deflate — gorilla/websocket reads the frames, and the Conn copies each
// message into a buffer of its own; the behaviour is the same, at two or three allocations a
// message.
//
// On a connection the Conn dialed itself, a burst of frames — one the writer finds with more
// queued behind it, such as a thousand joins — is written with one system call per 8 KiB or
// so rather than one per frame: gorilla/websocket frames each message as usual, and the
// connection holds the bytes until the burst is written. Flush returns once they are on the
// wire.
//
// # Observability
//
// [Conn.Stats] returns the connection's counters — frames and bytes each way, opens and
// reconnects, failed dials, frames dropped by the send buffer, heartbeat round-trip times —
// read atomically, without a lock. [Config.OnHeartbeat] and [Config.OnDrop] report the same
// events as they happen, and [Config.RequestHeader] adds headers (such as a W3C traceparent)
// to each upgrade request.
package transport
