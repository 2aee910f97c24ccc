package pgchanges_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-supabase/realtime/pgchanges"
)

// everyType is a row with a column of each kind, as the server sends it.
const everyType = `{"columns":[
	{"name": "id", "type": "int8"}, {"name": "small", "type": "int2"}, {"name": "ok", "type": "bool"},
	{"name": "ratio", "type": "float8"}, {"name": "nan", "type": "float8"}, {"name": "inf", "type": "float4"},
	{"name": "amount", "type": "numeric"}, {"name": "amount_text", "type": "numeric"}, {"name": "amount_num", "type": "numeric"},
	{"name": "amount_rat", "type": "numeric"}, {"name": "title", "type": "text"}, {"name": "uid", "type": "uuid"},
	{"name": "meta", "type": "jsonb"}, {"name": "meta_map", "type": "jsonb"}, {"name": "meta_any", "type": "jsonb"},
	{"name": "meta_struct", "type": "jsonb"}, {"name": "meta_bytes", "type": "jsonb"},
	{"name": "day", "type": "date"}, {"name": "local", "type": "timestamp"}, {"name": "at", "type": "timestamptz"},
	{"name": "clock", "type": "timetz"}, {"name": "blob", "type": "bytea"}, {"name": "blob_x", "type": "bytea"},
	{"name": "ids", "type": "_int8"}, {"name": "tags", "type": "_text"}, {"name": "grid", "type": "_int4"},
	{"name": "maybe", "type": "_text"}, {"name": "literal", "type": "_int4"}, {"name": "days", "type": "_date"},
	{"name": "span", "type": "int4range"}, {"name": "mood", "type": "mood"},
	{"name": "null_ptr", "type": "int4"}, {"name": "null_val", "type": "text"}, {"name": "set_ptr", "type": "int8"},
	{"name": "typed_any", "type": "int8"}, {"name": "unknown_col", "type": "text"}],
"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,
"record":{"id": 9007199254740993, "small": -7, "ok": true, "ratio": 0.25, "nan": "NaN", "inf": "-Infinity",
	"amount": 12345678901234567890.123456789, "amount_text": 12.50, "amount_num": 0.1, "amount_rat": 2.5,
	"title": "Buy milk", "uid": "6f1c2a4e-8d3b-4c7a-9e2f-000000000042",
	"meta": {"p": 1}, "meta_map": {"big": 9007199254740993}, "meta_any": [1, "x"], "meta_struct": {"source": "mobile", "priority": 3}, "meta_bytes": {"a": 1},
	"day": "2026-08-21", "local": "2026-08-21T10:15:30.118532", "at": "2026-08-21T12:15:30.5+02:00", "clock": "10:15:30+02:00",
	"blob": "0102030405", "blob_x": "\\x0a0b",
	"ids": [9007199254740993, 2], "tags": ["a", "b"], "grid": [[1, 2], [3, 4]], "maybe": ["x", null], "literal": "{5,6}", "days": ["2026-08-21"],
	"span": "[1,10)", "mood": "happy", "null_ptr": null, "null_val": null, "set_ptr": 5, "typed_any": 9007199254740993, "unknown_col": "ignored"},
"schema":"public","table":"everything","type":"INSERT"}`

type meta struct {
	Source   string `json:"source"`
	Priority int    `json:"priority"`
}

