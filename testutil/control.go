package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
)

// ControlHandler returns the HTTP control API of the server, for programs that drive the fake
// server from outside Go (the fakeserver command and the realtime-js interop suite). Mount it
// under /testutil/v1/. Every route answers 200 with a JSON body, or 400 with {"error": …}.
//
//	POST /testutil/v1/drop                          cut every connection (no close frame)
//	POST /testutil/v1/close?code=1001&reason=…      close every connection with a close frame
//	POST /testutil/v1/heartbeats?on=false           stop (or resume) answering heartbeats
//	POST /testutil/v1/refuse?n=1&status=401&body=…  refuse the next n upgrades
//	POST /testutil/v1/fail_joins?topic=…&n=1&reason=…
//	POST /testutil/v1/delay_joins?ms=…
//	POST /testutil/v1/join_error_delay?ms=…         wait before each join error reply
//	POST /testutil/v1/connect_error_delay?ms=…      wait before each refused upgrade
//	POST /testutil/v1/shut?topic=…&message=…        shut the channels of a topic
//	     (Server.ShutChannels), answer {"shut": n}
//	POST /testutil/v1/push?conn=ID&binary=false     push the request body as a raw frame
//	GET  /testutil/v1/frames                        every frame received, decoded
//	GET  /testutil/v1/conns                         the open connections and their topics
//	POST /testutil/v1/reset                         forget the recorded frames
//	POST /testutil/v1/postgres_changes              inject a row change (Server.InjectChange);
//	     body {"type","schema","table","record","old_record","columns":[{"name","type"}],
//	     "primary_key","commit_timestamp","errors"}, answer {"delivered": n}
//	POST /testutil/v1/postgres_delay?ms=…           how long a subscription takes to become live
//	POST /testutil/v1/postgres_fail?topic=…&message=…  fail subscriptions (no message: stop)
//	POST /testutil/v1/postgres_stall?topic=…&on=true   hold subscriptions (on=false: release)
//	POST /testutil/v1/publish_table?schema=…&table=…&columns=a,b  (Server.PublishTable)
//	POST /testutil/v1/limits?max_channels=…&max_joins=…&max_users=…  set the tenant limits
//	     given (0: none); answer {"join_rate": avg, "join_limit_tripped": bool}
//	POST /testutil/v1/persistence?on=true           broadcast persistence on or off
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	post := func(path string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc("POST /testutil/v1/"+path, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeJSONError(w, http.StatusBadRequest, "error", err.Error())
			}
		})
	}
	ok := func(w http.ResponseWriter, v any) error {
		w.Header().Set("Content-Type", "application/json")
		if v == nil {
			v = map[string]bool{"ok": true}
		}
		return json.NewEncoder(w).Encode(v)
	}
	post("drop", func(w http.ResponseWriter, r *http.Request) error {
		s.DropConnections()
		return ok(w, nil)
	})
	post("close", func(w http.ResponseWriter, r *http.Request) error {
		code, err := intParam(r, "code", 1000)
		if err != nil {
			return err
		}
		s.CloseConnections(code, r.URL.Query().Get("reason"))
		return ok(w, nil)
	})
	post("heartbeats", func(w http.ResponseWriter, r *http.Request) error {
		s.SetHeartbeatReplies(r.URL.Query().Get("on") != "false")
		return ok(w, nil)
	})
	post("refuse", func(w http.ResponseWriter, r *http.Request) error {
		n, err := intParam(r, "n", 1)
		if err != nil {
			return err
		}
		status, err := intParam(r, "status", 500)
		if err != nil {
			return err
		}
		s.RefuseUpgrades(n, status, r.URL.Query().Get("body"))
		return ok(w, nil)
	})
	post("fail_joins", func(w http.ResponseWriter, r *http.Request) error {
		n, err := intParam(r, "n", 1)
		if err != nil {
			return err
		}
		s.FailJoins(r.URL.Query().Get("topic"), n, r.URL.Query().Get("reason"))
		return ok(w, nil)
	})
	post("delay_joins", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", 0)
		if err != nil {
			return err
		}
		s.DelayJoins(time.Duration(ms) * time.Millisecond)
		return ok(w, nil)
	})
	post("join_error_delay", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", 0)
		if err != nil {
			return err
		}
		s.SetJoinErrorDelay(time.Duration(ms) * time.Millisecond)
		return ok(w, nil)
	})
	post("connect_error_delay", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", 0)
		if err != nil {
			return err
		}
		s.SetConnectErrorDelay(time.Duration(ms) * time.Millisecond)
		return ok(w, nil)
	})
	post("shut", func(w http.ResponseWriter, r *http.Request) error {
		topic := r.URL.Query().Get("topic")
		if topic == "" {
			return &paramError{name: "topic", value: topic}
		}
		message := r.URL.Query().Get("message")
		if message == "" {
			return &paramError{name: "message", value: message}
		}
		return ok(w, map[string]int{"shut": s.ShutChannels(topic, message)})
	})
	post("push", func(w http.ResponseWriter, r *http.Request) error {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		id, _ := intParam(r, "conn", 0)
		binary := r.URL.Query().Get("binary") == "true"
		for _, c := range s.Conns() {
			if id == 0 || c.ID() == id {
				c.PushRaw(binary, body)
			}
		}
		return ok(w, nil)
	})
	post("postgres_changes", func(w http.ResponseWriter, r *http.Request) error {
		c, err := decodeChange(r.Body)
		if err != nil {
			return err
		}
		return ok(w, map[string]int{"delivered": s.InjectChange(c)})
	})
	post("postgres_delay", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", 0)
		if err != nil {
			return err
		}
		s.SetPostgresReadyDelay(time.Duration(ms) * time.Millisecond)
		return ok(w, nil)
	})
	post("postgres_fail", func(w http.ResponseWriter, r *http.Request) error {
		s.FailPostgres(r.URL.Query().Get("topic"), r.URL.Query().Get("message"))
		return ok(w, nil)
	})
	post("postgres_stall", func(w http.ResponseWriter, r *http.Request) error {
		s.StallPostgres(r.URL.Query().Get("topic"), r.URL.Query().Get("on") != "false")
		return ok(w, nil)
	})
	post("publish_table", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if q.Get("table") == "" {
			return &paramError{name: "table", value: ""}
		}
		schema := q.Get("schema")
		if schema == "" {
			schema = "public"
		}
		var cols []string
		if c := q.Get("columns"); c != "" {
			cols = strings.Split(c, ",")
		}
		s.PublishTable(schema, q.Get("table"), cols...)
		return ok(w, nil)
	})
	post("limits", func(w http.ResponseWriter, r *http.Request) error {
		set := map[string]func(int){
			"max_channels": s.SetMaxChannelsPerClient,
			"max_joins":    s.SetMaxJoinsPerSecond,
			"max_users":    s.SetMaxConcurrentUsers,
		}
		vals := map[string]int{}
		for name := range set {
			if r.URL.Query().Has(name) {
				n, err := intParam(r, name, 0)
				if err != nil {
					return err
				}
				vals[name] = n
			}
		}
		for name, n := range vals {
			set[name](n)
		}
		avg, tripped := s.JoinRate()
		return ok(w, map[string]any{"join_rate": avg, "join_limit_tripped": tripped})
	})
	post("persistence", func(w http.ResponseWriter, r *http.Request) error {
		s.SetBroadcastPersistence(r.URL.Query().Get("on") != "false")
		return ok(w, nil)
	})
	post("reset", func(w http.ResponseWriter, r *http.Request) error {
		s.mu.Lock()
		s.frames = nil
		s.httpReqs = nil
		s.mu.Unlock()
		return ok(w, nil)
	})
	mux.HandleFunc("GET /testutil/v1/frames", func(w http.ResponseWriter, r *http.Request) {
		type frameJSON struct {
			Conn      int             `json:"conn"`
			JoinRef   *string         `json:"join_ref"`
			Ref       *string         `json:"ref"`
			Topic     string          `json:"topic"`
			Event     string          `json:"event"`
			Payload   json.RawMessage `json:"payload,omitempty"`
			UserEvent string          `json:"user_event,omitempty"`
			Data      json.RawMessage `json:"data,omitempty"`
			Binary    bool            `json:"binary"`
		}
		str := func(s string) *string {
			if s == "" {
				return nil
			}
			return &s
		}
		out := []frameJSON{}
		for _, f := range s.Received() {
			fj := frameJSON{Conn: f.Conn, JoinRef: str(f.JoinRef), Ref: str(f.Ref), Topic: f.Topic, Event: f.Event,
				UserEvent: f.UserEvent, Binary: f.Binary}
			if f.Payload != nil && json.Valid(f.Payload) {
				fj.Payload = f.Payload
			}
			if d := f.Message.Data; d != nil && !f.Raw && json.Valid(d) {
				fj.Data = d
			}
			out = append(out, fj)
		}
		_ = ok(w, out)
	})
	mux.HandleFunc("GET /testutil/v1/conns", func(w http.ResponseWriter, r *http.Request) {
		type connJSON struct {
			ID      int      `json:"id"`
			Version string   `json:"vsn"`
			Topics  []string `json:"topics"`
		}
		out := []connJSON{}
		for _, c := range s.Conns() {
			out = append(out, connJSON{ID: c.ID(), Version: string(c.Version()), Topics: c.Topics()})
		}
		_ = ok(w, out)
	})
	return mux
}

