package transport

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// maxField is the largest length of a binary frame's header field: each length is one byte.
const maxField = 255

// Encode appends m to dst, encoded as version v for the given side, and reports whether the
// result is a binary frame. It fails with an error wrapping [ErrInvalidArgument] for input the
// protocol cannot carry: a header field over 255 bytes in a binary frame, raw bytes on a
// version 1.0.0 socket, or a Payload that is not JSON in a text frame. It never truncates.
//
// Which frame is produced:
//   - m.Binary unset: a text frame, a JSON object (V1) or array (V2). A nil Payload is built
//     from Status and Data for a phx_reply, from UserEvent, Data and Meta for a broadcast, and
//     is {} otherwise.
//   - m.Binary set (V2 only): a broadcast with a nil Payload is a user broadcast, kind 3 from a
//     client or kind 4 from a server; from a client anything else is a kind 0 push; from a
//     server a phx_reply is kind 1, a message with a JoinRef is a kind 0 push, and the rest is
//     a kind 2 broadcast.
func Encode(dst []byte, v Version, side Side, m *Message) ([]byte, bool, error) {
	n := len(dst)
	out, binary, err := encode(dst, v, side, m)
	if err != nil {
		return out[:n], false, err
	}
	return out, binary, nil
}

func encode(dst []byte, v Version, side Side, m *Message) ([]byte, bool, error) {
	if m.Binary {
		if v != V2 {
			return dst, false, invalidArg("binary frames need protocol version 2.0.0")
		}
		out, err := encodeBinary(dst, side, m)
		return out, true, err
	}
	if m.Raw {
		return dst, false, invalidArg("a raw byte payload needs a binary frame (protocol version 2.0.0)")
	}
	var err error
	if v == V1 {
		dst, err = encodeV1(dst, side, m)
	} else {
		dst, err = encodeV2Text(dst, m)
	}
	return dst, false, err
}

// appendPayload appends m's payload as JSON, building it when m.Payload is nil.
func appendPayload(dst []byte, m *Message) ([]byte, error) {
	if m.Payload != nil {
		if jsonscan.Check(m.Payload) != nil {
			return dst, invalidArg("payload is not valid JSON")
		}
		return append(dst, m.Payload...), nil
	}
	switch m.Event {
	case EventReply:
		dst = append(dst, `{"response":`...)
		if m.Data == nil {
			dst = append(dst, "{}"...)
		} else {
			dst = append(dst, m.Data...)
		}
		dst = append(dst, `,"status":`...)
		dst = AppendQuote(dst, m.Status)
		return append(dst, '}'), nil
	case EventBroadcast:
		dst = append(dst, `{"event":`...)
		dst = AppendQuote(dst, m.UserEvent)
		if len(m.Meta) > 0 {
			dst = append(dst, `,"meta":`...)
			dst = append(dst, m.Meta...)
		}
		if m.Data != nil {
			dst = append(dst, `,"payload":`...)
			dst = append(dst, m.Data...)
		}
		return append(dst, `,"type":"broadcast"}`...), nil
	default:
		return append(dst, "{}"...), nil
	}
}

func appendRef(dst []byte, ref string) []byte {
	if ref == "" {
		return append(dst, "null"...)
	}
	return AppendQuote(dst, ref)
}

// encodeV1 writes a JSON object. Clients send topic, event, payload, ref and join_ref; the
// server's output has only topic, event, payload and ref, in Jason's sorted key order.
func encodeV1(dst []byte, side Side, m *Message) ([]byte, error) {
	var err error
	if side == ServerSide {
		dst = append(dst, `{"event":`...)
		dst = AppendQuote(dst, m.Event)
		dst = append(dst, `,"payload":`...)
		if dst, err = appendPayload(dst, m); err != nil {
			return dst, err
		}
		dst = append(dst, `,"ref":`...)
		dst = appendRef(dst, m.Ref)
		dst = append(dst, `,"topic":`...)
		dst = AppendQuote(dst, m.Topic)
		return append(dst, '}'), nil
	}
	dst = append(dst, `{"topic":`...)
	dst = AppendQuote(dst, m.Topic)
	dst = append(dst, `,"event":`...)
	dst = AppendQuote(dst, m.Event)
	dst = append(dst, `,"payload":`...)
	if dst, err = appendPayload(dst, m); err != nil {
		return dst, err
	}
	dst = append(dst, `,"ref":`...)
	dst = appendRef(dst, m.Ref)
	if m.JoinRef != "" {
		dst = append(dst, `,"join_ref":`...)
		dst = AppendQuote(dst, m.JoinRef)
	}
	return append(dst, '}'), nil
}

