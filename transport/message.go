package transport

import "fmt"

// Version is a Phoenix serializer version, sent as the vsn query parameter.
type Version string

// The serializer versions the Realtime server speaks (docs/protocol.md §2).
const (
	// V1 is vsn 1.0.0: JSON object envelopes, no binary frames.
	V1 Version = "1.0.0"
	// V2 is vsn 2.0.0: JSON array envelopes plus binary frames. It is the default.
	V2 Version = "2.0.0"
)

// Valid reports whether v is a version the server accepts.
func (v Version) Valid() bool { return v == V1 || v == V2 }

// Side says which end of the socket a codec works for: the binary layouts and the V1 output
// differ by direction.
type Side uint8

const (
	// ClientSide encodes client-to-server frames and decodes server-to-client frames.
	ClientSide Side = iota
	// ServerSide encodes server-to-client frames and decodes client-to-server frames; the fake
	// server in testutil uses it.
	ServerSide
)

// Binary frame kinds (docs/protocol.md §2.3).
const (
	KindPush              byte = 0
	KindReply             byte = 1
	KindBroadcast         byte = 2
	KindUserBroadcastPush byte = 3
	KindUserBroadcast     byte = 4
)

// Well-known event names of the Phoenix and Realtime protocols.
const (
	EventJoin        = "phx_join"
	EventLeave       = "phx_leave"
	EventReply       = "phx_reply"
	EventClose       = "phx_close"
	EventError       = "phx_error"
	EventHeartbeat   = "heartbeat"
	EventBroadcast   = "broadcast"
	EventPresence    = "presence"
	EventAccessToken = "access_token"
	EventSystem      = "system"
	EventPostgres    = "postgres_changes"
	EventPresState   = "presence_state"
	EventPresDiff    = "presence_diff"
	TopicPhoenix     = "phoenix"
)

// Message is one Phoenix message, decoded only as far as routing needs. Raw JSON values are
// sub-slices of the frame they came from: they are shared, exact (numbers are never converted)
// and must not be modified.
type Message struct {
	// JoinRef is the join reference; "" stands for null.
	JoinRef string
	// Ref is the message reference; "" stands for null.
	Ref string
	// Topic is the channel topic, such as "realtime:room1", or "phoenix".
	Topic string
	// Event is the Phoenix event, such as "phx_reply" or "broadcast".
	Event string
	// Payload is the envelope payload as it travelled in a text frame (raw JSON), or the body
	// of a binary kind 0, 1 or 2 frame. It is nil for binary user broadcasts (kinds 3 and 4).
	// When encoding, a nil Payload of a reply or a broadcast is built from the fields below.
	Payload []byte

	// Status is the reply status ("ok", "error") of a phx_reply.
	Status string
	// UserEvent is the user's event name of a broadcast.
	UserEvent string
	// Data is the response of a phx_reply, or the user payload of a broadcast: raw JSON, or
	// raw bytes when Raw is set.
	Data []byte
	// Meta is the metadata JSON object of a broadcast, or nil.
	Meta []byte
	// Raw reports that Data holds raw bytes rather than JSON (binary encoding 0, or the body
	// of a binary kind 0–2 frame).
	Raw bool
	// Binary reports that the message travels, or travelled, in a V2 binary frame. A broadcast
	// with Binary set is encoded as kind 3 (client) or kind 4 (server).
	Binary bool
}

// String returns a short description of m for logs: the routing fields and the payload size,
// never payload contents (they may hold secrets such as access tokens).
func (m *Message) String() string {
	n := len(m.Payload)
	if m.Payload == nil {
		n = len(m.Data)
	}
	s := fmt.Sprintf("%s %s join_ref=%q ref=%q", m.Topic, m.Event, m.JoinRef, m.Ref)
	if m.UserEvent != "" {
		s += fmt.Sprintf(" user_event=%q", m.UserEvent)
	}
	if m.Binary {
		s += " binary"
	}
	return s + fmt.Sprintf(" (%d bytes)", n)
}
