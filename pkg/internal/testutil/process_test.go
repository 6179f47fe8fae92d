package testutil

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPollReturnsOnceConditionHolds(t *testing.T) {
	calls := 0
	d, err := Poll(5*time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}
	if d >= 5*time.Second {
		t.Errorf("Poll took %v, want well under the timeout", d)
	}
}

func TestPollTimeoutKeepsLastError(t *testing.T) {
	_, err := Poll(50*time.Millisecond, 10*time.Millisecond, func() error {
		return errors.New("backend 10.0.0.1 still listed")
	})
	if err == nil || !strings.Contains(err.Error(), "backend 10.0.0.1 still listed") {
		t.Fatalf("Poll error = %v, want the condition's last error", err)
	}
}

func TestRunReturnsStatusAndOutput(t *testing.T) {
	sh := RequireTool(t, "sh")
	for _, tc := range []struct {
		script         string
		code           int
		stdout, stderr string
	}{
		{"echo out; echo err >&2", 0, "out\n", "err\n"},
		{"echo out; echo err >&2; exit 3", 3, "out\n", "err\n"},
		{"kill -TERM $$", -1, "", ""},
	} {
		code, stdout, stderr := Run(t, exec.Command(sh, "-c", tc.script))
		if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.script, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
}

func TestStartCapturesOutputAndStops(t *testing.T) {
	sh := RequireTool(t, "sh")
	p := Start(t, exec.Command(sh, "-c", "echo ready; exec sleep 60"))
	WaitFor(t, 5*time.Second, func() error {
		if !strings.Contains(p.Output(), "ready") {
			return errors.New("no output yet")
		}
		return nil
	})
	if done, _ := p.Exited(); done {
		t.Fatal("process ended early")
	}
	start := time.Now()
	if err := p.Stop(); err == nil {
		t.Error("Stop of a sleeping process returned nil, want the signal's exit error")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop took %v; SIGTERM should end sleep at once", d)
	}
	if done, _ := p.Exited(); !done {
		t.Error("process still running after Stop")
	}
}

func TestLookToolSearchesSbinAfterPath(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	if p, err := LookTool("sh"); err == nil {
		t.Fatalf("LookTool(sh) with an empty PATH = %s, want not found (sh lives in /bin)", p)
	}
	p, err := LookTool("ip")
	if err != nil {
		t.Skipf("no ip in %v: %v", sbinDirs, err)
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "sbin/ip") {
		t.Errorf("LookTool(ip) = %q, want an absolute path in an sbin directory", p)
	}
}
