package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// checkAPI serves a node stats body on loopback like Logstash 8.x does.
func checkAPI(t *testing.T, body string) (host, port string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/_node/stats", "/_node/stats/pipelines", "/_node/stats/pipelines/main":
			io.WriteString(w, body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	host, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return host, port
}

const checkBody = `{"version":"8.15.0","pipelines":{"main":{
	"flow":{"worker_utilization":{"current":50.0}},
	"plugins":{"inputs":[{"id":"udp-5514","name":"udp","events":{"out":3}},{"id":"tcp-5514","name":"tcp"}]}}}}`

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) (host, port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port
}

// dripBody answers with headers, then feeds the body one byte at a time.
func dripBody(t *testing.T) (host, port string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, `{"pipelines":{"main":`)
		for {
			w.(http.Flusher).Flush()
			if _, err := io.WriteString(w, " "); err != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(40 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	host, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return host, port
}

// syslogSink is a unix datagram socket standing in for /dev/log.
func syslogSink(t *testing.T) (path string, next func() string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return path, func() string {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no syslog message: %v", err)
		}
		return string(buf[:n])
	}
}

type procResult struct {
	code           int
	stdout, stderr string
}

// runProc runs cmd to its end with the test's environment plus env: an
// exit status other than 0 is a result, a process that cannot run fails
// the test.
func runProc(t *testing.T, cmd *exec.Cmd, env []string) procResult {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	code, stdout, stderr := testutil.Run(t, cmd)
	return procResult{code: code, stdout: stdout, stderr: stderr}
}

// checkProcess runs the built hala binary as keepalived would.
func checkProcess(t *testing.T, env []string, args ...string) procResult {
	t.Helper()
	return runProc(t, exec.Command(testutil.HalaBinary(t), append([]string{"check"}, args...)...), env)
}

