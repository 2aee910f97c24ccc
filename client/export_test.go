package client

// SubscribeWaiters returns how many Subscribe calls wait for ch's join.
func SubscribeWaiters(ch *Channel) int {
	n := 0
	_ = ch.c.exec(func() { n = len(ch.s.waiters) })
	return n
}
