package jsondecode_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-supabase/realtime/internal/jsondecode"
	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// chat is the shape of a typical broadcast payload.
type chat struct {
	Seq  int64  `json:"seq"`
	User string `json:"user"`
	Room string `json:"room"`
	TS   int64  `json:"ts"`
	Text string `json:"text"`
}

type myString string

// text decodes itself from a JSON string; "bad" is an error.
type text struct{ s string }

func (t *text) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return errors.New("bad text")
	}
	t.s = "<" + string(b) + ">"
	return nil
}

// textList is a slice kind that decodes itself from a JSON string.
type textList []string

func (t *textList) UnmarshalText(b []byte) error {
	*t = strings.Split(string(b), ",")
	return nil
}

// self decodes itself from any JSON value; {"bad":1} is an error.
type self struct{ raw string }

func (s *self) UnmarshalJSON(b []byte) error {
	if string(b) == `{"bad":1}` {
		return errors.New("bad self")
	}
	s.raw = string(b)
	return nil
}

type kinds struct {
	B     bool
	I     int
	I8    int8
	I16   int16
	I32   int32
	I64   int64
	U     uint
	U8    uint8
	U16   uint16
	U32   uint32
	U64   uint64
	UP    uintptr
	F32   float32
	F64   float64
	S     string
	N     json.Number
	P     *int
	PP    **string
	Sl    []int
	Ar    [2]string
	M     map[string]int
	MK    map[myString]*chat
	A     any
	R     json.RawMessage
	T     time.Time
	TP    *time.Time
	X     text
	XP    *text
	XL    textList
	J     self
	JP    *self
	Named myString
}

// names has the field-name cases of encoding/json's rules that go vet lets a struct type
// declare; dupType has the others.
type names struct {
	E      string `json:"e"`
	F      string `json:"E"`
	Kelvin int    `json:"k"`
	G      int    `json:"a\"b"`
	Dash   int    `json:"-"`
	DashC  int    `json:"-,"`
	unexp  int
	Omit   int `json:",omitempty"`
	Ünï    int
	H      int `json:"ß"`
	Opt    int `json:"opt,omitempty,whatever"`
}

