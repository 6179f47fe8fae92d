package cli

import (
	"encoding/json"
	"fmt"
	"net"
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
	const example = "../../examples/two-node-director.toml"
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"inventory for keepalived", []string{"director", "-i", twoNode}, 78,
			[]string{`cluster.ipvs is "keepalived"`, `hala: hint: set ipvs = "director"`}},
		// The old help's example: keepalived would ask 127.0.0.1:9610 and
		// take the VIPs off every director.
		{"metrics elsewhere than keepalived asks", []string{"director", "-i", example, "--node", "stash1", "--metrics-address", "192.168.1.210:9610"}, 78,
			[]string{"--metrics-address 192.168.1.210:9610: keepalived's tracking script (hala director health) asks 127.0.0.1:9610, the metrics_address of director \"stash1\"",
				"hala: hint: drop --metrics-address; to move the address, set metrics_address in the inventory"}},
		{"metrics off", []string{"director", "-i", example, "--metrics-address", "off"}, 78,
			[]string{"--metrics-address off: keepalived's tracking script (hala director health) asks 127.0.0.1:9610, the cluster.metrics_address"}},
		// Checked before the kernel: on a machine without IPVS the node
		// is still what is wrong.
		{"unknown node", []string{"director", "-i", example, "--node", "stash9"}, 78,
			[]string{`--node "stash9": ../../examples/two-node-director.toml has no [[director]] of that name (known: stash1, stash2)`,
				`hala: hint: set HALA_DIRECTOR_ARGS="--node NAME" in /etc/default/hala-director`}},
		{"log format", []string{"director", "-i", example, "--log-format", "xml"}, 78,
			[]string{`--log-format "xml": want text or json`}},
		{"no inventory", []string{"director"}, 78, []string{"no inventory given", "hala: hint: hala director -i /etc/hala/inventory.toml --node NAME"}},
		{"a typo", []string{"director", "helth"}, 1, []string{`unknown command "helth" for "hala director"`, `did you mean "health"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runHala(t, tc.args...)
			if code != tc.code || stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, stdout, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// With --log-format json a start-up error is one JSON record (a log
// shipper reading the journal sees why the director stopped), and the
// exit status is still the permanent one.
func TestDirectorStartupErrorAsJSON(t *testing.T) {
	code, stdout, stderr := runHala(t, "director", "-i", "../../examples/two-node-director.toml", "--node", "stash9", "--log-format", "json")
	if code != 78 || stdout != "" {
		t.Errorf("exit %d, stdout %q; want 78 and nothing", code, stdout)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(stderr), &rec); err != nil {
		t.Fatalf("stderr is not one JSON record: %v\n%s", err, stderr)
	}
	if rec["level"] != "ERROR" || rec["msg"] != "hala director stopped" || rec["exit"] != float64(78) ||
		!strings.Contains(fmt.Sprint(rec["error"]), `--node "stash9"`) || !strings.Contains(fmt.Sprint(rec["hint"]), "HALA_DIRECTOR_ARGS") {
		t.Errorf("record %v", rec)
	}
}

// A kernel without IPVS exits 69, which the unit's
// RestartPreventExitStatus= lists, with the modprobe hint.
func TestDirectorWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded: the no-IPVS exit cannot be seen here")
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.toml")
	src, err := os.ReadFile("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	// A free port: the listener comes before the kernel.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	ln.Close()
	src = []byte(strings.Replace(string(src), "[cluster]\n", "[cluster]\nmetrics_address = \""+free+"\"\n", 1))
	if err := os.WriteFile(inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Through the binary: hala director runs in hala-director. The old
	// spelling of --state-dir still works, with a warning.
	code, _, stderr := runBinary(t, "director", "-i", inv, "--node", "stash1", "--state", filepath.Join(dir, "owned.json"), "--check-state-dir", dir)
	if code != 69 || !strings.Contains(stderr, "hala: hint: load the IPVS kernel module: modprobe ip_vs") {
		t.Errorf("exit %d, stderr %q; want 69 and the modprobe hint", code, stderr)
	}
	if !strings.Contains(stderr, "hala: warning: --check-state-dir DIR is deprecated: use --state-dir DIR") {
		t.Errorf("--check-state-dir: stderr %q, want the deprecation warning", stderr)
	}
}

func TestDirectorHealthWithoutDirector(t *testing.T) {
	code, stdout, stderr := runHala(t, "director", "health", "--metrics-address", "127.0.0.1:1", "--timeout", "300ms")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "hala-director: no hala director answering on 127.0.0.1:1 (") {
		t.Errorf("exit %d stdout %q stderr %q; want 1 and why", code, stdout, stderr)
	}
	// Accepted but never answered: keepalived's script says so in a line.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr = runHala(t, "director", "health", "--metrics-address", ln.Addr().String(), "--timeout", "50ms")
	if want := "hala-director: no hala director answering on " + ln.Addr().String() + " (timed out after 50ms)\n"; code != 1 || stderr != want {
		t.Errorf("exit %d stderr %q; want 1 and %q", code, stderr, want)
	}
	// -i and --node: the director's own metrics_address from the inventory.
	src, err := os.ReadFile("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(t.TempDir(), "inventory.toml")
	s := strings.Replace(string(src), "address = \"192.168.1.210\"\n", "address = \"192.168.1.210\"\nmetrics_address = \""+ln.Addr().String()+"\"\n", 1)
	if err := os.WriteFile(inv, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runHala(t, "director", "health", "-i", inv, "--node", "stash1", "--timeout", "50ms")
	if !strings.Contains(stderr, "no hala director answering on "+ln.Addr().String()+" (timed out") || code != 1 {
		t.Errorf("-i --node: exit %d stderr %q; want it to ask %s", code, stderr, ln.Addr())
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

// hala check and hala director name the directory of check state alike.
func TestStateDirOneName(t *testing.T) {
	for _, c := range []string{"check", "director"} {
		_, stdout, _ := runHala(t, c, "--help")
		if !strings.Contains(stdout, "--state-dir DIR") || strings.Contains(stdout, "check-state-dir") {
			t.Errorf("hala %s --help:\n%s\nwant --state-dir DIR, and no --check-state-dir", c, stdout)
		}
	}
}
