package stream_test

import (
	"context"
	"sync"
	"testing"

	"github.com/go-supabase/realtime/internal/stream"
)

// BenchmarkFanout delivers one event to 1,000 subscriptions, each drained by its own goroutine,
// against a baseline of a plain loop of blocking sends to 1,000 buffered Go channels drained
// the same way (the shape the perf harness calls fanout-chan). ns/op is per event.
func BenchmarkFanout(b *testing.B) {
	const n = 1000
	b.Run("baseline-chan", func(b *testing.B) {
		chans := make([]chan int, n)
		var wg sync.WaitGroup
		for i := range chans {
			chans[i] = make(chan int, stream.DefaultBuffer)
			wg.Go(func() {
				for range chans[i] {
				}
			})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			for _, c := range chans {
				c <- i
			}
		}
		b.StopTimer()
		for _, c := range chans {
			close(c)
		}
		wg.Wait()
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	})
	b.Run("subscriptions", func(b *testing.B) {
		var g stream.Group
		feeds := make([]*stream.Feed[int], n)
		var wg sync.WaitGroup
		for i := range feeds {
			sub, feed := stream.New[int](context.Background(), &g, "bench", nil)
			feeds[i] = feed
			wg.Go(func() {
				for range sub.C() {
				}
			})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			for _, f := range feeds {
				f.Send(i, 8)
			}
		}
		b.StopTimer()
		for _, f := range feeds {
			f.Close(nil)
		}
		wg.Wait()
		g.Wait()
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	})
	b.Run("subscriptions-runs", func(b *testing.B) {
		// As the client delivers a burst: runs of 32 events through a Log, one SendRun per
		// subscription and run.
		const run = 32
		var g stream.Group
		var log stream.Log[int]
		feeds := make([]*stream.Feed[int], n)
		var wg sync.WaitGroup
		for i := range feeds {
			sub, feed := stream.New[int](context.Background(), &g, "bench", nil)
			feeds[i] = feed
			wg.Go(func() {
				for range sub.C() {
				}
			})
		}
		evs := make([]stream.Shared[int], run)
		sizes := make([]int, run)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += run {
			k := min(run, b.N-i)
			for j := range k {
				evs[j], sizes[j] = log.Share(i+j), 8
			}
			for _, f := range feeds {
				f.SendRun(evs[:k], sizes[:k], 1<<k-1)
			}
		}
		b.StopTimer()
		for _, f := range feeds {
			f.Close(nil)
		}
		wg.Wait()
		g.Wait()
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	})
}

// BenchmarkSend is the cost of one delivery into a subscription with room in its channel.
func BenchmarkSend(b *testing.B) {
	var g stream.Group
	sub, feed := stream.New[int](context.Background(), &g, "bench", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.C() {
		}
	}()
	b.ReportAllocs()
	for i := range b.N {
		feed.Send(i, 8)
	}
	b.StopTimer()
	feed.Close(nil)
	<-done
	g.Wait()
}
