package transport_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/transport"
)

func TestSkipValue(t *testing.T) {
	b := []byte(`[1, " x"]  {`)
	end, err := transport.SkipValue(b, 3)
	if err != nil || end != 8 {
		t.Errorf("SkipValue after white space = %d, %v; want 8", end, err)
	}
	if _, err := transport.SkipValue(b, 9); err == nil {
		t.Error("SkipValue of a truncated object = nil error; want an error")
	}
}

func TestObjectMembers(t *testing.T) {
	var got []string
	err := transport.ObjectMembers([]byte(`{"topic":"t","payload":{"a":[1]}}`), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`topic="t"`, `payload={"a":[1]}`}, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if err := transport.ObjectMembers([]byte(`{"a":1}]`), func(k, v []byte) error { return nil }); err == nil {
		t.Error("ObjectMembers with data after the object = nil error; want an error")
	}
}

func TestUnquoteString(t *testing.T) {
	for in, want := range map[string]string{`null`: "", `"a\u00e9\n"`: "aé\n", "\"\xff\"": "\ufffd"} {
		if got, err := transport.UnquoteString([]byte(in)); err != nil || got != want {
			t.Errorf("UnquoteString(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`1`, `"a`, `"\x"`} {
		if _, err := transport.UnquoteString([]byte(bad)); err == nil {
			t.Errorf("UnquoteString(%s) = nil error; want an error", bad)
		}
	}
}
