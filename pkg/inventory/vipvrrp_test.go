package inventory

import (
	"strings"
	"testing"
	"time"
)

// A VIP's own advert_interval and vrrp_auth_pass (hala import writes them
// when keepalived.conf's instances differ) override the cluster's; an
// explicit vrrp_auth_pass = "" means no authentication; each is validated
// as the cluster's key is, under the VIP's own key.
func TestVIPVRRPSettings(t *testing.T) {
	base := `[cluster]
name = "c"
interface = "eth0"
vrrp_auth_pass = "secret1"
[[director]]
name = "a"
address = "10.0.0.1"
[[director]]
name = "b"
address = "10.0.0.2"
[[logstash]]
name = "l"
address = "10.0.0.11"
[[service]]
name = "s"
vip = "v1"
port = 514
protocol = "udp"
input_id = "udp-514"
[[vip]]
name = "v1"
address = "10.0.0.100/24"
router_id = 1
[[vip]]
name = "v2"
address = "10.0.0.101/24"
router_id = 2
`
	inv, err := Parse("x.toml", []byte(base+"vrrp_auth_pass = \"\"\n[[vip]]\nname = \"v3\"\naddress = \"10.0.0.102/24\"\nrouter_id = 3\nvrrp_auth_pass = \"secret3\"\nadvert_interval = \"3s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := []struct {
		pass   string
		advert time.Duration
	}{{inv.VIPs[0].VRRPAuthPass, inv.VIPs[0].AdvertInterval.Duration}, {inv.VIPs[1].VRRPAuthPass, inv.VIPs[1].AdvertInterval.Duration}, {inv.VIPs[2].VRRPAuthPass, inv.VIPs[2].AdvertInterval.Duration}}
	if got[0].pass != "secret1" || got[0].advert != time.Second || got[1].pass != "" || got[1].advert != time.Second || got[2].pass != "secret3" || got[2].advert != 3*time.Second {
		t.Errorf("effective VIP settings %+v", got)
	}

	for _, tc := range []struct{ add, want string }{
		{"vrrp_auth_pass = \"toolongpass\"\n", `x.toml:28:1: vip[1] ("v2").vrrp_auth_pass: is 11 characters`},
		{"advert_interval = \"500ms\"\n", `x.toml:28:1: vip[1] ("v2").advert_interval: password set but advert_interval 500ms is not whole seconds`},
		{"advert_interval = \"300s\"\n", `vip[1] ("v2").advert_interval: 5m0s is outside keepalived's range`},
		{"interface = \"eth0 x\"\n", `vip[1] ("v2").interface: "eth0 x" is not a valid interface name`},
	} {
		_, err := Parse("x.toml", []byte(base+tc.add))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.add, err, tc.want)
		}
	}
	// Without a password a sub-second advert is fine (VRRP version 3).
	if _, err := Parse("x.toml", []byte(base+"vrrp_auth_pass = \"\"\nadvert_interval = \"500ms\"\n")); err != nil {
		t.Errorf("no password, 500ms: %v", err)
	}
}

// A VIP's password is a secret as the cluster's is: an unquoted one is
// reported by type, and a syntax error on its line never shows it.
func TestVIPAuthPassNotShown(t *testing.T) {
	base := "[cluster]\nname = \"c\"\n[[vip]]\nname = \"v\"\n"
	for _, line := range []string{"vrrp_auth_pass = 12345678\n", "vrrp_auth_pass = \"s3cr3t\n"} {
		_, err := Parse("x.toml", []byte(base+line))
		if err == nil || strings.Contains(err.Error(), "12345678") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: error %v shows the password", line, err)
		}
	}
}

// A VIP's own interface wins over the director's, which wins over the
// cluster's: render, hala vip and hala status all ask InterfaceOf.
func TestInterfaceOf(t *testing.T) {
	inv := &Inventory{Cluster: Cluster{Interface: "eth0"}}
	for _, tc := range []struct{ vip, dir, want string }{{"", "", "eth0"}, {"", "bond0", "bond0"}, {"eth1", "bond0", "eth1"}} {
		if got := inv.InterfaceOf(VIP{Interface: tc.vip}, Director{Interface: tc.dir}); got != tc.want {
			t.Errorf("vip %q, director %q: %q, want %q", tc.vip, tc.dir, got, tc.want)
		}
	}
}

// vip.vrrp_version is 2 or 3 and must fit the VIP's advert interval,
// family and password.
func TestVIPVRRPVersion(t *testing.T) {
	base := "[cluster]\nname = \"c\"\ninterface = \"eth0\"\n[[director]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[logstash]]\nname = \"l\"\naddress = \"10.0.0.11\"\n[[service]]\nname = \"s\"\nvip = \"v\"\nport = 514\nprotocol = \"udp\"\ninput_id = \"i\"\n[[vip]]\nname = \"v\"\naddress = \"10.0.0.100/24\"\nrouter_id = 1\n"
	for _, tc := range []struct{ add, want string }{
		{"vrrp_version = 3\n", ""},
		{"vrrp_version = 4\n", `vip[0] ("v").vrrp_version: 4 is not a VRRP version keepalived speaks (2 or 3)`},
		{"vrrp_version = 3\nvrrp_auth_pass = \"x\"\n", `vip[0] ("v").vrrp_version: 3 has no authentication`},
		{"vrrp_version = 2\nadvert_interval = \"500ms\"\n", `x.toml:20:1: vip[0] ("v").vrrp_version: 2 cannot advertise every 500ms`},
		// The e2e table's fast B8 row: keepalived's advert_int 0.1.
		{"vrrp_version = 3\nadvert_interval = \"100ms\"\n", ""},
		{"vrrp_version = 2\nadvert_interval = \"100ms\"\n", `x.toml:20:1: vip[0] ("v").vrrp_version: 2 cannot advertise every 100ms: below whole seconds needs version 3`},
	} {
		_, err := Parse("x.toml", []byte(base+tc.add))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: error %v, want %q", tc.add, err, tc.want)
		}
	}
}
