//go:build linux && integration

package render_test

import (
	"bytes"
	"errors"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// These tests hand the rendered firewalld.sh rules to firewalld's own
// rich-rule parser and store: firewall-offline-cmd (Debian package
// firewalld), which edits the permanent configuration without a daemon.
// Every test keeps its configuration in a temporary directory
// (--system-config), so /etc/firewalld is never touched; the tool insists
// on root all the same.

// logSource is examples/two-node.toml's firewall.log_sources.
const logSource = "192.168.1.111/32"

// configDir returns a fresh firewalld system configuration directory:
// the distribution's defaults apply (/usr/lib/firewalld), with no rule of
// ours yet.
func (fw *firewalld) configDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o750); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("/etc/firewalld/firewalld.conf")
	if err != nil {
		conf = nil // firewalld falls back to built-in settings, with a warning
	}
	if err := os.WriteFile(filepath.Join(dir, "firewalld.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cmd returns a command that runs with the shim first in PATH and the
// configuration in dir.
func (fw *firewalld) cmd(dir, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(),
		"PATH="+fw.shimDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		envDir+"="+dir,
		envSock+"="+fw.sock,
		"HALA_FIREWALLD_STATE_DIR="+stateDir(dir),
		"LC_ALL=C")
	return c
}

// stateDir is where a rendered firewalld.sh run on configuration dir
// records the rules it added (instead of /var/lib/hala).
func stateDir(dir string) string { return filepath.Join(dir, "hala-state") }

// stateFile is the record of the rules added in zone.
func stateFile(dir, zone string) string {
	return filepath.Join(stateDir(dir), "firewalld-"+zone+".rules")
}

// shim is the path of the firewall-cmd shim (exec.Command resolves a bare
// name with the test's own PATH, not the one given to the command).
func (fw *firewalld) shim() string { return filepath.Join(fw.shimDir, "firewall-cmd") }

// richRules lists the zone's rich rules as firewalld stores them.
func (fw *firewalld) richRules(t *testing.T, dir, zone string) []string {
	t.Helper()
	out := fw.offlineCmd(t, dir, "--zone="+zone, "--list-rich-rules")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// expectStored asserts that the zone holds exactly rules: as many rich
// rules, and firewalld finds each one by --query-rich-rule (it compares
// parsed rules, so its normalised text need not match ours byte for byte).
// It returns the rules as firewalld lists them.
func (fw *firewalld) expectStored(t *testing.T, dir, zone string, rules []string) []string {
	t.Helper()
	stored := fw.richRules(t, dir, zone)
	if len(stored) != len(rules) {
		t.Fatalf("zone %s holds %d rich rules, want the %d the script adds:\n%s",
			zone, len(stored), len(rules), strings.Join(stored, "\n"))
	}
	args := []string{"--zone=" + zone}
	for _, r := range rules {
		args = append(args, "--query-rich-rule="+r)
	}
	// Several queries in one call answer "'RULE': yes|no" each.
	out := fw.offlineCmd(t, dir, args...)
	for _, r := range rules {
		if !strings.Contains(out, "'"+r+"': yes") {
			t.Errorf("firewalld does not find %s in zone %s:\n%s", r, zone, out)
		}
	}
	return stored
}

var addLine = regexp.MustCompile(`(?m)^add '([^']*)'$`)

// scriptRules returns the rich rules a rendered firewalld.sh adds, in order.
func scriptRules(t *testing.T, script []byte) []string {
	t.Helper()
	var rules []string
	for _, m := range addLine.FindAllSubmatch(script, -1) {
		rules = append(rules, string(m[1]))
	}
	if n := strings.Count(string(script), "\nadd '"); n != len(rules) {
		t.Fatalf("%d add lines, %d of them in the form add '<rule>'", n, len(rules))
	}
	return rules
}

// firewalldScripts renders the inventory and returns host → firewalld.sh.
func firewalldScripts(t *testing.T, path string) (*inventory.Inventory, map[string][]byte) {
	t.Helper()
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.All(inv)
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string][]byte{}
	for _, f := range files {
		if host, ok := strings.CutSuffix(f.Path, "/firewalld.sh"); ok {
			scripts[host] = f.Data
		}
	}
	if len(scripts) == 0 {
		t.Fatalf("%s: no firewalld.sh rendered", path)
	}
	return inv, scripts
}

// runScript runs a rendered firewalld.sh with sh, through the shim, on
// dir; it returns the output lines and the exit error.
func (fw *firewalld) runScript(t *testing.T, dir string, script []byte) ([]string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "firewalld.sh")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := fw.cmd(dir, "sh", path).CombinedOutput()
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n"), err
}

