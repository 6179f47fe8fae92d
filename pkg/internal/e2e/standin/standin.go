package standin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Input is one receiving endpoint, like a Logstash udp or tcp input.
type Input struct {
	// ID is the input's id as the stats body lists it ("udp-5514").
	ID string
	// Proto is "udp" or "tcp".
	Proto string
	// Addr is the host:port the input listens on.
	Addr string
}

// String returns the input as id=proto://addr, the form ParseInput reads.
func (in Input) String() string { return fmt.Sprintf("%s=%s://%s", in.ID, in.Proto, in.Addr) }

// ParseInput reads an input written as id=proto://host:port, for example
// "udp-5514=udp://192.168.1.210:5514".
func ParseInput(s string) (Input, error) {
	id, rest, ok := strings.Cut(s, "=")
	if !ok || id == "" {
		return Input{}, fmt.Errorf("input %q: want id=proto://host:port", s)
	}
	proto, addr, ok := strings.Cut(rest, "://")
	if !ok || (proto != "udp" && proto != "tcp") {
		return Input{}, fmt.Errorf("input %q: protocol must be udp:// or tcp://", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Input{}, fmt.Errorf("input %q: %w", s, err)
	}
	return Input{ID: id, Proto: proto, Addr: addr}, nil
}

// Config describes one stand-in node.
type Config struct {
	// Name is the node name shown in the stats body ("stash1").
	Name string
	// API is the host:port of the monitoring API ("192.168.1.210:9600").
	API string
	// Pipeline is the pipeline id that holds the inputs (default "main").
	Pipeline string
	// Inputs are the receiving endpoints.
	Inputs []Input
	// Output is the file every received message is appended to, one JSON
	// line each. It is created (mode 0644) when missing.
	Output string
	// ProcessDelay is how long the pipeline's single worker works on each
	// message before writing it (0: no delay), to make a node really slower.
	ProcessDelay time.Duration
}

// Event is one JSON line of the output file, as Logstash's file output
// with codec json_lines writes it.
type Event struct {
	Host      string `json:"host"`
	Timestamp string `json:"@timestamp"`
	Message   string `json:"message"`
	Version   string `json:"@version"`
}

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	ephemeral string

	outMu sync.Mutex
	out   *os.File

	mu     sync.Mutex
	inputs map[string]*input // by id; running when its listener is set
	api    *http.Server      // nil when the API is stopped
	apiLn  net.Listener

	blackhole atomic.Bool
	unblock   chan struct{} // closed when the black hole ends
	pipeIn    atomic.Int64
	pipeOut   atomic.Int64
	requests  atomic.Int64 // API requests received, answered or not

	// The pipeline: inputs push to queue, one worker takes each message,
	// works on it for delay, then writes it (Logstash's memory queue and
	// pipeline.workers: 1).
	queue   chan message
	delay   atomic.Int64 // ProcessDelay in nanoseconds
	busy    atomic.Int64 // worker time spent on messages, nanoseconds
	started time.Time
	flowMu  sync.Mutex
	flow    []busySample // the last flowWindow of busy samples, oldest first
	quit    chan struct{}
	stopped chan struct{} // closed when worker and sampler have ended
}

// message is one received event on its way to the worker, or, with flushed
// set, a marker the worker closes once everything queued before it is written.
type message struct {
	in      *input
	host    string
	text    string
	flushed chan struct{}
}

type busySample struct {
	at   time.Time
	busy time.Duration
}

// flowWindow is what the "current" flow window covers, like Logstash's
// current window (a few seconds, so it follows a change quickly).
const flowWindow = 5 * time.Second

type input struct {
	Input
	out atomic.Int64 // events received over the process's life

	// pauseUntil (Unix ns), when set, stops the UDP receive loop until
	// then: the kernel queues, then drops (input pause).
	pauseUntil atomic.Int64

	// Set while running.
	pc    net.PacketConn
	ln    net.Listener
	conns map[net.Conn]struct{}
	done  chan struct{} // closed when the receive loop has ended
}