// encodeV2Text writes [join_ref, ref, topic, event, payload].
func encodeV2Text(dst []byte, m *Message) ([]byte, error) {
	dst = append(dst, '[')
	dst = appendRef(dst, m.JoinRef)
	dst = append(dst, ',')
	dst = appendRef(dst, m.Ref)
	dst = append(dst, ',')
	dst = AppendQuote(dst, m.Topic)
	dst = append(dst, ',')
	dst = AppendQuote(dst, m.Event)
	dst = append(dst, ',')
	dst, err := appendPayload(dst, m)
	return append(dst, ']'), err
}

// hfield is a string field of a binary frame's header, named for error messages.
type hfield struct{ name, val string }

// appendHeader writes a binary frame's header: the kind, the one-byte length of each field,
// the extra header bytes (the encoding of kinds 3 and 4), then the fields. A field over 255
// bytes is an invalid argument; nothing is written then.
func appendHeader(dst []byte, kind byte, extra []byte, fs ...hfield) ([]byte, error) {
	for _, f := range fs {
		if len(f.val) > maxField {
			return dst, invalidArg(fmt.Sprintf("%s is %d bytes; a binary frame allows at most %d", f.name, len(f.val), maxField))
		}
	}
	dst = append(dst, kind)
	for _, f := range fs {
		dst = append(dst, byte(len(f.val)))
	}
	dst = append(dst, extra...)
	for _, f := range fs {
		dst = append(dst, f.val...)
	}
	return dst, nil
}

func encodeBinary(dst []byte, side Side, m *Message) ([]byte, error) {
	var err error
	if m.Event == EventBroadcast && m.Payload == nil { // a user broadcast: kind 3 or 4
		if len(m.Meta) > 0 && !IsObject(m.Meta) {
			return dst, invalidArg("broadcast metadata must be a JSON object")
		}
		enc := []byte{1}
		if m.Raw {
			enc[0] = 0
		} else if m.Data != nil && jsonscan.Check(m.Data) != nil {
			return dst, invalidArg("broadcast payload is not valid JSON")
		}
		topic, event, meta := hfield{"topic", m.Topic}, hfield{"event", m.UserEvent}, hfield{"metadata", string(m.Meta)}
		if side == ClientSide {
			dst, err = appendHeader(dst, KindUserBroadcastPush, enc, hfield{"join_ref", m.JoinRef}, hfield{"ref", m.Ref}, topic, event, meta)
		} else {
			dst, err = appendHeader(dst, KindUserBroadcast, enc, topic, event, meta)
		}
		if err != nil {
			return dst, err
		}
		return append(dst, m.Data...), nil
	}
	body := m.Payload
	joinRef, ref, topic, event := hfield{"join_ref", m.JoinRef}, hfield{"ref", m.Ref}, hfield{"topic", m.Topic}, hfield{"event", m.Event}
	switch {
	case side == ClientSide:
		dst, err = appendHeader(dst, KindPush, nil, joinRef, ref, topic, event)
	case m.Event == EventReply:
		if body == nil {
			body = m.Data
		}
		dst, err = appendHeader(dst, KindReply, nil, joinRef, ref, topic, hfield{"status", m.Status})
	case m.JoinRef != "":
		dst, err = appendHeader(dst, KindPush, nil, joinRef, topic, event)
	default:
		dst, err = appendHeader(dst, KindBroadcast, nil, topic, event)
	}
	if err != nil {
		return dst, err
	}
	return append(dst, body...), nil
}

// Decode decodes one frame received by side on a socket of version v into m (which it resets).
// Malformed input returns an error wrapping [ErrMalformed]; Decode never panics. A topic, event
// name (the envelope's or a broadcast's) or reply status that is not valid UTF-8 (raw bytes, or
// an unpaired surrogate escape) is malformed. The fields of m alias frame.
func Decode(v Version, side Side, binary bool, frame []byte, m *Message) error {
	d := Decoder{Version: v, Side: side}
	return d.Decode(binary, frame, m)
}

