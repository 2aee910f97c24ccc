package acktable_test

import (
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-supabase/realtime/internal/acktable"
	"github.com/go-supabase/realtime/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

var errBoom = errors.New("boom")

func TestTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := acktable.New[string](3)
		timeout := func() error { return errors.New("timed out") }
		a, _ := tab.Add("1", 1, 10*time.Second, timeout)
		b, _ := tab.Add("2", 1, 10*time.Second, timeout)
		c, _ := tab.Add("3", 2, 0, timeout)
		if _, err := tab.Add("4", 2, 0, timeout); !errors.Is(err, acktable.ErrTooManyPending) {
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