// TestCheckProcess runs the real binary as a subprocess: exit status,
// empty stdout, the one stderr line, the syslog line, and the exit-time
// bound for a black-holed and a drip-feeding API.
func TestCheckProcess(t *testing.T) {
	host, port := checkAPI(t, checkBody)
	sock, nextLog := syslogSink(t)
	env := []string{"HALA_SYSLOG_SOCKET=" + sock, "HALA_STATE_DIR=" + t.TempDir()}

	r := checkProcess(t, env, "--port", port, host, "udp-5514")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("healthy: exit %d stdout %q stderr %q, want 0 and nothing printed", r.code, r.stdout, r.stderr)
	}

	r = checkProcess(t, env, "--port", port, "--pipeline", "main", host, "beats-5044")
	want := "hala-check: " + host + ":" + port + ` input "beats-5044" not found in pipeline "main" (inputs there: "udp-5514", "tcp-5514")` + "\n"
	if r.code != 1 || r.stdout != "" || r.stderr != want {
		t.Errorf("absent input: exit %d stdout %q stderr %q\n want exit 1, stderr %q", r.code, r.stdout, r.stderr, want)
	}
	msg := nextLog()
	if !strings.HasPrefix(msg, "<27>") || !strings.Contains(msg, " hala-check[") || !strings.HasSuffix(strings.TrimSpace(msg), strings.TrimPrefix(strings.TrimSpace(want), "hala-check: ")) {
		t.Errorf("syslog got %q, want priority <27> (daemon.err), tag hala-check and the line", msg)
	}

	// Render ends the flags with "--", so an input id may begin with "-".
	dashed, dashedPort := checkAPI(t, string(testutil.NodeStats("-x")))
	if r := checkProcess(t, env, "--port", dashedPort, "--timeout", "2s", "--", dashed, "-x"); r.code != 0 || r.stderr != "" {
		t.Errorf(`input "-x" after --: exit %d stderr %q, want healthy`, r.code, r.stderr)
	}
	if r := checkProcess(t, env, "--port", dashedPort, "--", dashed, "-y"); r.code != 1 || !strings.Contains(r.stderr, `input "-y" not found in pipelines`) {
		t.Errorf(`input "-y" after --: exit %d stderr %q, want it looked for and not found`, r.code, r.stderr)
	}
	nextLog()

	r = checkProcess(t, env, "--port", port, "--dynamic-weight", host, "udp-5514")
	if r.code != 2+132 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--dynamic-weight at 50%% utilization: exit %d (stderr %q), want %d", r.code, r.stderr, 2+132)
	}

	// Command-line errors: stderr is lost under keepalived, so each also
	// goes to syslog, and the exit status is 1 (down).
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", host, "udp-5514"}, "unknown flag: --bogus"},
		{[]string{host}, `accepts 2 arg(s), received 1: ["` + host + `"]`},
		{[]string{"--timeout", "0", host, "udp-5514"}, "--timeout 0s: must be positive"},
		{[]string{"--probe", host, "tcp-5514"}, "--probe needs --probe-port, the input's TCP port"},
		// <ip> is an IP literal: no DNS lookup on every run, no port.
		{[]string{"--port", port, "999.1.1.1", "udp-5514"}, `<ip> "999.1.1.1": not an IP address`},
		{[]string{"--port", port, "localhost", "udp-5514"}, `<ip> "localhost": not an IP address`},
		{[]string{host + ":" + port, "udp-5514"}, `<ip> "` + host + ":" + port + `": not an IP address`},
		{[]string{"--port", port, "[::1]", "udp-5514"}, `<ip> "[::1]": not an IP address`},
		{[]string{"--port", port, host, ""}, "<input-id> is empty"},
		{[]string{"--port", "0", host, "udp-5514"}, "--port 0: out of range 1-65535"},
		{[]string{"--port", "65536", host, "udp-5514"}, "--port 65536: out of range 1-65535"},
		{[]string{"--port", port, "--scheme", "HTTPS", host, "udp-5514"}, `--scheme "HTTPS": want http or https`},
		{[]string{"--port", port, "--timeout", "-1s", host, "udp-5514"}, "--timeout -1s: must be positive"},
		{[]string{"--port", port, "--max-idle", "0s", host, "udp-5514"}, "--max-idle 0s: must be positive"},
		{[]string{"--port", port, "--max-idle", "-5m", host, "udp-5514"}, "--max-idle -5m0s: must be positive"},
		{[]string{"--port", port, "--running-interval", "0s", host, "udp-5514"}, "--running-interval 0s: must be positive"},
		{[]string{"--port", port, "--max-body", "1023", host, "udp-5514"}, "--max-body 1023: must be at least 1024 (1 KiB)"},
		{[]string{"--port", port, "--probe-port", "5514", host, "tcp-5514"}, "--probe-port 5514 without --probe"},
		{[]string{"--port", port, "--probe", "--probe-port", "70000", host, "tcp-5514"}, "--probe-port 70000: out of range 1-65535"},
	} {
		r := checkProcess(t, env, tc.args...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "hala: error: "+tc.want+"\n") {
			t.Errorf("%q: exit %d stdout %q stderr %q, want exit 1 and the error", tc.args, r.code, r.stdout, r.stderr)
		}
		msg := nextLog()
		if want := "bad command line: " + tc.want + " (see hala check --help)"; !strings.HasPrefix(msg, "<27>") || !strings.Contains(msg, " hala-check[") || !strings.HasSuffix(strings.TrimSpace(msg), want) {
			t.Errorf("%q: syslog got %q, want daemon.err, tag hala-check, ending %q", tc.args, msg, want)
		}
	}

	for name, server := range map[string]func(*testing.T) (string, string){"black hole": blackHole, "drip-fed body": dripBody} {
		h, p := server(t)
		want := "hala-check: " + h + ":" + p + ` input "udp-5514": timed out after 500ms` + "\n"
		// The message says the deadline ended it; how close to its timeout
		// the process ends is the e2e table's measurement (row 4).
		r := checkProcess(t, env, "--port", p, "--timeout", "500ms", h, "udp-5514")
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Errorf("%s: exit %d stdout %q stderr %q\n want exit 1, stderr %q", name, r.code, r.stdout, r.stderr, want)
		}
		if got := nextLog(); !strings.Contains(got, "timed out after 500ms") {
			t.Errorf("%s: syslog got %q", name, got)
		}
	}
}

