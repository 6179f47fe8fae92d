package cli

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// TestDirectorExecutesHalaDirector: hala director runs in hala-director,
// next to hala. Only hala-director opens the metrics listener, so a busy
// --metrics-address failing with the listener's error proves the exec
// happened, before anything touches the kernel. A hala without its
// hala-director says so, with a hint.
func TestDirectorExecutesHalaDirector(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	src, err := os.ReadFile("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(t.TempDir(), "inventory.toml")
	src = []byte(strings.Replace(string(src), "[cluster]\n", "[cluster]\nmetrics_address = \""+busy.Addr().String()+"\"\n", 1))
	if err := os.WriteFile(inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinary(t, "director", "-i", inv)
	want := "hala: error: metrics listener: listen tcp " + busy.Addr().String() + ": bind: address already in use\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d stdout %q stderr %q\n want exit 1 and %q (from hala-director)", code, stdout, stderr, want)
	}

	alone := filepath.Join(t.TempDir(), "hala")
	data, err := os.ReadFile(testutil.HalaBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "director", "-i", inv)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(errOut.String(), "hala: error: hala director runs "+filepath.Join(filepath.Dir(alone), "hala-director")) ||
		!strings.Contains(errOut.String(), "hala: hint: install hala-director next to hala") {
		t.Errorf("hala without hala-director: %v, stderr %q; want exit 1 naming the missing binary, with a hint", err, errOut.String())
	}
}
