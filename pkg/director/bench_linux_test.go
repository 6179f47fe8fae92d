//go:build linux && integration

package director

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/ipvs"
)

// Benchmarks of the director's whole-table reconcile against the real
// kernel, for scripts/bench-ipvs (make bench-ipvs, in the test VM):
// 1,000 UDP services × 10 real servers, as the IPVS benchmark uses.
//
//	BenchmarkIntegrationReconcileNoop: one drift-repair pass of a running
//	director over a table that matches (read, plan, nothing written).
//	BenchmarkIntegrationIpvsadmRestore: ipvsadm-restore of the same table
//	into an empty one, the reference the no-op is compared with.
const benchServices, benchDests = 1000, 10

func benchInventory() string { return tableInventory(benchServices) }

// tableInventory is the benchmarks' inventory with n services.
func tableInventory(n int) string { return benchTable(benchDests, n) }

// benchDirector is a director over a full table in a fresh namespace, every
// backend up, without probers.
func benchDirector(b *testing.B) (*Director, *ipvs.Handle, *testutil.NetNS) {
	return tableDirector(b, benchInventory())
}

func tableDirector(b testing.TB, inv string) (*Director, *ipvs.Handle, *testutil.NetNS) {
	testutil.RequireKernel(b)
	ns := testutil.NewNetNS(b)
	h, err := ipvs.New(ns.Path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return healthyDirector(b, inv, h), h, ns
}

func BenchmarkIntegrationReconcileNoop(b *testing.B) {
	d, h, _ := benchDirector(b)
	before := h.Writes()
	ctx := context.Background()
	for b.Loop() {
		if err := d.reconcile(ctx, "repair"); err != nil {
			b.Fatal(err)
		}
	}
	if w := h.Writes() - before; w != 0 {
		b.Fatalf("no-op reconciles made %d netlink writes", w)
	}
	b.ReportMetric(0, "writes/op")
}

func BenchmarkIntegrationIpvsadmRestore(b *testing.B) {
	_, _, ns := benchDirector(b)
	rules, err := ns.Cmd("ipvsadm", "-Sn").Output()
	if err != nil {
		b.Fatal(err)
	}
	if n := bytes.Count(rules, []byte("\n")); n != benchServices*(1+benchDests) {
		b.Fatalf("ipvsadm -Sn: %d rules, want %d", n, benchServices*(1+benchDests))
	}
	// Started from a thread inside the namespace, so no `ip netns exec`
	// is timed: ipvsadm -C untimed, then the timed restore.
	for b.Loop() {
		b.StopTimer()
		if out, err := ns.Cmd("ipvsadm", "-C").CombinedOutput(); err != nil {
			b.Fatalf("ipvsadm -C: %v: %s", err, out)
		}
		b.StartTimer()
		err := ns.Do(func() error {
			cmd := exec.Command("ipvsadm-restore")
			cmd.Stdin = bytes.NewReader(rules)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("ipvsadm-restore: %v: %s", err, out)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIntegrationTransition is the time from a check's verdict that
// completes fall (here 1) to the kernel's answer to the one netlink
// request it causes: each op takes a backend of one of the 1,000 services
// out or puts it back, alternately, on the real kernel.
func BenchmarkIntegrationTransition(b *testing.B) {
	d, h, _ := benchDirector(b)
	name := d.sp.backendNames()[0]
	bs := d.sp.backends[name]
	for i := range bs.Checks {
		bs.Checks[i].Rise, bs.Checks[i].Fall = 1, 1
	}
	// One input of that backend: the service that uses it changes.
	c := bs.Checks[0]
	verdict := func(ok bool) result {
		r := result{backend: name, gen: d.gen, verdicts: map[checkKey]*check.Verdict{}}
		for _, k := range bs.Checks {
			r.verdicts[k.checkKey] = &check.Verdict{Healthy: true, Weight: -1}
		}
		r.verdicts[c.checkKey] = &check.Verdict{Healthy: ok, Weight: -1, Reason: ": benchmark"}
		return r
	}
	ctx := context.Background()
	before := h.Writes()
	ok := false
	for b.Loop() {
		d.handle(ctx, verdict(ok))
		ok = !ok
	}
	if w := h.Writes() - before; w != uint64(b.N) {
		b.Fatalf("%d transitions made %d netlink writes, want one each", b.N, w)
	}
}

// TestIntegrationTransitionIsOneKernelWrite: on the real kernel, a verdict
// that completes fall takes the backend's destination out of its service
// with one netlink write, and rise brings it back; ipvsadm, not hala,
// reads the table.
func TestIntegrationTransitionIsOneKernelWrite(t *testing.T) {
	d, h, ns := tableDirector(t, tableInventory(3))
	name := d.sp.backendNames()[0]
	bs := d.sp.backends[name]
	c := bs.Checks[0]
	round := func(ok bool) {
		r := result{backend: name, gen: d.gen, verdicts: map[checkKey]*check.Verdict{}}
		for _, k := range bs.Checks {
			r.verdicts[k.checkKey] = &check.Verdict{Healthy: true, Weight: -1}
		}
		r.verdicts[c.checkKey] = &check.Verdict{Healthy: ok, Weight: -1, Reason: ": test"}
		d.handle(context.Background(), r)
	}
	table := func() string {
		out, err := ns.Cmd("ipvsadm", "-Ln").CombinedOutput()
		if err != nil {
			t.Fatalf("ipvsadm: %v: %s", err, out)
		}
		return string(out)
	}
	addr := bs.Address.String() + ":"
	if n := strings.Count(table(), addr); n != 3 {
		t.Fatalf("%s in %d services before, want 3:\n%s", name, n, table())
	}
	before := h.Writes()
	round(false) // fall 2: one failure is not enough
	if w := h.Writes() - before; w != 0 {
		t.Errorf("one failure of fall 2 wrote %d times", w)
	}
	round(false)
	if w := h.Writes() - before; w != 1 {
		t.Errorf("the transition made %d netlink writes, want 1 (the one service using the input)", w)
	}
	if n := strings.Count(table(), addr); n != 2 {
		t.Errorf("%s in %d services after the transition, want 2 (out of the one using the failed input):\n%s", name, n, table())
	}
	round(true)
	round(true) // rise 2
	if w := h.Writes() - before; w != 2 {
		t.Errorf("down and up made %d netlink writes, want 2", w)
	}
	if n := strings.Count(table(), addr); n != 3 {
		t.Errorf("%s in %d services after rise, want 3:\n%s", name, n, table())
	}
}

// BenchmarkIntegrationScrape is one Prometheus scrape of the traffic
// collector over 1,000 services × 10 real servers on the real kernel: one
// read of the whole table with its counters, 75,000 series encoded.
func BenchmarkIntegrationScrape(b *testing.B) {
	d, _, _ := benchDirector(b)
	srv := httptest.NewServer(d.Handler())
	b.Cleanup(srv.Close)
	want := benchServices * benchDests
	var size int
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		size = len(body)
		if n := bytes.Count(body, []byte("\nhala_ipvs_backend_packets_in_total{")); n != want {
			b.Fatalf("scrape has %d backend packet counters, want %d", n, want)
		}
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
