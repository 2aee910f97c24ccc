package transport

import "io"

// ReadFrame exposes readFrame to the external tests.
func ReadFrame(r io.Reader, scratch *[]byte) ([]byte, error) { return readFrame(r, scratch) }

// ScratchSize is scratchSize for the external tests.
const ScratchSize = scratchSize
