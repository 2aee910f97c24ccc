package transport_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/go-supabase/realtime/transport"
)

// messageReader reads data the way a websocket message reader does: at most step bytes a
// call, then io.EOF on its own, or err instead of io.EOF when err is set.
type messageReader struct {
	data []byte
	step int
	err  error
}

func (r *messageReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), r.step)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func frameOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestReadFrame(t *testing.T) {
	s := transport.ScratchSize
	var scratch []byte
	for _, n := range []int{0, 1, 1000, s - 1, s, s + 1, 2 * s, 2*s + 1, 4 * s, 5*s + 3, 1 << 20} {
		for _, step := range []int{1 << 30, 4096, 1000} {
			want := frameOf(n)
			got, err := transport.ReadFrame(&messageReader{data: want, step: step}, &scratch)
			if err != nil {
				t.Fatalf("%d bytes, %d a read: %v", n, step, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes, %d a read: the frame read differs", n, step)
			}
			if n > s && cap(got) != n {
				t.Errorf("%d bytes, %d a read: cap = %d; want the frame's size", n, step, cap(got))
			}
			if cap(scratch) > s {
				t.Fatalf("%d bytes: the reader keeps a buffer of %d bytes; want at most %d", n, cap(scratch), s)
			}
		}
	}
	// The scratch is reused, so a frame read from it must not alias it.
	first, _ := transport.ReadFrame(&messageReader{data: []byte("first"), step: 100}, &scratch)
	_, _ = transport.ReadFrame(&messageReader{data: []byte("other"), step: 100}, &scratch)
	if string(first) != "first" {
		t.Errorf("a frame changed when the next was read: %q", first)
	}
	// A failure mid-frame is returned as it is.
	boom := errors.New("boom")
	for _, n := range []int{10, 3 * s} {
		if _, err := transport.ReadFrame(&messageReader{data: frameOf(n), step: 4096, err: boom}, &scratch); err != boom {
			t.Errorf("%d bytes then a failure: err = %v; want it", n, err)
		}
	}
}

// Reading a large frame allocates about twice its size: one set of chunks, one joined copy.
func TestReadFrameAllocatesAboutTwiceALargeFrame(t *testing.T) {
	for _, n := range []int{8 << 20, 8_000_000, 3 << 20} {
		data := frameOf(n)
		var scratch []byte
		_, _ = transport.ReadFrame(&messageReader{data: []byte("warm"), step: 1 << 16}, &scratch)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := transport.ReadFrame(&messageReader{data: data, step: 1 << 16}, &scratch)
		runtime.ReadMemStats(&after)
		if err != nil || len(got) != n {
			t.Fatalf("ReadFrame of %d bytes = %d bytes, %v", n, len(got), err)
		}
		if ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(n); ratio > 2.5 {
			t.Errorf("reading a frame of %d bytes allocated %.1f times its size; want at most 2.5", n, ratio)
		}
	}
}

// appendThenClone is how frames were read before: append to a scratch buffer kept up to 1 MiB,
// then clone. It is the baseline of BenchmarkReadFrame.
func appendThenClone(r io.Reader, scratch *[]byte) ([]byte, error) {
	b := (*scratch)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(b) <= 1<<20 {
		*scratch = b
	} else {
		*scratch = nil
	}
	return bytes.Clone(b), nil
}

// BenchmarkReadFrame is the cost of taking one message off the socket, for a small and a large
// frame, beside the append-then-clone baseline.
func BenchmarkReadFrame(b *testing.B) {
	for _, size := range []int{1 << 10, 8 << 20} {
		data := frameOf(size)
		for _, impl := range []struct {
			name string
			read func(io.Reader, *[]byte) ([]byte, error)
		}{{"chunks", transport.ReadFrame}, {"baseline-append-clone", appendThenClone}} {
			b.Run(impl.name+"/"+strconv.Itoa(size), func(b *testing.B) {
				var scratch []byte
				r := &messageReader{step: 1 << 16}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					r.data = data
					if _, err := impl.read(r, &scratch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