// Decoder decodes frames like [Decode], and interns the strings that repeat from frame to frame
// (topics, event names, join refs) so that decoding them does not allocate. It is not safe for
// concurrent use; the zero value plus Version and Side is ready to use.
type Decoder struct {
	// Version is the serializer version of the frames.
	Version Version
	// Side is the side that receives them: ClientSide decodes what a server sends.
	Side Side
	// Known, if set, is asked for a string the decoder's recent strings lack, before its own
	// cache: a string it returns must equal b and be valid UTF-8, and is used without being
	// cached. A client that holds its topics already resolves them with it, so that the
	// decoder keeps no copy of them.
	Known func(b []byte) (string, bool)
	// PayloadsChecked says that the frame being decoded passed CheckPayloads: the JSON checks
	// it made are skipped. The caller sets it for one frame at a time.
	PayloadsChecked bool

	strs   map[string]string
	recent [64]string // a direct-mapped cache in front of strs
}

// maxInterned bounds the decoder's string cache; it is cleared when full.
const maxInterned = 4096

func (d *Decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// Frames of one channel repeat the same few strings: one comparison finds them.
	slot := &d.recent[(uint(len(b))*31+uint(b[0])*7+uint(b[len(b)-1]))&63]
	if *slot == string(b) {
		return *slot
	}
	if d.Known != nil {
		if s, ok := d.Known(b); ok {
			*slot = s
			return s
		}
	}
	s, ok := d.strs[string(b)]
	if !ok {
		s = string(b)
		if d.strs == nil || len(d.strs) >= maxInterned {
			d.strs = make(map[string]string, 64)
		}
		d.strs[s] = s
	}
	*slot = s
	return s
}

// name is intern for the names of a binary frame (topic, event, status), which are raw bytes:
// one that is not valid UTF-8 sets *bad and is not cached. Every string in the cache is valid
// UTF-8 (text frames intern only strings that are), so a name found there needs no check.
func (d *Decoder) name(b []byte, bad *bool) string {
	if len(b) > 0 && d.recent[(uint(len(b))*31+uint(b[0])*7+uint(b[len(b)-1]))&63] == string(b) {
		return d.intern(b)
	}
	if !utf8.Valid(b) {
		*bad = true
		return string(b)
	}
	return d.intern(b)
}

// Decode decodes one frame into m; see [Decode].
func (d *Decoder) Decode(binary bool, frame []byte, m *Message) error {
	*m = Message{}
	var err error
	switch {
	case binary:
		if d.Version != V2 {
			return malformed("binary frame on a version %s socket", d.Version)
		}
		err = d.decodeBinary(frame, m)
	case d.Version == V1:
		err = d.decodeV1(frame, m)
	default:
		err = d.decodeV2Text(frame, m)
	}
	if err != nil {
		*m = Message{}
	}
	return err
}

// decodeV2Text decodes [join_ref, ref, topic, event, payload]; elements after the fifth are
// ignored, as the server does.
func (d *Decoder) decodeV2Text(b []byte, m *Message) error {
	i := jsonscan.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return malformed("want a JSON array")
	}
	var el [5][]byte
	n := 0
	i, more, err := jsonscan.Open(b, i, 1)
	for more {
		var end int
		if end, err = jsonscan.SkipValue(b, i, 1); err != nil {
			break
		}
		if n < len(el) {
			el[n] = b[i:end]
		}
		n++
		i, more, err = jsonscan.Next(b, end, ']')
	}
	if err == nil {
		err = jsonscan.CheckEnd(b, i)
	}
	if err != nil {
		return malformed("%v", err)
	}
	if n < 5 {
		return malformed("array has %d elements, want 5", n)
	}
	return d.fill(m, el[0], el[1], el[2], el[3], el[4])
}

var (
	keyTopic   = []byte("topic")
	keyEvent   = []byte("event")
	keyPayload = []byte("payload")
	keyRef     = []byte("ref")
	keyJoinRef = []byte("join_ref")
)

// decodeV1 decodes {"topic","event","payload","ref"[,"join_ref"]}; the first four are required.
func (d *Decoder) decodeV1(b []byte, m *Message) error {
	var topic, event, payload, ref, joinRef []byte
	err := ObjectMembers(b, func(k, v []byte) error {
		switch {
		case bytes.Equal(k, keyTopic):
			topic = v
		case bytes.Equal(k, keyEvent):
			event = v
		case bytes.Equal(k, keyPayload):
			payload = v
		case bytes.Equal(k, keyRef):
			ref = v
		case bytes.Equal(k, keyJoinRef):
			joinRef = v
		}
		return nil
	})
	if err != nil {
		return malformed("%v", err)
	}
	if topic == nil || event == nil || payload == nil || ref == nil {
		return malformed("object lacks one of topic, event, payload, ref")
	}
	if joinRef == nil {
		joinRef = []byte("null")
	}
	return d.fill(m, joinRef, ref, topic, event, payload)
}

