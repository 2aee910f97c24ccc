package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-supabase/realtime/transport"
)

// HTTPRequest is a REST request the server received.
type HTTPRequest struct {
	// Method is the HTTP method, such as POST.
	Method string
	// Path is the request path, such as /realtime/v1/api/broadcast.
	Path string
	// Query is the request's query string, parsed.
	Query url.Values
	// Header holds the request's headers.
	Header http.Header
	// Body is the request's body.
	Body []byte
	// Status is the status the server answered with.
	Status int
}

// HTTPRequests returns the REST requests received so far, in order.
func (s *Server) HTTPRequests() []HTTPRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HTTPRequest(nil), s.httpReqs...)
}

// serveREST serves POST /api/broadcast and POST /api/broadcast/{topic}/events/{event}, with
// the statuses and bodies of docs/protocol.md §5.6.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	rec := HTTPRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	status := s.handleREST(w, r, body)
	rec.Status = status
	s.mu.Lock()
	s.httpReqs = append(s.httpReqs, rec)
	s.mu.Unlock()
}

func restError(w http.ResponseWriter, status int, body string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
	return status
}

// restToken returns the bearer token, or else the apikey header (docs/protocol.md §5.6).
func restToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return r.Header.Get("apikey")
}

func (s *Server) handleREST(w http.ResponseWriter, r *http.Request, body []byte) int {
	if r.Method != http.MethodPost {
		return restError(w, http.StatusMethodNotAllowed, `{"message":"Method not allowed"}`)
	}
	token := restToken(r)
	if token == "" {
		return restError(w, http.StatusUnauthorized, `{"message":"Unauthorized"}`)
	}
	if status, msg := s.checkRESTToken(token); status != 0 {
		return restError(w, status, msg)
	}
	claims := peekClaims(token) // for the private write policy (auth.go)
	p := r.URL.EscapedPath()
	if i := strings.Index(p, "/api/broadcast/"); i >= 0 {
		return s.restSingle(w, r, p[i+len("/api/broadcast/"):], body, claims)
	}
	return s.restBatch(w, body, claims)
}

func (s *Server) restBatch(w http.ResponseWriter, body []byte, claims map[string]any) int {
	var req struct {
		Messages []struct {
			Topic   *string         `json:"topic"`
			Event   *string         `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Private json.RawMessage `json:"private"`
			ID      *string         `json:"id"`
		} `json:"messages"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil || req.Messages == nil {
		return restError(w, http.StatusUnprocessableEntity, `{"errors":{"messages":["can't be blank"]}}`)
	}
	errs := make([]map[string][]string, len(req.Messages))
	bad := false
	for i, m := range req.Messages {
		e := map[string][]string{}
		if m.Topic == nil || *m.Topic == "" {
			e["topic"] = []string{"can't be blank"}
		}
		if m.Event == nil || *m.Event == "" {
			e["event"] = []string{"can't be blank"}
		}
		if len(m.Payload) == 0 || string(m.Payload) == "null" {
			e["payload"] = []string{"can't be blank"}
		} else if !transport.IsObject(m.Payload) {
			e["payload"] = []string{"is invalid"}
		}
		errs[i] = e
		bad = bad || len(e) > 0
	}
	if bad {
		b, _ := json.Marshal(map[string]any{"errors": map[string]any{"messages": errs}})
		return restError(w, http.StatusUnprocessableEntity, string(b))
	}
	for _, m := range req.Messages {
		private := flexBool(m.Private)
		if private && !s.restMayWrite(*m.Topic, claims) {
			continue // skipped silently: the answer is still 202
		}
		var meta []byte
		if m.ID != nil {
			meta, _ = json.Marshal(map[string]string{"id": *m.ID})
		}
		// The batch endpoint always fans out JSON, even to version 2.0.0 sockets.
		topic := "realtime:" + *m.Topic
		msg := transport.Message{Topic: topic, Event: transport.EventBroadcast, UserEvent: *m.Event, Data: m.Payload, Meta: meta}
		s.fanOut(streamKey(private, topic), &msg)
		if private {
			b := storedBroadcast{event: *m.Event, data: bytes.Clone(m.Payload)}
			if m.ID != nil {
				b.id = *m.ID
			}
			s.storeBroadcast(topic, b)
		}
	}
	w.WriteHeader(http.StatusAccepted)
	return http.StatusAccepted
}

func (s *Server) restSingle(w http.ResponseWriter, r *http.Request, rest string, body []byte, claims map[string]any) int {
	i := strings.LastIndex(rest, "/events/")
	if i < 0 {
		return restError(w, http.StatusNotFound, `{"message":"Not found"}`)
	}
	sub, err1 := url.PathUnescape(rest[:i])
	event, err2 := url.PathUnescape(rest[i+len("/events/"):])
	if err1 != nil || err2 != nil || sub == "" || event == "" {
		return restError(w, http.StatusNotFound, `{"message":"Not found"}`)
	}
	raw := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		switch mt {
		case "application/json":
		case "application/octet-stream":
			raw = true
		default:
			return restError(w, http.StatusUnsupportedMediaType, `{"error":"Unsupported Media Type. Use application/json or application/octet-stream"}`)
		}
	}
	if !raw && !json.Valid(body) {
		return restError(w, http.StatusUnprocessableEntity, `{"errors":{"payload":["is invalid"]}}`)
	}
	private := strings.EqualFold(r.URL.Query().Get("private"), "true")
	if strings.EqualFold(r.URL.Query().Get("persist"), "true") && !private {
		return restError(w, http.StatusUnprocessableEntity, msgPersistPublic)
	}
	if private && !s.restMayWrite(sub, claims) {
		return restError(w, http.StatusForbidden, `{"message":"Unauthorized"}`)
	}
	s.mu.Lock()
	limit := s.maxPayload
	s.mu.Unlock()
	if limit > 0 && len(body) > limit {
		return restError(w, http.StatusUnprocessableEntity, `{"errors":{"payload":["Payload size exceeds tenant limit"]}}`)
	}
	topic := "realtime:" + sub
	msg := transport.Message{Topic: topic, Event: transport.EventBroadcast, UserEvent: event, Data: body, Raw: raw, Binary: true}
	s.fanOut(streamKey(private, topic), &msg)
	if private {
		s.storeBroadcast(topic, storedBroadcast{event: event, data: bytes.Clone(body), raw: raw, binary: true})
	}
	w.WriteHeader(http.StatusAccepted)
	return http.StatusAccepted
}

func streamKey(private bool, topic string) string {
	if private {
		return "private:" + topic
	}
	return "public:" + topic
}

// fanOut delivers a server-originated broadcast to every subscriber of a stream.
func (s *Server) fanOut(key string, m *transport.Message) {
	for _, ch := range s.subscribers(key) {
		ch.conn.deliverBroadcast(m.Topic, m)
	}
}
