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

// kernel is the IPVS table of one network namespace as reconcile.Run sees
// it: the handle is opened on first use, so an inventory or state file
// that fails is reported before the kernel is asked anything, and each
// read and write is timed for --timings.
type kernel struct {
	netns string
	timer *phaseTimer
	h     *ipvs.Handle
}

var _ reconcile.Target = (*kernel)(nil)

func (k *kernel) handle() (*ipvs.Handle, error) {
	if k.h == nil {
		h, err := openIPVS(k.netns)
		if err != nil {
			return nil, err
		}
		k.h = h
		k.timer.lap("open")
	}
	return k.h, nil
}

func (k *kernel) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	h, err := k.handle()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { k.timer.kernelCall("kernel read", time.Since(start)) }()
	return h.Entries(ctx)
}

func (k *kernel) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	h, err := k.handle()
	if err != nil {
		errs := make([]error, len(reqs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	start := time.Now()
	defer func() { k.timer.kernelCall("kernel write", time.Since(start)) }()
	return h.Batch(ctx, reqs)
}

// Writes returns how many table changes were sent (see ipvs.Handle.Writes).
func (k *kernel) Writes() uint64 {
	if k.h == nil {
		return 0
	}
	return k.h.Writes()
}

// Close closes the handle if it was opened.
func (k *kernel) Close() {
	if k.h != nil {
		k.h.Close()
	}
}