type everything struct {
	ID         int64             `json:"id"`
	Small      int16             `json:"small"`
	OK         bool              `json:"ok"`
	Ratio      float64           `json:"ratio"`
	NaN        float64           `json:"nan"`
	Inf        float32           `json:"inf"`
	Amount     pgchanges.Numeric `json:"amount"`
	AmountText string            `json:"amount_text"`
	AmountNum  json.Number       `json:"amount_num"`
	AmountRat  *big.Rat          `json:"amount_rat"`
	Title      string            `json:"title"`
	UID        string            `json:"uid"`
	Meta       json.RawMessage   `json:"meta"`
	MetaMap    map[string]any    `json:"meta_map"`
	MetaAny    any               `json:"meta_any"`
	MetaStruct meta              `json:"meta_struct"`
	MetaBytes  []byte            `json:"meta_bytes"`
	Day        time.Time         `json:"day"`
	Local      time.Time         `json:"local"`
	At         time.Time         `json:"at"`
	Clock      pgchanges.TimeOfDay
	Blob       []byte          `json:"blob"`
	BlobX      []byte          `json:"blob_x"`
	IDs        []int64         `json:"ids"`
	Tags       []string        `json:"tags"`
	Grid       [][]int32       `json:"grid"`
	Maybe      []*string       `json:"maybe"`
	Literal    []int           `json:"literal"`
	Days       []time.Time     `json:"days"`
	Span       pgchanges.Range `json:"span"`
	Mood       string          `json:"mood"`
	NullPtr    *int            `json:"null_ptr"`
	NullVal    string          `json:"null_val"`
	SetPtr     *int64          `json:"set_ptr"`
	TypedAny   any             `json:"typed_any"`
	Skipped    string          `json:"-"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	c, err := pgchanges.Parse([]byte(everyType))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgchanges.Decode[everything](c)
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	x := "x"
	five := int64(5)
	want := everything{
		ID: 9007199254740993, Small: -7, OK: true, Ratio: 0.25, NaN: math.NaN(), Inf: float32(math.Inf(-1)),
		Amount: "12345678901234567890.123456789", AmountText: "12.50", AmountNum: "0.1", AmountRat: big.NewRat(5, 2),
		Title: "Buy milk", UID: "6f1c2a4e-8d3b-4c7a-9e2f-000000000042",
		Meta: json.RawMessage(`{"p": 1}`), MetaMap: map[string]any{"big": json.Number("9007199254740993")},
		MetaAny: []any{json.Number("1"), "x"}, MetaStruct: meta{Source: "mobile", Priority: 3}, MetaBytes: []byte(`{"a": 1}`),
		Day:   time.Date(2026, 8, 21, 0, 0, 0, 0, time.UTC),
		Local: time.Date(2026, 8, 21, 10, 15, 30, 118532000, time.UTC),
		At:    time.Date(2026, 8, 21, 10, 15, 30, 500000000, time.UTC),
		Clock: pgchanges.TimeOfDay{Hour: 10, Minute: 15, Second: 30, Offset: 7200, HasOffset: true},
		Blob:  []byte{1, 2, 3, 4, 5}, BlobX: []byte{10, 11},
		IDs: []int64{9007199254740993, 2}, Tags: []string{"a", "b"}, Grid: [][]int32{{1, 2}, {3, 4}},
		Maybe: []*string{&x, nil}, Literal: []int{5, 6}, Days: []time.Time{time.Date(2026, 8, 21, 0, 0, 0, 0, time.UTC)},
		Span: pgchanges.Range{Lower: "1", Upper: "10", LowerInclusive: true}, Mood: "happy",
		SetPtr: &five, TypedAny: int64(9007199254740993),
	}
	opts := cmp.Options{cmpopts.EquateNaNs(), cmp.Comparer(func(a, b *big.Rat) bool { return a.Cmp(b) == 0 })}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}

	// Plain encoding/json gets these wrong, which is why Decode exists.
	var plain everything
	if err := c.Record.Decode(&plain); err == nil {
		t.Errorf("encoding/json decoded the record without error; the test no longer shows why Decode is needed")
	}
}

func TestDecodeShapes(t *testing.T) {
	t.Parallel()
	c, err := pgchanges.Parse([]byte(updateData))
	if err != nil {
		t.Fatal(err)
	}
	type todo struct {
		ID   int64 `json:"id"`
		Done bool  `json:"done"`
	}
	if got, err := pgchanges.Decode[todo](c); err != nil || got != (todo{ID: 42, Done: true}) {
		t.Errorf("Decode[todo] = %+v, %v", got, err)
	}
	if got, err := pgchanges.DecodeOld[todo](c); err != nil || got != (todo{ID: 42}) {
		t.Errorf("DecodeOld[todo] = %+v, %v", got, err)
	}
	if got, err := pgchanges.Decode[*todo](c); err != nil || got == nil || *got != (todo{ID: 42, Done: true}) {
		t.Errorf("Decode[*todo] = %+v, %v", got, err)
	}
	if got, err := pgchanges.Decode[map[string]any](c); err != nil || !cmp.Equal(got, map[string]any{"id": int64(42), "done": true}) {
		t.Errorf("Decode[map[string]any] = %#v, %v", got, err)
	}
	if got, err := pgchanges.Decode[map[string]json.RawMessage](c); err != nil || string(got["id"]) != "42" {
		t.Errorf("Decode[map[string]json.RawMessage] = %#v, %v", got, err)
	}
	if got, err := pgchanges.Decode[json.RawMessage](c); err != nil || string(got) != `{"id": 42, "done": true}` {
		t.Errorf("Decode[json.RawMessage] = %s, %v", got, err)
	}
	// No record: the zero value.
	d, _ := pgchanges.Parse([]byte(deleteData))
	if got, err := pgchanges.Decode[todo](d); err != nil || got != (todo{}) {
		t.Errorf("Decode of a DELETE = %+v, %v", got, err)
	}
	if got, err := pgchanges.Decode[*todo](d); err != nil || got != nil {
		t.Errorf("Decode[*todo] of a DELETE = %+v, %v", got, err)
	}
}

type Base struct {
	ID int64 `json:"id"`
}

type inner struct {
	Title string `json:"title"`
}

func TestDecodeFieldMatching(t *testing.T) {
	t.Parallel()
	c, err := pgchanges.Parse([]byte(`{"columns":[{"name":"id","type":"int8"},{"name":"title","type":"text"},{"name":"Done","type":"bool"},{"name":"n","type":"int4"}],
		"record":{"id":9007199254740993,"title":"x","Done":true,"n":1,"extra":{"deep":[1]},"TITLE":"shadowed?"},"type":"INSERT"}`))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Base          // promoted id
		inner         // promoted title, though the embedded type is unexported
		Done   bool   // matched case-insensitively
		Hidden string `json:"-"`
		secret int
		N      *Base `json:"-"`
	}
	got, err := pgchanges.Decode[row](c)
	if err != nil {
		t.Fatal(err)
	}
	// As with encoding/json, the last key that matches a field case-insensitively wins.
	if got.ID != 9007199254740993 || got.Title != "shadowed?" || !got.Done || got.secret != 0 || got.N != nil {
		t.Errorf("Decode = %+v", got)
	}
	type conflict struct {
		ID    string `json:"id"` // shallower than Base.ID: wins
		Base         // its id loses
		Title string `json:"title"`
	}
	got2, err := pgchanges.Decode[conflict](c)
	if err != nil || got2.ID != "9007199254740993" || got2.Base.ID != 0 {
		t.Errorf("Decode[conflict] = %+v, %v", got2, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		decode     func(pgchanges.Change) error
		column     string
	}{
		{"int overflow", `{"columns":[{"name":"n","type":"int8"}],"record":{"n":9007199254740993},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N int32 }](c); return err }, "n"},
		{"fraction into int", `{"columns":[{"name":"n","type":"numeric"}],"record":{"n":1.5},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N int64 }](c); return err }, "n"},
		{"negative into uint", `{"columns":[{"name":"n","type":"int4"}],"record":{"n":-1},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N uint }](c); return err }, "n"},
		{"text into int", `{"columns":[{"name":"n","type":"text"}],"record":{"n":"x"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N int }](c); return err }, "n"},
		{"bad time", `{"columns":[{"name":"t","type":"timestamptz"}],"record":{"t":"soon"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ T time.Time }](c); return err }, "t"},
		{"infinite time", `{"columns":[{"name":"t","type":"timestamptz"}],"record":{"t":"infinity"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ T time.Time }](c); return err }, "t"},
		{"bad bytea", `{"columns":[{"name":"b","type":"bytea"}],"record":{"b":"zz"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ B []byte }](c); return err }, "b"},
		{"NaN into json.Number", `{"columns":[{"name":"n","type":"numeric"}],"record":{"n":"NaN"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N json.Number }](c); return err }, "n"},
		{"array element", `{"columns":[{"name":"a","type":"_int4"}],"record":{"a":[1,"x"]},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ A []int }](c); return err }, "a"},
		{"object into bool", `{"columns":[{"name":"b","type":"jsonb"}],"record":{"b":{}},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ B bool }](c); return err }, "b"},
		{"json into struct", `{"columns":[{"name":"m","type":"jsonb"}],"record":{"m":[1]},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ M meta }](c); return err }, "m"},
		{"any with bad value", `{"columns":[{"name":"n","type":"int4"}],"record":{"n":"x"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[struct{ N any }](c); return err }, "n"},
		{"map with bad value", `{"columns":[{"name":"n","type":"int4"}],"record":{"n":"x"},"type":"INSERT"}`,
			func(c pgchanges.Change) error { _, err := pgchanges.Decode[map[string]any](c); return err }, "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := pgchanges.Parse([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			err = tt.decode(c)
			var ce *pgchanges.ColumnError
			if !errors.As(err, &ce) || ce.Column != tt.column {
				t.Fatalf("Decode = %v; want a *ColumnError for %q", err, tt.column)
			}
			if !strings.Contains(err.Error(), tt.column) || (ce.Type != "" && !strings.Contains(err.Error(), ce.Type)) {
				t.Errorf("error %q does not name the column and its type", err)
			}
		})
	}
}
