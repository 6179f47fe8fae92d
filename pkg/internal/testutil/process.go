package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Run runs cmd to its end and returns its exit status and what it wrote
// to stdout and stderr. An exit status other than 0 is a result (-1 when a
// signal ended it); a command that cannot run fails the test.
func Run(tb testing.TB, cmd *exec.Cmd) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tb.Fatalf("run %s: %v", strings.Join(cmd.Args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// Process is a background command started for one test.
type Process struct {
	cmd  *exec.Cmd
	out  SyncBuffer
	done chan struct{}
	err  error // valid after done is closed
}

// Start starts cmd in the background with its stdout and stderr captured.
// At test cleanup the process gets SIGTERM, then SIGKILL after 5 s, and its
// output is logged when the test failed.
func Start(tb testing.TB, cmd *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("output of %s:\n%s", strings.Join(cmd.Args, " "), p.Output())
		}
	})
	return p
}

// String returns the command line.
func (p *Process) String() string { return strings.Join(p.cmd.Args, " ") }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process has written to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended, and its exit error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM, waits up to 5 s, then sends SIGKILL; it returns the
// exit error. Stopping an ended process just returns how it ended.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// WaitFor polls cond every 100 ms until it returns nil and fails the test
// with cond's last error when timeout passes first. It returns how long the
// wait took, for tests that assert on it.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() error) time.Duration {
	tb.Helper()
	d, err := Poll(timeout, 100*time.Millisecond, cond)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Poll calls cond every interval until it returns nil or timeout passes.
// It returns the time taken and, on timeout, an error holding cond's last
// error. cond is always called at least once, and once more at the deadline.
func Poll(timeout, interval time.Duration, cond func() error) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			return time.Since(start), nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return time.Since(start), fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(min(interval, deadline.Sub(now)))
	}
}
