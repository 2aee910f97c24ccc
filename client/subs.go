package client

import (
	"context"

	"github.com/go-supabase/realtime/internal/stream"
	"github.com/go-supabase/realtime/subscribe"
)

// newSub returns a subscription for the user and the feed the router delivers to it. The
// subscription ends when ctx is done; desc names it in log lines.
func newSub[T any](ctx context.Context, g *stream.Group, desc string, opts []subscribe.Option) (*subscribe.Subscription[T], *stream.Feed[T]) {
	core, feed := stream.New[T](ctx, g, desc, opts)
	return (*subscribe.Subscription[T])(core), feed
}