// New opens the output file and returns a stand-in with nothing listening
// yet; call Start.
func New(cfg Config) (*Server, error) {
	if cfg.Pipeline == "" {
		cfg.Pipeline = "main"
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	f, err := os.OpenFile(cfg.Output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		ephemeral: fmt.Sprintf("%x", time.Now().UnixNano()),
		out:       f,
		inputs:    map[string]*input{},
		unblock:   make(chan struct{}),
		queue:     make(chan message, queueSize),
		started:   time.Now(),
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	for _, in := range cfg.Inputs {
		if _, dup := s.inputs[in.ID]; dup {
			f.Close()
			return nil, fmt.Errorf("input id %q used twice", in.ID)
		}
		s.inputs[in.ID] = &input{Input: in}
	}
	s.SetProcessDelay(cfg.ProcessDelay)
	go s.run()
	return s, nil
}

// queueSize bounds the memory queue: when it is full the inputs stop
// reading and datagrams wait in the socket, as with Logstash's queue.
const queueSize = 1024

// SetProcessDelay sets how long the worker works on each message.
func (s *Server) SetProcessDelay(d time.Duration) { s.delay.Store(int64(max(d, 0))) }

// run is the pipeline's worker and the flow metrics' sampler.
func (s *Server) run() {
	defer close(s.stopped)
	tick := time.NewTicker(flowWindow / 10)
	defer tick.Stop()
	for {
		select {
		case m := <-s.queue:
			s.work(m)
		case now := <-tick.C:
			s.sampleBusy(now)
		case <-s.quit:
			for {
				select {
				case m := <-s.queue:
					s.work(m)
				default:
					return
				}
			}
		}
	}
}

func (s *Server) work(m message) {
	if m.flushed != nil {
		close(m.flushed)
		return
	}
	start := time.Now()
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	s.record(m.in, m.host, m.text)
	s.busy.Add(int64(time.Since(start)))
}

// flush waits until the worker has written everything queued so far.
func (s *Server) flush() {
	done := make(chan struct{})
	select {
	case s.queue <- message{flushed: done}:
		<-done
	case <-s.stopped:
	}
}

// sampleBusy keeps the busy time of the last flowWindow, plus the sample
// just before it as the window's start.
func (s *Server) sampleBusy(now time.Time) {
	s.flowMu.Lock()
	defer s.flowMu.Unlock()
	s.flow = append(s.flow, busySample{now, time.Duration(s.busy.Load())})
	for len(s.flow) > 1 && !s.flow[1].at.After(now.Add(-flowWindow)) {
		s.flow = s.flow[1:]
	}
}

// utilization returns the worker's busy share in percent over the current
// window and over the stand-in's life: worker_utilization's current and
// lifetime.
func (s *Server) utilization() (current, lifetime float64) {
	now, busy := time.Now(), time.Duration(s.busy.Load())
	base := busySample{at: s.started}
	s.flowMu.Lock()
	if len(s.flow) > 0 {
		base = s.flow[0]
	}
	s.flowMu.Unlock()
	pct := func(b, wall time.Duration) float64 {
		if wall <= 0 {
			return 0
		}
		return math.Round(1000*min(1, float64(b)/float64(wall))) / 10
	}
	return pct(busy-base.busy, now.Sub(base.at)), pct(busy, now.Sub(s.started))
}

// Start opens the API and every input.
func (s *Server) Start() error {
	if err := s.StartAPI(); err != nil {
		return err
	}
	if err := s.StartInput(""); err != nil {
		s.StopAPI()
		return err
	}
	return nil
}

// Close stops the API and every input, lets the worker write what is
// queued, then closes the output file.
func (s *Server) Close() error {
	s.SetBlackhole(false)
	errAPI := s.StopAPI()
	errIn := s.StopInput("")
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return errors.Join(errAPI, errIn, s.out.Close())
}

// selected returns the inputs called id, or all of them when id is "".
func (s *Server) selected(id string) ([]*input, error) {
	if id == "" {
		out := make([]*input, 0, len(s.cfg.Inputs))
		for _, in := range s.cfg.Inputs {
			out = append(out, s.inputs[in.ID])
		}
		return out, nil
	}
	in, ok := s.inputs[id]
	if !ok {
		return nil, fmt.Errorf("no input %q", id)
	}
	return []*input{in}, nil
}

// StartInput opens the input called id ("" = every input). Starting a
// running input does nothing.
func (s *Server) StartInput(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins, err := s.selected(id)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.running() {
			continue
		}
		if err := s.openInput(in); err != nil {
			return fmt.Errorf("start input %s: %w", in.ID, err)
		}
	}
	return nil
}

// StopInput closes the input called id ("" = every input) and waits for
// its receive loop to end and the worker to write what it read. A UDP
// input first reads the datagrams already queued on its socket, so a
// message is lost only when it arrives after the stop.
func (s *Server) StopInput(id string) error {
	s.mu.Lock()
	ins, err := s.selected(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var waits []chan struct{}
	for _, in := range ins {
		if !in.running() {
			continue
		}
		waits = append(waits, in.done)
		if in.pc != nil {
			// Wake the receive loop; it drains the queue and closes.
			in.pc.SetReadDeadline(time.Now())
		} else {
			in.ln.Close()
			for c := range in.conns {
				c.Close()
			}
		}
	}
	s.mu.Unlock()
	for _, w := range waits {
		<-w
	}
	if len(waits) > 0 {
		s.flush()
	}
	return nil
}

// PauseInput stops reading UDP input id for d with a receive buffer of
// rcvbuf bytes (the kernel doubles it), so that what arrives meanwhile
// beyond the buffer is dropped by the kernel at the socket.
func (s *Server) PauseInput(id string, d time.Duration, rcvbuf int) error {
	return s.eachUDP(id, func(in *input, uc *net.UDPConn) error {
		if err := uc.SetReadBuffer(rcvbuf); err != nil {
			return err
		}
		in.pauseUntil.Store(time.Now().Add(d).UnixNano())
		return uc.SetReadDeadline(time.Now())
	})
}

// SetInputBuffer sets UDP input id's receive buffer to rcvbuf bytes (the
// kernel doubles it), as Logstash's receive_buffer_bytes does: as root
// beyond net.core.rmem_max (SO_RCVBUFFORCE), as a Logstash host sized
// for its rate would raise that limit.
func (s *Server) SetInputBuffer(id string, rcvbuf int) error {
	return s.eachUDP(id, func(_ *input, uc *net.UDPConn) error {
		raw, err := uc.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, rcvbuf)
		}); err != nil {
			return err
		}
		if serr != nil {
			return uc.SetReadBuffer(rcvbuf)
		}
		return nil
	})
}