// fill sets m from the raw envelope elements and decodes the parts of the payload that routing
// needs.
func (d *Decoder) fill(m *Message, joinRef, ref, topic, event, payload []byte) error {
	var err error
	if m.JoinRef, err = refString(joinRef); err != nil {
		return malformed("join_ref: %v", err)
	}
	if m.Ref, err = refString(ref); err != nil {
		return malformed("ref: %v", err)
	}
	var null bool
	if m.Topic, null, err = d.unquoteInto(topic); err != nil || null {
		return malformed("topic must be a string")
	}
	if m.Event, null, err = d.unquoteInto(event); err != nil || null {
		return malformed("event must be a string")
	}
	m.Payload = payload
	switch m.Event {
	case EventReply:
		return d.fillReply(m)
	case EventBroadcast:
		return d.fillBroadcast(m)
	}
	return nil
}

// refString decodes a join_ref or ref: a string, null, or (leniently) a number. Refs are not
// interned: each belongs to one push or one join, so caching them would only hold memory.
func refString(v []byte) (string, error) {
	if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return string(v), nil
	}
	if len(v) >= 2 && v[0] == '"' && !jsonscan.NeedsDecoding(v[1:len(v)-1]) && v[len(v)-1] == '"' {
		return string(v[1 : len(v)-1]), nil
	}
	s, _, err := unquote(v)
	return s, err
}

var (
	keyStatus   = []byte("status")
	keyResponse = []byte("response")
	keyMeta     = []byte("meta")
)

// fillReply sets Status and Data (the response) from a phx_reply payload (validated already).
func (d *Decoder) fillReply(m *Message) error {
	if !IsObject(m.Payload) {
		return malformed("phx_reply payload is not an object")
	}
	var status []byte
	_ = jsonscan.ValidMembers(m.Payload, func(k, v []byte) error {
		switch {
		case bytes.Equal(k, keyStatus):
			status = v
		case bytes.Equal(k, keyResponse):
			m.Data = v
		}
		return nil
	})
	s, null, err := d.unquoteInto(status)
	if status == nil || null || err != nil {
		return malformed("phx_reply payload lacks a status string")
	}
	m.Status = s
	return nil
}

// fillBroadcast sets UserEvent, Data and Meta from a JSON broadcast payload
// {"type":"broadcast","event":…,"payload":…[,"meta":…]} (validated already). A payload that is
// not an object is passed on as it is, with no user event.
func (d *Decoder) fillBroadcast(m *Message) error {
	if !IsObject(m.Payload) {
		return nil
	}
	var err error
	_ = jsonscan.ValidMembers(m.Payload, func(k, v []byte) error {
		switch {
		case bytes.Equal(k, keyEvent):
			s, _, uerr := d.unquoteInto(v)
			if uerr != nil {
				err = malformed("broadcast event must be a string")
			}
			m.UserEvent = s
		case bytes.Equal(k, keyPayload):
			m.Data = v
		case bytes.Equal(k, keyMeta):
			if !IsNull(v) {
				m.Meta = v
			}
		}
		return nil
	})
	return err
}

// fields splits a binary frame whose header is the kind byte, n one-byte lengths and then
// extra more header bytes (the encoding of kinds 3 and 4); it returns the fields, the extra
// header bytes and the payload that follows.
func fields(b []byte, n, extra int) (f [5][]byte, ext []byte, rest []byte, err error) {
	off := 1 + n + extra
	if len(b) < off {
		return f, nil, nil, malformed("binary kind %d: header needs %d bytes, have %d", b[0], off, len(b))
	}
	for i, l := range b[1 : 1+n] {
		if off+int(l) > len(b) {
			return f, nil, nil, malformed("binary kind %d: field %d runs past the frame", b[0], i)
		}
		f[i] = b[off : off+int(l)]
		off += int(l)
	}
	return f, b[1+n : 1+n+extra], b[off:], nil
}

