package client

// SubscribeWaiters returns how many Subscribe calls wait for ch's join.
func SubscribeWaiters(ch *Channel) int {
	n := 0
	_ = ch.c.exec(func() { n = len(ch.s.waiters) })
	return n
}

// SetPresenceJobHook makes fn run on the goroutine of every presence message of c handled off
// the router, before it computes.
func SetPresenceJobHook(c *Client, fn func()) {
	_ = c.exec(func() { c.r.presenceJobHook = fn })
}
