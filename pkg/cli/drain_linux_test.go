//go:build linux && integration

package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// drain runs "hala VERB --drain-dir DIR --netns NS ARGS..." against the
// test's namespace.
func (c *ipvsCLI) drain(verb string, args ...string) (string, string, int, time.Duration) {
	c.t.Helper()
	testutil.LetOthersIn(c.t, c.dir)
	full := append([]string{verb, "--drain-dir", filepath.Join(c.dir, "drain"), "--netns", c.ns.Path}, args...)
	start := time.Now()
	code, stdout, stderr := testutil.Run(c.t, exec.Command(c.bin, full...))
	return stdout, stderr, code, time.Since(start)
}

// --wait reads the real IPVS table: a destination still at weight 1
// times out naming it; at weight 0 with no connections and a still
// counter it returns after the quiet second; gone, at once. undrain
// --wait returns once the destination is back at a weight above 0.
func TestIntegrationDrainWait(t *testing.T) {
	c := newIPVSCLI(t)
	if _, errOut, code := c.hala("apply"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	inv := filepath.Join(c.dir, "inv.toml")

	out, errOut, code, _ := c.drain("drain", "-i", inv, "--wait", "--timeout", "1500ms", "l2")
	if code != 1 || out != "drained l2 (10.0.0.12)\n" ||
		!strings.Contains(errOut, "still pointing at it: UDP 10.0.0.100:5514") ||
		!strings.Contains(errOut, "-> 10.0.0.12:5514 weight 1, 0 active connections, 0 packets in (not quiesced)") {
		t.Errorf("weight 1: exit %d stdout %q stderr %q, want exit 1 naming the destination", code, out, errOut)
	}

	c.ns.Run(t, c.ipvsadm, "-e", "-u", "10.0.0.100:5514", "-r", "10.0.0.12:5514", "-m", "-w", "0")
	out, errOut, code, took := c.drain("drain", "-i", inv, "--wait", "--timeout", "10s", "l2")
	if code != 0 || !strings.HasSuffix(out, "l2 (10.0.0.12) gets no traffic from this director\n") || took < time.Second {
		t.Errorf("weight 0: exit %d after %v, stdout %q stderr %q; want 0 after the quiet second", code, took, out, errOut)
	}

	c.ns.Run(t, c.ipvsadm, "-d", "-u", "10.0.0.100:5514", "-r", "10.0.0.12:5514")
	if _, errOut, code, took := c.drain("drain", "-i", inv, "--wait", "l2"); code != 0 || took > 900*time.Millisecond {
		t.Errorf("destination gone: exit %d after %v (%s), want 0 at once", code, took, errOut)
	}

	if _, errOut, code, _ := c.drain("undrain", "-i", inv, "--wait", "--timeout", "1s", "l2"); code != 1 || !strings.Contains(errOut, "0 of 1 destinations at weight above 0") {
		t.Errorf("undrain --wait, not back: exit %d stderr %q", code, errOut)
	}
	c.ns.Run(t, c.ipvsadm, "-a", "-u", "10.0.0.100:5514", "-r", "10.0.0.12:5514", "-m", "-w", "1")
	if out, errOut, code, _ := c.drain("undrain", "-i", inv, "--wait", "l2"); code != 0 || !strings.HasSuffix(out, "l2 (10.0.0.12) is back in this director's table\n") {
		t.Errorf("undrain --wait, back: exit %d stdout %q stderr %q", code, out, errOut)
	}
}
