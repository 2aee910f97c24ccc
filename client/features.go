package client

// feature is one kind of traffic on a channel — broadcast, system messages, presence, postgres
// changes — and the part of the channel's life it takes part in. The channel's transitions
// (see chanState) call these hooks on the router goroutine, in the order of
// chanState.features; a feature never changes the channel's state itself.
type feature interface {
	// joining runs as a join is about to be sent.
	joining()
	// configure adds the feature's part to the join payload.
	configure(p *joinPayload)
	// accepted checks the response of the server's ok reply to the join. An error makes the
	// join unusable: the channel leaves and ends for good with it.
	accepted(response []byte) error
	// refused checks the reason of the server's error reply to the join. An error says no
	// rejoin can succeed: the channel ends for good with it.
	refused(reason string) error
	// joined runs once the channel is joined and the pushes buffered before it are sent.
	joined()
	// down runs when a join ends: with the cause when it was lost or refused (a rejoin
	// follows), with nil when the user left.
	down(cause error)
	// end runs when the channel is over for good: the feature ends its subscriptions and
	// settles its futures with cause.
	end(cause error)
}

// baseFeature gives a feature no-op hooks for the parts of the life it does not care about.
type baseFeature struct{ s *chanState }

func (baseFeature) joining()               {}
func (baseFeature) configure(*joinPayload) {}
func (baseFeature) accepted([]byte) error  { return nil }
func (baseFeature) refused(string) error   { return nil }
func (baseFeature) joined()                {}
func (baseFeature) down(error)             {}
func (baseFeature) end(error)              {}