// eachUDP calls f, with s.mu held, for input id (every input without
// id), each of which must be a running UDP input.
func (s *Server) eachUDP(id string, f func(*input, *net.UDPConn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins, err := s.selected(id)
	if err != nil {
		return err
	}
	for _, in := range ins {
		uc, ok := in.pc.(*net.UDPConn)
		if !ok {
			return fmt.Errorf("input %s: not a running UDP input", in.ID)
		}
		if err := f(in, uc); err != nil {
			return err
		}
	}
	return nil
}

func (in *input) running() bool { return in.pc != nil || in.ln != nil }

// openInput listens for in; s.mu is held.
func (s *Server) openInput(in *input) error {
	done := make(chan struct{})
	switch in.Proto {
	case "udp":
		pc, err := net.ListenPacket("udp", in.Addr)
		if err != nil {
			return err
		}
		in.pc, in.done = pc, done
		go s.receiveUDP(in, pc, done)
	case "tcp":
		ln, err := net.Listen("tcp", in.Addr)
		if err != nil {
			return err
		}
		in.ln, in.done, in.conns = ln, done, map[net.Conn]struct{}{}
		go s.acceptTCP(in, ln, done)
	default:
		return fmt.Errorf("unknown protocol %q", in.Proto)
	}
	return nil
}

func (s *Server) receiveUDP(in *input, pc net.PacketConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if n > 0 {
			s.push(in, hostOf(from), string(buf[:n]))
		}
		if err == nil {
			continue
		}
		// Only an error consumes a pause: a datagram read between
		// PauseInput's store and its deadline must not swallow it, or the
		// deadline's error would end the input.
		if until := in.pauseUntil.Swap(0); until != 0 {
			// Woken by PauseInput: read nothing until then.
			time.Sleep(time.Until(time.Unix(0, until)))
			pc.SetReadDeadline(time.Time{})
			continue
		}
		break
	}
	drain(pc, func(msg []byte, from net.Addr) { s.push(in, hostOf(from), string(msg)) })
	s.mu.Lock()
	pc.Close()
	in.pc = nil
	s.mu.Unlock()
}

