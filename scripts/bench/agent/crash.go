package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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

// runCrash measures, on the host's own kernel, how long after a
// receiver's SIGKILL `hala agent` tells a director that its input is gone,
// for receivers of several sizes (scripts/bench-agent-crash): the native
// counterpart of the e2e row A2, which runs in the emulated (TCG) test VM.
//
// A killed process's sockets are closed only when its exit releases its
// files, and the kernel releases the address space first (do_exit: exit_mm
// before exit_files), so the time grows with the receiver's resident
// memory whatever the agent does: a Logstash JVM is mostly its heap. Each
// receiver is this program run again, binding the input's UDP port and
// touching the size given in MiB, as a JVM with a pre-touched heap does.
// For each size it prints, over runs kills, the median and the maximum of
// SIGKILL → the agent's stream event saying the input is down, and
// SIGKILL → the process reaped (its exit done), for comparison.
func runCrash(hala, sizes string, runs int) (err error) {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The agent logs every kill; its log is shown only when the run fails.
	agentLog, err := os.Create(filepath.Join(tmp, "agent.log"))
	if err != nil {
		return err
	}
	defer agentLog.Close()
	defer func() {
		if err != nil {
			b, _ := os.ReadFile(agentLog.Name())
			fmt.Fprintf(os.Stderr, "hala agent's log:\n%s", b)
		}
	}()
	s, _, stop, err := startAgent(ctx, hala, tmp, fmt.Sprintf("[[service]]\nname = \"syslog\"\nvip = \"logs\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"udp-in\"\n", port), agentLog)
	if err != nil {
		return err
	}
	defer stop()
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
