package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const rollingRestart = "../rolling-restart"

// --help is asked for, so it goes to stdout with exit 0, and says how
// remote commands get root; a usage mistake goes to stderr with exit 2.
func TestRollingRestartUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(rollingRestart, "--help")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("--help: %v, stderr %q", err, errOut.String())
	}
	for _, want := range []string{"usage: hala-rolling-restart -i FILE", `"ssh {} sudo"`, "need root", "(default /usr/bin/hala"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	cmd = exec.Command(rollingRestart, "--bogus")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var exit *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 2 || out.Len() > 0 || !strings.Contains(errOut.String(), "unknown argument --bogus") {
		t.Errorf("--bogus: %v, stdout %q, stderr %q; want exit 2 and the usage on stderr", err, out.String(), errOut.String())
	}
}

// A hala missing on a host stops the restart before anything is drained,
// and says so (it used to report "left drained" after sh's "not found").
func TestRollingRestartChecksHalaFirst(t *testing.T) {
	hala := buildHala(t)
	drainDir := t.TempDir()
	var out bytes.Buffer
	cmd := exec.Command(rollingRestart, "-i", "../../examples/two-node.toml", "--hala", "/nonexistent/hala", "--restart", "false")
	cmd.Env = append(os.Environ(), "LOCAL_HALA="+hala, "HALA_DRAIN_DIR="+drainDir)
	cmd.Stdout, cmd.Stderr = &out, &out
	var exit *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "rolling-restart: FAILED: /nonexistent/hala is not on stash1 (nothing was drained): give --hala PATH") ||
		strings.Contains(got, "left drained") || strings.Contains(got, ": drain on") {
		t.Errorf("output:\n%s", got)
	}
	if entries, _ := os.ReadDir(drainDir); len(entries) > 0 {
		t.Errorf("drain records written: %v", entries)
	}
}

// buildHala returns make build's bin/hala, or builds one.
func buildHala(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../../bin/hala"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "hala")
	cmd := exec.Command("go", "build", "-o", p, "./cmd/hala")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return p
}