func intParam(r *http.Request, name string, def int) (int, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &paramError{name: name, value: v}
	}
	return n, nil
}

type paramError struct{ name, value string }

func (e *paramError) Error() string { return "bad " + e.name + " " + strconv.Quote(e.value) }

// decodeChange reads the body of POST /testutil/v1/postgres_changes. commit_timestamp may be
// absent (now), null or a string; records are kept byte for byte.
func decodeChange(body io.Reader) (Change, error) {
	var b struct {
		Type            string             `json:"type"`
		Schema          string             `json:"schema"`
		Table           string             `json:"table"`
		Record          json.RawMessage    `json:"record"`
		OldRecord       json.RawMessage    `json:"old_record"`
		Columns         []pgchanges.Column `json:"columns"`
		PrimaryKey      []string           `json:"primary_key"`
		CommitTimestamp json.RawMessage    `json:"commit_timestamp"`
		Errors          []string           `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 16<<20)).Decode(&b); err != nil {
		return Change{}, fmt.Errorf("bad change: %v", err)
	}
	c := Change{Type: b.Type, Schema: b.Schema, Table: b.Table, Record: b.Record, OldRecord: b.OldRecord,
		Columns: b.Columns, PrimaryKey: b.PrimaryKey, Errors: b.Errors}
	switch ts := bytes.TrimSpace(b.CommitTimestamp); {
	case len(ts) == 0:
	case string(ts) == "null":
		c.CommitTimestamp = "null"
	default:
		if err := json.Unmarshal(ts, &c.CommitTimestamp); err != nil {
			return Change{}, fmt.Errorf("bad change: commit_timestamp: %v", err)
		}
	}
	return c, nil
}