// expectLines asserts the script printed "<verb> <rule>" for every rule,
// in order, and nothing else.
func expectLines(t *testing.T, run string, got []string, verb string, rules []string) {
	t.Helper()
	var want []string
	for _, r := range rules {
		want = append(want, verb+" "+r)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s printed:\n%s\nwant:\n%s", run, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestIntegrationFirewalldScriptTwoNode runs each rendered firewalld.sh of
// examples/two-node.toml twice, through firewall-cmd that is firewalld's
// own offline tool: the first run adds every rule, the zone then holds
// exactly those rules; the second run finds every rule present and changes
// nothing. Each host's rules must carry the setup's security intent.
func TestIntegrationFirewalldScriptTwoNode(t *testing.T) {
	t.Parallel()
	fw := requireFirewalld(t)
	inv, scripts := firewalldScripts(t, "../../examples/two-node.toml")
	zone := inv.Firewall.Zone
	for _, host := range []string{"stash1", "stash2"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			script, ok := scripts[host]
			if !ok {
				t.Fatalf("no firewalld.sh for %s", host)
			}
			rules := scriptRules(t, script)
			if len(rules) == 0 {
				t.Fatal("the script adds no rule")
			}
			if dup := duplicates(rules); len(dup) > 0 {
				t.Fatalf("the script adds these rules more than once: %v", dup)
			}
			dir := fw.configDir(t)

			got, err := fw.runScript(t, dir, script)
			if err != nil {
				t.Fatalf("first run: %v\n%s", err, strings.Join(got, "\n"))
			}
			expectLines(t, "first run", got, "added:  ", rules)
			before := fw.expectStored(t, dir, zone, rules)

			got, err = fw.runScript(t, dir, script)
			if err != nil {
				t.Fatalf("second run: %v\n%s", err, strings.Join(got, "\n"))
			}
			expectLines(t, "second run", got, "present:", rules)
			after := fw.richRules(t, dir, zone)
			if !slices.Equal(after, before) {
				t.Fatalf("the second run changed the zone:\nbefore:\n%s\nafter:\n%s",
					strings.Join(before, "\n"), strings.Join(after, "\n"))
			}
			calls := readCalls(t, dir)
			if last := calls[len(calls)-1]; last != "--reload" {
				t.Errorf("the script's last firewall-cmd call is %q, want --reload (rules take effect)", last)
			}

			self, other := stash1Addr, stash2Addr
			if host == "stash2" {
				self, other = stash2Addr, stash1Addr
			}
			checkTwoNodeIntent(t, after, self, other)
		})
	}
}

// richRule is the part of a stored rich rule the intent checks look at.
type richRule struct {
	text, src, dst, port, proto, ipProto, action string
}

var (
	srcAttr    = regexp.MustCompile(`\bsource address="([^"]*)"`)
	dstAttr    = regexp.MustCompile(`\bdestination address="([^"]*)"`)
	portAttr   = regexp.MustCompile(`\bport port="([^"]*)" protocol="([^"]*)"`)
	ipProtoElt = regexp.MustCompile(`(?:^|\s)protocol value="([^"]*)"`)
	actionElt  = regexp.MustCompile(`\s(accept|reject|drop|mark)\b[^"]*$`)
)

func parseRichRule(text string) richRule {
	r := richRule{text: text}
	if m := srcAttr.FindStringSubmatch(text); m != nil {
		r.src = m[1]
	}
	if m := dstAttr.FindStringSubmatch(text); m != nil {
		r.dst = m[1]
	}
	if m := portAttr.FindStringSubmatch(text); m != nil {
		r.port, r.proto = m[1], m[2]
	}
	if m := ipProtoElt.FindStringSubmatch(text); m != nil {
		r.ipProto = m[1]
	}
	if m := actionElt.FindStringSubmatch(text); m != nil {
		r.action = m[1]
	}
	return r
}

