package subscribe_test

import (
	"errors"
	"fmt"

	"github.com/go-supabase/realtime/subscribe"
)

// An evicted subscription's Err wraps ErrSlowConsumer and an *OverflowError that says how
// many events were lost. Here the error is built by hand; in a program it comes from
// sub.Err() once the channel from sub.C() is closed.
func ExampleOverflowError() {
	var err error = fmt.Errorf("subscription ended: %w", &subscribe.OverflowError{Dropped: 3, Limit: "65536 events"})

	var oe *subscribe.OverflowError
	if errors.As(err, &oe) {
		fmt.Println("evicted; events lost:", oe.Dropped)
	}
	fmt.Println(errors.Is(err, subscribe.ErrSlowConsumer))
	// Output:
	// evicted; events lost: 3
	// true
}

func ExamplePolicy() {
	for _, p := range []subscribe.Policy{subscribe.Evict, subscribe.DropOldest, subscribe.DropNewest, subscribe.Conflate} {
		fmt.Println(p)
	}
	// Output:
	// evict
	// drop-oldest
	// drop-newest
	// conflate
}