// drain reads, without waiting, every datagram already queued on pc.
func drain(pc net.PacketConn, f func([]byte, net.Addr)) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	pc.SetReadDeadline(time.Time{})
	buf := make([]byte, 65536)
	raw.Read(func(fd uintptr) bool {
		for {
			n, from, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			if err != nil || n < 0 {
				return true
			}
			f(buf[:n], sockaddrAddr(from))
		}
	})
}

func sockaddrAddr(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.UDPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

func (s *Server) acceptTCP(in *input, ln net.Listener, done chan struct{}) {
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		s.mu.Lock()
		in.conns[c] = struct{}{}
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			host := hostOf(c.RemoteAddr())
			for sc.Scan() {
				s.push(in, host, sc.Text())
			}
			c.Close()
			s.mu.Lock()
			delete(in.conns, c)
			s.mu.Unlock()
		}()
	}
	s.mu.Lock()
	for c := range in.conns {
		c.Close()
	}
	s.mu.Unlock()
	wg.Wait()
	s.mu.Lock()
	in.ln, in.conns = nil, nil
	s.mu.Unlock()
	close(done)
}

func hostOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.String()
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// push hands one received message to the worker; it blocks while the
// queue is full.
func (s *Server) push(in *input, host, text string) {
	s.queue <- message{in: in, host: host, text: text}
}

// record appends one event to the output file and counts it: events.out
// grows only once a message is worked on and written.
func (s *Server) record(in *input, host, msg string) {
	line, _ := json.Marshal(Event{
		Host:      host,
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Message:   msg,
		Version:   "1",
	})
	line = append(line, '\n')
	in.out.Add(1)
	s.pipeIn.Add(1)
	s.outMu.Lock()
	// One write per event: a killed stand-in loses only what it never read.
	_, err := s.out.Write(line)
	s.outMu.Unlock()
	if err == nil {
		s.pipeOut.Add(1)
	}
}

// StartAPI opens the monitoring API. Starting a running API does nothing.
func (s *Server) StartAPI() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.API)
	if err != nil {
		return fmt.Errorf("start api: %w", err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	s.api, s.apiLn = srv, ln
	go srv.Serve(ln)
	return nil
}

// StopAPI closes the monitoring API and every connection to it; the
// inputs keep receiving.
func (s *Server) StopAPI() error {
	s.mu.Lock()
	srv := s.api
	s.api, s.apiLn = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stop api: %w", err)
	}
	return nil
}

// SetBlackhole turns the API's black hole on or off. While it is on,
// connections are accepted and requests read, but no answer is ever sent;
// when it ends, the waiting connections are closed without an answer.
func (s *Server) SetBlackhole(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blackhole.Load() == on {
		return
	}
	s.blackhole.Store(on)
	if !on {
		close(s.unblock)
		s.unblock = make(chan struct{})
	}
}

// Requests returns how many API requests arrived so far, answered or not.
func (s *Server) Requests() int64 { return s.requests.Load() }

// APIAddr returns the address the API listens on, or "" when it is
// stopped (useful with port 0).
func (s *Server) APIAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apiLn == nil {
		return ""
	}
	return s.apiLn.Addr().String()
}

