// Command agentcrash measures, on the host's own kernel, how long after a
// receiver's SIGKILL `hala agent` tells a director that its input is gone,
// for receivers of several sizes. It is the native counterpart of the e2e
// row A2, which runs in the emulated (TCG) test VM.
//
// A killed process's sockets are closed only when its exit releases its
// files, and the kernel releases the address space first (do_exit: exit_mm
// before exit_files), so the time grows with the receiver's resident
// memory whatever the agent does: a Logstash JVM is mostly its heap. Each
// receiver here is this program run again, binding the input's UDP port
// and touching -sizes MiB, as a JVM with a pre-touched heap does. For each
// size it prints, over -runs kills, the median and the maximum of
// SIGKILL → the agent's stream event saying the input is down, and
// SIGKILL → the process reaped (its exit done), for comparison.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/agent/stream"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "receiver" {
		receiver(os.Args[2], os.Args[3])
		return
	}
	hala := flag.String("hala", "bin/hala", "the hala binary")
	sizes := flag.String("sizes", "16,1024,4096", "receivers' resident memory, MiB, comma-separated")
	runs := flag.Int("runs", 5, "kills per size")
	flag.Parse()
	if err := run(*hala, *sizes, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-agent-crash:", err)
		os.Exit(1)
	}
}

// receiver binds the UDP port, touches mib MiB and waits to be killed.
func receiver(port, mib string) {
	c, err := net.ListenPacket("udp4", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
	defer c.Close()
	n, _ := strconv.Atoi(mib)
	heap := make([]byte, n<<20)
	for i := 0; i < len(heap); i += 4096 {
		heap[i] = 1
	}
	fmt.Println("ready")
	select {}
}

type event struct {
	at time.Time
	up bool
}

func run(hala, sizes string, runs int) (err error) {
	tmp, err := os.MkdirTemp("", "bench-agent-crash")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		return err
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	inv := filepath.Join(tmp, "inventory.toml")
	src := "[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nvrrp_auth_pass = \"secret42\"\nipvs = \"director\"\n\n" +
		"[[director]]\nname = \"d1\"\naddress = \"192.0.2.1\"\n\n[[logstash]]\nname = \"l1\"\naddress = \"192.0.2.20\"\n\n" +
		"[[vip]]\nname = \"logs\"\naddress = \"192.0.2.100/24\"\nrouter_id = 1\n\n[agent]\nport = 9611\n\n" +
		fmt.Sprintf("[[service]]\nname = \"syslog\"\nvip = \"logs\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-in\"\n", port)
	if err := os.WriteFile(inv, []byte(src), 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	// The agent logs every kill; its log is shown only when the run fails.
	agentLog, err := os.Create(filepath.Join(tmp, "agent.log"))
	if err != nil {
		return err
	}
	defer agentLog.Close()
	cmd := exec.Command(hala, "agent", "-i", inv, "--node", "l1", "--listen", addr, "--log-format", "json")
	cmd.Stderr = agentLog
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	defer func() {
		if err != nil {
			b, _ := os.ReadFile(agentLog.Name())
			fmt.Fprintf(os.Stderr, "hala agent's log:\n%s", b)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s *stream.Stream
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if s, err = agent.Dial(ctx, http.DefaultClient, "http://"+addr, "", 5*time.Second); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			return err
		}
	}
	defer s.Close()
	key := "udp/" + strconv.Itoa(port)
	events := make(chan event, 64)
	go func() {
		defer close(events)
		for {
			ev, err := s.Next()
			if err != nil {
				return
			}
			at := time.Now()
			for _, in := range ev.Inputs {
				if in.Key() == key {
					events <- event{at, in.Up}
				}
			}
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("hala agent, one UDP input, receivers SIGKILLed %d times per size (median / max):\n", runs)
	for _, f := range strings.Split(sizes, ",") {
		mib := strings.TrimSpace(f)
		var toEvent, toReaped []time.Duration
		for range runs {
			ev, reaped, kerr := kill(self, port, mib, events)
			if kerr != nil {
				return fmt.Errorf("%s MiB: %w", mib, kerr)
			}
			toEvent, toReaped = append(toEvent, ev), append(toReaped, reaped)
		}
		fmt.Printf("  %5s MiB resident: SIGKILL → stream says down %s / %s; SIGKILL → reaped %s / %s\n",
			mib, ms(median(toEvent)), ms(slices.Max(toEvent)), ms(median(toReaped)), ms(slices.Max(toReaped)))
	}
	return nil
}

// kill starts a receiver, waits until the agent streams the input up,
// kills it and returns how long until the agent streamed it down and until
// the receiver was reaped.
func kill(self string, port int, mib string, events <-chan event) (toEvent, toReaped time.Duration, err error) {
	r := exec.Command(self, "receiver", strconv.Itoa(port), mib)
	r.Stderr = os.Stderr
	out, err := r.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := r.Start(); err != nil {
		return 0, 0, err
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		_ = r.Process.Kill()
		_ = r.Wait()
		return 0, 0, fmt.Errorf("receiver did not start: %q %v", line, err)
	}
	if err := await(events, true, 5*time.Second); err != nil {
		_ = r.Process.Kill()
		_ = r.Wait()
		return 0, 0, err
	}
	reaped := make(chan time.Time, 1)
	t0 := time.Now()
	if err := r.Process.Signal(syscall.SIGKILL); err != nil {
		return 0, 0, err
	}
	go func() { _ = r.Wait(); reaped <- time.Now() }()
	down := time.Now()
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case ev, ok := <-events:
			if !ok {
				return 0, 0, fmt.Errorf("stream ended")
			}
			if !ev.up {
				down, got = ev.at, true
			}
		case <-deadline:
			return 0, 0, fmt.Errorf("no down event 10s after the kill")
		}
	}
	return down.Sub(t0), (<-reaped).Sub(t0), nil
}

// await reads events until the input's state is up (or down).
func await(events <-chan event, up bool, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("stream ended")
			}
			if ev.up == up {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("input not streamed up=%v within %s", up, timeout)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