// dupType is a struct with repeated names: two tagged "x" (neither is decoded), a tagged "C"
// over an untagged C, and names equal under case folding.
var dupType = reflect.StructOf([]reflect.StructField{
	{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	{Name: "B", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	{Name: "C", Type: reflect.TypeFor[int]()},
	{Name: "D", Type: reflect.TypeFor[int](), Tag: `json:"C"`},
	{Name: "X", Type: reflect.TypeFor[string]()},
	{Name: "Y", Type: reflect.TypeFor[string](), Tag: `json:"y"`},
	{Name: "Z", Type: reflect.TypeFor[string](), Tag: `json:"Y"`},
})

type node struct {
	V    int
	Kids []*node
	Next *node
	M    map[string]node
}

type nested struct {
	In   chat
	Ins  []chat
	Arr  [3]*chat
	Deep map[string][]map[string]any
	Nums []json.Number
}

// targets returns fresh values of the types the tests decode into.
func targets() []any {
	return []any{
		new(chat), new(kinds), new(names), reflect.New(dupType).Interface(), new(node), new(nested),
		new(any), new([]any), new(map[string]any), new(json.Number), new(json.RawMessage),
		new(time.Time), new(text), new(textList), new(self), new([]int), new([2]int), new(string),
		new(float32), new(uint8), new(*chat), new([]*kinds), new(map[string]*node),
	}
}

// prefill is decoded into the values before the input, to check decoding into values that
// hold data.
const prefill = `{"seq":7,"user":"u","Sl":[1,2,3,4],"M":{"a":1},"A":{"x":[1]},"P":5,"MK":{"k":{"seq":1}},` +
	`"V":1,"Kids":[{"V":2},{"V":3}],"Next":{"V":4},"Ins":[{"seq":1},{"seq":2}],"Arr":[{"seq":9}],` +
	`"Deep":{"d":[{"z":1}]},"x":1,"C":2,"XL":"a,b","J":5,"JP":6,"T":"2020-01-01T00:00:00Z"}`

func reference(data []byte, v any, useNumber bool) error {
	if !useNumber {
		return json.Unmarshal(data, v)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// compare decodes data into a copy of each target with Decode (falling back to encoding/json)
// and with encoding/json alone, and fails unless the results and errors are the same. On
// ErrInvalid it checks instead that encoding/json failed without writing.
func compare(t *testing.T, data []byte, fill bool) {
	t.Helper()
	for _, useNumber := range []bool{false, true} {
		for _, target := range targets() {
			typ := reflect.TypeOf(target).Elem()
			mine, theirs, before := reflect.New(typ), reflect.New(typ), reflect.New(typ)
			if fill {
				for _, v := range []reflect.Value{mine, theirs, before} {
					_ = json.Unmarshal([]byte(prefill), v.Interface())
				}
			}
			err := jsondecode.Decode(data, mine.Interface(), useNumber)
			fellBack := err != nil
			if err != nil {
				if err != jsondecode.ErrFallback && err != jsondecode.ErrInvalid {
					t.Fatalf("Decode(%q) into %v: %v; want nil, ErrFallback or ErrInvalid", data, typ, err)
				}
				invalid := err == jsondecode.ErrInvalid
				err = reference(data, mine.Interface(), useNumber)
				if invalid {
					if err == nil {
						t.Fatalf("Decode(%q) into %v: ErrInvalid, but encoding/json (UseNumber %v) decodes it", data, typ, useNumber)
					}
					theirErr := reference(data, theirs.Interface(), useNumber)
					if !reflect.DeepEqual(theirs.Interface(), before.Interface()) {
						t.Fatalf("Decode(%q) into %v: ErrInvalid, but encoding/json (UseNumber %v) wrote %+v (error %v)", data, typ, useNumber, theirs.Elem(), theirErr)
					}
					continue
				}
			}
			theirErr := reference(data, theirs.Interface(), useNumber)
			if fmt.Sprint(err) != fmt.Sprint(theirErr) {
				t.Fatalf("decoding %q into %v (UseNumber %v, fallback %v): error %v; encoding/json: %v", data, typ, useNumber, fellBack, err, theirErr)
			}
			if !reflect.DeepEqual(mine.Interface(), theirs.Interface()) {
				t.Fatalf("decoding %q into %v (UseNumber %v, fallback %v, prefilled %v):\n got %#v\nwant %#v", data, typ, useNumber, fellBack, fill, mine.Elem(), theirs.Elem())
			}
		}
	}
}

// inputs are the edge cases of encoding/json's decoding, and the fuzz corpus's start.
var inputs = []string{
	`{"seq":1,"user":"user-001","room":"room1","ts":1787307330124,"text":"hello"}`,
	`{"text":"x","ts":2,"room":"r","user":"u","seq":3}`,
	`{"SEQ":1,"User":"a","ROOM":"b","Ts":-4}`,
	`{"seq":1,"seq":2,"user":"a","user":null}`,
	`{"seq":1.5}`, `{"seq":1e3}`, `{"seq":"1"}`, `{"seq":99999999999999999999}`, `{"seq":-0}`,
	`{"seq":-9223372036854775808}`, `{"seq":9223372036854775807}`, `{"seq":9223372036854775808}`,
	`{"user":"\u00e9\ud800\"\\\/\b\f\n\r\t","text":"` + "\xff\xfe" + `"}`,
	`{"us\u0065r":"esc"}`, "{\"\xffuser\":1}",
	` { "seq" : 1 , "user" : "a" } `, `{"seq":1}x`, `{"seq":1} {}`, `{"seq":1`, `{"seq":}`, `{"seq" 1}`, `[`, ``, `  `, `nul`, `null`,
	`{"B":true,"I":-1,"I8":127,"I16":-32768,"I32":2147483647,"I64":-1,"U":1,"U8":255,"U16":65535,"U32":4294967295,"U64":18446744073709551615,"UP":1,"F32":3.4e38,"F64":1e308,"S":"s","N":12.5e-3,"P":1,"PP":"pp","Sl":[1,2],"Ar":["a","b","c"],"M":{"a":1,"b":null},"MK":{"k":{"seq":2},"n":null},"A":[1,"a",{"b":null},true,1.5e300],"R":{"a":[1, 2]},"T":"2026-01-02T03:04:05.123+01:00","TP":"2026-01-02T03:04:05Z","X":"xx","XP":"yy","XL":"c,d","J":[1],"JP":{"z":1},"Named":"n"}`,
	`{"I8":128}`, `{"U8":256}`, `{"U":-1}`, `{"U":-0}`, `{"F32":3.5e38}`, `{"F64":1e400}`, `{"N":"12"}`, `{"N":"x"}`, `{"N":null}`,
	`{"P":null,"PP":null,"Sl":null,"M":null,"A":null,"R":null,"T":null,"TP":null,"X":null,"XP":null,"XL":null,"J":null,"JP":null}`,
	`{"Sl":[],"Ar":[],"M":{},"A":{}}`, `{"Sl":[1,"x",3]}`, `{"X":"bad"}`, `{"X":1}`, `{"J":{"bad":1}}`, `{"T":"nope"}`, `{"B":"true"}`, `{"S":1}`,
	`{"x":1,"C":2,"c":3,"e":"e","E":"E","K":4,"\u212a":5,"a\"b":6,"G":7,"-":8,"Dash":9,"unexp":10,"omit":11,"ÜNÏ":12,"ß":13,"SS":14,"X":"x","Y":"Y","y":"y","OPT":15}`,
	`{"V":1,"Kids":[{"V":2,"Kids":[]},null],"Next":{"Next":{"V":3}},"M":{"a":{"V":4}}}`,
	`{"In":{"seq":1},"Ins":[{"seq":1},{"seq":2}],"Arr":[{"seq":1},null],"Deep":{"a":[{"b":[1,2.5,"c"]}]},"Nums":[1,-2e5]}`,
	`[1,2,3]`, `[1,2,3,]`, `[[1],[2]]`, `"str"`, `"2026-01-02T03:04:05Z"`, `12`, `-1.5e-7`, `true`, `1 2`, `"a" "b"`, `1x`, `{}x`, `01`,
	`{"a":{"b":{"c":{"d":[[[[[]]]]]}}}}`, strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600),
	strings.Repeat(`{"Next":`, 600) + `{}` + strings.Repeat(`}`, 600),
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range inputs {
		compare(t, []byte(s), false)
		compare(t, []byte(s), true)
	}
}

// FuzzDecode requires Decode, with encoding/json as the fallback, to decode arbitrary input
// into each of the targets exactly as encoding/json does.
func FuzzDecode(f *testing.F) {
	for _, s := range inputs {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, fill bool) {
		compare(t, data, fill)
	})
}

type embeds struct {
	chat
	X int
}

type quoted struct {
	N int `json:",string"`
}

type namedPtr *chat

// Decode takes the fast path where it can, and falls back (ErrFallback) or reports malformed
// input (ErrInvalid) in the cases encoding/json must decide; compare checks that the results
// are encoding/json's either way.
func TestDecodePaths(t *testing.T) {
	withPtr := any(new(int))
	for _, tc := range []struct {
		data      string
		v         any
		useNumber bool
		want      error
	}{
		{`{"seq":1,"user":"u","room":"r","ts":2,"text":"t"}`, new(chat), false, nil},
		{` {"TEXT":"t", "Seq":1, "us\u0065r":"u", "unknown":[1,{"a":null}]} `, new(chat), false, nil},
		{`{"K":1,"\u212a":2}`, new(names), false, nil},
		{`null`, new(chat), false, nil},
		{`{"seq":null,"user":null}`, new(chat), false, nil},
		{`{"B":true,"I8":-128,"U64":18446744073709551615,"F32":1.5,"N":1e9,"P":1,"Sl":[1],"Ar":["a"],"M":{"a":1},"A":{"b":[1.5]},"R":[1],"T":"2026-01-02T03:04:05Z","X":"x","XL":"a,b","J":{},"Named":"n"}`, new(kinds), true, nil},
		{`{"seq":1.5}`, new(chat), false, jsondecode.ErrFallback},
		{`{"seq":1e2}`, new(chat), false, jsondecode.ErrFallback},
		{`{"seq":"1"}`, new(chat), false, jsondecode.ErrFallback},
		{`{"I8":128}`, new(kinds), false, jsondecode.ErrFallback},
		{`{"U":-0}`, new(kinds), false, jsondecode.ErrFallback},
		{`{"N":"12"}`, new(kinds), false, jsondecode.ErrFallback},
		{`{"X":1}`, new(kinds), false, jsondecode.ErrFallback},
		{`{"J":{"bad":1}}`, new(kinds), false, jsondecode.ErrFallback},
		{`1`, &withPtr, true, jsondecode.ErrFallback},
		{strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600), new(any), true, jsondecode.ErrFallback},
		{`{"seq":1} x`, new(chat), false, jsondecode.ErrInvalid},
		{`{"seq":1} x`, new(chat), true, jsondecode.ErrFallback}, // a json.Decoder reads one value
		{`{"seq":}`, new(chat), false, jsondecode.ErrInvalid},
		{`{"seq":1.5,`, new(chat), false, jsondecode.ErrInvalid},
		{`{"seq":1,"user":"a` + "\x01" + `"}`, new(chat), false, jsondecode.ErrInvalid},
		{``, new(chat), true, jsondecode.ErrInvalid},
		{`{"X":1}`, new(embeds), false, jsondecode.ErrFallback},
		{`{"N":"1"}`, new(quoted), false, jsondecode.ErrFallback},
		{`"AA=="`, new([]byte), false, jsondecode.ErrFallback},
		{`{"1":"a"}`, new(map[int]string), false, jsondecode.ErrFallback},
		{`null`, new(error), false, jsondecode.ErrFallback},
		{`{}`, new(namedPtr), false, jsondecode.ErrFallback},
		{`{}`, chat{}, false, jsondecode.ErrFallback},
		{`{}`, (*chat)(nil), false, jsondecode.ErrFallback},
	} {
		if err := jsondecode.Decode([]byte(tc.data), tc.v, tc.useNumber); err != tc.want {
			t.Errorf("Decode(%.40q, %T, useNumber %v) = %v; want %v", tc.data, tc.v, tc.useNumber, err, tc.want)
		}
		compare(t, []byte(tc.data), false)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[embeds](), reflect.TypeFor[quoted](), reflect.TypeFor[[]byte](), reflect.TypeFor[namedPtr](), reflect.TypeFor[struct{ E []embeds }]()} {
		if jsondecode.Supported(typ) {
			t.Errorf("Supported(%v) = true; want false", typ)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[chat](), reflect.TypeFor[kinds](), reflect.TypeFor[node](), reflect.TypeFor[nested](), dupType} {
		if !jsondecode.Supported(typ) {
			t.Errorf("Supported(%v) = false; want true", typ)
		}
	}
}

// Decoders compiled by concurrent first uses are complete and shared safely.
func TestDecodeConcurrentFirstUse(t *testing.T) {
	type tree struct {
		Name string
		Kids []*tree
		Tags map[string][]tree
	}
	data := []byte(`{"Name":"a","Kids":[{"Name":"b","Kids":[{"Name":"c"}]}],"Tags":{"t":[{"Name":"d"}]}}`)
	var want tree
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	got := make([]tree, 4)
	for i := range got {
		wg.Go(func() { errs[i] = jsondecode.Decode(data, &got[i], false) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !reflect.DeepEqual(got[i], want) {
			t.Errorf("goroutine %d: %v, %+v; want %+v", i, errs[i], got[i], want)
		}
	}
}
