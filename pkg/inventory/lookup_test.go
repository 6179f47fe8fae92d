package inventory_test

import (
	"slices"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
)

// Each director is master of the VIPs that name it, and of those spread to
// it when master is left out; a Logstash host or an unknown name of none.
func TestVIPsOf(t *testing.T) {
	inv, err := inventory.Load("../../examples/active-active.toml")
	if err != nil {
		t.Fatal(err)
	}
	names := func(node string) []string {
		var out []string
		for _, v := range inv.VIPsOf(node) {
			out = append(out, v.Name)
		}
		return out
	}
	for node, want := range map[string][]string{"lb1": {"logs-a"}, "lb2": {"logs-b"}, "lb3": nil, "ls1": nil, "nosuch": nil} {
		if got := names(node); !slices.Equal(got, want) {
			t.Errorf("VIPsOf(%s) = %v, want %v", node, got, want)
		}
	}

	spread, err := inventory.Parse("spread.toml", []byte(`
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

[[vip]]
name = "a"
address = "10.0.0.100/24"
router_id = 1

[[vip]]
name = "b"
address = "10.0.0.101/24"
router_id = 2

[[vip]]
name = "c"
address = "10.0.0.102/24"
router_id = 3

[[service]]
name = "s"
vip = "a"
port = 5514
protocol = "udp"
input_id = "udp-5514"
`))
	if err != nil {
		t.Fatal(err)
	}
	inv = spread
	if got := names("d1"); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("spread: VIPsOf(d1) = %v, want [a c]", got)
	}
	if got := names("d2"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("spread: VIPsOf(d2) = %v, want [b]", got)
	}
}
