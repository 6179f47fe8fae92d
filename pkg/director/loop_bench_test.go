package director

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// benchTable is an inventory of backends Logstash hosts (10.1.0.1...)
// behind services UDP services (one_packet, ports 20000...), every host
// behind every service: the benchmarks' tables.
func benchTable(backends, services int) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nipvs = \"director\"\n\n[[director]]\nname = \"bench\"\naddress = \"10.0.0.1\"\n\n")
	for d := 1; d <= backends; d++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"ls%d\"\naddress = \"10.1.0.%d\"\n\n", d, d)
	}
	b.WriteString("[[vip]]\nname = \"vip\"\naddress = \"10.0.0.100/24\"\nrouter_id = 51\n\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&b, "[[service]]\nname = \"svc%d\"\nvip = \"vip\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-%d\"\none_packet = true\n\n", s, 20000+s, 20000+s)
	}
	return b.String()
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