func TestCheckExplain(t *testing.T) {
	host, port := checkAPI(t, checkBody)
	var out, errOut bytes.Buffer
	code := Run([]string{"check", "--explain", "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut)
	report := out.String()
	for _, want := range []string{
		"GET http://" + host + ":" + port + "/_node/stats/pipelines → 200",
		`* input "udp-5514" (udp): events.out 3`,
		`verdict: healthy: ` + host + ":" + port + ` input "udp-5514" found in pipeline "main"`,
		"exit status 0",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if code != 0 || errOut.Len() != 0 {
		t.Errorf("exit %d stderr %q", code, errOut.String())
	}
}

func TestCheckAuthFileMode(t *testing.T) {
	host, port := checkAPI(t, checkBody)
	p := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(p, []byte("u:p\n"), 0o644)
	os.Chmod(p, 0o644)
	t.Setenv("HALA_API_AUTH_FILE", p)
	t.Setenv("HALA_SYSLOG_SOCKET", filepath.Join(t.TempDir(), "none"))
	var out, errOut bytes.Buffer
	code := Run([]string{"check", "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut)
	want := "hala-check: " + host + ":" + port + ` input "udp-5514": warning: the credentials in ` + p + ` travel in clear over http; use --scheme https (api_scheme = "https" in the inventory)` + "\n" +
		"hala-check: " + host + ":" + port + ` input "udp-5514": auth file ` + p + ` has mode 0644: it must not be readable by group or others (run: chmod 600 ` + p + ")\n"
	if code != 1 || out.Len() != 0 || errOut.String() != want {
		t.Errorf("exit %d stdout %q stderr %q\n want exit 1, stderr %q", code, out.String(), errOut.String(), want)
	}
	os.Chmod(p, 0o600)
	errOut.Reset()
	if code := Run([]string{"check", "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Errorf("0600 auth file: exit %d %s", code, errOut.String())
	}
}

func TestCheckUsageErrors(t *testing.T) {
	t.Setenv("HALA_SYSLOG_SOCKET", filepath.Join(t.TempDir(), "none"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "127.0.0.1"}, "hala: error: accepts 2 arg(s), received 1: [\"127.0.0.1\"]\n"},
		{[]string{"check", "--probe", "127.0.0.1", "tcp-5514"}, "hala: error: --probe needs --probe-port, the input's TCP port\nhala: hint: add --probe-port 5514 (the port the input listens on)\n"},
		{[]string{"check", "--timeout", "0s", "127.0.0.1", "x"}, "hala: error: --timeout 0s: must be positive\n"},
		{[]string{"check", "127.0.0.1:9600", "x"}, "hala: error: <ip> \"127.0.0.1:9600\": not an IP address\nhala: hint: use --port: hala check --port 9600 127.0.0.1 ...\n"},
		{[]string{"check", "[::1]:9601", "x"}, "hala: error: <ip> \"[::1]:9601\": not an IP address\nhala: hint: use --port: hala check --port 9601 ::1 ...\n"},
		{[]string{"check", "[::1]", "x"}, "hala: error: <ip> \"[::1]\": not an IP address\nhala: hint: write an IPv6 address without brackets: ::1\n"},
		{[]string{"check", "localhost", "x"}, "hala: error: <ip> \"localhost\": not an IP address\nhala: hint: give the node's IP address, e.g. 192.168.1.210 (hala check looks no name up)\n"},
		{[]string{"check", "stash1:9600", "x"}, "hala: error: <ip> \"stash1:9600\": not an IP address\nhala: hint: use --port 9600, and the node's IP address instead of \"stash1\"\n"},
		{[]string{"check", "--probe-port", "5514", "127.0.0.1", "x"}, "hala: error: --probe-port 5514 without --probe\nhala: hint: add --probe to connect to the input's port, or drop --probe-port\n"},
		{[]string{"check", "--", "127.0.0.1", ""}, "hala: error: <input-id> is empty\n"},
	} {
		var out, errOut bytes.Buffer
		code := Run(tc.args, strings.NewReader(""), &out, &errOut)
		if code != 1 || out.Len() != 0 || !strings.HasPrefix(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d stdout %q stderr %q, want exit 1 and %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}

// fakeWatchdog replaces the watchdog's timer for one test: armed
// receives the deadline and the function the check scheduled, which the
// test fires itself (no wall clock); exited receives exitProcess's code.
func fakeWatchdog(t *testing.T) (armed chan armedWatchdog, exited chan int) {
	armed, exited = make(chan armedWatchdog, 1), make(chan int, 1)
	oldExit, oldAfter := exitProcess, afterFunc
	t.Cleanup(func() { exitProcess, afterFunc = oldExit, oldAfter })
	exitProcess = func(code int) { exited <- code }
	afterFunc = func(d time.Duration, f func()) func() bool {
		armed <- armedWatchdog{d, f}
		return func() bool { return true }
	}
	return armed, exited
}

type armedWatchdog struct {
	after time.Duration
	fire  func()
}

// hangingChecker makes the check hang, ignoring its context (a hang the
// deadline cannot reach), after asking src once when ask is set; asked is
// closed once it has. The hang ends on cleanup.
func hangingChecker(t *testing.T, ask bool) (asked chan struct{}) {
	asked = make(chan struct{})
	release := make(chan struct{})
	oldRun := runChecker
	t.Cleanup(func() { close(release); runChecker = oldRun })
	runChecker = func(ctx context.Context, src check.Source, o check.Options) *check.Verdict {
		if ask {
			src.NodeStats(ctx, o.Pipeline) // a real exchange, ended by the check's deadline
		}
		close(asked)
		<-release
		return &check.Verdict{Healthy: true}
	}
	return asked
}

// TestCheckWatchdog: should the check itself ever hang past its deadline,
// the watchdog, armed at timeout + 50ms, still reports and ends the
// process.
func TestCheckWatchdog(t *testing.T) {
	armed, exited := fakeWatchdog(t)
	returned := make(chan struct{})
	t.Cleanup(func() { <-returned }) // after the hang is released (cleanups run last first)
	asked := hangingChecker(t, false)
	var out, errOut testutil.SyncBuffer
	go func() {
		defer close(returned)
		Run([]string{"check", "--timeout", "200ms", "127.0.0.1", "udp-5514"}, strings.NewReader(""), &out, &errOut)
	}()
	w := <-armed
	if w.after != 250*time.Millisecond {
		t.Errorf("watchdog armed for %s, want timeout + %s = 250ms", w.after, watchdogGrace)
	}
	<-asked // the check hangs
	w.fire()
	if code := <-exited; code != 1 {
		t.Errorf("watchdog exit(%d), want exit(1)", code)
	}
	if want := "hala-check: 127.0.0.1:9600 input \"udp-5514\": timed out after 200ms\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}

// TestCheckExplainWatchdog: when the watchdog ends a hung check, --explain
// still prints what was asked and why it failed.
func TestCheckExplainWatchdog(t *testing.T) {
	armed, exited := fakeWatchdog(t)
	returned := make(chan struct{})
	t.Cleanup(func() { <-returned }) // after the hang is released (cleanups run last first)
	asked := hangingChecker(t, true)
	h, p := blackHole(t)
	t.Setenv("HALA_SYSLOG_SOCKET", filepath.Join(t.TempDir(), "none"))
	var out, errOut testutil.SyncBuffer
	go func() {
		defer close(returned)
		Run([]string{"check", "--explain", "--timeout", "200ms", "--port", p, h, "udp-5514"}, strings.NewReader(""), &out, &errOut)
	}()
	w := <-armed
	<-asked // the exchange with the black hole has ended at the deadline
	w.fire()
	if code := <-exited; code != 1 {
		t.Errorf("watchdog exit(%d), want exit(1)", code)
	}
	report := out.String()
	for _, want := range []string{
		"GET http://" + h + ":" + p + "/_node/stats/pipelines",
		"the watchdog ended it",
		`verdict: UNHEALTHY: ` + h + ":" + p + ` input "udp-5514": timed out after 200ms`,
		"exit status 1",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestCheckExplainWritesNoState: an operator's --explain run leaves the
// --max-idle state as keepalived's runs left it.
func TestCheckExplainWritesNoState(t *testing.T) {
	host, port := checkAPI(t, checkBody)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := Run([]string{"check", "--explain", "--max-idle", "1m", "--state-dir", dir, "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut)
	if entries, _ := os.ReadDir(dir); code != 0 || len(entries) != 0 {
		t.Errorf("exit %d, state dir holds %v after --explain; want 0 and nothing", code, entries)
	}
	if code := Run([]string{"check", "--max-idle", "1m", "--state-dir", dir, "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("state dir holds %v after a normal run, want one file", entries)
	}
}

// TestCheckStateOwnedByAnotherUser: a state dir and file left by `sudo hala
// check --max-idle` (root, 0700/0600) must not fail the checks keepalived
// runs as script_user: healthy, with a warning on stderr and syslog.
func TestCheckStateOwnedByAnotherUser(t *testing.T) {
	host, port := checkAPI(t, checkBody)
	sock, nextLog := syslogSink(t)
	dir := filepath.Join(t.TempDir(), "hala")
	var out, errOut bytes.Buffer
	if code := Run([]string{"check", "--max-idle", "1m", "--state-dir", dir, "--port", port, host, "udp-5514"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("first run: exit %d %s", code, errOut.String())
	}
	env := []string{"HALA_SYSLOG_SOCKET=" + sock}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// Root: the state is root's; run the check as nobody. The syslog
		// socket must be writable by that user.
		// t.TempDir's parent is private too: open the path down to the
		// state dir, so what denies access is the state itself (0700/0600).
		os.Chmod(filepath.Dir(filepath.Dir(sock)), 0o755)
		os.Chmod(filepath.Dir(sock), 0o755)
		os.Chmod(sock, 0o777)
		os.Chmod(filepath.Dir(dir), 0o755)
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("state dir: %v %v, want mode 0700", fi, err)
		}
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	} else {
		// Not root: permissions that deny the current user.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Chmod(filepath.Join(dir, e.Name()), 0)
		}
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	cmd := exec.Command(testutil.HalaBinary(t), "check", "--max-idle", "1m", "--state-dir", dir, "--port", port, host, "udp-5514")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stdout.Len() != 0 || !strings.Contains(stderr.String(), `input "udp-5514": warning: --max-idle not enforced: read state: open `) ||
		!strings.Contains(stderr.String(), "permission denied") {
		t.Fatalf("state owned by another user: %v, stdout %q stderr %q; want exit 0 and a warning", err, stdout.String(), stderr.String())
	}
	if msg := nextLog(); !strings.HasPrefix(msg, "<28>") || !strings.Contains(msg, "--max-idle not enforced") {
		t.Errorf("syslog got %q, want daemon.warning with the warning", msg)
	}
}

// TestCheckAuthFile: credentials over plain http are warned of on stderr
// and syslog at every run (and not over https); an auth file of more than
// one line fails the check instead of using its first line.
func TestCheckAuthFile(t *testing.T) {
	plainHost, plainPort := checkAPI(t, checkBody)
	tlsSrv := statsServer(t, true, false)
	ca := writePEM(t, "ca.pem", tlsSrv.Certificate().Raw)
	tlsHost, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	sock, nextLog := syslogSink(t)
	env := []string{"HALA_SYSLOG_SOCKET=" + sock, "HALA_STATE_DIR=" + t.TempDir()}
	dir := t.TempDir()
	one := filepath.Join(dir, "one")
	os.WriteFile(one, []byte("hala:s3cret\n"), 0o600)
	two := filepath.Join(dir, "two")
	os.WriteFile(two, []byte("hala:s3cret\nother:pass\n"), 0o600)

	r := checkProcess(t, env, "--port", plainPort, "--auth-file", one, plainHost, "udp-5514")
	warning := plainHost + ":" + plainPort + ` input "udp-5514": warning: the credentials in ` + one + ` travel in clear over http; use --scheme https (api_scheme = "https" in the inventory)`
	if r.code != 0 || r.stderr != "hala-check: "+warning+"\n" {
		t.Errorf("over http: exit %d stderr %q, want 0 and the warning", r.code, r.stderr)
	}
	if msg := nextLog(); !strings.HasPrefix(msg, "<28>") || !strings.HasSuffix(strings.TrimSpace(msg), warning) {
		t.Errorf("syslog got %q, want daemon.warning %q", msg, warning)
	}

	r = checkProcess(t, env, "--port", tlsPort, "--scheme", "https", "--ca", ca, "--auth-file", one, tlsHost, "udp-5514")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("over https: exit %d stderr %q, want 0 and no warning", r.code, r.stderr)
	}

	r = checkProcess(t, env, "--port", tlsPort, "--scheme", "https", "--ca", ca, "--auth-file", two, tlsHost, "udp-5514")
	want := `input "udp-5514": auth file ` + two + `: 2 lines: want one line "user:password"`
	if r.code != 1 || !strings.HasSuffix(r.stderr, want+"\n") || strings.Contains(r.stderr, "s3cret") {
		t.Errorf("two lines: exit %d stderr %q, want exit 1 ending %q", r.code, r.stderr, want)
	}
	if msg := nextLog(); !strings.HasPrefix(msg, "<27>") || !strings.HasSuffix(strings.TrimSpace(msg), want) {
		t.Errorf("syslog got %q, want daemon.err ending %q", msg, want)
	}
}