// checkTwoNodeIntent asserts, on the rules firewalld stored for one
// two-node host (address self, peer other): VRRP is accepted only from the
// other director; the Logstash API (9600/tcp) only from directors, toward
// this host; the log port (5514/udp) only from firewall.log_sources,
// toward the VIP and this host, and both of those are open. Nothing else
// is accepted, and nothing from anywhere.
func checkTwoNodeIntent(t *testing.T, stored []string, self, other string) {
	t.Helper()
	directors := []string{stash1Addr + "/32", stash2Addr + "/32"}
	var vrrpFrom, apiFrom []string
	logTo := map[string]bool{}
	for _, text := range stored {
		r := parseRichRule(text)
		switch {
		case r.action != "accept":
			t.Errorf("rule with action %q, want accept: %s", r.action, text)
		case r.src == "":
			t.Errorf("rule accepts from any source: %s", text)
		case r.ipProto == "vrrp" && r.dst == "" && r.port == "":
			vrrpFrom = append(vrrpFrom, r.src)
		case r.port == "9600" && r.proto == "tcp":
			if r.dst != self+"/32" {
				t.Errorf("Logstash API rule toward %q, want %s/32: %s", r.dst, self, text)
			}
			if !slices.Contains(directors, r.src) {
				t.Errorf("Logstash API open to %s, not a director: %s", r.src, text)
			}
			apiFrom = append(apiFrom, r.src)
		case r.port == vsPort && r.proto == "udp":
			if r.src != logSource {
				t.Errorf("log port open to %s, want only %s: %s", r.src, logSource, text)
			}
			if r.dst != vipAddr+"/32" && r.dst != self+"/32" {
				t.Errorf("log port rule toward %q, want the VIP %s or this host %s: %s", r.dst, vipAddr, self, text)
			}
			logTo[r.dst] = true
		default:
			t.Errorf("rule outside the two-node setup's intent: %s", text)
		}
	}
	if want := []string{other + "/32"}; !slices.Equal(vrrpFrom, want) {
		t.Errorf("VRRP accepted from %v, want exactly %v (the other director)", vrrpFrom, want)
	}
	if !slices.Contains(apiFrom, other+"/32") {
		t.Errorf("Logstash API not open to the other director %s (its hala check would fail); open to %v", other, apiFrom)
	}
	for _, dst := range []string{vipAddr + "/32", self + "/32"} {
		if !logTo[dst] {
			t.Errorf("log port %s/udp not open toward %s", vsPort, dst)
		}
	}
}