// InputAddr returns the address the input called id listens on, or ""
// when it is stopped.
func (s *Server) InputAddr(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.inputs[id]
	if !ok {
		return ""
	}
	switch {
	case in.pc != nil:
		return in.pc.LocalAddr().String()
	case in.ln != nil:
		return in.ln.Addr().String()
	}
	return ""
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.nodeInfo())
	})
	mux.HandleFunc("GET /_node/stats", func(w http.ResponseWriter, r *http.Request) {
		body := s.nodeInfo()
		body["events"] = s.eventCounts()
		body["pipelines"] = s.pipelines()
		writeJSON(w, body)
	})
	mux.HandleFunc("GET /_node/stats/pipelines", func(w http.ResponseWriter, r *http.Request) {
		body := s.nodeInfo()
		body["pipelines"] = s.pipelines()
		writeJSON(w, body)
	})
	mux.HandleFunc("GET /_node/stats/pipelines/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id != s.cfg.Pipeline {
			w.WriteHeader(http.StatusNotFound)
			writeJSON(w, map[string]any{"path": r.URL.Path, "status": 404, "error": map[string]any{
				"type": "ResourceNotFound", "message": fmt.Sprintf("pipeline %s not found", id)}})
			return
		}
		body := s.nodeInfo()
		body["pipelines"] = s.pipelines()
		writeJSON(w, body)
	})
	return s.holdWhenBlackholed(mux)
}

// holdWhenBlackholed keeps requests unanswered while the black hole is on.
func (s *Server) holdWhenBlackholed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.blackhole.Load() {
			s.mu.Lock()
			unblock := s.unblock
			s.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-unblock:
			}
			// Never answer: drop the connection.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func (s *Server) nodeInfo() map[string]any {
	return map[string]any{
		"host":         s.cfg.Name,
		"version":      "8.15.0",
		"http_address": s.cfg.API,
		"id":           "standin-" + s.cfg.Name,
		"name":         s.cfg.Name,
		"ephemeral_id": s.ephemeral,
		"status":       "green",
		"snapshot":     false,
		"pipeline":     map[string]any{"workers": 1, "batch_size": 125, "batch_delay": 50},
	}
}

func (s *Server) eventCounts() map[string]any {
	in, out := s.pipeIn.Load(), s.pipeOut.Load()
	return map[string]any{
		"in": in, "filtered": out, "out": out,
		"duration_in_millis": time.Duration(s.busy.Load()).Milliseconds(), "queue_push_duration_in_millis": 0,
	}
}

// pipelines returns the pipelines object: the configured pipeline with its
// running inputs, in configuration order.
func (s *Server) pipelines() map[string]any {
	s.mu.Lock()
	inputs := []any{}
	for _, c := range s.cfg.Inputs {
		in := s.inputs[c.ID]
		if !in.running() {
			continue
		}
		inputs = append(inputs, map[string]any{
			"id":   in.ID,
			"name": in.Proto,
			"events": map[string]any{
				"out":                           in.out.Load(),
				"queue_push_duration_in_millis": 0,
			},
		})
	}
	s.mu.Unlock()
	out := s.pipeOut.Load()
	current, lifetime := s.utilization()
	return map[string]any{
		s.cfg.Pipeline: map[string]any{
			"events": s.eventCounts(),
			// 8.13+: the share of worker time spent working.
			"flow": map[string]any{
				"worker_utilization": map[string]any{"current": current, "lifetime": lifetime},
			},
			"plugins": map[string]any{
				"inputs":  inputs,
				"codecs":  []any{},
				"filters": []any{},
				"outputs": []any{map[string]any{
					"id":     "file-out",
					"name":   "file",
					"events": map[string]any{"in": out, "out": out, "duration_in_millis": 0},
				}},
			},
			"reloads": map[string]any{
				"last_error": nil, "successes": 0, "failures": 0,
				"last_success_timestamp": nil, "last_failure_timestamp": nil,
			},
			"queue":        map[string]any{"type": "memory", "events_count": 0, "queue_size_in_bytes": 0, "max_queue_size_in_bytes": 0},
			"hash":         "standin",
			"ephemeral_id": s.ephemeral,
		},
	}
}

