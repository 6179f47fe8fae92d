package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// phaseTimer measures where hala ipvs plan/apply spend their time, for
// --timings: loading the inventory, reading and writing the kernel's table
// (charged by timedTarget), and hala's own work between.
type phaseTimer struct {
	start, last time.Time
	order       []string
	spent       map[string]time.Duration
	// kernel is the time charged by timedTarget, kernelAtLap its value at
	// the last lap: a lap does not count it twice.
	kernel, kernelAtLap time.Duration
	now                 func() time.Time
}

func newPhaseTimer() *phaseTimer {
	now := time.Now()
	return &phaseTimer{start: now, last: now, spent: map[string]time.Duration{}, now: time.Now}
}

func (t *phaseTimer) add(name string, d time.Duration) {
	if _, ok := t.spent[name]; !ok {
		t.order = append(t.order, name)
	}
	t.spent[name] += d
}

// lap charges the time since the previous lap to phase name, less the
// kernel calls made meanwhile (charged to their own phases).
func (t *phaseTimer) lap(name string) {
	now := t.now()
	t.add(name, now.Sub(t.last)-(t.kernel-t.kernelAtLap))
	t.last, t.kernelAtLap = now, t.kernel
}

func (t *phaseTimer) kernelCall(name string, d time.Duration) {
	t.kernel += d
	t.add(name, d)
}

// write prints one line: "timings: load 12.1ms, kernel read 8ms, ...,
// total 21.3ms" (total since the command started its work).
func (t *phaseTimer) write(w io.Writer) {
	parts := make([]string, 0, len(t.order)+1)
	for _, name := range t.order {
		parts = append(parts, fmt.Sprintf("%s %v", name, t.spent[name].Round(10*time.Microsecond)))
	}
	parts = append(parts, fmt.Sprintf("total %v", t.now().Sub(t.start).Round(10*time.Microsecond)))
	fmt.Fprintf(w, "timings: %s\n", strings.Join(parts, ", "))
}

// timedTarget is the kernel's table with each read and write timed.
type timedTarget struct {
	*ipvs.Handle
	timer *phaseTimer
}

var _ reconcile.Target = timedTarget{}

func (t timedTarget) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	start := time.Now()
	defer func() { t.timer.kernelCall("kernel read", time.Since(start)) }()
	return t.Handle.Entries(ctx)
}

func (t timedTarget) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	start := time.Now()
	defer func() { t.timer.kernelCall("kernel write", time.Since(start)) }()
	return t.Handle.Batch(ctx, reqs)
}
