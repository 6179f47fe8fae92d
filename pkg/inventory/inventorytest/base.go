package inventorytest

import (
	"fmt"
	"strings"
)

// Base is a small valid cluster: directors d1 and d2, Logstash hosts l1
// (10.0.0.11) and l2 (10.0.0.12), VIP "logs" (10.0.0.100/24, router_id 1)
// and one UDP service "syslog-udp" on port 5514 (input udp-5514,
// one_packet). Tests vary it with Edit.
const Base = `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"

[[director]]
name = "d1"
address = "10.0.0.1"

[[director]]
name = "d2"
address = "10.0.0.2"

[[logstash]]
name = "l1"
address = "10.0.0.11"

[[logstash]]
name = "l2"
address = "10.0.0.12"

[[vip]]
name = "logs"
address = "10.0.0.100/24"
router_id = 1

[[service]]
name = "syslog-udp"
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"
one_packet = true

[firewall]
log_sources = ["10.0.0.0/24"]
`

// TwoNode is examples/two-node.toml without its comments, the seed's
// setup: two hosts, stash1 (192.168.1.210) and stash2 (192.168.1.220),
// each a director and a Logstash host, VIP "logs" (192.168.1.230/24) and
// one UDP service "syslog-udp" on port 5514 (rr, NAT, one_packet). Its
// first line is [cluster]: tests quote its line numbers.
const TwoNode = `[cluster]
name = "stash"
interface = "ens33"
vrrp_auth_pass = "secret42"

[[director]]
name = "stash1"
address = "192.168.1.210"

[[director]]
name = "stash2"
address = "192.168.1.220"

[[logstash]]
name = "stash1"
address = "192.168.1.210"

[[logstash]]
name = "stash2"
address = "192.168.1.220"

[[vip]]
name = "logs"
address = "192.168.1.230/24"
router_id = 1

[[service]]
name = "syslog-udp"
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"
scheduler = "rr"
forwarding = "nat"
one_packet = true
delay_loop = "5s"

[firewall]
zone = "public"
log_sources = ["192.168.1.111/32"]
`

// DirectorBase is Base for hala director (cluster.ipvs = "director"):
// one director, d1, and neither one_packet nor a firewall section.
var DirectorBase = Edit(Base,
	`vrrp_auth_pass = "secret42"`, `ipvs = "director"`,
	"[[director]]\nname = \"d2\"\naddress = \"10.0.0.2\"\n\n", "",
	"one_packet = true\n\n[firewall]\nlog_sources = [\"10.0.0.0/24\"]\n", "")

// Edit returns inv with each old string of the old, new pairs replaced
// once by its new. It panics when an old string is missing, so a fixture
// cannot silently stop saying what its test means it to.
func Edit(inv string, oldNew ...string) string {
	if len(oldNew)%2 != 0 {
		panic("inventorytest.Edit: odd number of old, new strings")
	}
	for i := 0; i < len(oldNew); i += 2 {
		old, repl := oldNew[i], oldNew[i+1]
		if !strings.Contains(inv, old) {
			panic(fmt.Sprintf("inventorytest.Edit: %q is not in the inventory", old))
		}
		inv = strings.Replace(inv, old, repl, 1)
	}
	return inv
}

// BGP is a small valid active-active cluster (cluster.ha = "bgp"):
// directors d1 and d2 (ASN 65001) peering with routers 10.0.0.254 and
// 10.0.0.253 (ASN 65000), Logstash host l1 (10.0.0.11), VIP "logs"
// (10.99.0.10/32) and one UDP service "syslog-udp" on port 5514.
const BGP = `
[cluster]
name = "t"
interface = "eth0"
ipvs = "director"
ha = "bgp"

[bgp]
asn = 65001

[[bgp.peer]]
address = "10.0.0.254"
asn = 65000

[[bgp.peer]]
address = "10.0.0.253"
asn = 65000

[[director]]
name = "d1"
address = "10.0.0.1"

[[director]]
name = "d2"
address = "10.0.0.2"

[[logstash]]
name = "l1"
address = "10.0.0.11"

[[vip]]
name = "logs"
address = "10.99.0.10/32"

[[service]]
name = "syslog-udp"
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"

[firewall]
log_sources = ["10.0.0.0/24"]
`
