package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runHala(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

const twoNode = "../../examples/two-node.toml"

// TestRenderWritesReportsAndChecks follows an operator: the first render
// lists every file written for stash1 and stash2, the second writes
// nothing, --check passes, a hand edit makes --check exit 1 naming the file
// without touching it, and render restores it.
func TestRenderWritesReportsAndChecks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-o", out)
	if code != 0 {
		t.Fatalf("render: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"stash1/keepalived.conf", "stash2/keepalived.conf", "stash1/sysctl.d/90-hala.conf", "stash1/firewalld.sh", "stash2/logstash/conf.d/hala-inputs.conf"} {
		if !strings.Contains(stdout, "wrote "+filepath.Join(out, f)+"\n") {
			t.Errorf("render output lacks %q:\n%s", "wrote "+filepath.Join(out, f), stdout)
		}
	}
	if !strings.HasSuffix(stdout, "12 written, 0 unchanged\n") {
		t.Errorf("render summary:\n%s", stdout)
	}

	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-o", out)
	if code != 0 || stdout != "0 written, 12 unchanged\n" {
		t.Errorf("second render: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-o", out, "--check")
	if code != 0 || !strings.Contains(stdout, "12 files up to date") {
		t.Errorf("--check on a fresh render: exit %d, %q", code, stdout)
	}

	conf := filepath.Join(out, "stash2", "keepalived.conf")
	edited := []byte("# hand edit\n")
	if err := os.WriteFile(conf, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-o", out, "--check")
	if code != 1 || stdout != "would write "+conf+"\n1 of 12 files would change\n" {
		t.Errorf("--check after an edit: exit %d, %q", code, stdout)
	}
	if data, _ := os.ReadFile(conf); !bytes.Equal(data, edited) {
		t.Errorf("--check wrote %s", conf)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-o", out)
	if code != 0 || stdout != "wrote "+conf+"\n1 written, 11 unchanged\n" {
		t.Errorf("render after an edit: exit %d, %q", code, stdout)
	}
}

// TestRenderRefusesInvalidInventory: nothing is written, every problem is
// printed with its line, and the exit status is 1.
func TestRenderRefusesInvalidInventory(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	data := `[cluster]
name = "stash"
interface = "ens33"

[[director]]
name = "stash1"
address = "192.168.1.210"

[[logstash]]
name = "stash1"
address = "192.168.1.210"

[[vip]]
name = "logs"
address = "192.168.1.230/24"
router_id = 300

[[service]]
name = "syslog-udp"
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"
bogus_key = 1
`
	if err := os.WriteFile(bad, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runHala(t, "render", "-i", bad, "-o", out)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"hala: error: " + bad + ": 2 problems", bad + ":16:", "router_id", bad + ":24:", "bogus_key", "hala: hint: nothing was written"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory created for an invalid inventory: %v", err)
	}
}

func TestRenderToStdout(t *testing.T) {
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-o", "-", "--node", "stash2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"==> stash2/keepalived.conf (0600) <==\n", "router_id stash2\n", "==> stash2/setup.sh (0755) <==\n#!/bin/sh\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if strings.Contains(stdout, "stash1/") {
		t.Error("stdout holds stash1's files")
	}

	code, _, stderr = runHala(t, "render", "-i", twoNode, "-o", "-")
	if code != 1 || !strings.Contains(stderr, "hala: hint: add --node NAME") {
		t.Errorf("-o - without --node: exit %d, %q", code, stderr)
	}
	code, _, stderr = runHala(t, "render", "-i", twoNode, "-o", "-", "--node", "nope")
	if code != 1 || !strings.Contains(stderr, `no host "nope"`) {
		t.Errorf("unknown node: exit %d, %q", code, stderr)
	}
}

// TestRenderPrintsWarnings: a valid inventory with a warning renders, and
// the warning reaches stderr as "hala: warning: ...".
func TestRenderPrintsWarnings(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "warn.toml")
	data := `[cluster]
name = "stash"
interface = "ens33"

[[director]]
name = "stash1"
address = "192.168.1.210"

[[logstash]]
name = "stash1"
address = "192.168.1.210"

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
scheduler = "wlc"
one_packet = true
`
	if err := os.WriteFile(inv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "render", "-i", inv, "-o", filepath.Join(dir, "out"))
	if code != 0 || !strings.Contains(stdout, "wrote ") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "hala: warning: "+inv+":") || !strings.Contains(stderr, "one_packet") {
		t.Errorf("stderr lacks the one_packet warning:\n%s", stderr)
	}
}

// TestRenderMissingInventory: a file that cannot be read is reported as
// such, without the hint that validate would list "the same problems"
// (there are none to list), and nothing is written.
func TestRenderMissingInventory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runHala(t, "render", "-i", missing, "-o", out)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "hala: error: ") || !strings.Contains(stderr, missing) {
		t.Errorf("stderr does not name the missing file:\n%s", stderr)
	}
	if strings.Contains(stderr, "hala validate") || strings.Contains(stderr, "same problems") {
		t.Errorf("stderr sends the user to validate for a missing file:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory created for a missing inventory: %v", err)
	}
}
