package cli

import (
	"bytes"
	"testing"
	"time"
)

// A lap does not count the kernel calls made during it: they are their own
// phases, so the figures add up to the total instead of counting twice.
func TestPhaseTimerChargesKernelCallsOnce(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timer := &phaseTimer{start: clock, last: clock, spent: map[string]time.Duration{}, now: func() time.Time { return clock }}
	clock = clock.Add(5 * time.Millisecond)
	timer.lap("load")
	clock = clock.Add(30 * time.Millisecond)
	timer.kernelCall("kernel read", 20*time.Millisecond) // within those 30 ms
	timer.lap("plan")
	clock = clock.Add(2 * time.Millisecond)
	timer.lap("apply")

	var b bytes.Buffer
	timer.write(&b)
	want := "timings: load 5ms, kernel read 20ms, plan 10ms, apply 2ms, total 37ms\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}
