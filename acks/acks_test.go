package acks_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

func TestTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := acks.NewTable[string](3)
		timeout := func() error { return errors.New("timed out") }
		a, _ := tab.Add("1", 1, 10*time.Second, timeout)
		b, _ := tab.Add("2", 1, 10*time.Second, timeout)
		c, _ := tab.Add("3", 2, 0, timeout)
		if _, err := tab.Add("4", 2, 0, timeout); !errors.Is(err, acks.ErrTooManyPending) {
			t.Fatalf("Add over the cap = %v; want ErrTooManyPending", err)
		}
		if !tab.Settle("1", "reply", nil) {
			t.Fatal("Settle(1) = false")
		}
		if tab.Settle("1", "again", nil) {
			t.Error("Settle(1) twice = true")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if v, err := a.Wait(t.Context()); v != "reply" || err != nil {
			t.Errorf("a = %q, %v", v, err)
		}
		if err := b.Err(); err == nil || err.Error() != "timed out" {
			t.Errorf("b.Err = %v; want the timeout error", err)
		}
		if c.Err() != nil {
			t.Errorf("c settled early: %v", c.Err())
		}
		if n := tab.SettleTag(1, errBoom); n != 0 {
			t.Errorf("SettleTag(1) settled %d; want 0 (both tag-1 futures settled already)", n)
		}
		if !tab.Retag("3", 7) || tab.Retag("nope", 7) {
			t.Error("Retag")
		}
		if n := tab.SettleTag(7, errBoom); n != 1 {
			t.Errorf("SettleTag(7) settled %d; want 1", n)
		}
		if !errors.Is(c.Err(), errBoom) {
			t.Errorf("c.Err = %v; want errBoom", c.Err())
		}
		if tab.Len() != 0 {
			t.Errorf("Len = %d after SettleAll", tab.Len())
		}
		// Room again after the others settled.
		for i := range 3 {
			if _, err := tab.Add(strconv.Itoa(10+i), 3, time.Second, timeout); err != nil {
				t.Fatal(err)
			}
		}
		tab.SettleAll(errBoom)
	})
}
