package jsondecode_test

import (
	"encoding/json"
	"testing"

	"github.com/go-supabase/realtime/internal/jsondecode"
)

// chatPayload is a ~150-byte payload of the shape of the perf harness's broadcasts.
var chatPayload = []byte(`{"seq":123456,"user":"user-456","room":"room1","ts":1787307453579,"text":"the quick brown fox jumps over the lazy dog, again and again, until the payload has about 150 bytes"}`)

var nestedPayload = []byte(`{"In":{"seq":1,"user":"a","room":"r","ts":2,"text":"t"},"Ins":[{"seq":1,"user":"user-1"},{"seq":2,"user":"user-2"},{"seq":3,"user":"user-3"}],"Arr":[{"seq":1},null,{"seq":3}],"Deep":{"a":[{"b":[1,2.5,"c"],"d":true}]},"Nums":[1,-2e5,3.25]}`)

// BenchmarkDecode compares Decode with json.Unmarshal on the same input, in the same run.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name      string
		data      []byte
		new       func() any
		useNumber bool
	}{
		{"Chat", chatPayload, func() any { return new(chat) }, false},
		{"Nested", nestedPayload, func() any { return new(nested) }, true},
	} {
		b.Run(bc.name+"/jsondecode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if err := jsondecode.Decode(bc.data, bc.new(), bc.useNumber); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if err := reference(bc.data, bc.new(), bc.useNumber); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Decoding a flat struct takes the fast path, and allocates only its strings.
func TestDecodeChatAllocs(t *testing.T) {
	var v chat
	if err := jsondecode.Decode(chatPayload, &v, false); err != nil {
		t.Fatalf("Decode: %v; want no fallback", err)
	}
	var want chat
	if err := json.Unmarshal(chatPayload, &want); err != nil || v != want {
		t.Fatalf("Decode gave %+v; json.Unmarshal %+v, %v", v, want, err)
	}
	got := testing.AllocsPerRun(100, func() {
		v = chat{}
		_ = jsondecode.Decode(chatPayload, &v, false)
	})
	if got != 3 {
		t.Errorf("Decode into a chat: %v allocations; want 3 (its strings)", got)
	}
}
