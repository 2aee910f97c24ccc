package transport

// ValidMembers exposes validMembers to the external tests.
func ValidMembers(obj []byte, fn func(key, value []byte)) { validMembers(obj, fn) }

// PeekPhoenix exposes peekPhoenix to the external tests.
func PeekPhoenix(v Version, frame []byte) bool { return peekPhoenix(v, frame) }
