//go:build linux && integration

package render_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// Every firewall-offline-cmd process costs seconds under the test VM's
// emulated CPU, most of it Python's start-up and firewalld's imports.
// So the package starts one server (testdata/firewalld/offline-server.py)
// that imports once and forks a child per call to run the unmodified
// firewall-offline-cmd script; the child parses the arguments, loads the
// configuration from --system-config, validates and stores as the command
// would. The test binary itself, linked into a PATH directory under two
// names, is the client that hands a call to the server (TestMain):
//
//   - firewall-offline-cmd ARGS…: runs firewall-offline-cmd ARGS… there;
//   - firewall-cmd ARGS…: the shim the rendered scripts call. It turns
//     `firewall-cmd --permanent --zone=Z …` into
//     `firewall-offline-cmd --system-config DIR --zone=Z …` and `--reload`
//     into a no-op. It only translates; parsing and storage are
//     firewalld's. A call without --permanent fails: a runtime-only rule
//     would vanish at the script's own --reload. Every call is logged to
//     DIR/calls.
const (
	envDir  = "FIREWALLD_TEST_DIR"  // the configuration the shim edits
	envSock = "FIREWALLD_TEST_SOCK" // the server's socket
)

func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "firewall-cmd":
		os.Exit(firewallCmdShim(os.Args[1:]))
	case "firewall-offline-cmd":
		os.Exit(offlineClient(os.Args[1:]))
	}
	code := m.Run()
	if server.stop != nil {
		server.stop()
	}
	os.Exit(code)
}

// firewallCmdShim is the firewall-cmd the rendered scripts run.
func firewallCmdShim(args []string) int {
	dir := os.Getenv(envDir)
	if dir == "" {
		fmt.Fprintln(os.Stderr, "firewall-cmd shim: "+envDir+" is not set")
		return 2
	}
	if err := appendCall(filepath.Join(dir, "calls"), args); err != nil {
		fmt.Fprintln(os.Stderr, "firewall-cmd shim:", err)
		return 2
	}
	permanent := false
	rest := []string{"--system-config", dir}
	for _, a := range args {
		switch a {
		case "--reload":
			return 0
		case "--permanent":
			permanent = true
		default:
			rest = append(rest, a)
		}
	}
	if !permanent {
		fmt.Fprintln(os.Stderr, "firewall-cmd shim: call without --permanent:", strings.Join(rest[2:], " "))
		return 2
	}
	return offlineClient(rest)
}

// appendCall logs one call's arguments as a line of the calls file.
func appendCall(path string, args []string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, strings.Join(args, " ")); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// offlineClient runs firewall-offline-cmd args in the server on this
// process's stdin, stdout and stderr, and returns its exit status.
func offlineClient(args []string) int {
	status, err := callServer(os.Getenv(envSock), args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "firewall-offline-cmd client:", err)
		return 125
	}
	return status
}

func callServer(sock string, args []string) (int, error) {
	if sock == "" {
		return 0, fmt.Errorf("%s is not set", envSock)
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return 0, fmt.Errorf("connect to the server: %w", err)
	}
	defer conn.Close()
	msg, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	msg = append(msg, '\n')
	if _, _, err := conn.WriteMsgUnix(msg, syscall.UnixRights(0, 1, 2), nil); err != nil {
		return 0, fmt.Errorf("send the call: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("no exit status from the server (did firewall-offline-cmd crash?): %w", err)
	}
	return strconv.Atoi(strings.TrimSuffix(line, "\n"))
}

// firewalld is a firewall-cmd shim plus the firewall-offline-cmd it calls.
type firewalld struct {
	offline string // firewall-offline-cmd, the real one
	shimDir string // holds the clients firewall-cmd and firewall-offline-cmd
	sock    string // the server's socket
}

// server is the package's one firewall-offline-cmd server, started by the
// first test that needs it and stopped by TestMain. lock (a one-slot
// channel: this package's name sync is taken) guards the start.
var server = struct {
	lock    chan struct{}
	started bool
	fw      *firewalld
	err     error
	stop    func()
}{lock: make(chan struct{}, 1)}

// requireFirewalld returns the shim, starting the server on first use,
// and skips (or fails under HALA_REQUIRE_TOOLS / HALA_REQUIRE_KERNEL) when
// firewall-offline-cmd or root is missing.
func requireFirewalld(t *testing.T) *firewalld {
	t.Helper()
	offline := testutil.RequireTool(t, "firewall-offline-cmd")
	if os.Geteuid() != 0 {
		msg := "firewall-offline-cmd refuses to run without root"
		if os.Getenv(testutil.EnvRequireKernel) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	python := interpreter(t, offline)
	server.lock <- struct{}{}
	if !server.started {
		server.started = true
		server.fw, server.stop, server.err = startServer(python, offline)
	}
	<-server.lock
	if server.err != nil {
		t.Fatal(server.err)
	}
	return server.fw
}

// startServer starts testdata/firewalld/offline-server.py for offline
// under python, with the clients linked next to its socket, and waits
// until it serves.
func startServer(python, offline string) (*firewalld, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	script, err := filepath.Abs("testdata/firewalld/offline-server.py")
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "hala-firewalld-")
	if err != nil {
		return nil, nil, err
	}
	for _, name := range []string{"firewall-cmd", "firewall-offline-cmd"} {
		if err := os.Symlink(self, filepath.Join(dir, name)); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
	}
	fw := &firewalld{offline: offline, shimDir: dir, sock: filepath.Join(dir, "server.sock")}
	// Every call reads the ~300 files of firewalld's stock configuration,
	// which in the test VM come over 9p at seconds per call. The server
	// reads a copy, in RAM there, mounted over stockDir in a mount
	// namespace of its own: same path, same bytes, and the host's mounts
	// are never touched.
	cmd := exec.Command("/bin/sh", "-c", serveCopy, "sh", stockDir, filepath.Join(dir, "stock"), python, script, offline, fw.sock)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS, // Go also makes / private in it
		Pdeathsig:    syscall.SIGKILL,     // a test binary killed at its timeout skips TestMain's stop
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start firewall-offline-cmd server: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q, want ready", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err = <-ready:
	case <-time.After(3 * time.Minute): // imports take seconds under TCG
		err = errors.New("not ready after 3m")
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("firewall-offline-cmd server %s: %w\n%s", script, err, stderr.String())
	}
	return fw, stop, nil
}

// stockDir is where Debian's firewalld keeps its stock configuration
// (firewall.config.USR_LIB_FIREWALLD).
const stockDir = "/usr/lib/firewalld"

// serveCopy runs the server ($3…) with a copy of $1, made in $2, mounted
// over $1; without $1 it runs the server as is.
const serveCopy = `set -e
if [ -d "$1" ]; then
	cp -a "$1" "$2"
	mount --bind "$2" "$1"
fi
shift 2
exec "$@"
`

// interpreter returns the program on script's #! line: the server must
// run under the Python that firewall-offline-cmd itself runs under.
func interpreter(t *testing.T, script string) string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := strings.Fields(strings.TrimPrefix(string(line), "#!"))
	if !bytes.HasPrefix(line, []byte("#!")) || len(fields) == 0 {
		t.Fatalf("%s does not start with a #! line", script)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return testutil.RequireTool(t, fields[1])
	}
	return fields[0]
}

// offlineCmd runs firewall-offline-cmd on dir, fails the test when it
// exits non-zero, and returns its trimmed output.
func (fw *firewalld) offlineCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := fw.cmd(dir, filepath.Join(fw.shimDir, "firewall-offline-cmd"), append([]string{"--system-config", dir}, args...)...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("firewall-offline-cmd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
