package presence_test

import (
	"fmt"
	"testing"

	"github.com/go-supabase/realtime/presence"
)

// benchState returns a state of n keys with one meta each, and its plain map.
func benchState(b *testing.B, n int) (presence.State, map[string][]presence.Meta) {
	b.Helper()
	m := make(map[string][]presence.Meta, n)
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		m[key] = metas(mustMeta(fmt.Sprintf("ref-%d", i), "", map[string]any{"user_id": i, "status": "online"}))
	}
	s, _ := presence.SyncState(presence.State{}, m)
	return s, m
}

// BenchmarkSyncDiffOneMember applies a one-member diff to states of growing size. With the
// persistent map the cost must not grow with the size of the state.
func BenchmarkSyncDiffOneMember(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000, 100_000} {
		s, _ := benchState(b, n)
		join := presence.Diff{Joins: map[string][]presence.Meta{
			"newcomer": metas(mustMeta("ref-new", "", map[string]any{"status": "online"})),
		}}
		update := presence.Diff{
			Joins:  map[string][]presence.Meta{"user-7": metas(mustMeta("ref-7b", "ref-7", map[string]any{"status": "away"}))},
			Leaves: map[string][]presence.Meta{"user-7": s.Get("user-7")},
		}
		b.Run(fmt.Sprintf("join/size=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				presence.SyncDiff(s, join)
			}
		})
		b.Run(fmt.Sprintf("update/size=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				presence.SyncDiff(s, update)
			}
		})
	}
}

// BenchmarkJoinStorm has 1,000 members join a channel at once: as 1,000 one-member
// presence_diff messages, and as one presence_diff of 1,000 joins. Parsing is included.
func BenchmarkJoinStorm(b *testing.B) {
	const n = 1_000
	separate := make([][]byte, n)
	all := presence.Diff{Joins: map[string][]presence.Meta{}}
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		m := metas(mustMeta(fmt.Sprintf("ref-%d", i), "", map[string]any{"user_id": i, "status": "online"}))
		all.Joins[key] = m
		p, err := presence.EncodeDiff(presence.Diff{Joins: map[string][]presence.Meta{key: m}})
		if err != nil {
			b.Fatal(err)
		}
		separate[i] = p
	}
	batched, err := presence.EncodeDiff(all)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("separate-diffs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := presence.NewTracker()
			if _, err := tr.HandleState([]byte(`{}`)); err != nil {
				b.Fatal(err)
			}
			for _, p := range separate {
				if _, err := tr.HandleDiff(p); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/join")
	})
	b.Run("one-diff", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := presence.NewTracker()
			if _, err := tr.HandleState([]byte(`{}`)); err != nil {
				b.Fatal(err)
			}
			if _, err := tr.HandleDiff(batched); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/join")
	})
}

// BenchmarkSyncState syncs with a presence_state of 10,000 members: the first state after a
// join, a state identical to the current one (a rejoin where nothing changed), one where 10%
// of the members changed, and the tracker's whole path with parsing.
func BenchmarkSyncState(b *testing.B) {
	const n = 10_000
	s, m := benchState(b, n)
	churn := make(map[string][]presence.Meta, n)
	for k, v := range m {
		churn[k] = v
	}
	for i := range n / 10 {
		delete(churn, fmt.Sprintf("user-%d", i))
		churn[fmt.Sprintf("other-%d", i)] = metas(mustMeta(fmt.Sprintf("other-ref-%d", i), "", nil))
	}
	payload, err := presence.EncodeState(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("initial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			presence.SyncState(presence.State{}, m)
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			presence.SyncState(s, m)
		}
	})
	b.Run("churn-10pct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			presence.SyncState(s, churn)
		}
	})
	b.Run("tracker-with-parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := presence.NewTracker().HandleState(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
