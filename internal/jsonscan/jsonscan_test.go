package jsonscan_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

func TestSkipValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int // -1: an error
		desc string
	}{
		{`"abc" x`, 5, "string"},
		{`"0123456789\"abcdef" `, 20, "escaped quote after a full word"},
		{`-12.5e+3,`, 8, "number"},
		{`0x`, 1, "a number ends before what cannot follow"},
		{`true]`, 4, "literal"},
		{`{"a":[1,{"b":null}]}..`, 20, "nested"},
		{`[ ]`, 3, "empty array with space"},
		{`tru`, -1, "truncated literal"},
		{`"a\`, -1, "truncated escape"},
		{`"\u00g0"`, -1, "bad hex"},
		{"\"tab\there\"", -1, "control character"},
		{`{"a":1,}`, -1, "trailing comma"},
		{`{"a":1 "b":2}`, -1, "missing comma"},
		{`[1 2]`, -1, "missing comma in array"},
		{`{1:2}`, -1, "key not a string"},
		{`-`, -1, "lone minus"},
		{`.5`, -1, "no integer part"},
		{``, -1, "empty"},
	} {
		end, err := jsonscan.SkipValue([]byte(tc.in), 0, 0)
		if tc.end < 0 {
			if err == nil || !errors.Is(err, jsonscan.ErrSyntax) {
				t.Errorf("%s: SkipValue(%q) = %d, %v; want an error wrapping ErrSyntax", tc.desc, tc.in, end, err)
			}
			continue
		}
		if err != nil || end != tc.end {
			t.Errorf("%s: SkipValue(%q) = %d, %v; want %d", tc.desc, tc.in, end, err, tc.end)
		}
	}
}

func TestMaxDepth(t *testing.T) {
	for _, n := range []int{jsonscan.MaxDepth, jsonscan.MaxDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			closer := map[string]string{"[": "]", `{"k":`: "}"}[open]
			b := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(closer, n))
			if got, want := jsonscan.Valid(b), json.Valid(b); got != want {
				t.Errorf("depth %d of %s: Valid = %v, json.Valid = %v", n, open, got, want)
			}
		}
	}
}

func TestWalk(t *testing.T) {
	b := []byte(` {"a" : 1, "b\"c":[true, {}], "d":"x"} `)
	type member struct {
		key     string
		escaped bool
		value   string
	}
	var got []member
	end, err := jsonscan.Walk(b, 1, 1, func(key []byte, escaped bool, v int) (int, error) {
		end, err := jsonscan.SkipValue(b, v, 1)
		got = append(got, member{string(key), escaped, string(b[v:end])})
		return end, err
	})
	if err != nil || end != len(b)-1 {
		t.Fatalf("Walk = %d, %v; want %d", end, err, len(b)-1)
	}
	want := []member{{"a", false, "1"}, {`b\"c`, true, "[true, {}]"}, {"d", false, `"x"`}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(member{})); diff != "" {
		t.Errorf("Walk members (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	if _, err := jsonscan.Walk([]byte(`[1,2,3]`), 0, 1, func([]byte, bool, int) (int, error) { return 0, stop }); err != stop {
		t.Errorf("Walk = %v; want the visitor's error", err)
	}
	if _, err := jsonscan.Walk([]byte(`"s"`), 0, 1, nil); err == nil {
		t.Error("Walk of a string = nil error; want an error")
	}
}

// stepSkip skips the value at b[i] with Open, Key and Next, at nesting depth depth, the way a
// caller loops over a container without a callback.
func stepSkip(b []byte, i, depth int) (int, error) {
	if i >= len(b) || (b[i] != '{' && b[i] != '[') {
		return jsonscan.SkipValue(b, i, depth-1)
	}
	closer := b[i] + 2
	i, more, err := jsonscan.Open(b, i, depth)
	for more {
		if closer == '}' {
			if _, _, i, err = jsonscan.Key(b, i); err != nil {
				return 0, err
			}
		}
		if i, err = stepSkip(b, i, depth+1); err != nil {
			return 0, err
		}
		i, more, err = jsonscan.Next(b, i, closer)
	}
	return i, err
}

func TestSteps(t *testing.T) {
	b := []byte(`{"a" : [1, 2 ,3],"b\"c":{} , "d":[ ]}`)
	i, more, err := jsonscan.Open(b, 0, 1)
	var got []string
	for more && err == nil {
		var key []byte
		var escaped bool
		if key, escaped, i, err = jsonscan.Key(b, i); err != nil {
			break
		}
		var end int
		if end, err = jsonscan.SkipValue(b, i, 1); err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%s %v %s", key, escaped, b[i:end]))
		i, more, err = jsonscan.Next(b, end, '}')
	}
	if err != nil || i != len(b) {
		t.Fatalf("the loop ends at %d, %v; want %d", i, err, len(b))
	}
	if diff := cmp.Diff([]string{"a false [1, 2 ,3]", `b\"c true {}`, "d false [ ]"}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if i, more, err := jsonscan.Open([]byte(`[ ] `), 0, 1); i != 3 || more || err != nil {
		t.Errorf("Open of an empty array = %d, %v, %v; want 3, false, nil", i, more, err)
	}

	for _, tc := range []struct {
		in   string
		end  int // -1: an error
		desc string
	}{
		{`{"a":1,"b":[true,null]}`, 23, "compact"},
		{" { \"a\" :\t1 ,\n\"b\" : [ true , null ] } ", 36, "white space everywhere"},
		{`[[],{},[{}]]`, 12, "empty containers"},
		{`{"a" 1}`, -1, "no colon"},
		{`{"a":1 "b":2}`, -1, "no comma"},
		{`{"a":1]`, -1, "wrong closer"},
		{`[1 2]`, -1, "no comma in an array"},
		{`[1}`, -1, "wrong closer for an array"},
		{`{"a":1,}`, -1, "trailing comma"},
		{`[1,]`, -1, "trailing comma in an array"},
		{`{,}`, -1, "comma first"},
		{`{1:2}`, -1, "key not a string"},
		{`{"a\q":1}`, -1, "bad escape in a key"},
		{`{"a":1`, -1, "unterminated object"},
		{`[1,`, -1, "unterminated array"},
		{`{`, -1, "open brace only"},
		{`{"a"`, -1, "key only"},
		{`"s"`, 3, "not a container"},
	} {
		want, wantErr := jsonscan.SkipValue([]byte(tc.in), jsonscan.SkipSpace([]byte(tc.in), 0), 0)
		end, err := stepSkip([]byte(tc.in), jsonscan.SkipSpace([]byte(tc.in), 0), 1)
		if tc.end < 0 {
			if err == nil || !errors.Is(err, jsonscan.ErrSyntax) || wantErr == nil {
				t.Errorf("%s: steps over %q = %d, %v (SkipValue: %v); want an error wrapping ErrSyntax", tc.desc, tc.in, end, err, wantErr)
			}
			continue
		}
		if err != nil || end != tc.end || want != tc.end {
			t.Errorf("%s: steps over %q = %d, %v (SkipValue: %d); want %d", tc.desc, tc.in, end, err, want, tc.end)
		}
	}
	deep := []byte(strings.Repeat("[", jsonscan.MaxDepth+1) + strings.Repeat("]", jsonscan.MaxDepth+1))
	if _, _, err := jsonscan.Open(deep, 0, jsonscan.MaxDepth+1); err == nil {
		t.Error("Open beyond MaxDepth = nil error")
	}
	if _, _, err := jsonscan.Open(deep, 0, jsonscan.MaxDepth); err != nil {
		t.Errorf("Open at MaxDepth: %v", err)
	}
}

func TestObjectMembers(t *testing.T) {
	var keys []string
	err := jsonscan.ObjectMembers([]byte(` {"a":1,"b":{"c":2}} `), func(k, v []byte) error {
		keys = append(keys, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a=1", `b={"c":2}`}, keys); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`[]`, `{"a":1} x`, `{"a":}`, ``, `{"a":1 "b":2}`, `{"a":1,}`, `{"a" 1}`, `{"a":1`} {
		if err := jsonscan.ObjectMembers([]byte(bad), func(k, v []byte) error { return nil }); err == nil {
			t.Errorf("ObjectMembers(%q) = nil; want an error", bad)
		}
	}
}

func TestValidWalkers(t *testing.T) {
	var got []string
	_ = jsonscan.ValidMembers([]byte(` { "k" : "v\"}" , "n":[1,{"x":"]"}] } `), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	_ = jsonscan.ValidElements([]byte(`[ 1 , "a\\", {"b":[]},null]`), func(v []byte) error {
		got = append(got, string(v))
		return nil
	})
	want := []string{`k="v\"}"`, `n=[1,{"x":"]"}]`, "1", `"a\\"`, `{"b":[]}`, "null"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("walk (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	if err := jsonscan.ValidElements([]byte(`[1,2]`), func([]byte) error { return stop }); err != stop {
		t.Errorf("ValidElements = %v; want the callback's error", err)
	}
	for _, b := range []string{``, `[`, `{`, `{"a`, `{"a":`, `["`, `]`, `"`} {
		_ = jsonscan.ValidMembers([]byte(b), func(k, v []byte) error { return nil })
		_ = jsonscan.ValidElements([]byte(b), func(v []byte) error { return nil })
		_ = jsonscan.EndOfValid([]byte(b), 0)
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                        "plain",
		`"a\"b\\c\/d\b\f\n\r\t"`:         "a\"b\\c/d\b\f\n\r\t",
		`"\u00e9\u00E9"`:                 "éé",
		`"\ud83d\ude00"`:                 "😀",
		`"\ud800x"`:                      "\ufffdx",
		`"\ud800\u0041"`:                 "\ufffdA",
		"\"\xff\"":                       "\ufffd",
		`"0123456789abcdef\u0041bcdefg"`: "0123456789abcdefAbcdefg",
	} {
		got, err := jsonscan.Unquote([]byte(in))
		if err != nil || got != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `"`, `"a" `, `null`, `"\u12"`, "\"\n\""} {
		if got, err := jsonscan.Unquote([]byte(bad)); err == nil {
			t.Errorf("Unquote(%q) = %q; want an error", bad, got)
		}
	}
	// Contents that were never validated do not panic.
	for _, raw := range []string{`\`, `\u`, `\u12`, `\ud800\u`, `\q`} {
		_ = jsonscan.DecodeString([]byte(raw), true)
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{`42`: 42, ` -7 `: -7, `"96213457"`: 96213457, `"\u0035"`: 5, `9223372036854775807`: 1<<63 - 1} {
		if got, ok := jsonscan.ParseInt([]byte(in)); !ok || got != want {
			t.Errorf("ParseInt(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{`1.5`, `1e3`, `"x"`, `" 1"`, `true`, `9223372036854775808`, `01`, ``, `"1`} {
		if got, ok := jsonscan.ParseInt([]byte(bad)); ok {
			t.Errorf("ParseInt(%s) = %d; want failure", bad, got)
		}
	}
}

func TestAppendQuote(t *testing.T) {
	for s, want := range map[string]string{
		"":                 `""`,
		`q"b\s`:            `"q\"b\\s"`,
		"\n\r\t\x00\x1f":   `"\n\r\t\u0000\u001f"`,
		"é \u2028\u2029":   `"é \u2028\u2029"`,
		"bad \xff\xfe end": `"bad \ufffd\ufffd end"`,
	} {
		if got := string(jsonscan.AppendQuote(nil, s)); got != want {
			t.Errorf("AppendQuote(%q) = %s; want %s", s, got, want)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	if !jsonscan.IsObject([]byte(" {}")) || jsonscan.IsObject([]byte("[]")) || jsonscan.IsObject(nil) {
		t.Error("IsObject")
	}
	if !jsonscan.IsNull(nil) || !jsonscan.IsNull([]byte(" null")) || jsonscan.IsNull([]byte(`"null"`)) {
		t.Error("IsNull")
	}
	if got := string(jsonscan.TrimSpace([]byte(" \t{}\r\n"))); got != "{}" {
		t.Errorf("TrimSpace = %q", got)
	}
	if jsonscan.NeedsDecoding([]byte("plain é")) || !jsonscan.NeedsDecoding([]byte(`a\n`)) || !jsonscan.NeedsDecoding([]byte("\xff")) {
		t.Error("NeedsDecoding")
	}
	if jsonscan.CheckEnd([]byte("1  "), 1) != nil || jsonscan.CheckEnd([]byte("1 x"), 1) == nil {
		t.Error("CheckEnd")
	}
}
