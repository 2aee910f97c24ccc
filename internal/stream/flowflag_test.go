package stream

import (
	"context"
	"testing"
	"unsafe"
)

// The flag a socket's reader looks at for every frame follows the flow total with hysteresis:
// set when the total rises above the high mark, cleared only when it falls to the low mark,
// so that a total hovering at a mark does not flip it at every event; a reader that finds it
// set while the total is under the high mark goes on, and clears it once the total is down to
// the low mark.
func TestFlowFlagHysteresis(t *testing.T) {
	g := &Group{FlowHigh: 100, FlowLow: 50}
	f := &g.flow
	change := func(delta int64) {
		g.setOver(delta, f.total.Add(delta))
	}
	steps := []struct {
		delta int64
		over  bool
	}{
		{+90, false},  // 90: under the high mark
		{+20, true},   // 110: above it
		{-20, true},   // 90: between the marks
		{+15, true},   // 105
		{-30, true},   // 75
		{-25, false},  // 50: down to the low mark
		{+40, false},  // 90: between the marks, rising
		{+11, true},   // 101
		{-101, false}, // 0
	}
	for i, s := range steps {
		change(s.delta)
		if got := f.over.Load(); got != s.over {
			t.Fatalf("step %d (total %d): over %v; want %v", i, f.total.Load(), got, s.over)
		}
	}

	ctx := context.Background()
	f.total.Store(75)
	f.over.Store(true)
	if err := g.ReadGate(ctx); err != nil || !f.over.Load() || f.paused.Load() {
		t.Fatalf("between the marks: ReadGate = %v, over %v, paused %v; want nil, true, false", err, f.over.Load(), f.paused.Load())
	}
	f.total.Store(20)
	if err := g.ReadGate(ctx); err != nil || f.over.Load() {
		t.Fatalf("under the low mark with the flag left set: ReadGate = %v, over %v; want nil, false", err, f.over.Load())
	}
}

// The flags the readers load sit on a cache line apart from the totals every event changes.
func TestFlowFlagsApartFromTotals(t *testing.T) {
	var g Group
	flags := uintptr(unsafe.Pointer(&g.flow.over))
	for name, p := range map[string]uintptr{
		"flow total":  uintptr(unsafe.Pointer(&g.flow.total)),
		"group total": uintptr(unsafe.Pointer(&g.total)),
	} {
		if d := max(flags, p) - min(flags, p); d < 64 {
			t.Errorf("the readers' flags are %d bytes from the %s; want at least 64", d, name)
		}
	}
	for name, p := range map[string]uintptr{
		"FlowHigh": uintptr(unsafe.Pointer(&g.FlowHigh)),
		"FlowLow":  uintptr(unsafe.Pointer(&g.FlowLow)),
	} {
		if d := max(uintptr(unsafe.Pointer(&g.total)), p) - min(uintptr(unsafe.Pointer(&g.total)), p); d < 64 {
			t.Errorf("%s is %d bytes from the group total; want at least 64", name, d)
		}
	}
}
