package standin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T, proto string) string {
	t.Helper()
	switch proto {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
}

type fixture struct {
	s   *Server
	out string
	api string
	udp string
	tcp string
}

func start(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		out: filepath.Join(t.TempDir(), "itworked.json"),
		api: freePort(t, "tcp"),
		udp: freePort(t, "udp"),
		tcp: freePort(t, "tcp"),
	}
	s, err := New(Config{
		Name:   "stash1",
		API:    f.api,
		Output: f.out,
		Inputs: []Input{
			{ID: "udp-5514", Proto: "udp", Addr: f.udp},
			{ID: "tcp-5514", Proto: "tcp", Addr: f.tcp},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f.s = s
	return f
}

// statsBody is the part of the 7.x /_node/stats layout a health check reads.
type statsBody struct {
	Name      string `json:"name"`
	Pipelines map[string]struct {
		Plugins struct {
			Inputs []struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Events struct {
					Out int64 `json:"out"`
				} `json:"events"`
			} `json:"inputs"`
		} `json:"plugins"`
	} `json:"pipelines"`
}

func (f *fixture) stats(t *testing.T) (statsBody, error) {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + f.api + "/_node/stats")
	if err != nil {
		return statsBody{}, err
	}
	defer resp.Body.Close()
	var b statsBody
	if resp.StatusCode != 200 {
		return b, fmt.Errorf("status %s", resp.Status)
	}
	return b, json.NewDecoder(resp.Body).Decode(&b)
}

// inputs returns "id:out" for every listed input of pipeline main.
func (f *fixture) inputs(t *testing.T) []string {
	t.Helper()
	b, err := f.stats(t)
	if err != nil {
		t.Fatalf("GET /_node/stats: %v", err)
	}
	var out []string
	for _, in := range b.Pipelines["main"].Plugins.Inputs {
		out = append(out, fmt.Sprintf("%s:%d", in.ID, in.Events.Out))
	}
	return out
}

func (f *fixture) events(t *testing.T) []Event {
	t.Helper()
	data, err := os.ReadFile(f.out)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func sendUDP(t *testing.T, addr string, msgs ...string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
}

func waitEvents(t *testing.T, f *fixture, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := f.events(t)
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUDPInputWritesJSONLinesAndCounts(t *testing.T) {
	f := start(t)
	sendUDP(t, f.udp, "testing...\n", "<13>second")
	evs := waitEvents(t, f, 2)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2: %+v", len(evs), evs)
	}
	if evs[0].Message != "testing...\n" || evs[1].Message != "<13>second" {
		t.Errorf("messages = %q, %q; want them verbatim", evs[0].Message, evs[1].Message)
	}
	for _, e := range evs {
		if e.Host != "127.0.0.1" || e.Version != "1" {
			t.Errorf("event %+v: want host 127.0.0.1 (the sender) and @version 1", e)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
			t.Errorf("@timestamp %q: %v", e.Timestamp, err)
		}
	}
	got := strings.Join(f.inputs(t), " ")
	if got != "udp-5514:2 tcp-5514:0" {
		t.Errorf("stats inputs = %q, want %q", got, "udp-5514:2 tcp-5514:0")
	}
}

func TestTCPInputReadsLines(t *testing.T) {
	f := start(t)
	c, err := net.Dial("tcp", f.tcp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "one\ntwo\n")
	c.Close()
	evs := waitEvents(t, f, 2)
	if len(evs) != 2 || evs[0].Message != "one" || evs[1].Message != "two" {
		t.Fatalf("events = %+v, want messages one and two", evs)
	}
	if got := strings.Join(f.inputs(t), " "); got != "udp-5514:0 tcp-5514:2" {
		t.Errorf("stats inputs = %q", got)
	}
}

func TestStopInputKeepsAPIAndDrainsQueue(t *testing.T) {
	f := start(t)
	// Datagrams already queued when the input stops are still recorded.
	var msgs []string
	for i := range 50 {
		msgs = append(msgs, fmt.Sprintf("m%d", i))
	}
	sendUDP(t, f.udp, msgs...)
	if err := f.s.StopInput("udp-5514"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t)); n != 50 {
		t.Fatalf("recorded %d of 50 datagrams queued before the stop", n)
	}
	if got := strings.Join(f.inputs(t), " "); got != "tcp-5514:0" {
		t.Errorf("stats inputs after stop = %q, want only tcp-5514 (udp-5514 gone, API up)", got)
	}
	sendUDP(t, f.udp, "while stopped")
	time.Sleep(50 * time.Millisecond)
	if n := len(f.events(t)); n != 50 {
		t.Errorf("a stopped input recorded a message (%d events)", n)
	}
	if err := f.s.StartInput("udp-5514"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.inputs(t), " "); got != "udp-5514:50 tcp-5514:0" {
		t.Errorf("stats inputs after restart = %q", got)
	}
	sendUDP(t, f.udp, "after")
	if evs := waitEvents(t, f, 51); len(evs) != 51 || evs[50].Message != "after" {
		t.Errorf("restarted input did not record: %d events", len(evs))
	}
}

func TestStopAPIKeepsInput(t *testing.T) {
	f := start(t)
	if err := f.s.StopAPI(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.stats(t); err == nil {
		t.Fatal("API answered while stopped")
	}
	sendUDP(t, f.udp, "api down")
	if evs := waitEvents(t, f, 1); len(evs) != 1 {
		t.Fatalf("input stopped receiving with the API: %d events", len(evs))
	}
	if err := f.s.StartAPI(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.inputs(t), " "); got != "udp-5514:1 tcp-5514:0" {
		t.Errorf("stats inputs = %q", got)
	}
}

func TestBlackholeAcceptsButNeverAnswers(t *testing.T) {
	f := start(t)
	f.s.SetBlackhole(true)
	c, err := net.Dial("tcp", f.api)
	if err != nil {
		t.Fatalf("black-holed API must accept connections: %v", err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /_node/stats HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("black-holed API answered: n=%d err=%v", n, err)
	}
	sendUDP(t, f.udp, "still in")
	if evs := waitEvents(t, f, 1); len(evs) != 1 {
		t.Fatal("input stopped receiving during the black hole")
	}
	f.s.SetBlackhole(false)
	// The held connection is dropped without an answer.
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("held connection after the black hole: n=%d err=%v, want EOF", n, err)
	}
	if got := strings.Join(f.inputs(t), " "); got != "udp-5514:1 tcp-5514:0" {
		t.Errorf("stats inputs after the black hole = %q", got)
	}
}

func TestPipelineEndpoints(t *testing.T) {
	f := start(t)
	for path, want := range map[string]int{
		"/":                            200,
		"/_node/stats/pipelines":       200,
		"/_node/stats/pipelines/main":  200,
		"/_node/stats/pipelines/other": 404,
	} {
		resp, err := http.Get("http://" + f.api + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
}

func TestControlSocket(t *testing.T) {
	f := start(t)
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go f.s.ServeControl(l)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct{ cmd, want string }{
		{"input stop udp-5514", "ok"},
		{"api blackhole", "ok"},
		{"status", "api=blackhole requests=0 udp-5514=stopped tcp-5514=up"},
		{"api answer", "ok"},
		{"api stop", "ok"},
		{"input start", "ok"},
		{"status", "api=stopped requests=0 udp-5514=up tcp-5514=up"},
		{"api start", "ok"},
		{"status", "api=up requests=0 udp-5514=up tcp-5514=up"},
		{"process delay 10ms", "ok"},
		{"process delay 0s", "ok"},
	} {
		got, err := Control(ctx, sock, tc.cmd)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.cmd, got, err, tc.want)
		}
	}
	for _, bad := range []string{"input stop nope", "reboot", "api stop now", "process delay soon", "process delay -1s"} {
		if _, err := Control(ctx, sock, bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestMainFlagsAndSignal(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"-out", "x"}, &out, &errb); code != 2 {
		t.Errorf("no -input: exit %d, want 2", code)
	}
	if code := Main([]string{"-out", "x", "-input", "udp://:1"}, &out, &errb); code != 2 {
		t.Errorf("input without id: exit %d, want 2", code)
	}
	if _, err := ParseInput("udp-5514=sctp://1.2.3.4:5"); err == nil {
		t.Error("sctp input accepted")
	}
	in, err := ParseInput("udp-5514=udp://192.168.1.210:5514")
	if err != nil || in.String() != "udp-5514=udp://192.168.1.210:5514" {
		t.Errorf("ParseInput round trip: %v %v", in, err)
	}
}

func TestMainServesUntilSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a stand-in")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	api, udp := freePort(t, "tcp"), freePort(t, "udp")
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"-name", "n1", "-api", api, "-input", "udp-1=udp://" + udp,
			"-out", filepath.Join(dir, "o.json"), "-control", sock}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("first stdout line %q, %v; want ready", line, err)
	}
	go io.Copy(io.Discard, pr)
	ans, err := Control(context.Background(), sock, "status")
	if err != nil || ans != "api=up requests=0 udp-1=up" {
		t.Fatalf("status = %q, %v", ans, err)
	}
	p, _ := os.FindProcess(os.Getpid())
	// Main owns SIGTERM while it runs; the signal ends it with status 0.
	p.Signal(os.Interrupt)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Main did not return after SIGINT")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

// TestMain lets the test binary run as a stand-in process, for the
// restart test: SIGHUP executes the binary again.
func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const envRunMain = "STANDIN_TEST_RUN_MAIN"

// pipelineStats is the part of the 8.x pipeline stats that load weights
// read.
type pipelineStats struct {
	Version   string `json:"version"`
	Ephemeral string `json:"ephemeral_id"`
	Pipelines map[string]struct {
		Events struct {
			Out      int64 `json:"out"`
			Duration int64 `json:"duration_in_millis"`
		} `json:"events"`
		Flow struct {
			WorkerUtilization struct {
				Current  float64 `json:"current"`
				Lifetime float64 `json:"lifetime"`
			} `json:"worker_utilization"`
		} `json:"flow"`
	} `json:"pipelines"`
}

func getPipelineStats(t *testing.T, api string) pipelineStats {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + api + "/_node/stats/pipelines/main")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b pipelineStats
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProcessDelaySlowsTheWorkerAndShowsInFlowMetrics(t *testing.T) {
	f := start(t)
	f.s.SetProcessDelay(10 * time.Millisecond)
	msgs := make([]string, 100)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("m%d", i)
	}
	sendUDP(t, f.udp, msgs...)
	time.Sleep(300 * time.Millisecond)
	// A second of work queued: events.out counts only what was worked on.
	b := getPipelineStats(t, f.api)
	p := b.Pipelines["main"]
	if b.Version != "8.15.0" {
		t.Errorf("version %q, want 8.15.0 (a release with flow.worker_utilization)", b.Version)
	}
	if p.Events.Out >= 100 || p.Events.Out == 0 {
		t.Errorf("events.out = %d 300ms into 1s of work; want some, not all", p.Events.Out)
	}
	if u := p.Flow.WorkerUtilization; u.Current < 70 || u.Lifetime < 70 {
		t.Errorf("worker_utilization %+v while the worker is saturated; want ≥ 70%%", u)
	}
	if p.Events.Duration < 10*p.Events.Out {
		t.Errorf("duration_in_millis = %d for %d events of 10ms each", p.Events.Duration, p.Events.Out)
	}
	if evs := waitEvents(t, f, 100); len(evs) != 100 {
		t.Fatalf("%d of 100 messages written", len(evs))
	}

	// Without the delay the same work leaves the worker nearly idle.
	g := start(t)
	sendUDP(t, g.udp, msgs...)
	if evs := waitEvents(t, g, 100); len(evs) != 100 {
		t.Fatalf("%d of 100 messages written", len(evs))
	}
	time.Sleep(100 * time.Millisecond)
	if u := getPipelineStats(t, g.api).Pipelines["main"].Flow.WorkerUtilization; u.Current > 20 {
		t.Errorf("worker_utilization %+v without a process delay; want under 20%%", u)
	}
}

