package client

import "github.com/go-supabase/realtime/transport"

// SubscribeWaiters returns how many Subscribe calls wait for ch's join.
func SubscribeWaiters(ch *Channel) int {
	n := 0
	_ = ch.c.exec(func() {
		for w := ch.s.waiters; w != nil; w = w.next {
			n++
		}
	})
	return n
}

// SetPresenceJobHook makes fn run on the goroutine of every presence message of c handled off
// the router, before it computes.
func SetPresenceJobHook(c *Client, fn func()) {
	_ = c.exec(func() { c.r.presenceJobHook = fn })
}

// RouteBatch makes c's router handle msgs, received on ch's socket, one after the other as
// if they had come in one batch of its inbox.
func RouteBatch(ch *Channel, msgs []transport.Message) {
	_ = ch.c.exec(func() {
		for i := range msgs {
			ch.c.r.handleMessage(ch.s.sock, &msgs[i])
		}
	})
}

// SetFrameBudget sets the bytes of large frames c works on at once.
func SetFrameBudget(c *Client, bytes int) {
	c.frames.mu.Lock()
	c.frames.budget = bytes
	c.frames.mu.Unlock()
}

// FrameGateStats returns the bytes and frames the frame gate of c admitted and that are not
// released yet, and how many admissions waited.
func FrameGateStats(c *Client) (bytes, frames, waits int) { return c.frames.inFlight() }
