package acks_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-supabase/realtime/acks"
	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

var errBoom = errors.New("boom")

func TestFutureSettlesOnce(t *testing.T) {
	f, settle := acks.New[int]()
	if err := f.Err(); err != nil {
		t.Fatalf("Err before settling = %v; want nil", err)
	}
	select {
	case <-f.Done():
		t.Fatal("Done closed before settling")
	default:
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if settle(i, nil) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d settle calls won; want exactly 1", wins.Load())
	}
	if settle(99, errBoom) {
		t.Error("a late settle won")
	}
	v, err := f.Wait(t.Context())
	if err != nil || v < 0 || v >= 50 {
		t.Errorf("Wait = %d, %v", v, err)
	}
	v2, _ := f.Wait(t.Context())
	if v2 != v {
		t.Errorf("second Wait = %d; want %d", v2, v)
	}
}

func TestFutureError(t *testing.T) {
	f := acks.Settled(0, errBoom)
	if !errors.Is(f.Err(), errBoom) {
		t.Errorf("Err = %v", f.Err())
	}
	if _, err := f.Wait(t.Context()); !errors.Is(err, errBoom) {
		t.Errorf("Wait = %v", err)
	}
}

func TestWaitCtxLeavesFuturePending(t *testing.T) {
	f, settle := acks.New[string]()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v; want context.Canceled", err)
	}
	settle("late", nil)
	if v, err := f.Wait(t.Context()); v != "late" || err != nil {
		t.Errorf("Wait after settling = %q, %v", v, err)
	}
}
