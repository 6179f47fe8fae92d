// Package inventorytest builds inventories for hala's tests and benchmarks.
// It returns TOML text and imports no hala package, so pkg/inventory's own
// tests can use it too.
package inventorytest

import (
	"fmt"
	"strings"
)

// Mode says who programs IPVS in a Synthetic inventory.
type Mode int

const (
	// Keepalived is the default cluster (VRRP password, a firewall
	// section): the inventory scripts/bench-ipvs applies.
	Keepalived Mode = iota
	// Director sets ipvs = "director": hala-director owns the table.
	Director
)

// Synthetic is the benchmark inventory: one director, backends Logstash
// hosts (ls1... at 10.1.0.1...), one VIP and services UDP services
// (one_packet, ports and input ids 20000...), every host behind every
// service, so the table has services + services×backends rules.
func Synthetic(backends, services int, mode Mode) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\n")
	if mode == Director {
		b.WriteString("ipvs = \"director\"\n\n")
	} else {
		b.WriteString("vrrp_auth_pass = \"bench123\"\n\n")
	}
	b.WriteString("[[director]]\nname = \"bench\"\naddress = \"10.0.0.1\"\n\n")
	for d := 1; d <= backends; d++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"ls%d\"\naddress = \"10.1.0.%d\"\n\n", d, d)
	}
	b.WriteString("[[vip]]\nname = \"vip\"\naddress = \"10.0.0.100/24\"\nrouter_id = 51\n\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&b, "[[service]]\nname = \"svc%d\"\nvip = \"vip\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-%d\"\none_packet = true\n\n",
			s, 20000+s, 20000+s)
	}
	if mode != Director {
		b.WriteString("[firewall]\nlog_sources = [\"10.0.0.0/24\"]\n")
	}
	return b.String()
}
