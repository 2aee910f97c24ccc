package presence_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

func TestNewMeta(t *testing.T) {
	t.Parallel()
	type user struct {
		User     string `json:"user"`
		OnlineAt string `json:"online_at"`
	}
	tests := []struct {
		name    string
		ref     string
		prev    string
		fields  any
		wantRaw string
	}{
		{
			name:    "server key order: phx_ref first, then sorted fields",
			ref:     "GH2wL3pQx0c=",
			fields:  user{User: "alice", OnlineAt: "2026-08-21T10:00:00Z"},
			wantRaw: `{"phx_ref":"GH2wL3pQx0c=","online_at":"2026-08-21T10:00:00Z","user":"alice"}`,
		},
		{
			name:    "update",
			ref:     "GH2wNtq9aP4=",
			prev:    "GH2wMJ0VtBk=",
			fields:  map[string]any{"status": "away"},
			wantRaw: `{"phx_ref":"GH2wNtq9aP4=","phx_ref_prev":"GH2wMJ0VtBk=","status":"away"}`,
		},
		{
			name:    "nil fields",
			ref:     "r",
			wantRaw: `{"phx_ref":"r"}`,
		},
		{
			name:    "fields named phx_ref are replaced; numbers exact",
			ref:     "r",
			fields:  json.RawMessage(`{"phx_ref":"mine","phx_ref_prev":"x","n":9007199254740993}`),
			wantRaw: `{"phx_ref":"r","n":9007199254740993}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := presence.NewMeta(tt.ref, tt.prev, tt.fields)
			if err != nil {
				t.Fatalf("NewMeta error: %v", err)
			}
			want := presence.Meta{Ref: tt.ref, PrevRef: tt.prev, Raw: json.RawMessage(tt.wantRaw)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("NewMeta mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, fields := range []any{5, "x", []int{1}, true, func() {}} {
		if got, err := presence.NewMeta("r", "", fields); err == nil {
			t.Errorf("NewMeta(%T) = %v, nil; want an error", fields, got)
		}
	}
}

func TestMetaDecode(t *testing.T) {
	t.Parallel()
	m := raw("r", "", `{"phx_ref":"r","id":9007199254740993,"name":"bob","score":1.5}`)

	var anyMap map[string]any
	if err := m.Decode(&anyMap); err != nil {
		t.Fatal(err)
	}
	wantMap := map[string]any{
		"phx_ref": "r", "id": json.Number("9007199254740993"), "name": "bob", "score": json.Number("1.5"),
	}
	if diff := cmp.Diff(wantMap, anyMap); diff != "" {
		t.Errorf("Decode(map) mismatch (-want +got):\n%s", diff)
	}

	var anyVal any
	if err := m.Decode(&anyVal); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(any(wantMap), anyVal); diff != "" {
		t.Errorf("Decode(any) mismatch (-want +got):\n%s", diff)
	}

	type user struct {
		Ref  string `json:"phx_ref"`
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	got, err := presence.DecodeMeta[user](m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(user{Ref: "r", ID: 9007199254740993, Name: "bob"}, got); diff != "" {
		t.Errorf("DecodeMeta mismatch (-want +got):\n%s", diff)
	}

	users, err := presence.DecodeMetas[user](metas(m, raw("s", "", `{"phx_ref":"s","id":2}`)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]user{{"r", 9007199254740993, "bob"}, {"s", 2, ""}}, users); diff != "" {
		t.Errorf("DecodeMetas mismatch (-want +got):\n%s", diff)
	}

	_, err = presence.DecodeMetas[user](metas(m, raw("s", "", `{"phx_ref":"s","id":"two"}`)))
	if err == nil || !strings.Contains(err.Error(), "meta 1") {
		t.Errorf("DecodeMetas with a bad second meta: error %v; want one naming meta 1", err)
	}
	if err := (presence.Meta{}).Decode(&anyVal); err == nil {
		t.Errorf("Decode of an empty Raw: nil error")
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	alice := mustMeta("GH2wL3pQx0c=", "", map[string]any{"user": "alice", "online_at": "2026-08-21T10:00:00Z"})
	got, err := presence.EncodeState(state{"alice-key": metas(alice)})
	if err != nil {
		t.Fatal(err)
	}
	// The presence_state payload of docs/protocol.md §6.2, byte for byte.
	want := `{"alice-key":{"metas":[{"phx_ref":"GH2wL3pQx0c=","online_at":"2026-08-21T10:00:00Z","user":"alice"}]}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("EncodeState mismatch (-want +got):\n%s", diff)
	}

	got, err = presence.EncodeState(nil)
	if err != nil || string(got) != `{}` {
		t.Errorf("EncodeState(nil) = %s, %v; want {}, nil", got, err)
	}

	d := presence.Diff{
		Joins:  state{"bob-key": metas(mustMeta("GH2wNtq9aP4=", "GH2wMJ0VtBk=", map[string]any{"status": "away"}))},
		Leaves: state{"bob-key": metas(mustMeta("GH2wMJ0VtBk=", "", map[string]any{"status": "online"}))},
	}
	got, err = presence.EncodeDiff(d)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"joins":{"bob-key":{"metas":[{"phx_ref":"GH2wNtq9aP4=","phx_ref_prev":"GH2wMJ0VtBk=","status":"away"}]}},` +
		`"leaves":{"bob-key":{"metas":[{"phx_ref":"GH2wMJ0VtBk=","status":"online"}]}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("EncodeDiff mismatch (-want +got):\n%s", diff)
	}
	back, err := presence.ParseDiff(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("ParseDiff(EncodeDiff(d)) mismatch (-want +got):\n%s", diff)
	}

	got, err = presence.EncodeDiff(presence.Diff{})
	if err != nil || string(got) != `{"joins":{},"leaves":{}}` {
		t.Errorf("EncodeDiff(Diff{}) = %s, %v; want {\"joins\":{},\"leaves\":{}}, nil", got, err)
	}
}

func TestEncodeInvalidMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		meta presence.Meta
	}{
		{"no Raw", presence.Meta{Ref: "r"}},
		{"Raw not JSON", raw("r", "", `{"phx_ref":"r"`)},
		{"Raw not an object", raw("r", "", `["r"]`)},
		{"Raw without phx_ref", raw("r", "", `{"user":"a"}`)},
		{"Raw with another phx_ref", raw("r", "", `{"phx_ref":"s"}`)},
		{"Raw with another phx_ref_prev", raw("r", "p", `{"phx_ref":"r"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := presence.EncodeState(state{"k": metas(tt.meta)}); !errors.Is(err, presence.ErrMalformed) {
				t.Errorf("EncodeState = %s, %v; want an error wrapping ErrMalformed", got, err)
			}
			if got, err := presence.EncodeDiff(presence.Diff{Leaves: state{"k": metas(tt.meta)}}); !errors.Is(err, presence.ErrMalformed) {
				t.Errorf("EncodeDiff = %s, %v; want an error wrapping ErrMalformed", got, err)
			}
		})
	}
}

// DecodeMeta gives what a json.Decoder with UseNumber gives for a new T, for any Raw: a zero
// T when Raw is malformed (after fields that decoded), what decoded for a field of the wrong type.
func TestDecodeMetaMatchesDecoder(t *testing.T) {
	t.Parallel()
	type user struct {
		Ref  string `json:"phx_ref"`
		ID   int64  `json:"id"`
		Any  any    `json:"any"`
		Name string `json:"name"`
	}
	for _, r := range []string{
		`{"phx_ref":"r","id":1,"any":[1.5,{"a":12345678901234567890}],"name":"bob"}`,
		`{"phx_ref":"r","id":1,"name":"bob"`,
		`{"phx_ref":"r","id":"one","name":"bob"}`,
		`{"phx_ref":"r","ID":1,"NAME":"bob"}`,
	} {
		got, err := presence.DecodeMeta[user](presence.Meta{Ref: "r", Raw: json.RawMessage(r)})
		var want user
		d := json.NewDecoder(strings.NewReader(r))
		d.UseNumber()
		wantErr := d.Decode(&want)
		if (err == nil) != (wantErr == nil) || (err != nil && !strings.HasSuffix(err.Error(), wantErr.Error())) {
			t.Errorf("DecodeMeta(%s): error %v; json.Decoder: %v", r, err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DecodeMeta(%s) (-json.Decoder +DecodeMeta):\n%s", r, diff)
		}
	}
}
