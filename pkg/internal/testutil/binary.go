package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// EnvHalaBin names a prebuilt hala binary for HalaBinary to return.
const EnvHalaBin = "HALA_BIN"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// HalaBinary returns the absolute path of a hala binary: $HALA_BIN when set
// (the test VM sets it to bin/hala), else ./cmd/hala built once per test
// process into .cache/testbin/ at the module root, with hala-director
// (./cmd/hala-director) next to it, as make build and the packages have it. The path has no
// group- or world-writable component, so keepalived's script security
// accepts it as a MISC_CHECK.
func HalaBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() { binPath, binErr = findOrBuildHala() })
	if binErr != nil {
		tb.Fatalf("hala binary: %v", binErr)
	}
	return binPath
}

func findOrBuildHala() (string, error) {
	if p := os.Getenv(EnvHalaBin); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvHalaBin, p, err)
		}
		return abs, nil
	}
	goTool, err := LookTool("go")
	if err != nil {
		return "", fmt.Errorf("no %s set and no go tool to build one: %w", EnvHalaBin, err)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "testbin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// hala director executes hala-director from hala's directory: build
	// it first, so that hala is never there without it.
	if _, err := build(goTool, root, dir, "hala-director"); err != nil {
		return "", err
	}
	return build(goTool, root, dir, "hala")
}

// build builds ./cmd/NAME into dir/NAME. It builds to a private name,
// then renames: test binaries of several packages may build at once.
func build(goTool, root, dir, name string) (string, error) {
	tmp, err := os.CreateTemp(dir, name+"-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	cmd := exec.Command(goTool, "build", "-o", tmp.Name(), "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return final, nil
}

// ModuleRoot returns the directory holding hala's go.mod, found by walking
// up from the working directory (a test's package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/hala-lb/hala")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/hala-lb/hala above the working directory")
		}
		dir = parent
	}
}
