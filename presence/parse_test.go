package presence_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

// raw returns a Meta with the given Ref and PrevRef and Raw s, as the parsers build it.
func raw(ref, prev, s string) presence.Meta {
	return presence.Meta{Ref: ref, PrevRef: prev, Raw: json.RawMessage(s)}
}

func TestParseState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		want    state
	}{
		{
			name:    "docs/protocol.md example",
			payload: `{"alice-key":{"metas":[{"phx_ref":"GH2wL3pQx0c=","online_at":"2026-08-21T10:00:00Z","user":"alice"}]}}`,
			want: state{"alice-key": metas(raw("GH2wL3pQx0c=", "",
				`{"phx_ref":"GH2wL3pQx0c=","online_at":"2026-08-21T10:00:00Z","user":"alice"}`))},
		},
		{
			name:    "empty state",
			payload: `{}`,
			want:    state{},
		},
		{
			name:    "spaces everywhere; Raw keeps the meta's own bytes",
			payload: " \n{ \"k\" : { \"metas\" : [ { \"phx_ref\" : \"r1\" } , {\"phx_ref\":\"r2\",\n \"x\": [1, {\"y\": null}]} ] } }\t",
			want: state{"k": metas(
				raw("r1", "", `{ "phx_ref" : "r1" }`),
				raw("r2", "", "{\"phx_ref\":\"r2\",\n \"x\": [1, {\"y\": null}]}"),
			)},
		},
		{
			name:    "several keys and devices",
			payload: `{"a":{"metas":[{"phx_ref":"1"},{"phx_ref":"2"}]},"b":{"metas":[{"phx_ref":"3"}]}}`,
			want: state{
				"a": metas(raw("1", "", `{"phx_ref":"1"}`), raw("2", "", `{"phx_ref":"2"}`)),
				"b": metas(raw("3", "", `{"phx_ref":"3"}`)),
			},
		},
		{
			name:    "numbers stay exact",
			payload: `{"k":{"metas":[{"phx_ref":"r","id":9007199254740993,"f":1.000000000000000000001}]}}`,
			want:    state{"k": metas(raw("r", "", `{"phx_ref":"r","id":9007199254740993,"f":1.000000000000000000001}`))},
		},
		{
			name:    "escaped keys and refs are decoded",
			payload: `{"caf\u00e9 \"k\"":{"met\u0061s":[{"phx\u005fref":"r\/1","phx_ref_prev":"p\n"}]}}`,
			want:    state{"café \"k\"": metas(raw("r/1", "p\n", `{"phx\u005fref":"r\/1","phx_ref_prev":"p\n"}`))},
		},
		{
			name:    "phx_ref_prev null is absent",
			payload: `{"k":{"metas":[{"phx_ref":"r","phx_ref_prev":null}]}}`,
			want:    state{"k": metas(raw("r", "", `{"phx_ref":"r","phx_ref_prev":null}`))},
		},
		{
			name:    "field names are case-sensitive: a tracked PHX_REF is just a field",
			payload: `{"k":{"metas":[{"PHX_REF":"user","phx_ref":"r","Phx_Ref_Prev":"x"}],"METAS":[]}}`,
			want:    state{"k": metas(raw("r", "", `{"PHX_REF":"user","phx_ref":"r","Phx_Ref_Prev":"x"}`))},
		},
		{
			name:    "duplicate members: the last wins, as in encoding/json",
			payload: `{"k":{"metas":[{"phx_ref":"old","phx_ref":"new"}]},"k":{"metas":[{"phx_ref":"r"}]}}`,
			want:    state{"k": metas(raw("r", "", `{"phx_ref":"r"}`))},
		},
		{
			name:    "a key's earlier value does not count, even when it is not a valid entry",
			payload: `{"k":{},"k":{"metas":[]},"j":null,"\u006a":{"metas":[{"phx_ref":"r"}]},"i":{"metas":[{"phx_ref":1}]},"i":{"metas":[]}}`,
			want:    state{"k": {}, "j": metas(raw("r", "", `{"phx_ref":"r"}`)), "i": {}},
		},
		{
			name:    "invalid UTF-8 and lone surrogates become U+FFFD, as in encoding/json",
			payload: "{\"k\xff\":{\"metas\":[{\"phx_ref\":\"\\ud800\"}]}}",
			want:    state{"k\uFFFD": metas(raw("\uFFFD", "", `{"phx_ref":"\ud800"}`))},
		},
		{
			name:    "empty metas and other entry fields",
			payload: `{"k":{"metas":[],"other":{"metas":5}}}`,
			want:    state{"k": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := presence.ParseState([]byte(tt.payload))
			if err != nil {
				t.Fatalf("ParseState(%s) error: %v", tt.payload, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseState(%s) mismatch (-want +got):\n%s", tt.payload, diff)
			}
		})
	}
}

func TestParseStateMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		wantMsg string // a substring of the error
	}{
		{"empty", ``, "invalid JSON"},
		{"not JSON", `{"k":`, "invalid JSON"},
		{"trailing garbage", `{} x`, "invalid JSON"},
		{"two values", `{} {}`, "invalid JSON"},
		{"null", `null`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"V1 envelope state under payload.state (realtime-ex)", `{"state":{"k":{"metas":[]}}}`, `key "state": entry has no "metas"`},
		{"entry not an object", `{"k":[]}`, `key "k": entry is not a JSON object`},
		{"entry null", `{"k":null}`, `key "k": entry is not a JSON object`},
		{"no metas", `{"k":{}}`, `entry has no "metas"`},
		{"a key's last value is not a valid entry", `{"k":{"metas":[]},"k":{}}`, `key "k": entry has no "metas"`},
		{"the first bad key is reported", `{"a":{},"b":[],"a":{"metas":[]},"c":{}}`, `key "b": entry is not a JSON object`},
		{"metas null", `{"k":{"metas":null}}`, `"metas" is not a JSON array`},
		{"metas an object", `{"k":{"metas":{"phx_ref":"r"}}}`, `"metas" is not a JSON array`},
		{"meta not an object", `{"k":{"metas":["r"]}}`, "meta 0: not a JSON object"},
		{"no phx_ref", `{"k":{"metas":[{"phx_ref":"r"},{"user":"a"}]}}`, "meta 1: no phx_ref"},
		{"phx_ref a number", `{"k":{"metas":[{"phx_ref":1}]}}`, "phx_ref is not a string"},
		{"phx_ref null", `{"k":{"metas":[{"phx_ref":null}]}}`, "phx_ref is not a string"},
		{"phx_ref_prev a number", `{"k":{"metas":[{"phx_ref":"r","phx_ref_prev":2}]}}`, "phx_ref_prev is not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := presence.ParseState([]byte(tt.payload))
			if !errors.Is(err, presence.ErrMalformed) {
				t.Fatalf("ParseState(%q) = %v, %v; want an error wrapping ErrMalformed", tt.payload, got, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ParseState(%q) error %q does not contain %q", tt.payload, err, tt.wantMsg)
			}
			if got != nil {
				t.Errorf("ParseState(%q) returned %v with its error", tt.payload, got)
			}
		})
	}
}

func TestParseDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		want    presence.Diff
	}{
		{
			name:    "docs/protocol.md join",
			payload: `{"joins":{"bob-key":{"metas":[{"phx_ref":"GH2wMJ0VtBk=","status":"online"}]}},"leaves":{}}`,
			want: presence.Diff{
				Joins:  state{"bob-key": metas(raw("GH2wMJ0VtBk=", "", `{"phx_ref":"GH2wMJ0VtBk=","status":"online"}`))},
				Leaves: state{},
			},
		},
		{
			name: "docs/protocol.md update",
			payload: `{"joins":{"bob-key":{"metas":[{"phx_ref":"GH2wNtq9aP4=","phx_ref_prev":"GH2wMJ0VtBk=","status":"away"}]}},
 "leaves":{"bob-key":{"metas":[{"phx_ref":"GH2wMJ0VtBk=","status":"online"}]}}}`,
			want: presence.Diff{
				Joins: state{"bob-key": metas(raw("GH2wNtq9aP4=", "GH2wMJ0VtBk=",
					`{"phx_ref":"GH2wNtq9aP4=","phx_ref_prev":"GH2wMJ0VtBk=","status":"away"}`))},
				Leaves: state{"bob-key": metas(raw("GH2wMJ0VtBk=", "", `{"phx_ref":"GH2wMJ0VtBk=","status":"online"}`))},
			},
		},
		{
			name:    "missing sides are empty",
			payload: `{}`,
			want:    presence.Diff{Joins: state{}, Leaves: state{}},
		},
		{
			name:    "a key's earlier value does not count, even when it is not a valid entry",
			payload: `{"joins":{"k":{"metas":[{}]},"k":{"metas":[]}},"leaves":{"k":null,"k":{"metas":[{"phx_ref":"r"}]}}}`,
			want:    presence.Diff{Joins: state{"k": {}}, Leaves: state{"k": metas(raw("r", "", `{"phx_ref":"r"}`))}},
		},
		{
			name:    "null sides are empty, other members ignored, names case-sensitive",
			payload: `{"joins":null,"leaves":null,"Joins":{"k":{"metas":[{"phx_ref":"r"}]}},"extra":1}`,
			want:    presence.Diff{Joins: state{}, Leaves: state{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := presence.ParseDiff([]byte(tt.payload))
			if err != nil {
				t.Fatalf("ParseDiff(%s) error: %v", tt.payload, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDiff(%s) mismatch (-want +got):\n%s", tt.payload, diff)
			}
		})
	}
}

func TestParseDiffMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		wantMsg string
	}{
		{"not JSON", `{"joins":{}`, "presence_diff: invalid JSON"},
		{"null", `null`, "presence_diff: payload is not a JSON object"},
		{"joins an array", `{"joins":[],"leaves":{}}`, "presence_diff: joins: not a JSON object"},
		{"leaves a string", `{"joins":{},"leaves":"x"}`, "presence_diff: leaves: not a JSON object"},
		{"bad meta in leaves", `{"joins":{},"leaves":{"k":{"metas":[{}]}}}`, `presence_diff: leaves: key "k": meta 0: no phx_ref`},
		{"a key's last value in joins is bad", `{"joins":{"k":{"metas":[]},"k":{"metas":[{}]}}}`, `presence_diff: joins: key "k": meta 0: no phx_ref`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := presence.ParseDiff([]byte(tt.payload))
			if !errors.Is(err, presence.ErrMalformed) {
				t.Fatalf("ParseDiff(%q) = %v, %v; want an error wrapping ErrMalformed", tt.payload, got, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ParseDiff(%q) error %q does not contain %q", tt.payload, err, tt.wantMsg)
			}
		})
	}
}

// TestParseCopiesPayload checks that parsed metas do not alias the payload, which a transport
// may reuse for the next frame.
func TestParseCopiesPayload(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"k":{"metas":[{"phx_ref":"r","user":"alice"}]}}`)
	got, err := presence.ParseState(payload)
	if err != nil {
		t.Fatal(err)
	}
	for i := range payload {
		payload[i] = ' '
	}
	want := state{"k": metas(raw("r", "", `{"phx_ref":"r","user":"alice"}`))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseState result changed with its payload (-want +got):\n%s", diff)
	}
}

// TestTrackerDuplicateKeys checks that a tracker, like ParseState, takes the last value of a
// key, and that it holds a bounded number of bad values waiting for a later member of their
// key: 1,024 are accepted, one more refuses the payload.
func TestTrackerDuplicateKeys(t *testing.T) {
	t.Parallel()
	payload := func(n int) []byte {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":{},`, i)
		}
		for i := range n {
			fmt.Fprintf(&b, `"k%d":{"metas":[{"phx_ref":"r%d"}]},`, i, i)
		}
		b.WriteString(`"z":{"metas":[]}}`)
		return []byte(b.String())
	}
	tr := presence.NewTracker()
	if _, err := tr.HandleState(payload(1024)); err != nil {
		t.Fatalf("HandleState with 1,024 replaced bad values: %v", err)
	}
	if n := tr.State().Len(); n != 1024 {
		t.Errorf("the state has %d members; want 1,024", n)
	}
	if _, err := tr.HandleState(payload(1025)); !errors.Is(err, presence.ErrMalformed) || !strings.Contains(err.Error(), `key "k0"`) {
		t.Errorf("HandleState with 1,025 replaced bad values = %v; want an error wrapping ErrMalformed about key k0", err)
	}
	if st, err := presence.ParseState(payload(1025)); err != nil || len(st) != 1026 {
		t.Errorf("ParseState with 1,025 replaced bad values = %d keys, %v; want 1,026 keys", len(st), err)
	}
}