func TestCloseWritesWhatIsQueued(t *testing.T) {
	f := start(t)
	f.s.SetProcessDelay(5 * time.Millisecond)
	msgs := make([]string, 40)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("m%d", i)
	}
	sendUDP(t, f.udp, msgs...)
	time.Sleep(20 * time.Millisecond)
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.events(t)); n != 40 {
		t.Errorf("%d of 40 messages written when Close returned", n)
	}
}

func TestSIGHUPRestartsInPlace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a stand-in process")
	}
	dir := t.TempDir()
	pidfile, out := filepath.Join(dir, "standin.pid"), filepath.Join(dir, "o.json")
	api, udp := freePort(t, "tcp"), freePort(t, "udp")
	cmd := exec.Command(os.Args[0], "-name", "n1", "-api", api, "-input", "udp-1=udp://"+udp,
		"-out", out, "-pidfile", pidfile, "-restart-delay", "500ms")
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var stdout testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitOutput := func(want string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(stdout.String(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %d× %q in the output:\n%s", n, want, stdout.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOutput("ready\n", 1)
	f := &fixture{out: out, api: api, udp: udp}
	sendUDP(t, udp, "before")
	waitEvents(t, f, 1)
	before := getPipelineStats(t, api)
	pid, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("pid file %q, %v; want %d", pid, err, cmd.Process.Pid)
	}

	// What a restart command does: remove the pid file, SIGHUP, wait for
	// the file: the old process has stopped by then.
	os.Remove(pidfile)
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidfile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file not written again after SIGHUP:\n%s", stdout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c, err := net.Dial("tcp", api); err == nil {
		c.Close()
		t.Error("the API still answers once the restarted stand-in wrote its pid file (within its 500ms start delay)")
	}
	waitOutput("ready\n", 2)
	after := getPipelineStats(t, api)
	if after.Ephemeral == before.Ephemeral || after.Pipelines["main"].Events.Out != 0 {
		t.Errorf("after SIGHUP: ephemeral_id %q (was %q), events.out %d; want a new process's (new id, 0)",
			after.Ephemeral, before.Ephemeral, after.Pipelines["main"].Events.Out)
	}
	sendUDP(t, udp, "after")
	if evs := waitEvents(t, f, 2); len(evs) != 2 || evs[0].Message != "before" || evs[1].Message != "after" {
		t.Errorf("output after the restart: %+v; want before, after (appended)", evs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v (pid %d kept across the restart)", err, cmd.Process.Pid)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// A paused UDP input reads nothing: with a small buffer the kernel drops
// what does not fit; afterwards it reads again.
func TestPauseInputDropsBeyondTheBuffer(t *testing.T) {
	f := start(t)
	// The pause only needs to outlast sending 50 datagrams; the test then
	// waits on events, not on a clock: what the socket kept is read once
	// the pause ends, and a marker sent after that comes behind it.
	if err := f.s.PauseInput("udp-5514", time.Second, 2048); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for i := range 50 {
		msgs = append(msgs, fmt.Sprintf("m%d-%s", i, strings.Repeat("x", 200)))
	}
	sendUDP(t, f.udp, msgs...)
	if len(waitEvents(t, f, 1)) == 0 {
		t.Fatal("nothing recorded after the pause: the socket kept none of the 50 datagrams")
	}
	sendUDP(t, f.udp, "after")
	evs := waitEvents(t, f, 2)
	for !slices.ContainsFunc(evs, func(e Event) bool { return e.Message == "after" }) {
		if evs = waitEvents(t, f, len(evs)+1); !slices.ContainsFunc(evs, func(e Event) bool { return e.Message == "after" }) {
			t.Fatalf("the marker sent after the pause was not recorded: %d events", len(evs))
		}
	}
	kept := len(evs) - 1
	if kept == 0 || kept >= 50 {
		t.Fatalf("recorded %d of 50 datagrams sent during the pause; want some, not all", kept)
	}
	if _, err := f.s.Command("input pause udp-5514 soon 10"); err == nil {
		t.Error("a bad duration was accepted")
	}
}

// input buffer sets the UDP input's receive buffer, beyond rmem_max as
// root (the kernel reports twice what was set).
func TestInputBuffer(t *testing.T) {
	f := start(t)
	want := 4 << 20
	if os.Geteuid() != 0 {
		b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
		if err != nil {
			t.Skip("not root and no rmem_max to expect:", err)
		}
		want, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		want = min(want, 4<<20)
	}
	if _, err := f.s.Command("input buffer udp-5514 4194304"); err != nil {
		t.Fatal(err)
	}
	f.s.mu.Lock()
	ins, err := f.s.selected("udp-5514")
	f.s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ins[0].pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	raw.Control(func(fd uintptr) { got, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	if err != nil || got < 2*want {
		t.Errorf("SO_RCVBUF = %d (%v), want at least %d", got, err, 2*want)
	}
	if _, err := f.s.Command("input buffer udp-5514 lots"); err == nil {
		t.Error("a bad size was accepted")
	}
}
