package inventory

import (
	"strings"
	"testing"
)

// metrics_address is where hala director listens and where keepalived's
// tracking script asks; every address that would take the VIPs off the
// directors is refused.
func TestMetricsAddress(t *testing.T) {
	director := func(t *testing.T, pairs ...string) string {
		return edit(t, append([]string{`vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"` + "\n" + `ipvs = "director"`}, pairs...)...)
	}
	t.Run("default on loopback for every director", func(t *testing.T) {
		inv, err := Parse("x.toml", []byte(director(t)))
		if err != nil {
			t.Fatal(err)
		}
		for _, node := range []string{"", "stash1", "stash2", "unknown"} {
			if got := inv.MetricsAddress(node); got != "127.0.0.1:9610" {
				t.Errorf("MetricsAddress(%q) = %q, want 127.0.0.1:9610", node, got)
			}
		}
	})
	t.Run("a director's own address overrides the cluster's", func(t *testing.T) {
		inv, err := Parse("x.toml", []byte(director(t,
			`address = "192.168.1.210"`+"\n\n[[director]]", `address = "192.168.1.210"`+"\n"+`metrics_address = "192.168.1.210:9610"`+"\n\n[[director]]",
			`vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"`+"\n"+`metrics_address = "127.0.0.2:9700"`)))
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Warnings) > 0 {
			t.Errorf("warnings: %v", inv.Warnings)
		}
		for node, want := range map[string]string{"stash1": "192.168.1.210:9610", "stash2": "127.0.0.2:9700", "": "127.0.0.2:9700"} {
			if got := inv.MetricsAddress(node); got != want {
				t.Errorf("MetricsAddress(%q) = %q, want %q", node, got, want)
			}
		}
	})
	bad := []struct {
		name  string
		pairs []string
		want  string
	}{
		{"cluster's not on loopback", []string{`interface = "ens33"`, `interface = "ens33"` + "\n" + `metrics_address = "192.168.1.210:9610"`},
			`x.toml:4:1: cluster.metrics_address: "192.168.1.210:9610" is not on loopback: every director would try to listen on it and all but one fail; set metrics_address under each [[director]] to its own address instead`},
		{"every interface", []string{`interface = "ens33"`, `interface = "ens33"` + "\n" + `metrics_address = "0.0.0.0:9610"`},
			`x.toml:4:1: cluster.metrics_address: "0.0.0.0:9610" listens on every interface: the metrics say which backends are down and why; give loopback or one address of the director`},
		{"no port", []string{`interface = "ens33"`, `interface = "ens33"` + "\n" + `metrics_address = "127.0.0.1"`},
			`x.toml:4:1: cluster.metrics_address: "127.0.0.1" is not IP:PORT (e.g. "127.0.0.1:9610")`},
		{"on a VIP", []string{`address = "192.168.1.210"` + "\n\n[[director]]", `address = "192.168.1.210"` + "\n" + `metrics_address = "192.168.1.230:9610"` + "\n\n[[director]]"},
			`x.toml:10:1: director[0] ("stash1").metrics_address: "192.168.1.230:9610" is on VIP "logs", which moves between directors: keepalived's tracking script on the backup would find no director there and give up its VIPs too; use loopback or the director's own address`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(director(t, tc.pairs...)))
			if got := strings.Join(problems(t, err), "\n"); got != tc.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	t.Run("another director's address is a warning", func(t *testing.T) {
		inv, err := Parse("x.toml", []byte(director(t,
			`address = "192.168.1.210"`+"\n\n[[director]]", `address = "192.168.1.210"`+"\n"+`metrics_address = "192.168.1.220:9610"`+"\n\n[[director]]")))
		if err != nil {
			t.Fatal(err)
		}
		want := `x.toml:10:1: director[0] ("stash1").metrics_address: "192.168.1.220:9610" is neither loopback nor this director's address 192.168.1.210: hala director must be able to listen on it on "stash1"`
		if len(inv.Warnings) != 1 || inv.Warnings[0].String() != want {
			t.Errorf("warnings %v, want %s", inv.Warnings, want)
		}
	})
}
