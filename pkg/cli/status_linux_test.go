//go:build linux && integration

package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// TestIntegrationStatus reads a real IPVS table and real VIPs in a
// throwaway namespace: the IPVS column gives each backend's weight or its
// absence, and the VIP section what the director's eth0 holds.
func TestIntegrationStatus(t *testing.T) {
	testutil.RequireKernel(t)
	ipvsadm := testutil.RequireTool(t, "ipvsadm")
	ns := testutil.NewNetNS(t)
	ns.IP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.IP(t, "addr", "add", "10.0.0.1/24", "dev", "eth0")
	ns.IP(t, "addr", "add", "10.0.0.100/24", "dev", "eth0")
	ns.IP(t, "link", "set", "eth0", "up")
	inv := statusInventory(t, "syslog-udp", startStandIns(t))
	state := t.TempDir() + "/owned.json"
	if out, errOut, code := runCapture("ipvs", "apply", "-i", inv, "--netns", ns.Path, "--state", state); code != 0 {
		t.Fatalf("ipvs apply: exit %d\n%s%s", code, out, errOut)
	}
	// By hand: the healthy backend's weight to 3, the down one removed.
	ns.Run(t, ipvsadm, "-e", "-u", "10.0.0.100:5514", "-r", "127.0.0.11:5514", "-m", "-w", "3")
	ns.Run(t, ipvsadm, "-d", "-u", "10.0.0.100:5514", "-r", "127.0.0.13:5514")

	out, errOut, code := runCapture("status", "-i", inv, "--node", "d1", "--netns", ns.Path, "-o", "json")
	if code != 2 { // degraded: the stand-ins include down backends
		t.Fatalf("status: exit %d, want 2\n%s%s", code, out, errOut)
	}
	var st struct {
		Backends []struct {
			Backend string
			IPVS    struct {
				State  string
				Weight *int
			}
		}
		VIPs     []struct{ Name, State string }
		IPVSNote string `json:"ipvs_note"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Backends) != 4 {
		t.Fatalf("%v\n%s", err, out)
	}
	want := map[string]string{"healthy": "present 3", "noinput": "present 1", "down": "absent", "blackhole": "present 1"}
	for _, b := range st.Backends {
		got := b.IPVS.State
		if b.IPVS.Weight != nil {
			got += " " + strconv.Itoa(*b.IPVS.Weight)
		}
		if got != want[b.Backend] {
			t.Errorf("%s: IPVS %q, want %q", b.Backend, got, want[b.Backend])
		}
	}
	if st.IPVSNote != "" || len(st.VIPs) != 1 || st.VIPs[0].State != "held" {
		t.Errorf("IPVS note %q, VIPs %+v; want the table read and logs held", st.IPVSNote, st.VIPs)
	}

	ns.IP(t, "addr", "del", "10.0.0.100/24", "dev", "eth0")
	out, _, _ = runCapture("status", "-i", inv, "--node", "d1", "--netns", ns.Path)
	if !strings.Contains(out, "logs  10.0.0.100/24 dev eth0  not held") || !strings.Contains(out, "w 3") {
		t.Errorf("text after the VIP moved away:\n%s", out)
	}
}
