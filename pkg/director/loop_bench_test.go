package director

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// benchTable is the benchmarks' table: every one of backends Logstash
// hosts behind each of services UDP services, programmed by the director.
func benchTable(backends, services int) string {
	return inventorytest.Synthetic(backends, services, inventorytest.Director)
}

// healthyDirector is a director over target with every backend up and
// the table applied once, without probers.
func healthyDirector(tb testing.TB, inv string, target reconcile.Target) *Director {
	d, err := New(Config{
		Inventory: parse(tb, inv), Target: target,
		Logger:    slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError})),
		StatePath: filepath.Join(tb.TempDir(), "owned.json"),
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, ss := range d.sp.services {
		for _, m := range ss.Members {
			d.healthOf(m.Backend, m.Check).up = true
		}
	}
	if err := d.reconcile(context.Background(), "start"); err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkReconcileNoopInMemory is the Go side of a drift repair of
// 1,000 services × 10 over an in-memory table that matches (no kernel:
// BenchmarkIntegrationReconcileNoop times the whole repair in the test VM).
func BenchmarkReconcileNoopInMemory(b *testing.B) {
	d := healthyDirector(b, benchTable(10, 1000), newFakeTable())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := d.reconcile(ctx, "repair"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleSteady is the main loop's work for one round of checks
// that changes nothing (100 backends, 5 services).
func BenchmarkHandleSteady(b *testing.B) {
	d := healthyDirector(b, benchTable(100, 5), newFakeTable())
	name := d.sp.backendNames()[0]
	r := result{backend: name, gen: d.gen, verdicts: map[checkKey]*check.Verdict{}}
	for _, k := range d.sp.backends[name].Checks {
		r.verdicts[k.checkKey] = &check.Verdict{Healthy: true, Weight: -1}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d.handle(ctx, r)
	}
}
