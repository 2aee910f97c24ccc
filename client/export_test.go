package client

// SubscribeWaiters returns how many Subscribe calls wait for ch's join.
func SubscribeWaiters(ch *Channel) int {
	n := 0
	_ = ch.c.exec(func() { n = len(ch.s.waiters) })
	return n
}

// SetPresenceJobHook makes fn run on the goroutine of every presence message handled off the
// router, before it computes; the returned function removes it.
func SetPresenceJobHook(fn func()) (restore func()) {
	presenceJobHook = fn
	return func() { presenceJobHook = nil }
}
