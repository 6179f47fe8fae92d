package inventory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// ipvsBenchInventory is the inventory scripts/bench-ipvs generates: one
// director, 10 Logstash hosts, 1,000 UDP services on one VIP.
func ipvsBenchInventory() []byte {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nvrrp_auth_pass = \"bench123\"\n\n")
	b.WriteString("[[director]]\nname = \"bench\"\naddress = \"10.0.0.1\"\n\n")
	for d := 1; d <= 10; d++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"ls%d\"\naddress = \"10.1.0.%d\"\n\n", d, d)
	}
	b.WriteString("[[vip]]\nname = \"vip\"\naddress = \"10.0.0.100/24\"\nrouter_id = 51\n\n")
	for s := 0; s < 1000; s++ {
		fmt.Fprintf(&b, "[[service]]\nname = \"svc%d\"\nvip = \"vip\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-%d\"\none_packet = true\n\n",
			s, 20000+s, 20000+s)
	}
	b.WriteString("[firewall]\nlog_sources = [\"10.0.0.0/24\"]\n")
	return []byte(b.String())
}

// BenchmarkParseIPVSBenchInventory is what every hala ipvs command pays to
// load bench-ipvs's inventory; TOMLOnly is the TOML library's share of it
// (the part no implementation that reads TOML can drop).
func BenchmarkParseIPVSBenchInventory(b *testing.B) {
	data := ipvsBenchInventory()
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse("bench.toml", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TOMLOnly", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var raw map[string]any
			if _, err := toml.Decode(string(data), &raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
