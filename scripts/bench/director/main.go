// Command director measures hala director's check loop against the same
// checks done keepalived's way, for scripts/bench-director.
//
// It starts a child process serving a real Logstash 8.15 node stats body
// (five inputs in pipeline "main") on N loopback addresses, port 9600.
// Then:
//
//   - director: runs pkg/director (the code of `hala director`) for
//     -duration with every backend × input checked every second, against
//     an in-memory IPVS table (this machine's kernel has no IPVS; in steady
//     state the director writes nothing and reads the table once per
//     reconcile_interval), and reports its own CPU (getrusage), peak RSS
//     and the requests the servers answered;
//   - fork: for -fork-duration, starts `hala check` once per backend ×
//     input per second, spread over the second as keepalived's checkers
//     are, and reports the children's CPU per second.
//
// It prints both and the ratios, and exits 1 when a target is missed:
// director CPU <= fork CPU / 50, <= 2% of one core, peak RSS <= 40 MiB.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/director"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
)

const inputs = 5

var cpuProfile string

func main() {
	backends := flag.Int("backends", 100, "Logstash backends (loopback addresses 127.0.1.1...)")
	duration := flag.Duration("duration", 60*time.Second, "how long the director runs")
	forkDuration := flag.Duration("fork-duration", 10*time.Second, "how long the fork-per-check run lasts (its CPU is reported per second)")
	hala := flag.String("hala", "bin/hala", "the hala binary for the fork run")
	fixture := flag.String("fixture", "pkg/logstash/testdata/node_stats-8.15-kuskoman.json", "node stats body to serve")
	serve := flag.Bool("serve", false, "internal: be the API server process")
	profile := flag.String("cpuprofile", "", "write the director's CPU profile to `FILE`")
	flag.Parse()
	if *serve {
		os.Exit(runServer(*backends, *fixture))
	}
	cpuProfile = *profile
	os.Exit(run(*backends, *duration, *forkDuration, *hala, *fixture))
}

func addr(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

// body is the fixture with pipeline main's inputs replaced by in-0..in-4.
func body(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	main := doc["pipelines"].(map[string]any)["main"].(map[string]any)
	plugins := main["plugins"].(map[string]any)
	in := plugins["inputs"].([]any)
	var out []any
	for i := 0; i < inputs; i++ {
		var c map[string]any
		b, _ := json.Marshal(in[0])
		_ = json.Unmarshal(b, &c)
		c["id"] = fmt.Sprintf("in-%d", i)
		out = append(out, c)
	}
	plugins["inputs"] = out
	return json.Marshal(doc)
}

func runServer(n int, fixture string) int {
	data, err := body(fixture)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	})
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", addr(i)+":9600")
		if err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			return 1
		}
		go func() { _ = http.Serve(ln, h) }()
	}
	fmt.Println("ready")
	// Each line on stdin asks for the count so far.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(served.Load())
	}
	return 0
}

type server struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startServer(n int, fixture string) (*server, error) {
	cmd := exec.Command(os.Args[0], "-serve", "-backends", fmt.Sprint(n), "-fixture", fixture)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !s.out.Scan() || s.out.Text() != "ready" {
		return nil, fmt.Errorf("server did not start")
	}
	return s, nil
}

func (s *server) count() int64 {
	fmt.Fprintln(s.in)
	s.out.Scan()
	var n int64
	fmt.Sscan(s.out.Text(), &n)
	return n
}

func inventoryText(n int) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"bench\"\ninterface = \"eth0\"\nipvs = \"director\"\n\n[[director]]\nname = \"d1\"\naddress = \"10.254.0.1\"\n\n")
	b.WriteString("[[vip]]\nname = \"v\"\naddress = \"10.254.0.100/24\"\nrouter_id = 1\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"l%d\"\naddress = %q\n\n", i, addr(i))
	}
	for k := 0; k < inputs; k++ {
		fmt.Fprintf(&b, "[[service]]\nname = \"s%d\"\nvip = \"v\"\nport = %d\nprotocol = \"udp\"\ninput_id = \"in-%d\"\ninterval = \"1s\"\n\n", k, 5000+k, k)
	}
	return b.String()
}

func cpu(who int) time.Duration {
	u, s := cpuSplit(who)
	return u + s
}

// cpuSplit returns user and system CPU time.
func cpuSplit(who int) (time.Duration, time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss // KiB
}

