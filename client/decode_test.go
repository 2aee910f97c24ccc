package client

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type decodeNested struct {
	Any  any
	Deep []map[string]*[]any
}

type decodeFlat struct {
	Seq  int64
	User string
	Tags []string
	At   time.Time
	Raw  json.RawMessage
	Next *decodeFlat
	Opt  *int
}

type decodeSelf struct{ V any }

func (d *decodeSelf) UnmarshalJSON(b []byte) error { d.V = string(b); return nil }

// Numbers that land in an interface decode as json.Number whatever the path to it; a type
// with no interface inside decodes as json.Unmarshal would.
func TestDecodeJSONKeepsNumbersExact(t *testing.T) {
	const big = "9007199254740993"
	var n decodeNested
	if err := decodeJSON([]byte(`{"Any":`+big+`,"Deep":[{"k":[`+big+`]}]}`), &n); err != nil {
		t.Fatal(err)
	}
	if n.Any != json.Number(big) || (*n.Deep[0]["k"])[0] != json.Number(big) {
		t.Errorf("decoded %#v; want json.Number %s", n, big)
	}
	var a any
	if err := decodeJSON([]byte(big), &a); err != nil || a != json.Number(big) {
		t.Errorf("decoded %#v, %v; want json.Number %s", a, err, big)
	}
	data := []byte(`{"Seq":` + big + `,"User":"u","Tags":["a"],"At":"2026-01-02T03:04:05Z","Raw":{"x":1},"Next":{"Seq":2},"Opt":3}`)
	var got, want decodeFlat
	if err := decodeJSON(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-json.Unmarshal +decodeJSON):\n%s", diff)
	}
	var s decodeSelf
	if err := decodeJSON([]byte(`12`), &s); err != nil || s.V != "12" {
		t.Errorf("decoded %#v, %v; want its own UnmarshalJSON", s, err)
	}
	if holdsInterface(reflectTypeOf[*decodeFlat]()) || !holdsInterface(reflectTypeOf[*decodeNested]()) || holdsInterface(reflectTypeOf[*decodeSelf]()) {
		t.Error("holdsInterface misclassifies the test types")
	}
}

// Decoding into a struct allocates the struct (which escapes, as with json.Unmarshal) and its
// strings, nothing else: no Decoder, no copy of the payload, no decoder state.
func TestDecodeBroadcastAllocs(t *testing.T) {
	type chat struct {
		Seq  int    `json:"seq"`
		User string `json:"user"`
		Text string `json:"text"`
	}
	b := Broadcast{Event: "msg", Payload: json.RawMessage(`{"seq":1,"user":"user-0001","text":"the quick brown fox"}`)}
	var v chat
	if got := testing.AllocsPerRun(100, func() { v, _ = DecodeBroadcast[chat](b) }); got != 3 {
		t.Errorf("DecodeBroadcast: %v allocations; want 3 (the chat and its two strings)", got)
	}
	if v != (chat{Seq: 1, User: "user-0001", Text: "the quick brown fox"}) {
		t.Errorf("decoded %+v", v)
	}
}

// DecodeBroadcast's value and error are json.Unmarshal's for a new T, whatever the payload:
// a zero T for malformed JSON, what could be decoded for a value of the wrong type.
func TestDecodeBroadcastMatchesUnmarshal(t *testing.T) {
	type chat struct {
		Seq  int     `json:"seq"`
		User string  `json:"user"`
		Tags []int   `json:"tags"`
		Any  any     `json:"any"`
		Opt  *string `json:"opt"`
	}
	for _, payload := range []string{
		`{"seq":1,"user":"u","tags":[1,2],"any":{"n":12345678901234567890},"opt":"o"}`,
		`{"seq":1,"user":"u","tags":[1,2],"opt":"o"`,      // malformed after fields were decoded
		`{"seq":1,"user":"u","tags":[1,"x",3],"opt":"o"}`, // a type error in the middle
		`{"seq":1.5,"user":"u"}`,
		`{"seq":1,"user":"u"} {}`,
	} {
		got, err := DecodeBroadcast[chat](Broadcast{Event: "e", Payload: json.RawMessage(payload)})
		var want chat
		d := json.NewDecoder(strings.NewReader(payload))
		d.UseNumber() // chat holds an interface
		wantErr := d.Decode(&want)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("DecodeBroadcast(%s): error %v; encoding/json: %v", payload, err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DecodeBroadcast(%s) (-encoding/json +DecodeBroadcast):\n%s", payload, diff)
		}
	}
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
