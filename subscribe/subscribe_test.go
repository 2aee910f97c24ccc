package subscribe_test

import (
	"errors"
	"testing"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/subscribe"
	"github.com/go-supabase/realtime/testutil"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// The public methods read the subscription behind them: events, drops, the backlog, the end
// and its cause.
func TestSubscriptionMethods(t *testing.T) {
	var g stream.Group
	core, feed := stream.New[int](t.Context(), &g, "wrapped", []stream.Option{
		subscribe.WithBuffer(1), subscribe.WithPendingLimits(2, 0), subscribe.WithOverflow(subscribe.DropNewest)})
	sub := (*subscribe.Subscription[int])(core)
	if got := sub.String(); got != "wrapped" {
		t.Errorf("String() = %q; want %q", got, "wrapped")
	}
	for i := range 4 { // 0 in the channel, 1 and 2 queued (or held by the drain), 3 dropped
		feed.Send(i, 0)
	}
	if got := sub.Dropped(); got != 1 {
		t.Errorf("Dropped() = %d; want 1", got)
	}
	if got := sub.Pending(); got < 1 || got > 2 {
		t.Errorf("Pending() = %d; want 1 or 2", got)
	}
	var got []int
	for range 3 {
		got = append(got, <-sub.C())
	}
	if diff := cmp.Diff([]int{0, 1, 2}, got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	select {
	case <-sub.Done():
		t.Fatal("Done closed while the subscription runs")
	default:
	}
	boom := errors.New("source ended")
	feed.Close(boom)
	<-sub.Done()
	if _, ok := <-sub.C(); ok {
		t.Error("C still open after the end")
	}
	if !errors.Is(sub.Err(), boom) {
		t.Errorf("Err() = %v; want %v", sub.Err(), boom)
	}
	sub.Stop() // idempotent; the first cause stays
	if !errors.Is(sub.Err(), boom) {
		t.Errorf("Err() after Stop = %v; want %v", sub.Err(), boom)
	}
	g.Wait()
}

func TestStopEndsWithoutError(t *testing.T) {
	var g stream.Group
	core, feed := stream.New[string](t.Context(), &g, "stopped", nil)
	sub := (*subscribe.Subscription[string])(core)
	feed.Send("kept", 4)
	sub.Stop()
	<-sub.Done()
	if v, ok := <-sub.C(); v != "kept" || !ok {
		t.Errorf("<-C() = %q, %v; want the buffered event", v, ok)
	}
	if sub.Err() != nil || feed.Send("late", 4) {
		t.Errorf("after Stop: Err() = %v, feed accepting; want nil and refused", sub.Err())
	}
	g.Wait()
}
