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
)

// BenchmarkReconcileNoopInMemory is the Go side of a drift repair of
// 1,000 services × 10 over an in-memory table that matches (no kernel:
// BenchmarkIntegrationReconcileNoop times the whole repair in the test VM).
func BenchmarkReconcileNoopInMemory(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nipvs = \"director\"\n\n[[director]]\nname = \"bench\"\naddress = \"10.0.0.1\"\n\n")
	for d := 1; d <= 10; d++ {
		fmt.Fprintf(&sb, "[[logstash]]\nname = \"ls%d\"\naddress = \"10.1.0.%d\"\n\n", d, d)
	}
	sb.WriteString("[[vip]]\nname = \"vip\"\naddress = \"10.0.0.100/24\"\nrouter_id = 51\n\n")
	for s := 0; s < 1000; s++ {
		fmt.Fprintf(&sb, "[[service]]\nname = \"svc%d\"\nvip = \"vip\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-%d\"\none_packet = true\n\n", s, 20000+s, 20000+s)
	}
	d, err := New(Config{
		Inventory: parse(b, sb.String()), Target: newFakeTable(),
		Logger:    slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError})),
		StatePath: filepath.Join(b.TempDir(), "owned.json"),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, ss := range d.sp.services {
		for _, m := range ss.Members {
			d.healthOf(m.Backend, m.Check).up = true
		}
	}
	ctx := context.Background()
	if err := d.reconcile(ctx, "start"); err != nil {
		b.Fatal(err)
	}
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
	var sb strings.Builder
	sb.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nipvs = \"director\"\n\n[[director]]\nname = \"bench\"\naddress = \"10.0.0.1\"\n\n")
	for d := 1; d <= 100; d++ {
		fmt.Fprintf(&sb, "[[logstash]]\nname = \"ls%d\"\naddress = \"10.1.0.%d\"\n\n", d, d)
	}
	sb.WriteString("[[vip]]\nname = \"vip\"\naddress = \"10.0.0.100/24\"\nrouter_id = 51\n\n")
	for s := 0; s < 5; s++ {
		fmt.Fprintf(&sb, "[[service]]\nname = \"svc%d\"\nvip = \"vip\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-%d\"\none_packet = true\n\n", s, 20000+s, 20000+s)
	}
	d, err := New(Config{
		Inventory: parse(b, sb.String()), Target: newFakeTable(),
		Logger:    slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError})),
		StatePath: filepath.Join(b.TempDir(), "owned.json"),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, ss := range d.sp.services {
		for _, m := range ss.Members {
			d.healthOf(m.Backend, m.Check).up = true
		}
	}
	ctx := context.Background()
	if err := d.reconcile(ctx, "start"); err != nil {
		b.Fatal(err)
	}
	name := d.sp.backendNames()[0]
	bs := d.sp.backends[name]
	r := result{backend: name, gen: d.gen, verdicts: map[checkKey]*check.Verdict{}}
	for _, k := range bs.Checks {
		r.verdicts[k.checkKey] = &check.Verdict{Healthy: true, Weight: -1}
	}
	b.ReportAllocs()
	for b.Loop() {
		d.handle(ctx, r)
	}
}