// TestIntegrationFirewalldRulesParse gives every rich rule of every
// rendered firewalld.sh, for every example and test inventory, to
// firewalld's parser and store in one batch per zone: all are accepted
// without a warning, stored, and found again by query. The rules of all
// inventories share one configuration per zone: they are independent,
// and each firewall-offline-cmd call costs seconds in the test VM.
func TestIntegrationFirewalldRulesParse(t *testing.T) {
	t.Parallel()
	fw := requireFirewalld(t)
	byZone := map[string][]string{}    // zone → its distinct rules, in order
	origin := map[[2]string][]string{} // {zone, rule} → the cases rendering it
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			inv, scripts := firewalldScripts(t, c.inventory)
			zone := inv.Firewall.Zone
			n := 0
			for _, host := range slices.Sorted(maps.Keys(scripts)) {
				script := scripts[host]
				if !strings.Contains(string(script), "\nzone="+shQuote(zone)+"\n") {
					t.Fatalf("%s/firewalld.sh does not use zone %q", host, zone)
				}
				for _, r := range scriptRules(t, script) {
					key := [2]string{zone, r}
					if len(origin[key]) == 0 {
						byZone[zone] = append(byZone[zone], r)
					}
					if !slices.Contains(origin[key], c.name) {
						origin[key] = append(origin[key], c.name)
						n++
					}
				}
			}
			t.Logf("%d distinct rich rules for zone %s", n, zone)
		})
	}
	if len(byZone) == 0 {
		t.Fatal("no inventory renders a rich rule")
	}
	for _, zone := range slices.Sorted(maps.Keys(byZone)) {
		rules := byZone[zone]
		t.Run("zone="+zone, func(t *testing.T) {
			t.Parallel()
			dir := fw.configDir(t)
			args := []string{"--zone=" + zone}
			for _, r := range rules {
				args = append(args, "--add-rich-rule="+r)
			}
			// In a batch an invalid rule is only a warning (exit 0): the
			// output must be exactly "success".
			if out := fw.offlineCmd(t, dir, args...); out != "success" {
				// Its warnings need not quote the rule: find the culprits
				// one by one (only on failure, so the cost is no issue).
				for _, r := range rules {
					one := fw.cmd(dir, filepath.Join(fw.shimDir, "firewall-offline-cmd"),
						"--system-config", fw.configDir(t), "--zone="+zone, "--add-rich-rule="+r)
					if b, err := one.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "success" {
						t.Errorf("rendered for %s: %s\n%s", strings.Join(origin[[2]string{zone, r}], ", "), r, b)
					}
				}
				t.Fatalf("firewalld did not take every rule cleanly:\n%s", out)
			}
			fw.expectStored(t, dir, zone, rules)
			t.Logf("%d distinct rich rules accepted by firewalld", len(rules))
		})
	}
}

// TestIntegrationFirewalldParserIsReal is the negative control: through
// the same shim a malformed rule is refused by firewalld's parser, a rule
// never added is not "present", and a rendered script stops at a refused
// rule, before --reload. The served firewall-offline-cmd refuses the
// malformed rule with the same status and words as a process of its own.
func TestIntegrationFirewalldParserIsReal(t *testing.T) {
	t.Parallel()
	fw := requireFirewalld(t)
	dir := fw.configDir(t)
	bad := `rule family="ipv4" source adress="192.168.1.111/32" accept`
	out, err := fw.cmd(dir, fw.shim(), "--permanent", "--zone=public", "--add-rich-rule="+bad).CombinedOutput()
	if err == nil {
		t.Fatalf("firewalld accepted a malformed rule:\n%s", out)
	}
	if !strings.Contains(string(out), "INVALID_RULE") {
		t.Errorf("malformed rule refused without INVALID_RULE:\n%s", out)
	}
	// The server answers as its own process would: same status, same words.
	direct, derr := exec.Command(fw.offline, "--system-config", dir, "--zone=public", "--add-rich-rule="+bad).CombinedOutput()
	if exitCode(derr) != exitCode(err) || !bytes.Equal(direct, out) {
		t.Errorf("firewall-offline-cmd run directly (%v):\n%s\nthrough the server (%v):\n%s", derr, direct, err, out)
	}

	good := `rule family="ipv4" source address="192.168.1.111/32" accept`
	if out, err := fw.cmd(dir, fw.shim(), "--permanent", "--zone=public", "--query-rich-rule="+good).CombinedOutput(); err == nil {
		t.Fatalf("a rule never added is reported present:\n%s", out)
	}
	if out, err := fw.cmd(dir, fw.shim(), "--zone=public", "--add-rich-rule="+good).CombinedOutput(); err == nil {
		t.Fatalf("the shim let a call without --permanent through:\n%s", out)
	}

	_, scripts := firewalldScripts(t, "../../examples/two-node.toml")
	script := string(scripts["stash1"])
	first := strings.Index(script, "\nadd '")
	if first < 0 {
		t.Fatal("stash1/firewalld.sh has no add line")
	}
	broken := script[:first] + "\nadd '" + bad + "'" + script[first:]
	lines, err := fw.runScript(t, dir, []byte(broken))
	if err == nil {
		t.Fatalf("the script went on past a refused rule:\n%s", strings.Join(lines, "\n"))
	}
	if calls := readCalls(t, dir); slices.Contains(calls, "--reload") {
		t.Errorf("the script reloaded after a refused rule; calls:\n%s", strings.Join(calls, "\n"))
	}
	if stored := fw.richRules(t, dir, "public"); len(stored) != 0 {
		t.Errorf("rules stored after the refused one stopped the script:\n%s", strings.Join(stored, "\n"))
	}
}

