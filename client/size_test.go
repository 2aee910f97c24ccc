package client

import (
	"testing"
	"unsafe"
)

// A channel's router-side state is allocated once per channel and held for its life: with many
// channels on one client its size is the client's memory. 640 bytes is a size class of Go's
// allocator; one byte more costs 704.
func TestChanStateSize(t *testing.T) {
	if n := unsafe.Sizeof(chanState{}); n > 640 {
		t.Errorf("chanState is %d bytes; want at most 640 (order the small fields together, or move rarely used ones behind a pointer)", n)
	}
}
