package filtersyntax_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/internal/filtersyntax"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"a=eq.1":                   {"a=eq.1"},
		"a=eq.1,b=in.(1,2),c=eq.x": {"a=eq.1", "b=in.(1,2)", "c=eq.x"},
		`a=eq."x,y",b=eq.z`:        {`a=eq."x,y"`, "b=eq.z"},
		`a=eq."x\",y",b=eq.z`:      {`a=eq."x\",y"`, "b=eq.z"},
		`a=eq.x"y,z",b`:            {`a=eq.x"y`, `z"`, "b"}, // a quote opens only after . ( ,
		"a=eq.1,,b=eq.2":           {"a=eq.1", "", "b=eq.2"},
		"a=in.((1,2),3)),b=eq.1":   {"a=in.((1,2),3))", "b=eq.1"},
		`a=in.("(",x),b=eq.1`:      {`a=in.("(",x)`, "b=eq.1"},
	} {
		if diff := cmp.Diff(want, filtersyntax.Split(in)); diff != "" {
			t.Errorf("Split(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestUnquoteValue(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: `plain`, `"a,b"`: `a,b`, `"a\"b\\c"`: `a"b\c`, `"abc`: `"abc`, `"a"b`: `"a"b`, `""`: ``, `x"y"`: `x"y"`,
	} {
		if got := filtersyntax.UnquoteValue(in); got != want {
			t.Errorf("UnquoteValue(%s) = %s; want %s", in, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	got, err := filtersyntax.Parse(` id=eq.1 , status=not.in.(a,"b,c") `)
	if err != nil {
		t.Fatal(err)
	}
	want := []filtersyntax.Segment{
		{Text: "id=eq.1", Column: "id", Op: "eq", Value: "1"},
		{Text: `status=not.in.(a,"b,c")`, Column: "status", Negated: true, Op: "in", Value: `(a,"b,c")`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if segs, err := filtersyntax.Parse("  "); err != nil || segs != nil {
		t.Errorf("Parse of white space = %v, %v; want nothing", segs, err)
	}
	for in, want := range map[string]filtersyntax.SegmentError{
		"a=eq.1,":   {Kind: filtersyntax.EmptySegment},
		"abc":       {Kind: filtersyntax.NoEquals, Segment: "abc", Parts: []string{"abc"}},
		"a=not.eq":  {Kind: filtersyntax.NoOperator, Segment: "a=not.eq", Parts: []string{"eq"}},
		"a=foo.1.2": {Kind: filtersyntax.UnknownOp, Segment: "a=foo.1.2", Parts: []string{"foo", "1.2"}},
		"a=EQ.1":    {Kind: filtersyntax.UnknownOp, Segment: "a=EQ.1", Parts: []string{"EQ", "1"}},
	} {
		_, err := filtersyntax.Parse(in)
		var se *filtersyntax.SegmentError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v; want a *SegmentError", in, err)
			continue
		}
		if diff := cmp.Diff(want, *se); diff != "" {
			t.Errorf("Parse(%q) error (-want +got):\n%s", in, diff)
		}
	}
}