func (d *Decoder) decodeBinary(b []byte, m *Message) error {
	if len(b) == 0 {
		return malformed("empty binary frame")
	}
	m.Binary = true
	bad := false // a name is not valid UTF-8
	switch kind := b[0]; {
	case kind == KindPush && d.Side == ServerSide: // client form, with a ref
		f, _, rest, err := fields(b, 4, 0)
		if err != nil {
			return err
		}
		m.JoinRef, m.Ref, m.Topic, m.Event = string(f[0]), string(f[1]), d.name(f[2], &bad), d.name(f[3], &bad)
		m.Payload, m.Raw = rest, true
	case kind == KindPush: // server form, no ref
		f, _, rest, err := fields(b, 3, 0)
		if err != nil {
			return err
		}
		m.JoinRef, m.Topic, m.Event = string(f[0]), d.name(f[1], &bad), d.name(f[2], &bad)
		m.Payload, m.Raw = rest, true
	case kind == KindReply && d.Side == ClientSide:
		f, _, rest, err := fields(b, 4, 0)
		if err != nil {
			return err
		}
		m.JoinRef, m.Ref, m.Topic, m.Status = string(f[0]), string(f[1]), d.name(f[2], &bad), d.name(f[3], &bad)
		m.Event, m.Payload, m.Data, m.Raw = EventReply, rest, rest, true
	case kind == KindBroadcast && d.Side == ClientSide:
		f, _, rest, err := fields(b, 2, 0)
		if err != nil {
			return err
		}
		m.Topic, m.Event = d.name(f[0], &bad), d.name(f[1], &bad)
		m.Payload, m.Raw = rest, true
	case kind == KindUserBroadcastPush && d.Side == ServerSide:
		f, enc, rest, err := fields(b, 5, 1)
		if err != nil {
			return err
		}
		m.JoinRef, m.Ref, m.Topic = string(f[0]), string(f[1]), d.name(f[2], &bad)
		if err := d.fillUserBroadcast(m, f[3], f[4], enc[0], rest, &bad); err != nil {
			return err
		}
	case kind == KindUserBroadcast && d.Side == ClientSide:
		f, enc, rest, err := fields(b, 3, 1)
		if err != nil {
			return err
		}
		m.Topic = d.name(f[0], &bad)
		if err := d.fillUserBroadcast(m, f[1], f[2], enc[0], rest, &bad); err != nil {
			return err
		}
	default:
		return malformed("unexpected binary frame kind %d", kind)
	}
	if bad {
		return malformed("topic, event or status is not valid UTF-8")
	}
	return nil
}

// fillUserBroadcast sets the broadcast fields of a kind 3 or 4 frame. Metadata must be a JSON
// object when present; with encoding 1 (any non-zero value, as the server reads it) the payload
// must be JSON.
func (d *Decoder) fillUserBroadcast(m *Message, event, meta []byte, enc byte, payload []byte, bad *bool) error {
	m.Event = EventBroadcast
	m.UserEvent = d.name(event, bad)
	if len(meta) > 0 {
		if !IsObject(meta) {
			return malformed("binary broadcast metadata is not a JSON object")
		}
		if !d.PayloadsChecked {
			if err := jsonscan.Check(meta); err != nil {
				return malformed("binary broadcast metadata: %v", err)
			}
		}
		m.Meta = meta
	}
	m.Data = payload
	if enc == 0 {
		m.Raw = true
		return nil
	}
	if d.PayloadsChecked {
		return nil
	}
	if err := jsonscan.Check(payload); err != nil {
		return malformed("binary broadcast JSON payload: %v", err)
	}
	return nil
}

// CheckPayloads reports whether frame, received by a client, is a binary user broadcast (kind
// 4) whose metadata and JSON payload are valid JSON, as Decode checks them. A Decoder with
// PayloadsChecked set skips those checks for such a frame, so that a socket's reader can make
// them before it hands the frame to a busier goroutine. It allocates nothing.
func CheckPayloads(frame []byte) bool {
	if len(frame) == 0 || frame[0] != KindUserBroadcast {
		return false
	}
	f, enc, payload, err := fields(frame, 3, 1)
	if err != nil {
		return false
	}
	if meta := f[2]; len(meta) > 0 && jsonscan.Check(meta) != nil {
		return false
	}
	return enc[0] == 0 || jsonscan.Check(payload) == nil
}
