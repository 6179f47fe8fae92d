package inventory

import (
	"strings"
	"testing"
	"time"
)

// bgpBase is a minimal ha = "bgp" inventory (examples/bgp.toml has the
// commented one). Cases name lines by number: 5 cluster.ha, 8 bgp.asn,
// 13-15 the second [[bgp.peer]], 21-23 director lb2, 38 the service's
// protocol; lines appended by a case start at 42.
const bgpBase = `[cluster]
name = "stash"
interface = "ens33"
ipvs = "director"
ha = "bgp"

[bgp]
asn = 65001
[[bgp.peer]]
address = "192.168.1.1"
asn = 65000

[[bgp.peer]]
address = "192.168.1.2"
asn = 65000

[[director]]
name = "lb1"
address = "192.168.1.211"

[[director]]
name = "lb2"
address = "192.168.1.212"

[[logstash]]
name = "stash1"
address = "192.168.1.221"
[firewall]
log_sources = ["192.168.0.0/16"]

[[vip]]
name = "logs"
address = "10.99.0.10/32"

[[service]]
name = "syslog-udp"
vip = "logs"
protocol = "udp"
input_id = "udp-5514"
port = 5514

`

// bgpEdit is edit of bgpBase.
func bgpEdit(t *testing.T, pairs ...string) string {
	t.Helper()
	return editLines(t, bgpBase, pairs...)
}

func TestBGPDefaults(t *testing.T) {
	inv, err := Parse("x.toml", []byte(bgpBase))
	if err != nil {
		t.Fatal(err)
	}
	b := inv.BGP
	if !inv.UsesBGP() || b.HoldTime.Duration != 9*time.Second || b.Keepalive.Duration != 3*time.Second ||
		!b.BFD || b.BFDInterval.Duration != 300*time.Millisecond || b.BFDMultiplier != 3 ||
		b.WithdrawDelay.Duration != 2*time.Second || b.GracefulRestart {
		t.Errorf("defaults: %+v", b)
	}
	if inv.Services[0].MinHealthy != 1 {
		t.Errorf("min_healthy = %d, want 1", inv.Services[0].MinHealthy)
	}
	if id := inv.DirectorRouterID(inv.Directors[1]); id.String() != "192.168.1.212" {
		t.Errorf("router id %s", id)
	}
	if len(inv.Warnings) > 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}

	inv, err = Parse("x.toml", []byte(bgpEdit(t, `asn = 65001`, "asn = 65001\nhold_time = \"30s\"\nbfd = false", `address = "192.168.1.212"`, "address = \"192.168.1.212\"\nasn = 4200000001")))
	if err != nil {
		t.Fatal(err)
	}
	if inv.BGP.Keepalive.Duration != 10*time.Second || inv.BGP.BFD {
		t.Errorf("keepalive %v bfd %v", inv.BGP.Keepalive, inv.BGP.BFD)
	}
	if inv.DirectorASN(inv.Directors[0]) != 65001 || inv.DirectorASN(inv.Directors[1]) != 4200000001 {
		t.Errorf("asns %d %d", inv.DirectorASN(inv.Directors[0]), inv.DirectorASN(inv.Directors[1]))
	}

	vrrp, err := Parse("x.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if vrrp.Cluster.HA != HAVRRP || vrrp.UsesBGP() {
		t.Errorf("default ha = %q", vrrp.Cluster.HA)
	}
}

