// Command agent measures hala agent, for scripts/bench-agent.
//
// It binds -inputs sockets (half UDP, half TCP listeners) on free ports,
// writes an inventory with one service per socket on one Logstash host,
// and runs `hala agent` (the release binary) watching them, with a
// director's stream open. UDP datagrams arrive at -rate per second per
// UDP socket and are never read, so the receive queues stay full and the
// drop counters grow at every dump: each dump finds changes and the
// stream carries them (the worst case; an idle host costs less). After a
// warm-up it reads the agent's CPU time (/proc/PID/stat) over -duration
// and its peak RSS (VmHWM). Targets: CPU <= 1% of one core, peak RSS <=
// 20 MiB; it exits 1 when one is missed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	inputs := flag.Int("inputs", 10, "sockets watched")
	rate := flag.Int("rate", 100, "datagrams per second to each UDP socket")
	duration := flag.Duration("duration", 30*time.Second, "measured time")
	crash := flag.String("crash", "", "instead: receivers' resident MiB, comma-separated, each SIGKILLed -runs times (crash.go)")
	runs := flag.Int("runs", 7, "with -crash: kills per size")
	flag.Parse()
	var err error
	if *crash != "" {
		err = runCrash(*hala, *crash, *runs)
	} else {
		err = run(*hala, *inputs, *rate, *duration)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-agent:", err)
		os.Exit(1)
	}
}

// inventoryHead is the benchmark inventory before its services: one
// director, one Logstash host l1 (the agent's --node).
const inventoryHead = "[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nvrrp_auth_pass = \"secret42\"\nipvs = \"director\"\n\n" +
	"[[director]]\nname = \"d1\"\naddress = \"192.0.2.1\"\n\n[[logstash]]\nname = \"l1\"\naddress = \"192.0.2.20\"\n\n" +
	"[[vip]]\nname = \"logs\"\naddress = \"192.0.2.100/24\"\nrouter_id = 1\n\n[agent]\nport = 9611\n\n"

// startAgent writes inventoryHead + services to dir, starts `hala agent`
// on it (its log to logTo) and opens a director's stream to it. It returns
// the stream, the agent's PID and stop, which ends both.
func startAgent(ctx context.Context, hala, dir, services string, logTo io.Writer) (s *stream.Stream, pid int, stop func(), err error) {
	inv := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(inv, []byte(inventoryHead+services), 0o644); err != nil {
		return nil, 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(hala, "agent", "-i", inv, "--node", "l1", "--listen", addr, "--log-format", "json")
	cmd.Stderr = logTo
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, err
	}
	kill := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if s, err = agent.Dial(ctx, http.DefaultClient, "http://"+addr, "", 5*time.Second); err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			kill()
			return nil, 0, nil, err
		}
	}
	return s, cmd.Process.Pid, func() { s.Close(); kill() }, nil
}

func run(hala string, inputs, rate int, duration time.Duration) error {
	tmp, err := os.MkdirTemp("", "bench-agent")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var b strings.Builder
	var udp []*net.UDPConn
	for i := range inputs {
		proto := "udp"
		var port int
		if i%2 == 0 {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{})
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetReadBuffer(64 << 10)
			udp = append(udp, c)
			port = c.LocalAddr().(*net.UDPAddr).Port
		} else {
			l, err := net.Listen("tcp4", ":0")
			if err != nil {
				return err
			}
			defer l.Close()
			proto, port = "tcp", l.Addr().(*net.TCPAddr).Port
		}
		fmt.Fprintf(&b, "[[service]]\nname = \"s%d\"\nvip = \"logs\"\nport = %d\nprotocol = %q\ninput_id = \"in%d\"\n\n", i, port, proto, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, pid, stop, err := startAgent(ctx, hala, tmp, b.String(), os.Stderr)
	if err != nil {
		return err
	}
	defer stop()
	events := make(chan int, 1)
	go func() {
		n := 0
		for {
			if _, err := s.Next(); err != nil {
				events <- n
				return
			}
			n++
		}
	}()

	snd, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer snd.Close()
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		msg := make([]byte, 300)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, c := range udp {
				_, _ = snd.WriteToUDP(msg, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.LocalAddr().(*net.UDPAddr).Port})
			}
		}
	}()
	time.Sleep(3 * time.Second) // warm-up: queues fill, drops start
	c0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(duration)
	c1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	hwm, err := peakRSS(pid)
	if err != nil {
		return err
	}
	cancel()
	s.Close()
	n := <-events
	// USER_HZ is 100 on every Linux architecture Go supports.
	cpu := float64(c1-c0) / 100 / elapsed.Seconds() * 100
	fmt.Printf("hala agent, %d inputs (%d UDP at %d datagrams/s each, never read), dump every %s, one stream open, %s:\n",
		inputs, len(udp), rate, agent.DefaultInterval, elapsed.Round(time.Second))
	fmt.Printf("  CPU        %.2f%% of one core (target <= 1%%)\n", cpu)
	fmt.Printf("  peak RSS   %.1f MiB (target <= 20 MiB)\n", float64(hwm)/1024)
	fmt.Printf("  stream     %d events (state and changes)\n", n)
	if cpu > 1 || hwm > 20*1024 {
		return fmt.Errorf("target missed")
	}
	return nil
}

// cpuTicks is the process's user + system time in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s, nil
}

// peakRSS is VmHWM in KiB.
func peakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