func run(n int, duration, forkDuration time.Duration, hala, fixture string) int {
	srv, err := startServer(n, fixture)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-director:", err)
		return 1
	}
	defer func() { _ = srv.in.Close(); _ = srv.cmd.Wait() }()

	// Director.
	inv, err := inventory.Parse("bench.toml", []byte(inventoryText(n)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-director:", err)
		return 1
	}
	tmp, _ := os.MkdirTemp("", "bench-director")
	defer os.RemoveAll(tmp)
	var logs bytes.Buffer
	table := &memTable{}
	ready := make(chan struct{})
	d, err := director.New(director.Config{
		Inventory: inv, Target: table,
		Logger:    slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		StatePath: filepath.Join(tmp, "owned.json"), CheckStateDir: tmp,
		Ready: func() { close(ready) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-director:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-ready
	time.Sleep(2 * time.Second) // past the jittered first checks
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	u0, s0 := cpuSplit(syscall.RUSAGE_SELF)
	c0, r0, t0 := cpu(syscall.RUSAGE_SELF), srv.count(), time.Now()
	time.Sleep(duration)
	u1, s1 := cpuSplit(syscall.RUSAGE_SELF)
	pprof.StopCPUProfile()
	c1, r1, t1 := cpu(syscall.RUSAGE_SELF), srv.count(), time.Now()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "bench-director: director:", err)
		return 1
	}
	elapsed := t1.Sub(t0)
	dirCPU := float64(c1-c0) / float64(elapsed) // cores
	userShare := float64(u1-u0) / float64(elapsed)
	sysShare := float64(s1-s0) / float64(elapsed)
	dests := table.destinations()
	rss := float64(maxRSS()) / 1024

	// Fork per check, keepalived's way.
	checks := n * inputs
	f0 := cpu(syscall.RUSAGE_CHILDREN)
	fstart := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for sec := 0; time.Duration(sec)*time.Second < forkDuration; sec++ {
		for k := 0; k < checks; k++ {
			at := fstart.Add(time.Duration(sec)*time.Second + time.Duration(k)*time.Second/time.Duration(checks))
			time.Sleep(time.Until(at))
			wg.Add(1)
			go func(i, in int) {
				defer wg.Done()
				cmd := exec.Command(hala, "check", "--port", "9600", "--timeout", "2s", "--", addr(i), fmt.Sprintf("in-%d", in))
				if err := cmd.Run(); err != nil {
					failed.Add(1)
				}
			}(k/inputs, k%inputs)
		}
	}
	wg.Wait()
	felapsed := time.Since(fstart)
	forkCPU := float64(cpu(syscall.RUSAGE_CHILDREN)-f0) / float64(felapsed)

	fmt.Printf("backends %d x inputs %d, every 1s\n", n, inputs)
	fmt.Printf("%-28s %10s %12s %10s\n", "", "CPU(cores)", "requests/s", "peak RSS")
	fmt.Printf("%-28s %10.4f %12.1f %8.1f MiB  (%d destinations up, over %s)\n", "hala director (in-process)", dirCPU, float64(r1-r0)/elapsed.Seconds(), rss, dests, elapsed.Round(time.Second))
	fmt.Printf("%-28s %10.4f %12.1f %10s  (%d checks/s over %s, %d failed)\n", "fork+exec hala check", forkCPU, float64(checks), "-", checks, felapsed.Round(time.Second), failed.Load())
	fmt.Printf("director CPU split: user %.4f, system %.4f cores\n", userShare, sysShare)
	ratio := forkCPU / dirCPU
	fmt.Printf("ratio fork/director: %.0fx (target >= 50x); director %.2f%% of one core (target <= 2%%); RSS %.1f MiB (target <= 40)\n", ratio, 100*dirCPU, rss)
	if s := logs.String(); s != "" {
		fmt.Fprint(os.Stderr, s)
	}
	ok := ratio >= 50 && dirCPU <= 0.02 && rss <= 40 && dests == n*inputs && failed.Load() == 0
	if !ok {
		fmt.Println("bench-director: FAIL")
		return 1
	}
	fmt.Println("bench-director: all targets met")
	return 0
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// memTable is an in-memory IPVS table (this kernel has none).
type memTable struct {
	mu sync.Mutex
	t  []ipvs.Entry
}

func (m *memTable) Entries(context.Context) ([]ipvs.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ipvs.Entry, len(m.t))
	for i, e := range m.t {
		out[i] = ipvs.Entry{Service: e.Service, Destinations: slices.Clone(e.Destinations)}
	}
	return out, nil
}

func (m *memTable) Batch(_ context.Context, reqs []ipvs.Request) []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		j := slices.IndexFunc(m.t, func(e ipvs.Entry) bool { return e.Service.Key() == r.Service.Key() })
		switch r.Op {
		case ipvs.OpAddService:
			m.t = append(m.t, ipvs.Entry{Service: r.Service})
		case ipvs.OpUpdateService:
			m.t[j].Service = r.Service
		case ipvs.OpDeleteService:
			m.t = slices.Delete(m.t, j, j+1)
		default:
			if j < 0 {
				errs[i] = fmt.Errorf("no service %s", r.Service.Key())
				continue
			}
			key := r.Destination.Key()
			m.t[j].Destinations = slices.DeleteFunc(m.t[j].Destinations, func(d ipvs.Destination) bool { return d.Key() == key })
			if r.Op != ipvs.OpDeleteDestination {
				m.t[j].Destinations = append(m.t[j].Destinations, r.Destination)
			}
		}
	}
	return errs
}

func (m *memTable) destinations() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.t {
		n += len(e.Destinations)
	}
	return n
}
