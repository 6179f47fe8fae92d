package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	kernelOnce sync.Once
	kernelErr  error
)

// RequireKernel skips the test unless it runs as root on Linux with IPVS
// usable (it tries "modprobe ip_vs" first). With HALA_REQUIRE_KERNEL=1, as
// inside the test VM, it fails the test instead. Real-kernel tests call it
// first.
func RequireKernel(tb testing.TB) {
	tb.Helper()
	kernelOnce.Do(func() { kernelErr = probeKernel() })
	if kernelErr != nil {
		skipOrFail(tb, envOn(EnvRequireKernel),
			"real-kernel test needs %v (run it in the test VM: make test-vm)", kernelErr)
	}
}

// probeKernel says what is missing for real-kernel tests, or nil.
func probeKernel() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("root (euid is %d)", os.Geteuid())
	}
	const ipvsProc = "/proc/net/ip_vs"
	if _, err := os.Stat(ipvsProc); err == nil {
		return nil
	}
	msg := "no modprobe"
	if modprobe, err := LookTool("modprobe"); err == nil {
		out, err := exec.Command(modprobe, "ip_vs").CombinedOutput()
		msg = strings.TrimSpace(string(out))
		if err != nil && msg == "" {
			msg = err.Error()
		}
	}
	if _, err := os.Stat(ipvsProc); err != nil {
		return fmt.Errorf("the kernel's IPVS (%s missing; modprobe ip_vs: %s)", ipvsProc, msg)
	}
	return nil
}
