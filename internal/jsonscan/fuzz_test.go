package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/go-supabase/realtime/internal/jsonscan"
)

// FuzzSkipValue checks the scanner against encoding/json: a value is valid for one exactly when
// it is valid for the other, and on valid input the boundary walk ends where the scan does. A
// loop of Open, Key and Next must agree with SkipValue on every input.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2.5e-3,"x\u00e9",true,false,null]`, `{"a":{"b":[]}}`, `"\ud800"`, `01`, `1.`, `-`, `[1,]`, `{"a" 1}`, " \"\xff\" ", `"\q"`, `1e+`, `[[[]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		start := jsonscan.SkipSpace(b, 0)
		end, err := jsonscan.SkipValue(b, start, 0)
		ours := err == nil && len(bytes.TrimLeft(b[end:], " \t\r\n")) == 0
		if theirs := json.Valid(b); ours != theirs {
			t.Fatalf("SkipValue says valid=%v, json.Valid says %v, for %q", ours, theirs, b)
		}
		if jsonscan.Valid(b) != ours {
			t.Fatalf("Valid and SkipValue disagree on %q", b)
		}
		if stepEnd, stepErr := stepSkip(b, start, 1); (stepErr == nil) != (err == nil) || (err == nil && stepEnd != end) {
			t.Fatalf("Open, Key and Next end at %d, %v; SkipValue at %d, %v, for %q", stepEnd, stepErr, end, err, b)
		}
		if !ours {
			return
		}
		if e := jsonscan.EndOfValid(b, start); e != end {
			t.Fatalf("EndOfValid(%q) = %d; SkipValue ends at %d", b, e, end)
		}
	})
}

// FuzzValidMembers checks the fast member walk over validated objects against the validating
// one: for every object ObjectMembers accepts, both must yield the same keys and values.
func FuzzValidMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "event" : "e" , "payload" : {"x":[1,{"y":"\""}]}, "meta":null } `,
		`{"k\"ey":"v\\","n":-1.5e3,"t":true,"arr":[[],[{}]],"s":"0123456789abcdef\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		type kv struct{ k, v string }
		var want, got []kv
		if jsonscan.ObjectMembers(obj, func(k, v []byte) error {
			want = append(want, kv{string(k), string(v)})
			return nil
		}) != nil {
			_ = jsonscan.ValidMembers(obj, func(k, v []byte) error { return nil }) // must not panic
			return
		}
		_ = jsonscan.ValidMembers(obj, func(k, v []byte) error {
			got = append(got, kv{string(k), string(v)})
			return nil
		})
		if len(got) != len(want) {
			t.Fatalf("%q: %d members; want %d", obj, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%q: member %d is %q; want %q", obj, i, got[i], want[i])
			}
		}
	})
}

// FuzzValidElements checks the fast element walk over validated arrays against Walk.
func FuzzValidElements(f *testing.F) {
	for _, s := range []string{`[]`, ` [ ] `, `[1]`, `[ "a\"]" , {"b":[1,2]}, null,-0.5e1 ,[[]]]`, `["\u005d",true]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, arr []byte) {
		var want, got []string
		i := jsonscan.SkipSpace(arr, 0)
		end, err := jsonscan.Walk(arr, i, 1, func(_ []byte, _ bool, v int) (int, error) {
			end, err := jsonscan.SkipValue(arr, v, 1)
			if err == nil {
				want = append(want, string(arr[v:end]))
			}
			return end, err
		})
		if err != nil || arr[i] != '[' || jsonscan.CheckEnd(arr, end) != nil {
			_ = jsonscan.ValidElements(arr, func([]byte) error { return nil }) // must not panic
			return
		}
		_ = jsonscan.ValidElements(arr, func(v []byte) error {
			got = append(got, string(v))
			return nil
		})
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements %q; want %d", arr, len(got), got, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%q: element %d is %q; want %q", arr, i, got[i], want[i])
			}
		}
	})
}

// FuzzUnquote checks unquoting against encoding/json, which must accept the same strings and
// decode them to the same values (replacement characters included).
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`""`, `"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u20AC"`, `"\ud83d\ude00"`, `"\ud800"`,
		`"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"", "\"\xed\xa0\x80\"", `"\u12"`, `"a`, `"\x"`, "\"\x01\"", `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsonscan.Unquote(b)
		if len(b) == 0 || b[0] != '"' || len(jsonscan.TrimSpace(b)) != len(b) {
			if err == nil {
				t.Fatalf("Unquote(%q) = %q; want an error", b, got)
			}
			return
		}
		var want string
		jerr := json.Unmarshal(b, &want)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("Unquote(%q) error %v; encoding/json error %v", b, err, jerr)
		}
		if err == nil && got != want {
			t.Fatalf("Unquote(%q) = %q; encoding/json gives %q", b, got, want)
		}
		if err != nil {
			return
		}
		if inner := b[1 : len(b)-1]; !jsonscan.NeedsDecoding(inner) && got != string(inner) {
			t.Fatalf("NeedsDecoding(%q) is false, but the value is %q", inner, got)
		}
	})
}

// FuzzAppendQuote checks that quoting gives valid JSON that decodes to what encoding/json's
// own quoting decodes to.
func FuzzAppendQuote(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\x00\x1f\x7f", "é ✓ \u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := jsonscan.AppendQuote([]byte("x"), s)[1:]
		if !json.Valid(q) {
			t.Fatalf("AppendQuote(%q) = %s, not valid JSON", s, q)
		}
		ref, _ := json.Marshal(s)
		var got, want string
		if err := json.Unmarshal(q, &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("AppendQuote(%q) decodes to %q; encoding/json's quoting to %q", s, got, want)
		}
		if back, err := jsonscan.Unquote(q); err != nil || back != want {
			t.Fatalf("Unquote(AppendQuote(%q)) = %q, %v; want %q", s, back, err, want)
		}
	})
}
