//go:build !race

package client_test

import "time"

// latencyBound is the longest a broadcast on another channel may take while a hostile input is
// processed.
const latencyBound = 100 * time.Millisecond