// Command runs one control command and returns its answer. Commands:
//
//	input stop [ID]    close the input (every input without ID)
//	input start [ID]   reopen it
//	input pause ID DUR BYTES  read nothing for DUR, receive buffer BYTES (UDP)
//	input buffer ID BYTES     receive buffer BYTES (UDP)
//	api stop           close the monitoring API
//	api start          reopen it
//	api blackhole      accept API connections, never answer
//	api answer         end the black hole
//	process delay DUR  the worker works DUR on each message (0s: no delay)
//	status             one line: API state, API requests so far, input states
func (s *Server) Command(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", errors.New("empty command")
	}
	arg := func(i int) string {
		if len(f) > i {
			return f[i]
		}
		return ""
	}
	switch {
	case f[0] == "input" && arg(1) == "stop" && len(f) <= 3:
		return "ok", s.StopInput(arg(2))
	case f[0] == "input" && arg(1) == "start" && len(f) <= 3:
		return "ok", s.StartInput(arg(2))
	case f[0] == "input" && arg(1) == "pause" && len(f) == 5:
		d, err := time.ParseDuration(f[3])
		n, nerr := strconv.Atoi(f[4])
		if err != nil || d <= 0 || nerr != nil || n <= 0 {
			return "", fmt.Errorf("input pause %s %s %s: want an id, a duration and a buffer size in bytes", f[2], f[3], f[4])
		}
		return "ok", s.PauseInput(f[2], d, n)
	case f[0] == "input" && arg(1) == "buffer" && len(f) == 4:
		n, err := strconv.Atoi(f[3])
		if err != nil || n <= 0 {
			return "", fmt.Errorf("input buffer %s %s: want an id and a buffer size in bytes", f[2], f[3])
		}
		return "ok", s.SetInputBuffer(f[2], n)
	case f[0] == "api" && arg(1) == "stop" && len(f) == 2:
		return "ok", s.StopAPI()
	case f[0] == "api" && arg(1) == "start" && len(f) == 2:
		return "ok", s.StartAPI()
	case f[0] == "api" && arg(1) == "blackhole" && len(f) == 2:
		s.SetBlackhole(true)
		return "ok", nil
	case f[0] == "api" && arg(1) == "answer" && len(f) == 2:
		s.SetBlackhole(false)
		return "ok", nil
	case f[0] == "process" && arg(1) == "delay" && len(f) == 3:
		d, err := time.ParseDuration(f[2])
		if err != nil || d < 0 {
			return "", fmt.Errorf("process delay %q: want a duration such as 10ms", f[2])
		}
		s.SetProcessDelay(d)
		return "ok", nil
	case f[0] == "status" && len(f) == 1:
		return s.status(), nil
	}
	return "", fmt.Errorf("unknown command %q (want: input stop|start [ID], input pause ID DUR BYTES, input buffer ID BYTES, api stop|start|blackhole|answer, process delay DUR, status)", line)
}

func (s *Server) status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	api := "stopped"
	if s.api != nil {
		api = "up"
		if s.blackhole.Load() {
			api = "blackhole"
		}
	}
	parts := []string{"api=" + api, fmt.Sprintf("requests=%d", s.requests.Load())}
	for _, c := range s.cfg.Inputs {
		state := "stopped"
		if s.inputs[c.ID].running() {
			state = "up"
		}
		parts = append(parts, c.ID+"="+state)
	}
	return strings.Join(parts, " ")
}

// ServeControl answers control commands on l, one command line per
// connection line, until l is closed. Each answer is one line: the result
// ("ok", or status) or "error: ...".
func (s *Server) ServeControl(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				ans, err := s.Command(sc.Text())
				if err != nil {
					ans = "error: " + err.Error()
				}
				if _, err := fmt.Fprintln(c, ans); err != nil {
					return
				}
			}
		}()
	}
}

// Control sends one command to the control socket at path and returns the
// answer; an "error: ..." answer is returned as an error.
func Control(ctx context.Context, path, command string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("control %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintln(c, command); err != nil {
		return "", fmt.Errorf("control %s: %w", path, err)
	}
	ans, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("control %s: %q: %w", path, command, err)
	}
	ans = strings.TrimSuffix(ans, "\n")
	if msg, ok := strings.CutPrefix(ans, "error: "); ok {
		return "", fmt.Errorf("control %s: %s", path, msg)
	}
	return ans, nil
}
