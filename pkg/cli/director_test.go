package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// TestDirectorRefusesToStart: the checks that come before the kernel is
// touched, each with its hint.
func TestDirectorRefusesToStart(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"inventory for keepalived", []string{"director", "-i", twoNode},
			[]string{`cluster.ipvs is "keepalived"`, `hala: hint: set ipvs = "director"`}},
		// The old help's example: keepalived would ask 127.0.0.1:9610 and
		// take the VIPs off every director.
		{"metrics elsewhere than keepalived asks", []string{"director", "-i", "../../examples/two-node-director.toml", "--node", "stash1", "--metrics-address", "192.168.1.210:9610"},
			[]string{"--metrics-address 192.168.1.210:9610: keepalived's tracking script (hala director health) asks 127.0.0.1:9610, the metrics_address of director \"stash1\"",
				"hala: hint: drop --metrics-address; to move the address, set metrics_address in the inventory"}},
		{"metrics off", []string{"director", "-i", "../../examples/two-node-director.toml", "--metrics-address", "off"},
			[]string{"--metrics-address off: keepalived's tracking script (hala director health) asks 127.0.0.1:9610, the cluster.metrics_address"}},
		{"log format", []string{"director", "-i", "../../examples/two-node-director.toml", "--log-format", "xml"},
			[]string{`--log-format "xml": want text or json`}},
		{"no inventory", []string{"director"}, []string{`required flag(s) "inventory" not set`}},
		{"a typo", []string{"director", "helth"}, []string{`unknown command "helth" for "hala director"`, `did you mean "health"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runHala(t, tc.args...)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

func TestDirectorHealthWithoutDirector(t *testing.T) {
	code, stdout, stderr := runHala(t, "director", "health", "--metrics-address", "127.0.0.1:1", "--timeout", "300ms")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "hala-director: hala director not answering on 127.0.0.1:1") {
		t.Errorf("exit %d stdout %q stderr %q; want 1 and why", code, stdout, stderr)
	}
}

// TestDirectorListensWhereKeepalivedAsks: the address hala director serves
// /healthz on and the one the rendered keepalived.conf's tracking script
// asks come from the same inventory key, for a director with its own
// metrics_address and for one taking the cluster's.
func TestDirectorListensWhereKeepalivedAsks(t *testing.T) {
	src, err := os.ReadFile("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "address = \"192.168.1.210\"\n", "address = \"192.168.1.210\"\nmetrics_address = \"192.168.1.210:9611\"\n", 1)
	if s == string(src) {
		t.Fatal("example has no stash1 address line to edit")
	}
	file := filepath.Join(t.TempDir(), "inventory.toml")
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	script := regexp.MustCompile(`script "\S+ director health --metrics-address (\S+) `)
	for node, want := range map[string]string{"stash1": "192.168.1.210:9611", "stash2": "127.0.0.1:9610"} {
		files, err := render.Node(inv, node)
		if err != nil {
			t.Fatal(err)
		}
		var asked string
		for _, f := range files {
			if f.Path == node+"/"+render.KeepalivedPath {
				if m := script.FindSubmatch(f.Data); m != nil {
					asked = string(m[1])
				}
			}
		}
		served, err := metricsAddress(inv, &directorFlags{inventory: file, node: node})
		if err != nil {
			t.Fatal(err)
		}
		if asked != want || served != want {
			t.Errorf("%s: keepalived asks %q, hala director serves on %q; want both %q", node, asked, served, want)
		}
	}
}

// TestDirectorExamplesKeepTheVIP: no example in hala director's help names
// a metrics address other than the one keepalived asks by default; the
// old one (192.168.1.210:9610) made keepalived give up every VIP.
func TestDirectorExamplesKeepTheVIP(t *testing.T) {
	for _, args := range [][]string{{"director", "--help"}, {"director", "health", "--help"}} {
		code, stdout, _ := runHala(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, m := range regexp.MustCompile(`--metrics-address (\[?[0-9a-fA-F.:]+\]?:[0-9]+)`).FindAllStringSubmatch(stdout, -1) {
			if m[1] != inventory.DefaultMetricsAddress {
				t.Errorf("%v shows --metrics-address %s; keepalived asks %s unless the inventory says otherwise", args, m[1], inventory.DefaultMetricsAddress)
			}
		}
	}
}
