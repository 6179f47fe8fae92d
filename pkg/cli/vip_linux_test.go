//go:build linux && integration

package cli

import (
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// TestIntegrationVIPAddShowDel drives hala vip through a throwaway namespace with the
// director's interface eth0, proving --netns aims every change there.
func TestIntegrationVIPAddShowDel(t *testing.T) {
	testutil.RequireKernel(t)
	ns := testutil.NewNetNS(t)
	ns.IP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.IP(t, "addr", "add", "10.0.0.1/24", "dev", "eth0")
	ns.IP(t, "link", "set", "eth0", "up")
	base := []string{"-i", "testdata/vip-sysctl.toml", "--node", "stash1", "--netns", ns.Path}
	vip := func(verb string, extra ...string) string {
		t.Helper()
		out, errOut, code := runCapture(append(append([]string{"vip", verb}, base...), extra...)...)
		if code != 0 {
			t.Fatalf("hala vip %s: exit %d\n%s%s", verb, code, out, errOut)
		}
		return out
	}
	eth0 := func() string {
		return ns.IP(t, "-4", "-br", "addr", "show", "dev", "eth0")
	}

	if got, want := vip("show"), "syslog  10.0.0.100/24 dev eth0  absent\n"; got != want {
		t.Errorf("show before add = %q, want %q", got, want)
	}
	if got, want := vip("add"), "syslog: added 10.0.0.100/24 dev eth0 (ip addr add 10.0.0.100/24 dev eth0)\n"; got != want {
		t.Errorf("add = %q, want %q", got, want)
	}
	if !strings.Contains(eth0(), "10.0.0.100/24") || strings.Contains(eth0(), "10.0.0.101") {
		t.Fatalf("after add eth0 is %q: want the master's VIP 10.0.0.100 only", eth0())
	}
	if got, want := vip("add"), "syslog: 10.0.0.100/24 dev eth0 unchanged\n"; got != want {
		t.Errorf("second add = %q, want %q", got, want)
	}
	if got, want := vip("show"), "syslog  10.0.0.100/24 dev eth0  present\n"; got != want {
		t.Errorf("show after add = %q, want %q", got, want)
	}
	// --vip picks a VIP this director is not master of.
	if got, want := vip("add", "--vip", "beats"), "beats: added 10.0.0.101/24 dev eth0 (ip addr add 10.0.0.101/24 dev eth0)\n"; got != want {
		t.Errorf("add --vip beats = %q, want %q", got, want)
	}
	if got, want := vip("del"), "syslog: deleted 10.0.0.100/24 dev eth0 (ip addr del 10.0.0.100/24 dev eth0)\n"; got != want {
		t.Errorf("del = %q, want %q", got, want)
	}
	if got := eth0(); strings.Contains(got, "10.0.0.100") || !strings.Contains(got, "10.0.0.1/24") || !strings.Contains(got, "10.0.0.101/24") {
		t.Fatalf("after del eth0 is %q: want 10.0.0.1 and 10.0.0.101 kept, 10.0.0.100 gone", got)
	}
	if got, want := vip("del"), "syslog: 10.0.0.100/24 dev eth0 unchanged\n"; got != want {
		t.Errorf("second del = %q, want %q", got, want)
	}
}

func TestIntegrationVIPErrors(t *testing.T) {
	testutil.RequireKernel(t)
	ns := testutil.NewNetNS(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantErr  string
		wantHint string
	}{
		{"unknown director", []string{"--node", "ls1"}, `no [[director]] named "ls1"`, ""},
		{"unknown vip", []string{"--node", "stash1", "--vip", "nosuch"}, `no [[vip]] named "nosuch"`, ""},
		{"missing interface", []string{"--node", "stash1"}, "no such interface eth0", "set the director's interface"},
		{"del missing interface", []string{"--node", "stash1"}, "no such interface eth0", "set the director's interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verb := "add"
			if strings.HasPrefix(tc.name, "del ") {
				verb = "del"
			}
			args := append([]string{"vip", verb, "-i", "testdata/vip-sysctl.toml", "--netns", ns.Path}, tc.args...)
			out, errOut, code := runCapture(args...)
			if code != 1 || !strings.Contains(errOut, "hala: error: ") || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", code, tc.wantErr, out, errOut)
			}
			if tc.wantHint != "" && !strings.Contains(errOut, "hala: hint: "+tc.wantHint) {
				t.Errorf("stderr lacks hint %q:\n%s", tc.wantHint, errOut)
			}
		})
	}
}
