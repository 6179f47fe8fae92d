package render_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// largeInventory returns the TOML of a cluster with 200 directors, 500
// Logstash hosts and 50 services on 10 VIPs. With pools, the Logstash hosts
// form 10 pools of 50, one per VIP, and each VIP's 5 services use its
// pool: 2,500 real servers in every keepalived.conf. Without pools every
// service uses every host (the default backends): 25,000 real servers in
// every keepalived.conf.
func largeInventory(pools bool) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"large\"\ninterface = \"eth0\"\nvrrp_auth_pass = \"secret42\"\nunicast = true\n\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "[[director]]\nname = \"lb%03d\"\naddress = \"10.0.%d.%d\"\n\n", i, i/250, 1+i%250)
	}
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"ls%03d\"\naddress = \"10.1.%d.%d\"\n\n", i, i/250, 1+i%250)
	}
	for v := 0; v < 10; v++ {
		fmt.Fprintf(&b, "[[vip]]\nname = \"vip%d\"\naddress = \"10.0.9.%d/16\"\nrouter_id = %d\n\n", v, 1+v, 1+v)
	}
	for i := 0; i < 50; i++ {
		v := i % 10
		proto := []string{"udp", "tcp"}[i/10%2]
		fmt.Fprintf(&b, "[[service]]\nname = \"svc%02d\"\nvip = \"vip%d\"\nport = %d\nprotocol = %q\ninput_id = \"%s-%d\"\none_packet = %t\n",
			i, v, 5000+i, proto, proto, 5000+i, proto == "udp")
		if pools {
			b.WriteString("backends = [")
			for h := v * 50; h < v*50+50; h++ {
				fmt.Fprintf(&b, "\"ls%03d\",", h)
			}
			b.WriteString("]\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("[firewall]\nlog_sources = [\"10.200.0.0/16\"]\n")
	return b.String()
}

func benchmarkRender(b *testing.B, pools bool) {
	inv, err := inventory.Parse("large.toml", []byte(largeInventory(pools)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var bytes int
	start := cpuTime()
	for b.Loop() {
		files, err := render.All(inv)
		if err != nil {
			b.Fatal(err)
		}
		bytes = 0
		for _, f := range files {
			bytes += len(f.Data)
		}
	}
	// CPU time (user+system, all threads) per render: on a shared machine
	// it shows the work done, where ns/op also counts waiting for a core.
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(bytes)/1e6, "MB/render")
}

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRenderLarge: 200 directors, 500 Logstash hosts, 50 services on
// 10 VIPs, each VIP served by its own pool of 50 hosts. Target: < 1 s/op
// (make bench-render).
func BenchmarkRenderLarge(b *testing.B) { benchmarkRender(b, true) }

// BenchmarkRenderLargeFullMesh is the same cluster with every service on
// all 500 hosts: 25,000 real servers per keepalived.conf, 1.4 GB of output
// per render, which is bound by memory bandwidth rather than by rendering.
func BenchmarkRenderLargeFullMesh(b *testing.B) { benchmarkRender(b, false) }

// BenchmarkRenderLargeFullMeshNode renders one director's files of the full
// mesh, as `hala render --node NAME` does on each director (the usual way
// config management runs it).
func BenchmarkRenderLargeFullMeshNode(b *testing.B) {
	inv, err := inventory.Parse("large.toml", []byte(largeInventory(false)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render.Node(inv, "lb100"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseLarge loads and validates the large inventory: the part of
// `hala render` before rendering.
func BenchmarkParseLarge(b *testing.B) {
	src := []byte(largeInventory(false))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inventory.Parse("large.toml", src); err != nil {
			b.Fatal(err)
		}
	}
}
