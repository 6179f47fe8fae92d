//go:build linux && integration

package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

const ipvsInventory = inventorytest.Base

// ipvsCLI runs the hala binary against a fresh namespace and state file.
type ipvsCLI struct {
	t       *testing.T
	bin     string
	ns      *testutil.NetNS
	ipvsadm string
	dir     string
}

func newIPVSCLI(t *testing.T) *ipvsCLI {
	testutil.RequireKernel(t)
	c := &ipvsCLI{
		t:       t,
		bin:     testutil.HalaBinary(t),
		ipvsadm: testutil.RequireTool(t, "ipvsadm"),
		ns:      testutil.NewNetNS(t),
		dir:     t.TempDir(),
	}
	c.write("inv.toml", ipvsInventory)
	return c
}

func (c *ipvsCLI) write(name, text string) string {
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// hala runs "hala ipvs VERB -i inv.toml --netns NS --state STATE ARGS..."
// and returns stdout, stderr and the exit status.
func (c *ipvsCLI) hala(verb string, args ...string) (string, string, int) {
	c.t.Helper()
	full := []string{"ipvs", verb, "--netns", c.ns.Path, "--state", filepath.Join(c.dir, "owned.json")}
	if verb != "show" {
		full = append(full, "-i", filepath.Join(c.dir, "inv.toml"))
	}
	code, stdout, stderr := testutil.Run(c.t, exec.Command(c.bin, append(full, args...)...))
	return stdout, stderr, code
}

func (c *ipvsCLI) save() string { return c.ns.Run(c.t, c.ipvsadm, "-Sn") }

func TestIntegrationIPVSPlanApplyShow(t *testing.T) {
	c := newIPVSCLI(t)
	c.ns.Run(t, c.ipvsadm, "-A", "-t", "192.0.2.1:80", "-s", "wlc")
	c.ns.Run(t, c.ipvsadm, "-a", "-t", "192.0.2.1:80", "-r", "192.0.2.2:80", "-m", "-w", "5")

	out, errOut, code := c.hala("plan")
	wantPlan := `+ add service syslog-udp UDP 10.0.0.100:5514 rr ops
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514 Masq weight 1
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514 Masq weight 1
Plan: 3 to add, 0 to update, 0 to delete. 1 foreign service left alone.
`
	if code != 2 || out != wantPlan || errOut != "" {
		t.Errorf("plan: exit %d (want 2)\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, wantPlan, errOut)
	}

	out, _, code = c.hala("plan", "-o", "json")
	var plan struct {
		Add     int
		Changes []struct{ Ipvsadm string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || code != 2 || plan.Add != 3 ||
		plan.Changes[0].Ipvsadm != "ipvsadm -A -u 10.0.0.100:5514 -s rr -o" {
		t.Errorf("plan -o json: exit %d, %v\n%s", code, err, out)
	}

	out, errOut, code = c.hala("apply", "--dry-run")
	if code != 0 || out != wantPlan || strings.Contains(c.save(), "5514") {
		t.Errorf("apply --dry-run: exit %d, changed the kernel or printed:\n%s%s", code, out, errOut)
	}

	out, errOut, code = c.hala("apply", "--timings")
	wantApply := strings.Replace(wantPlan, "Plan: 3 to add, 0 to update, 0 to delete. 1 foreign service left alone.",
		"Applied: 3 added, 0 updated, 0 deleted (3 netlink writes). 1 foreign service left alone.", 1)
	if code != 0 || out != wantApply {
		t.Errorf("apply: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, out, wantApply, errOut)
	}
	// --timings adds one line on stderr, the phases in the order they ran.
	d := `[0-9.]+[µnm]?s`
	if !regexp.MustCompile(`^timings: load ` + d + `, open ` + d + `, kernel read ` + d + `, plan ` + d +
		`, kernel write ` + d + `, apply ` + d + `, total ` + d + `\n$`).MatchString(errOut) {
		t.Errorf("apply --timings: stderr %q", errOut)
	}
	rules := c.save()
	for _, want := range []string{
		"-A -u 10.0.0.100:5514 -s rr -o\n",
		"-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1\n",
		"-a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 1\n",
		"-a -t 192.0.2.1:80 -r 192.0.2.2:80 -m -w 5\n",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, rules)
		}
	}

	out, errOut, code = c.hala("apply", "--timings")
	if code != 0 || out != "No changes: the IPVS table matches the inventory (0 netlink writes). 1 foreign service left alone.\n" {
		t.Errorf("second apply: exit %d:\n%s", code, out)
	}
	if !strings.Contains(errOut, ", kernel read ") || strings.Contains(errOut, "kernel write") {
		t.Errorf("no-op apply --timings: want a kernel read and no kernel write, stderr %q", errOut)
	}
	if _, _, code = c.hala("plan"); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0", code)
	}

	out, _, code = c.hala("show")
	if code != 0 || !strings.Contains(out, "hala (syslog-udp)") || !strings.Contains(out, "foreign") ||
		!strings.Contains(out, "10.0.0.11:5514") {
		t.Errorf("show: exit %d:\n%s", code, out)
	}
	out, _, _ = c.hala("show", "-o", "json")
	var shown struct {
		Services []struct{ Service, Name, Owner string }
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.Services) != 2 {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}
	for _, s := range shown.Services {
		if (s.Service == "TCP 192.0.2.1:80") != (s.Owner == "foreign") {
			t.Errorf("show -o json: %+v", s)
		}
	}

	// Removing the service from the inventory: kept without --prune,
	// deleted with it; the foreign service stays.
	c.write("inv.toml", strings.ReplaceAll(ipvsInventory, "5514", "6514"))
	out, _, code = c.hala("apply")
	if code != 0 || !strings.Contains(out, "1 owned service no longer in the inventory, kept (--prune deletes it)") ||
		!strings.Contains(c.save(), "5514") {
		t.Errorf("apply without --prune: exit %d:\n%s", code, out)
	}
	out, _, code = c.hala("apply", "--prune")
	if code != 0 || !strings.Contains(out, "- delete service syslog-udp UDP 10.0.0.100:5514 (and its 2 destinations)\n") {
		t.Errorf("apply --prune: exit %d:\n%s", code, out)
	}
	if rules := c.save(); strings.Contains(rules, ":5514") || !strings.Contains(rules, "-a -t 192.0.2.1:80 -r 192.0.2.2:80 -m -w 5") {
		t.Errorf("after prune:\n%s", rules)
	}
}

func TestIntegrationIPVSInvalidInventoryChangesNothing(t *testing.T) {
	c := newIPVSCLI(t)
	if _, _, code := c.hala("apply"); code != 0 {
		t.Fatal("first apply failed")
	}
	c.ns.Run(t, c.ipvsadm, "-A", "-t", "192.0.2.1:80", "-s", "wlc")
	before := c.save()
	stateBefore, _ := os.ReadFile(filepath.Join(c.dir, "owned.json"))

	// Two problems: both are reported, nothing is changed.
	bad := strings.Replace(ipvsInventory, `one_packet = true`, "one_packet = true\nweight = 70000\nbackends = [\"l9\"]", 1)
	c.write("inv.toml", bad)
	for _, args := range [][]string{{}, {"--prune"}} {
		out, errOut, code := c.hala("apply", args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "weight") || !strings.Contains(errOut, "l9") {
			t.Errorf("apply %v of an invalid inventory: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	if after := c.save(); after != before {
		t.Errorf("kernel changed:\n%s\nwas:\n%s", after, before)
	}
	if stateAfter, _ := os.ReadFile(filepath.Join(c.dir, "owned.json")); !bytes.Equal(stateAfter, stateBefore) {
		t.Errorf("state file changed:\n%s", stateAfter)
	}
}

// unloadableScheduler returns a scheduler keepalived and the inventory
// accept but this kernel cannot load: not loaded, and no module modprobe
// can find. The inventory refuses names no kernel ships, so the CLI test
// needs one of these; reconcile's tests use a made-up name.
func unloadableScheduler(t *testing.T) string {
	t.Helper()
	for _, s := range []string{"twos", "mh", "ovf", "fo", "nq", "sed", "dh", "lblcr", "lblc"} {
		if _, err := os.Stat("/sys/module/ip_vs_" + s); err == nil {
			continue
		}
		if exec.Command("modprobe", "-n", "-q", "ip_vs_"+s).Run() != nil {
			return s
		}
	}
	t.Skip("this kernel can load every IPVS scheduler keepalived knows: no refusal to provoke")
	return ""
}

// A change the kernel refuses: exit 1, the applied changes on stdout, the
// failure and a hint on stderr; a re-run after fixing the cause converges.
// The scheduler is one keepalived and the inventory accept but this kernel
// cannot load.
func TestIntegrationIPVSApplyReportsAFailure(t *testing.T) {
	c := newIPVSCLI(t)
	bad := unloadableScheduler(t)
	// A TCP service that sorts first and works, then the UDP one with bad.
	inv := strings.Replace(ipvsInventory, `one_packet = true`, "one_packet = true\nscheduler = \""+bad+"\"", 1) + `
[[service]]
name = "beats"
vip = "logs"
port = 5044
protocol = "tcp"
input_id = "beats"
`
	c.write("inv.toml", inv)

	out, errOut, code := c.hala("apply")
	wantOut := `+ add service beats TCP 10.0.0.100:5044 rr
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044 Masq weight 1
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044 Masq weight 1
! failed: + add service syslog-udp UDP 10.0.0.100:5514 ` + bad + ` ops
Stopped: 3 of 6 changes applied, 1 failed, 2 not attempted (4 netlink writes).
`
	if code != 1 || out != wantOut {
		t.Errorf("apply: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, wantOut, errOut)
	}
	if !strings.Contains(errOut, "hala: error: apply stopped after 3 of 6 changes: add service UDP 10.0.0.100:5514: ") ||
		!strings.Contains(errOut, "hala: hint: load the scheduler's module (modprobe ip_vs_"+bad+")") {
		t.Errorf("apply failure report on stderr:\n%s", errOut)
	}
	if rules := c.save(); !strings.Contains(rules, "-A -t 10.0.0.100:5044 -s rr") || strings.Contains(rules, "5514") {
		t.Errorf("kernel after the failure:\n%s", rules)
	}

	c.write("inv.toml", strings.Replace(inv, `scheduler = "`+bad+`"`, `scheduler = "rr"`, 1))
	out, errOut, code = c.hala("apply")
	want := `+ add service syslog-udp UDP 10.0.0.100:5514 rr ops
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514 Masq weight 1
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514 Masq weight 1
Applied: 3 added, 0 updated, 0 deleted (3 netlink writes).
`
	if code != 0 || out != want {
		t.Errorf("re-run: exit %d\n%s\nwant:\n%s%s", code, out, want, errOut)
	}
	if _, _, code := c.hala("plan"); code != 0 {
		t.Errorf("plan after the re-run: exit %d, want 0", code)
	}
}

// A service at the inventory's address made by another tool (here ipvsadm,
// as keepalived would) is not silently taken over: plan shows "~ adopt",
// apply without --adopt refuses and changes nothing, apply --adopt
// converges and from then on the service is hala's.
func TestIntegrationIPVSAdoptNeedsFlag(t *testing.T) {
	c := newIPVSCLI(t)
	c.ns.Run(t, c.ipvsadm, "-A", "-u", "10.0.0.100:5514", "-s", "rr", "-o")
	c.ns.Run(t, c.ipvsadm, "-a", "-u", "10.0.0.100:5514", "-r", "10.0.0.12:5514", "-m", "-w", "1")
	before := c.save()
	state := filepath.Join(c.dir, "owned.json")

	out, errOut, code := c.hala("plan")
	wantPlan := `~ adopt service syslog-udp UDP 10.0.0.100:5514 (not created by hala)
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514 Masq weight 1
Plan: 1 service to adopt (--adopt), 1 to add, 0 to update, 0 to delete.
`
	if code != 2 || out != wantPlan {
		t.Errorf("plan: exit %d\n%s\nwant:\n%s%s", code, out, wantPlan, errOut)
	}

	out, errOut, code = c.hala("apply")
	if code != 1 || !strings.Contains(out, "~ adopt service syslog-udp UDP 10.0.0.100:5514 (not created by hala)") ||
		!strings.Contains(errOut, "not created by hala: nothing changed") || !strings.Contains(errOut, "hala: hint: ") ||
		!strings.Contains(errOut, "--adopt") {
		t.Errorf("apply without --adopt: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if after := c.save(); after != before {
		t.Errorf("refused apply changed the kernel:\n%s\nwas:\n%s", after, before)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused apply wrote the state file (%v)", err)
	}

	out, errOut, code = c.hala("apply", "--adopt")
	if code != 0 || !strings.Contains(out, "adopted service syslog-udp (UDP 10.0.0.100:5514)") ||
		!strings.Contains(out, "Applied: 1 added, 0 updated, 0 deleted") {
		t.Errorf("apply --adopt: exit %d\n%s%s", code, out, errOut)
	}
	if rules := c.save(); !strings.Contains(rules, "-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1\n") {
		t.Errorf("after --adopt:\n%s", rules)
	}
	if out, _, code = c.hala("plan"); code != 0 {
		t.Errorf("plan after adoption: exit %d\n%s", code, out)
	}
}
