package presence_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-supabase/realtime/presence"
)

// FuzzParse feeds arbitrary bytes to the parsers and to trackers in every situation. Nothing may
// panic; what parses must survive an encode/parse round trip and agree with a reference parser
// built on encoding/json; trackers must keep well-formed states.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"alice-key":{"metas":[{"phx_ref":"GH2wL3pQx0c=","online_at":"2026-08-21T10:00:00Z","user":"alice"}]}}`,
		`{"joins":{"bob-key":{"metas":[{"phx_ref":"GH2wMJ0VtBk=","status":"online"}]}},"leaves":{}}`,
		`{"joins":{"b":{"metas":[{"phx_ref":"2","phx_ref_prev":"1","s":"away"}]}},"leaves":{"b":{"metas":[{"phx_ref":"1"}]}}}`,
		`{"k":{"metas":[{"phx_ref":"r","n":9007199254740993,"x":[{"y":"\"}"}]}]}}`,
		`{"k":{"metas":[]}}`,
		`null`,
		`{"k":{"metas":[{"phx_ref":1}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := presence.ParseState(data)
		ref, refOK := referenceParseState(data)
		if (err == nil) != refOK {
			t.Fatalf("ParseState error %v, but the reference parser says ok=%v", err, refOK)
		}
		if err == nil {
			if !sameMetaMaps(ref, st) {
				t.Fatalf("ParseState differs from the reference parser (-ref +got):\n%s", cmp.Diff(ref, st))
			}
			enc, err := presence.EncodeState(st)
			if err != nil {
				t.Fatalf("EncodeState of a parsed state: %v", err)
			}
			back, err := presence.ParseState(enc)
			if err != nil {
				t.Fatalf("ParseState(EncodeState(%s)): %v", enc, err)
			}
			if !sameMetaMaps(st, back) {
				t.Fatalf("state round trip mismatch (-want +got):\n%s", cmp.Diff(st, back))
			}
			s, _ := presence.SyncState(presence.State{}, st)
			if err := presence.CheckState(s); err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("json.Marshal(State): %v", err)
			}
		}

		d, err := presence.ParseDiff(data)
		if err == nil {
			enc, err := presence.EncodeDiff(d)
			if err != nil {
				t.Fatalf("EncodeDiff of a parsed diff: %v", err)
			}
			back, err := presence.ParseDiff(enc)
			if err != nil {
				t.Fatalf("ParseDiff(EncodeDiff(%s)): %v", enc, err)
			}
			if !sameMetaMaps(d.Joins, back.Joins) || !sameMetaMaps(d.Leaves, back.Leaves) {
				t.Fatalf("diff round trip mismatch (-want +got):\n%s", cmp.Diff(d, back))
			}
		}

		// A pending tracker buffers, a synced one applies; both must stay well formed.
		tr := presence.NewTracker()
		_, _ = tr.HandleDiff(data)
		_, _ = tr.HandleState(data)
		_, _ = tr.HandleDiff(data)
		_, _ = tr.HandleState([]byte(`{"k":{"metas":[{"phx_ref":"r"}]}}`))
		_, _ = tr.HandleDiff(data)
		tr.Reset()
		_, _ = tr.HandleState(data)
		if err := presence.CheckState(tr.State()); err != nil {
			t.Fatal(err)
		}
	})
}

// referenceParseState parses a presence_state payload with encoding/json alone (maps keep JSON
// member names exact and the last duplicate, like ParseState) and reports whether it is valid.
func referenceParseState(data []byte) (map[string][]presence.Meta, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || top == nil {
		return nil, false
	}
	out := map[string][]presence.Meta{}
	for key, v := range top {
		var entry map[string]json.RawMessage
		if json.Unmarshal(v, &entry) != nil || entry == nil {
			return nil, false
		}
		var list []json.RawMessage
		if json.Unmarshal(entry["metas"], &list) != nil || list == nil {
			return nil, false
		}
		ms := []presence.Meta{}
		for _, el := range list {
			var obj map[string]json.RawMessage
			if json.Unmarshal(el, &obj) != nil || obj == nil {
				return nil, false
			}
			m := presence.Meta{Raw: el}
			r, ok := obj["phx_ref"]
			if !ok || r[0] != '"' || json.Unmarshal(r, &m.Ref) != nil {
				return nil, false
			}
			if p, ok := obj["phx_ref_prev"]; ok && string(p) != "null" {
				if p[0] != '"' || json.Unmarshal(p, &m.PrevRef) != nil {
					return nil, false
				}
			}
			ms = append(ms, m)
		}
		out[key] = ms
	}
	return out, true
}
