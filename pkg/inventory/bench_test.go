package inventory

import (
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

// ipvsBenchInventory is the inventory scripts/bench-ipvs applies: one
// director, 10 Logstash hosts, 1,000 UDP services on one VIP.
func ipvsBenchInventory() []byte {
	return []byte(inventorytest.Synthetic(10, 1000, inventorytest.Keepalived))
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
