package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
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
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-d", out)
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

	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-d", out)
	if code != 0 || stdout != "0 written, 12 unchanged\n" {
		t.Errorf("second render: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-d", out, "--check")
	if code != 0 || !strings.Contains(stdout, "12 files up to date") {
		t.Errorf("--check on a fresh render: exit %d, %q", code, stdout)
	}

	conf := filepath.Join(out, "stash2", "keepalived.conf")
	edited := []byte("# hand edit\n")
	if err := os.WriteFile(conf, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-d", out, "--check")
	if code != 1 || stdout != "would write "+conf+"\n1 of 12 files would change\n" {
		t.Errorf("--check after an edit: exit %d, %q", code, stdout)
	}
	if data, _ := os.ReadFile(conf); !bytes.Equal(data, edited) {
		t.Errorf("--check wrote %s", conf)
	}
	code, stdout, _ = runHala(t, "render", "-i", twoNode, "-d", out)
	if code != 0 || stdout != "wrote "+conf+"\n1 written, 11 unchanged\n" {
		t.Errorf("render after an edit: exit %d, %q", code, stdout)
	}
}

// oneNodeStash is inventorytest.TwoNode's stash1 alone, director and
// Logstash host, with one UDP service; cases append keys to the service.
var oneNodeStash = inventorytest.Edit(inventorytest.TwoNode,
	`vrrp_auth_pass = "secret42"`+"\n", "",
	"[[director]]\nname = \"stash2\"\naddress = \"192.168.1.220\"\n\n", "",
	"[[logstash]]\nname = \"stash2\"\naddress = \"192.168.1.220\"\n\n", "",
	"scheduler = \"rr\"\nforwarding = \"nat\"\none_packet = true\ndelay_loop = \"5s\"\n\n[firewall]\nzone = \"public\"\nlog_sources = [\"192.168.1.111/32\"]\n", "")

// TestRenderRefusesInvalidInventory: nothing is written, every problem is
// printed with its line, and the exit status is 1.
func TestRenderRefusesInvalidInventory(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	data := inventorytest.Edit(oneNodeStash, "router_id = 1\n", "router_id = 300\n") + "bogus_key = 1\n"
	if err := os.WriteFile(bad, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runHala(t, "render", "-i", bad, "-d", out)
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
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-d", "-", "--node", "stash2")
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

	code, _, stderr = runHala(t, "render", "-i", twoNode, "-d", "-")
	if code != 1 || !strings.Contains(stderr, "hala: hint: add --node NAME") {
		t.Errorf("-o - without --node: exit %d, %q", code, stderr)
	}
	code, _, stderr = runHala(t, "render", "-i", twoNode, "-d", "-", "--node", "nope")
	if code != 1 || !strings.Contains(stderr, `no host "nope"`) {
		t.Errorf("unknown node: exit %d, %q", code, stderr)
	}
}

// TestRenderPrintsWarnings: a valid inventory with a warning renders, and
// the warning reaches stderr as "hala: warning: ...".
func TestRenderPrintsWarnings(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "warn.toml")
	data := oneNodeStash + "scheduler = \"wlc\"\none_packet = true\n"
	if err := os.WriteFile(inv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "render", "-i", inv, "-d", filepath.Join(dir, "out"))
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
	code, stdout, stderr := runHala(t, "render", "-i", missing, "-d", out)
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

// threeHosts is examples/two-node.toml with a third Logstash host, stash3.
func threeHosts(t *testing.T) string {
	t.Helper()
	return readFile(t, twoNode) + "\n[[logstash]]\nname = \"stash3\"\naddress = \"192.168.1.240\"\n"
}

// TestRenderStaleHostCheckAndPrune follows an operator who removes a host
// from the inventory: --check exits 1 naming its files, render warns and
// leaves them with a hint to --prune, and --prune removes exactly them
// (not a hand-added file in its directory), after which --check passes.
func TestRenderStaleHostCheckAndPrune(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "cluster.toml")
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(inv, []byte(threeHosts(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runHala(t, "render", "-i", inv, "-d", out); code != 0 {
		t.Fatalf("render with stash3: exit %d\n%s%s", code, stdout, stderr)
	}
	stash3 := []string{
		filepath.Join(out, "stash3", "firewalld.sh"),
		filepath.Join(out, "stash3", "logstash", "conf.d", "hala-inputs.conf"),
		filepath.Join(out, "stash3", "logstash", "logstash.yml.snippet"),
	}
	for _, p := range stash3 {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("first render did not write %s: %v", p, err)
		}
	}
	mine := filepath.Join(out, "stash3", "notes.txt")
	if err := os.WriteFile(mine, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// stash3 leaves the inventory (and so the other hosts' files change).
	if err := os.WriteFile(inv, []byte(readFile(t, twoNode)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "render", "-i", inv, "-d", out, "--check")
	if code != 1 {
		t.Errorf("--check with stale files: exit %d, want 1\n%s", code, stdout)
	}
	for _, p := range stash3 {
		if !strings.Contains(stdout, "stale "+p+"\n") {
			t.Errorf("--check does not list %s as stale:\n%s", p, stdout)
		}
	}
	if strings.Contains(stdout, "notes.txt") {
		t.Errorf("--check calls a hand-added file stale:\n%s", stdout)
	}
	if !strings.Contains(stdout, ", 3 stale\n") || !strings.Contains(stderr, "hala: hint: ") || !strings.Contains(stderr, " --prune") {
		t.Errorf("--check summary or hint:\n%s%s", stdout, stderr)
	}

	code, stdout, stderr = runHala(t, "render", "-i", inv, "-d", out)
	if code != 0 {
		t.Fatalf("render without stash3: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, p := range stash3 {
		if !strings.Contains(stderr, "hala: warning: stale file left in place (rendered before, no longer produced): "+p+"\n") {
			t.Errorf("render does not warn about %s:\n%s", p, stderr)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("render without --prune removed %s", p)
		}
	}
	if want := "hala: hint: hala render -i " + inv + " -d " + out + " --prune removes them\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("render's hint:\n%s\nwant %q", stderr, want)
	}
	if code, stdout, _ := runHala(t, "render", "-i", inv, "-d", out, "--check"); code != 1 || !strings.Contains(stdout, "0 of 12 files would change, 3 stale\n") {
		t.Errorf("--check after a render that left stale files: exit %d\n%s", code, stdout)
	}

	code, stdout, stderr = runHala(t, "render", "-i", inv, "-d", out, "--prune")
	if code != 0 || stderr != "" {
		t.Fatalf("--prune: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, p := range stash3 {
		if !strings.Contains(stdout, "removed "+p+"\n") {
			t.Errorf("--prune does not report %s:\n%s", p, stdout)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived --prune", p)
		}
	}
	if !strings.HasSuffix(stdout, "0 written, 12 unchanged, 3 stale removed\n") {
		t.Errorf("--prune summary:\n%s", stdout)
	}
	if data, err := os.ReadFile(mine); err != nil || string(data) != "mine\n" {
		t.Errorf("--prune touched the hand-added %s: %v", mine, err)
	}
	if code, stdout, _ := runHala(t, "render", "-i", inv, "-d", out, "--check"); code != 0 || stdout != "12 files up to date in "+out+"\n" {
		t.Errorf("--check after --prune: exit %d, %q", code, stdout)
	}
}

// TestRenderNodeRunsShareADirectory: --node runs of each host into one
// directory (config management on every director) do not call each
// other's files stale; the manifest lists both; stdout writes none.
func TestRenderNodeRunsShareADirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, node := range []string{"stash1", "stash2"} {
		if code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-d", out, "--node", node); code != 0 || stderr != "" {
			t.Fatalf("--node %s: exit %d\n%s%s", node, code, stdout, stderr)
		}
	}
	for _, node := range []string{"stash1", "stash2"} {
		if code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-d", out, "--node", node, "--check"); code != 0 || stderr != "" {
			t.Errorf("--check --node %s after both runs: exit %d\n%s%s", node, code, stdout, stderr)
		}
	}
	if code, stdout, _ := runHala(t, "render", "-i", twoNode, "-d", out, "--check"); code != 0 {
		t.Errorf("--check of the whole inventory after the --node runs: exit %d\n%s", code, stdout)
	}
	manifest := readFile(t, filepath.Join(out, ".hala-manifest"))
	for _, want := range []string{"\nstash1/keepalived.conf\n", "\nstash2/keepalived.conf\n"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("manifest lacks %q:\n%s", want, manifest)
		}
	}

	abs, err := filepath.Abs(twoNode)
	if err != nil {
		t.Fatal(err)
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	if code, _, stderr := runHala(t, "render", "-i", abs, "-d", "-", "--node", "stash1"); code != 0 {
		t.Fatalf("-d -: exit %d\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("-d - wrote %v", entries)
	}
	if code, _, stderr := runHala(t, "render", "-i", abs, "-d", "-", "--node", "stash1", "--prune"); code != 1 || !strings.Contains(stderr, "hala: hint: use -d DIR with --prune") {
		t.Errorf("-d - --prune: exit %d\n%s", code, stderr)
	}
}

// TestRenderRefusesForeignManifest: a manifest line that leaves the output
// directory is an error naming the file and line, and nothing is written.
func TestRenderRefusesForeignManifest(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(out, ".hala-manifest")
	if err := os.WriteFile(manifest, []byte("# hala render manifest v1\nstash1/firewalld.sh\n../cluster.toml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-d", out, "--prune")
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "hala: error: "+manifest+`:3: "../cluster.toml" is not a file under a host directory`) || !strings.Contains(stderr, "hala: hint: nothing was written") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("render wrote next to a refused manifest: %v", entries)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// -o/--out, render's old spelling of -d/--dir, still works for one release
// and says so on stderr, never in the files printed on stdout.
func TestRenderOldOutFlag(t *testing.T) {
	code, stdout, stderr := runHala(t, "render", "-i", twoNode, "-o", "-", "--node", "stash1")
	if code != 0 || !strings.HasPrefix(stdout, "==> stash1/") || strings.Contains(stdout, "deprecated") ||
		stderr != "hala: warning: -o/--out DIR is deprecated: use -d/--dir DIR (-o is an output format in other commands)\n" {
		t.Errorf("exit %d, stderr %q, stdout starts %q", code, stderr, stdout[:min(len(stdout), 80)])
	}
}