func TestBGPInvalid(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  []string
	}{
		{"unknown ha", []string{`ha = "bgp"`, `ha = "ospf"`},
			[]string{`x.toml:5:1: cluster.ha: "ospf": want "vrrp" (keepalived moves each VIP between directors) or "bgp" (every director announces the VIPs to the routers over BGP)`}},
		{"bgp without director", []string{`ipvs = "director"`, `ipvs = "keepalived"`},
			[]string{`x.toml:5:1: cluster.ha: "bgp" needs cluster.ipvs = "director": hala director runs the BGP speaker and decides when to announce`}},
		{"reserved asn", []string{`asn = 65001`, `asn = 23456`},
			[]string{`x.toml:8:1: bgp.asn: 23456 is not a usable AS number: ` + asnHint}},
		{"asn too large", []string{`asn = 65001`, `asn = 4294967296`},
			[]string{`x.toml:8:1: bgp.asn: 4294967296 is out of range 0-4294967295`}},
		{"no asn", []string{`asn = 65001`, ``},
			[]string{
				`x.toml:17:1: director[0] ("lb1").asn: no AS number: set bgp.asn (every director) or this director's asn`,
				`x.toml:21:1: director[1] ("lb2").asn: no AS number: set bgp.asn (every director) or this director's asn`,
			}},
		{"peer family", []string{`address = "192.168.1.2"`, `address = "2001:db8::1"`},
			[]string{`x.toml:14:1: bgp.peer[1].address: 2001:db8::1 is IPv6 but the directors are IPv4: a session runs between addresses of one family (the VIP's next hop is the director's address)`}},
		{"peer is a director", []string{`address = "192.168.1.2"`, `address = "192.168.1.212"`},
			[]string{`x.toml:14:1: bgp.peer[1].address: 192.168.1.212 is director[1] ("lb2")'s address: a peer is a router, not a director (directors do not peer with each other)`}},
		{"duplicate peer", []string{`address = "192.168.1.2"`, `address = "192.168.1.1"`},
			[]string{`x.toml:14:1: bgp.peer[1].address: 192.168.1.1 is also bgp.peer[0]'s address`}},
		{"relative password file", []string{`address = "192.168.1.2"`, `address = "192.168.1.2"` + "\npassword_file = \"pw\""},
			[]string{`x.toml:15:1: bgp.peer[1].password_file: "pw" must be an absolute, clean path`}},
		{"hold time short", []string{`asn = 65001`, "asn = 65001\nhold_time = \"2s\""},
			[]string{`x.toml:9:1: bgp.hold_time: 2s is outside 3s-65535s (RFC 4271)`}},
		{"keepalive not below hold", []string{`asn = 65001`, "asn = 65001\nkeepalive = \"9s\""},
			[]string{`x.toml:9:1: bgp.keepalive: 9s is not below hold_time 9s: the session would expire between keepalives`}},
		{"bfd interval short", []string{`asn = 65001`, "asn = 65001\nbfd_interval = \"10ms\""},
			[]string{`x.toml:9:1: bgp.bfd_interval: 10ms is outside 50ms-1m`}},
		{"bfd multiplier", []string{`asn = 65001`, "asn = 65001\nbfd_multiplier = 1"},
			[]string{`x.toml:9:1: bgp.bfd_multiplier: 1 is out of range 2-255`}},
		{"shared router id", []string{`asn = 65001`, "asn = 65001\nrouter_id = \"1.1.1.1\""},
			[]string{`x.toml:9:1: bgp.router_id: 1.1.1.1 would be every director's router id; each needs its own: set router_id per [[director]] or leave it out (default: the director's IPv4 address)`}},
		{"duplicate router id", []string{`address = "192.168.1.212"`, "address = \"192.168.1.212\"\nrouter_id = \"192.168.1.211\""},
			[]string{`x.toml:24:1: director[1] ("lb2").router_id: router id 192.168.1.211 is also director[0] ("lb1")'s: BGP speakers need distinct router ids`}},
		{"min_healthy above backends", []string{"", "min_healthy = 2"},
			[]string{`x.toml:42:1: service[0] ("syslog-udp").min_healthy: 2 is more than the service's 1 backends: no director would ever announce the VIP`}},
		{"min_healthy zero", []string{"", "min_healthy = 0"},
			[]string{`x.toml:42:1: service[0] ("syslog-udp").min_healthy: 0: at least 1 healthy backend must be seen before a director attracts this VIP's traffic`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(bgpEdit(t, tc.pairs...)))
			got := problems(t, err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestBGPNoPeers(t *testing.T) {
	src := strings.Replace(bgpBase, "[[bgp.peer]]\naddress = \"192.168.1.1\"\nasn = 65000\n\n[[bgp.peer]]\naddress = \"192.168.1.2\"\nasn = 65000\n", "", 1)
	_, err := Parse("x.toml", []byte(src))
	got := problems(t, err)
	if len(got) != 1 || !strings.Contains(got[0], `bgp: at least one [[bgp.peer]] is required`) {
		t.Errorf("problems: %q", got)
	}
}

func TestBGPKeysWarnUnderVRRP(t *testing.T) {
	inv, err := Parse("x.toml", []byte(edit(t, "", "[bgp]\nasn = 65001")))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0].String(), `bgp: is read only with cluster.ha = "bgp"`) {
		t.Errorf("warnings: %v", inv.Warnings)
	}
}

func TestBGPPeerASNRequired(t *testing.T) {
	src := strings.Replace(bgpBase, "address = \"192.168.1.2\"\nasn = 65000\n", "address = \"192.168.1.2\"\n", 1)
	_, err := Parse("x.toml", []byte(src))
	want := `x.toml:13:1: bgp.peer[1].asn: required: the router's AS number`
	if got := problems(t, err); len(got) != 1 || got[0] != want {
		t.Errorf("problems: %q, want %q", got, want)
	}
}
