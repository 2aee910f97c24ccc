package client

// reviveWithToken is the hook of the recoverable token-expiry case (see auth.go).
func (r *router) reviveWithToken(ch *Channel, cause error) bool { return false }
