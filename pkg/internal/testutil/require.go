package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Environment variables that turn skips into failures.
const (
	// EnvRequireTools makes RequireTool fail instead of skip ("1" = on).
	// make test sets it.
	EnvRequireTools = "HALA_REQUIRE_TOOLS"
	// EnvRequireKernel makes RequireKernel and RequireTool fail instead of
	// skip ("1" = on). The test VM sets it.
	EnvRequireKernel = "HALA_REQUIRE_KERNEL"
)

// sbinDirs are searched after PATH: tools such as ip, ipvsadm and keepalived
// live there and a non-login PATH may lack them.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

func envOn(name string) bool { return os.Getenv(name) == "1" }

// skipOrFail skips the test with the reason, or fails it when strict.
func skipOrFail(tb testing.TB, strict bool, format string, args ...any) {
	tb.Helper()
	if strict {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}

// RequireTool returns the absolute path of the named program, found in PATH
// or an sbin directory. When it is missing the test is skipped with the
// reason, or fails when HALA_REQUIRE_TOOLS=1 or HALA_REQUIRE_KERNEL=1.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	if path, err := LookTool(name); err == nil {
		return path
	}
	skipOrFail(tb, envOn(EnvRequireTools) || envOn(EnvRequireKernel),
		"%s not found in PATH or %v (install it; make deps does)", name, sbinDirs)
	return ""
}

// LookTool is exec.LookPath that also searches the sbin directories.
func LookTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return filepath.Abs(path)
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, statErr := os.Stat(p); statErr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", err
}
