//go:build linux && integration

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

func internalHandle(t *testing.T) *Handle {
	t.Helper()
	ns := testutil.NewNetNS(t)
	h, err := New(ns.Path)
	if err != nil {
		t.Fatalf("New(%s): %v", ns.Path, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// A reply that never comes ends the call at the handle's timeout with
// context.DeadlineExceeded, not after the kernel's or the library's own
// long waits. The request is sent without NLM_F_ACK and succeeds, so the
// kernel sends nothing back: exactly what a lost reply looks like.
func TestIntegrationLostReplyEndsAtTheDeadline(t *testing.T) {
	testutil.RequireKernel(t)
	h := internalHandle(t)
	h.Timeout = 200 * time.Millisecond
	ctx := context.Background()
	s := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}

	h.mu.Lock()
	c, err := h.conn(ctx)
	if err != nil {
		h.mu.Unlock()
		t.Fatal(err)
	}
	c.out = c.out[:0]
	c.encode(Request{Op: OpAddService, Service: s}, false)
	start := time.Now()
	if err = c.send(c.out); err == nil {
		_, err = c.recv()
		err = h.transport(ctx, err)
	}
	took := time.Since(start)
	h.mu.Unlock()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a reply that never comes: %v, want DeadlineExceeded", err)
	}
	if took < 150*time.Millisecond || took > time.Second {
		t.Errorf("gave up after %v, want about the 200ms timeout", took)
	}
	// The socket is dropped; the next call dials afresh and sees the
	// service the unacknowledged request made.
	entries, err := h.Entries(ctx)
	if err != nil || len(entries) != 1 || entries[0].Service.Key() != s.Key() {
		t.Errorf("after the timeout: %v, %v", entries, err)
	}
}

// A batch whose sequence numbers cross 2^32 still gets each request's
// result: replies are matched by distance from the first, not by order.
func TestIntegrationBatchAcrossSequenceWrap(t *testing.T) {
	testutil.RequireKernel(t)
	h := internalHandle(t)
	h.Timeout = time.Second
	ctx := context.Background()
	s := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	d1 := Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Weight: 1}
	d2 := Destination{Address: netip.MustParseAddr("10.0.0.12"), Port: 5514, Weight: 1}
	if errs := h.Batch(ctx, []Request{{Op: OpAddService, Service: s}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	h.mu.Lock()
	h.c.seq = math.MaxUint32 - 1 // the next three are 2^32-1, 0, 1
	h.mu.Unlock()
	errs := h.Batch(ctx, []Request{
		{Op: OpAddDestination, Service: s, Destination: d1},
		{Op: OpAddDestination, Service: s, Destination: d1}, // a duplicate: fails
		{Op: OpAddDestination, Service: s, Destination: d2},
	})
	if errs[0] != nil || !errors.Is(errs[1], ErrExists) || errs[2] != nil {
		t.Fatalf("results across the wrap: %v; want nil, already exists, nil", errs)
	}
	entries, err := h.Entries(ctx)
	if err != nil || len(entries) != 1 || len(entries[0].Destinations) != 2 {
		t.Errorf("table after the batch: %v, %v", entries, err)
	}
}

// New switches into the target namespace on a thread of its own and comes
// back: however many handles are opened, from however many goroutines, no
// thread of the process is left in the target namespace, and each handle
// reads the target's table, not the caller's.
func TestIntegrationNewLeavesEveryThreadInItsNamespace(t *testing.T) {
	testutil.RequireKernel(t)
	ns := testutil.NewNetNS(t)
	ns.Run(t, testutil.RequireTool(t, "ipvsadm"), "-A", "-u", "10.0.0.100:5514", "-s", "rr")
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := New(ns.Path)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			es, err := h.Entries(context.Background())
			if err == nil && (len(es) != 1 || es[0].Service.Port != 5514) {
				err = fmt.Errorf("handle reads %v, want the namespace's one service", es)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("list threads: %v", err)
	}
	for _, p := range tasks {
		if got, err := os.Readlink(p); err == nil && got != self {
			t.Errorf("%s is %s, want the process's namespace %s", p, got, self)
		}
	}
}
