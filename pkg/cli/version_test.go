package cli

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// A binary built with the Makefile's -ldflags prints the stamped version
// and commit and the Go version that built it.
func TestVersionStampedBinary(t *testing.T) {
	goTool, err := testutil.LookTool("go")
	if err != nil {
		t.Skipf("no go tool to build hala: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "hala")
	build := exec.Command(goTool, "build", "-o", bin, "-ldflags",
		"-X github.com/hala-lb/hala/pkg/cli.version=v9.8.7 -X github.com/hala-lb/hala/pkg/cli.commit=0123abcd4567", "../../cmd/hala")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "hala v9.8.7 (commit 0123abcd4567, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if string(out) != want {
		t.Errorf("hala version = %q, want %q", out, want)
	}
}

// Unstamped (go test, go install), the commit comes from the go command's
// build info, else "unknown": the line never lacks a commit.
func TestVersionUnstamped(t *testing.T) {
	code, stdout, stderr := runHala(t, "version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	re := `^hala dev \(commit ([0-9a-f]{1,12}(-dirty)?|unknown), ` + regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`
	if !regexp.MustCompile(re).MatchString(stdout) {
		t.Errorf("hala version = %q, want %s", stdout, re)
	}
}
