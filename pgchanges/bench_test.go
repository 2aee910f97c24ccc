package pgchanges_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-supabase/realtime/pgchanges"
)

// benchData is a ~650-byte INSERT of 8 mixed columns, shaped like the perf harness's
// floodserver frames: jsonb text formatting inside, Jason's sorted keys outside.
var benchData = func() string {
	const head = `{"columns":[{"name": "id", "type": "int8"}, {"name": "user_id", "type": "uuid"}, {"name": "title", "type": "text"}, {"name": "done", "type": "bool"}, {"name": "score", "type": "numeric"}, {"name": "tags", "type": "_text"}, {"name": "meta", "type": "jsonb"}, {"name": "created_at", "type": "timestamptz"}],"commit_timestamp":"2026-08-21T10:15:30.123Z","errors":null,"record":{"id": 1042, "done": true, "meta": {"source": "mobile", "priority": 3}, "tags": ["work", "urgent"], "score": 42.50, "title": "`
	const tail = `", "user_id": "6f1c2a4e-8d3b-4c7a-9e2f-000000000042", "created_at": "2026-08-21T10:15:30.118532+00:00"},"schema":"public","table":"todos","type":"INSERT"}`
	return head + "Buy oat milk" + tail // 666 bytes
}()

// benchTodo is the typed row of benchData.
type benchTodo struct {
	ID        int64             `json:"id"`
	UserID    string            `json:"user_id"`
	Title     string            `json:"title"`
	Done      bool              `json:"done"`
	Score     pgchanges.Numeric `json:"score"`
	Tags      []string          `json:"tags"`
	Meta      json.RawMessage   `json:"meta"`
	CreatedAt time.Time         `json:"created_at"`
}

// baseline records a sub-benchmark's ns/op so that the ones after it report their speedup.
type baseline float64

func (bl *baseline) set(b *testing.B) {
	*bl = baseline(float64(b.Elapsed().Nanoseconds()) / float64(b.N))
}

// report adds the metric "speedup": the baseline's ns/op divided by b's, from the same run.
func (bl *baseline) report(b *testing.B) {
	if ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N); *bl > 0 && ns > 0 {
		b.ReportMetric(float64(*bl)/ns, "speedup")
	}
}

// interleaved runs base and then each candidate once per round and reports, per candidate,
// the metric "speedup-<name>": base's total time over the candidate's. Alternating them
// exposes all to the same machine load, which keeps the ratio steady on a busy machine.
func interleaved(b *testing.B, base func(), names []string, cands ...func()) {
	b.Helper()
	total := make([]time.Duration, len(cands)+1)
	for b.Loop() {
		t0 := time.Now()
		base()
		t := time.Now()
		total[0] += t.Sub(t0)
		for i, c := range cands {
			c()
			now := time.Now()
			total[i+1] += now.Sub(t)
			t = now
		}
	}
	for i, name := range names {
		b.ReportMetric(float64(total[0])/float64(total[i+1]), "speedup-"+name)
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchData)
	var base baseline
	b.Run("baseline=json.Unmarshal-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
		base.set(b)
	})
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := pgchanges.Parse(data); err != nil {
				b.Fatal(err)
			}
		}
		base.report(b)
	})
	b.Run("Parser", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var p pgchanges.Parser
		for b.Loop() {
			if _, err := p.Parse(data); err != nil {
				b.Fatal(err)
			}
		}
		base.report(b)
	})
	b.Run("interleaved", func(b *testing.B) {
		var p pgchanges.Parser
		interleaved(b,
			func() {
				var m map[string]any
				_ = json.Unmarshal(data, &m)
			},
			[]string{"Parse", "Parser"},
			func() { _, _ = pgchanges.Parse(data) },
			func() { _, _ = p.Parse(data) },
		)
	})
	b.Run("Parser+Values", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var p pgchanges.Parser
		for b.Loop() {
			c, err := p.Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Values(); err != nil {
				b.Fatal(err)
			}
		}
		base.report(b)
	})
}

func BenchmarkDecode(b *testing.B) {
	c, err := pgchanges.Parse([]byte(benchData))
	if err != nil {
		b.Fatal(err)
	}
	record := []byte(c.Record)
	var base baseline
	b.Run("baseline=json.Unmarshal-struct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v benchTodo
			if err := json.Unmarshal(record, &v); err != nil {
				b.Fatal(err)
			}
		}
		base.set(b)
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pgchanges.Decode[benchTodo](c); err != nil {
				b.Fatal(err)
			}
		}
		base.report(b)
	})
	b.Run("interleaved", func(b *testing.B) {
		interleaved(b,
			func() {
				var v benchTodo
				_ = json.Unmarshal(record, &v)
			},
			[]string{"Decode"},
			func() { _, _ = pgchanges.Decode[benchTodo](c) },
		)
	})
}
