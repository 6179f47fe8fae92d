package inventory

import (
	"strings"
	"testing"
)

// tcpBGP turns bgpBase's service into a TCP one with the given lines in
// place of its protocol line (38); lines appended after it start at 39.
func tcpBGP(t *testing.T, lines ...string) string {
	t.Helper()
	return bgpEdit(t, `protocol = "udp"`, strings.Join(append([]string{`protocol = "tcp"`}, lines...), "\n"))
}

func TestTCPUnderBGP(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"nat refused", tcpBGP(t, `scheduler = "mh"`, `forwarding = "nat"`),
			[]string{`x.toml:40:1: service[0] ("syslog-udp").forwarding: "nat" with a tcp service under cluster.ha = "bgp": a NAT backend's replies must return through the director holding the connection, but the router spreads a connection's packets over every director; use forwarding = "dr" (backends hold the VIP on lo; their setup.sh does it) or "tun"`}},
		{"default nat and rr refused", tcpBGP(t),
			[]string{
				`x.toml:38:1: service[0] ("syslog-udp").protocol: "tcp" with forwarding "nat" (the default) under cluster.ha = "bgp": a NAT backend's replies must return through the director holding the connection, but the router spreads a connection's packets over every director; use forwarding = "dr" (backends hold the VIP on lo; their setup.sh does it) or "tun"`,
				`x.toml:38:1: service[0] ("syslog-udp").protocol: "tcp" with scheduler "rr" (the default) under cluster.ha = "bgp": when a director dies or joins, the router moves connections to directors that never saw them, which must pick the same backend; only scheduler = "mh" (Maglev hashing) picks it from the flow alone, the same on every director`,
			}},
		{"rr refused", tcpBGP(t, `scheduler = "rr"`, `forwarding = "dr"`),
			[]string{`x.toml:39:1: service[0] ("syslog-udp").scheduler: "rr" with a tcp service under cluster.ha = "bgp": when a director dies or joins, the router moves connections to directors that never saw them, which must pick the same backend; only scheduler = "mh" (Maglev hashing) picks it from the flow alone, the same on every director`}},
		{"remove refused", tcpBGP(t, `scheduler = "mh"`, `forwarding = "dr"`, `on_failure = "remove"`),
			[]string{`x.toml:41:1: service[0] ("syslog-udp").on_failure: "remove" with scheduler "mh" under cluster.ha = "bgp": removing and re-adding a destination reorders the kernel's list, from which mh builds its table, so directors that saw different failures would send the same connection to different backends; use on_failure = "quiesce" (the default for mh: weight 0, the table stays)`}},
		{"persistence refused", tcpBGP(t, `scheduler = "mh"`, `forwarding = "tun"`, `persistence = "60s"`),
			[]string{`x.toml:41:1: service[0] ("syslog-udp").persistence: with a tcp service under cluster.ha = "bgp": each director makes its persistence templates from the connections it sees, so two directors can send one client to two backends; mh with mh_port = false already sends every connection of a client to one backend on every director`}},
		{"load weights refused", tcpBGP(t, `scheduler = "mh"`, `forwarding = "dr"`, `weights = "load"`),
			[]string{`x.toml:41:1: service[0] ("syslog-udp").weights: "load" with scheduler "mh": mh builds its table from the weights, so weights that follow each director's own checks would give every director its own table and move connections between backends; keep weights = "static"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tc.src))
			got := problems(t, err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTCPUnderBGPAccepted(t *testing.T) {
	for _, fwd := range []string{"dr", "tun"} {
		inv, err := Parse("x.toml", []byte(tcpBGP(t, `scheduler = "mh"`, `forwarding = "`+fwd+`"`)))
		if err != nil {
			t.Fatalf("%s: %v", fwd, err)
		}
		s := inv.Services[0]
		if !s.MHPort || !s.MHFallback {
			t.Errorf("%s: mh_port %v, mh_fallback %v; want both true by default", fwd, s.MHPort, s.MHFallback)
		}
		if s.OnFailure != OnFailureQuiesce {
			t.Errorf("%s: on_failure %q; want %q by default for tcp with mh", fwd, s.OnFailure, OnFailureQuiesce)
		}
	}
}

func TestMHKeys(t *testing.T) {
	inv, err := Parse("x.toml", []byte(tcpBGP(t, `scheduler = "mh"`, `forwarding = "dr"`, `mh_port = false`, `mh_fallback = false`)))
	if err != nil {
		t.Fatal(err)
	}
	if s := inv.Services[0]; s.MHPort || s.MHFallback {
		t.Errorf("mh_port %v, mh_fallback %v; want both false as written", s.MHPort, s.MHFallback)
	}
	// On a service that does not use mh, the keys are warned about.
	inv, err = Parse("x.toml", []byte(bgpEdit(t, `port = 5514`, "port = 5514\nmh_port = false")))
	if err != nil {
		t.Fatal(err)
	}
	want := `x.toml:41:1: service[0] ("syslog-udp").mh_port: is read only with scheduler = "mh" (this service's is "rr")`
	if len(inv.Warnings) != 1 || inv.Warnings[0].String() != want {
		t.Errorf("warnings: %v\nwant: %s", inv.Warnings, want)
	}
}