// readCalls returns the shim's log: the arguments of each firewall-cmd call.
func readCalls(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	if err != nil {
		t.Fatalf("no firewall-cmd call was made: %v", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// exitCode is the exit status behind a command's error (0 for nil, -1
// when it did not exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func duplicates(list []string) []string {
	seen := map[string]bool{}
	var dup []string
	for _, s := range list {
		if seen[s] {
			dup = append(dup, s)
		}
		seen[s] = true
	}
	return dup
}

// shQuote is the single-quoted form the template writes the zone in.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// nodeScript renders host's firewalld.sh from inv.
func nodeScript(t *testing.T, inv *inventory.Inventory, host string) []byte {
	t.Helper()
	files, err := render.Node(inv, host)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == host+"/"+render.FirewalldPath {
			return f.Data
		}
	}
	t.Fatalf("no firewalld.sh for %s", host)
	return nil
}

// TestIntegrationFirewalldScriptConverges follows an operator who removes
// a log source from the inventory: the re-rendered firewalld.sh removes the
// rules it had added for it, keeps the others, and leaves alone the rules
// it did not add: an unrelated one added by hand, and a hand-added copy of
// one of its own rules that was there before hala's first run.
func TestIntegrationFirewalldScriptConverges(t *testing.T) {
	t.Parallel()
	fw := requireFirewalld(t)
	inv, err := inventory.Load("../../examples/two-node.toml")
	if err != nil {
		t.Fatal(err)
	}
	zone := inv.Firewall.Zone
	withExtra := *inv
	withExtra.Firewall.LogSources = append(slices.Clone(inv.Firewall.LogSources), netip.MustParsePrefix("198.51.100.0/24"))
	before := scriptRules(t, nodeScript(t, &withExtra, "stash1"))
	after := scriptRules(t, nodeScript(t, inv, "stash1"))
	var dropped []string
	for _, r := range before {
		if !slices.Contains(after, r) {
			if !strings.Contains(r, `source address="198.51.100.0/24"`) {
				t.Fatalf("removing a log source drops an unrelated rule: %s", r)
			}
			dropped = append(dropped, r)
		}
	}
	if len(dropped) < 2 {
		t.Fatalf("the extra log source adds %d rules to stash1, want at least 2 (VIP and host)", len(dropped))
	}

	dir := fw.configDir(t)
	handOwn := `rule family="ipv4" source address="203.0.113.7/32" port port="22" protocol="tcp" accept`
	handSame := dropped[0]
	fw.offlineCmd(t, dir, "--zone="+zone, "--add-rich-rule="+handOwn, "--add-rich-rule="+handSame)

	got, err := fw.runScript(t, dir, nodeScript(t, &withExtra, "stash1"))
	if err != nil {
		t.Fatalf("run with the extra log source: %v\n%s", err, strings.Join(got, "\n"))
	}
	if !slices.Contains(got, "present: "+handSame) {
		t.Errorf("the hand-added rule is not reported present:\n%s", strings.Join(got, "\n"))
	}
	fw.expectStored(t, dir, zone, append(slices.Clone(before), handOwn))

	got, err = fw.runScript(t, dir, nodeScript(t, inv, "stash1"))
	if err != nil {
		t.Fatalf("run without the extra log source: %v\n%s", err, strings.Join(got, "\n"))
	}
	var removed []string
	for _, line := range got {
		if r, ok := strings.CutPrefix(line, "removed: "); ok {
			removed = append(removed, r)
		}
	}
	if want := dropped[1:]; !slices.Equal(removed, want) {
		t.Errorf("removed:\n%s\nwant (the rules hala added for the dropped source):\n%s\noutput:\n%s",
			strings.Join(removed, "\n"), strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	// The wanted rules stay, and so do both rules hala did not add.
	fw.expectStored(t, dir, zone, append(slices.Clone(after), handOwn, handSame))
	state, err := os.ReadFile(stateFile(dir, zone))
	if err != nil {
		t.Fatalf("no state file: %v", err)
	}
	if recorded := strings.Split(strings.TrimRight(string(state), "\n"), "\n"); !slices.Equal(slices.Sorted(slices.Values(recorded)), slices.Sorted(slices.Values(after))) {
		t.Errorf("state file records:\n%s\nwant the rules hala added and still wants:\n%s", state, strings.Join(after, "\n"))
	}

	// Converged: a third run finds every wanted rule and removes nothing.
	got, err = fw.runScript(t, dir, nodeScript(t, inv, "stash1"))
	if err != nil {
		t.Fatalf("third run: %v\n%s", err, strings.Join(got, "\n"))
	}
	expectLines(t, "third run", got, "present:", after)
}

// TestIntegrationFirewalldZoneChange follows an operator who moves the
// cluster from zone public to zone internal: the script rendered for the
// new zone adds its rules there and removes from public exactly the rules
// it had added there, leaving public's hand-added rules (including a copy
// of one of its own that predates it), and deletes public's record.
func TestIntegrationFirewalldZoneChange(t *testing.T) {
	t.Parallel()
	fw := requireFirewalld(t)
	inv, err := inventory.Load("../../examples/two-node.toml")
	if err != nil {
		t.Fatal(err)
	}
	const zoneA, zoneB = "public", "internal"
	if inv.Firewall.Zone != zoneA {
		t.Fatalf("two-node.toml uses zone %q, want %q", inv.Firewall.Zone, zoneA)
	}
	inB := *inv
	inB.Firewall.Zone = zoneB
	scriptA, scriptB := nodeScript(t, inv, "stash1"), nodeScript(t, &inB, "stash1")
	rules := scriptRules(t, scriptA)
	if len(rules) < 2 {
		t.Fatalf("stash1 adds %d rules, want at least 2", len(rules))
	}

	dir := fw.configDir(t)
	handOwn := `rule family="ipv4" source address="203.0.113.7/32" port port="22" protocol="tcp" accept`
	handSame := rules[0]
	fw.offlineCmd(t, dir, "--zone="+zoneA, "--add-rich-rule="+handOwn, "--add-rich-rule="+handSame)

	// Every firewall-offline-cmd call takes seconds under the VM's
	// emulated CPU: the zone-A run's own result is left to the tests above.
	got, err := fw.runScript(t, dir, scriptA)
	if err != nil {
		t.Fatalf("run in zone %s: %v\n%s", zoneA, err, strings.Join(got, "\n"))
	}

	got, err = fw.runScript(t, dir, scriptB)
	if err != nil {
		t.Fatalf("run in zone %s: %v\n%s", zoneB, err, strings.Join(got, "\n"))
	}
	var removed []string
	for _, line := range got {
		if r, ok := strings.CutPrefix(line, "removed from zone "+zoneA+": "); ok {
			removed = append(removed, r)
		}
	}
	if want := rules[1:]; !slices.Equal(removed, want) {
		t.Errorf("removed from %s:\n%s\nwant (the rules hala added there):\n%s\noutput:\n%s",
			zoneA, strings.Join(removed, "\n"), strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	fw.expectStored(t, dir, zoneA, []string{handOwn, handSame})
	fw.expectStored(t, dir, zoneB, rules)
	// With zone A's record gone, the next run leaves zone A alone.
	if _, err := os.Stat(stateFile(dir, zoneA)); !os.IsNotExist(err) {
		t.Errorf("the record of zone %s is still there: %v", zoneA, err)
	}
	state, err := os.ReadFile(stateFile(dir, zoneB))
	if err != nil {
		t.Fatalf("no record for zone %s: %v", zoneB, err)
	}
	if recorded := strings.Split(strings.TrimRight(string(state), "\n"), "\n"); !slices.Equal(slices.Sorted(slices.Values(recorded)), slices.Sorted(slices.Values(rules))) {
		t.Errorf("zone %s record:\n%s\nwant:\n%s", zoneB, state, strings.Join(rules, "\n"))
	}
}
