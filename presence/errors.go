package presence

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by the errors of [ParseState], [ParseDiff], [Tracker.HandleState] and
// [Tracker.HandleDiff] when a payload does not have the shape of a presence_state or
// presence_diff, and by [EncodeState] and [EncodeDiff] when a meta cannot be encoded. The
// wrapping error says where the problem is.
var ErrMalformed = errors.New("presence: malformed payload")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
