package agent

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
)

const inputsTOML = `
[cluster]
name = "stash"
interface = "eth0"
vrrp_auth_pass = "secret42"
ipvs = "director"

[[director]]
name = "d1"
address = "192.168.1.210"

[[logstash]]
name = "stash1"
address = "192.168.1.221"

[[logstash]]
name = "stash2"
address = "192.168.1.222"

[[vip]]
name = "logs"
address = "192.168.1.230/24"
router_id = 1

[[service]]
name = "syslog-udp"
vip = "logs"
port = 514
backend_port = 5514
protocol = "udp"
input_id = "udp-5514"


[[service]]
name = "beats-dr"
vip = "logs"
port = 5044
protocol = "tcp"
input_id = "beats"
forwarding = "dr"
backends = ["stash2"]

[agent]
port = 9611
`

func TestInputs(t *testing.T) {
	inv, err := inventory.Parse("x.toml", []byte(inputsTOML))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Inputs(inv, "stash2")
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{
		{Proto: UDP, Addr: netip.MustParseAddr("192.168.1.222"), Port: 5514, Services: []string{"syslog-udp"}},
		// Direct routing delivers the VIP: the input binds it.
		{Proto: TCP, Addr: netip.MustParseAddr("192.168.1.230"), Port: 5044, Services: []string{"beats-dr"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].Proto != want[i].Proto || got[i].Addr != want[i].Addr || got[i].Port != want[i].Port || !slices.Equal(got[i].Services, want[i].Services) {
			t.Errorf("input %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := got[0].String(); s != "udp/5514" {
		t.Errorf("String() = %q", s)
	}
	one, err := Inputs(inv, "stash1")
	if err != nil || len(one) != 1 {
		t.Errorf("stash1: %+v, %v; want the UDP input only", one, err)
	}
	if _, err := Inputs(inv, "d1"); err == nil || !strings.Contains(err.Error(), `x.toml: no [[logstash]] host named "d1"`) {
		t.Errorf("a director's name: err = %v", err)
	}
}
