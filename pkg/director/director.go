package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/announce"
	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// Config is what a Director runs with.
type Config struct {
	// Inventory must be validated and say cluster.ipvs = "director".
	Inventory *inventory.Inventory
	// Node is the director this runs on ("" = any: all carry one table).
	Node string
	// Target is the kernel's IPVS table (*ipvs.Handle).
	Target reconcile.Target
	// Logger receives every transition, repair and error.
	Logger *slog.Logger
	// StatePath is reconcile's ownership state file ("" = its default).
	StatePath string
	// CheckStateDir keeps check state (idle clocks) between rounds.
	CheckStateDir string
	// DrainDir holds hala drain's records, read by every round of checks
	// (default drain.DefaultDir).
	DrainDir string
	// NewSource builds each backend's API client (default: the Logstash
	// client with the inventory's TLS and credentials).
	NewSource NewSource
	// FlushOnExit deletes the services hala owns when Run returns.
	FlushOnExit bool
	// Ready is called once, after the first apply.
	Ready func()
	// Agents opens the streams of the backends' hala agents (default:
	// HTTP to agent.port when the inventory sets it; nil: no agents).
	Agents AgentDialer
	// After is the clock of the agents' reconnect backoff (time.After).
	After func(time.Duration) <-chan time.Time
	// Watchdog, when set, is called from the main loop every
	// WatchdogInterval, so that a wedged loop stops the pings.
	Watchdog         func()
	WatchdogInterval time.Duration
	// Clock schedules the rounds of checks (default: the wall clock).
	Clock Clock

	// With cluster.ha = "bgp":

	// NewAnnouncer starts the BGP speaker (default: pkg/announce's).
	NewAnnouncer func(context.Context, announce.Config) (Announcer, error)
	// LocalVIPs keeps the VIPs on the dummy interface hala0 (nil: the
	// caller keeps them local itself).
	LocalVIPs LocalVIPs
	// DrainPoll is how often the director's own drain record is read
	// (default 250ms).
	DrainPoll time.Duration
	// Now and Sleep are the clock (default: the wall clock).
	Now   func() time.Time
	Sleep func(time.Duration)
}

// Director is the resident loop. Run it once; Reload and the HTTP handler
// may be used from other goroutines while it runs.
type Director struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	traffic *traffic
	state   *stateView

	// Owned by the loop goroutine.
	sp      *spec
	gen     uint64
	health  map[string]map[checkKey]*health
	present map[ipvs.ServiceKey]map[netip.AddrPort]ipvs.Destination
	allDown map[ipvs.ServiceKey]bool
	// drained holds the backends with a drain record; drainErr the last
	// unreadable-record error per backend (warned once per change).
	drained  map[string]*drain.Record
	drainErr map[string]string
	weights  *check.MemoryWeights
	// adjustBuf backs the destinations of the last adjusted table: each
	// repair reuses it (nothing keeps that table after its reconcile).
	adjustBuf []ipvs.Destination
	results   chan result
	stop      context.CancelFunc

	reloads chan reloadRequest

	// The agents' streams (agent.go): owned by the loop goroutine.
	agents       AgentDialer
	after        func(time.Duration) <-chan time.Time
	agentMsgs    chan agentMsg
	agentStates  map[string]*agentState
	agentMetrics agentMetrics
	// bgp is the announcing side (nil unless cluster.ha = "bgp").
	bgp *bgpState

	mu     sync.Mutex
	status status
}

// status is what /healthz reports; guarded by Director.mu.
type status struct {
	ready        bool
	reconcileErr string
	lastResult   map[string]time.Time
	intervals    map[string]time.Duration
	loopAt       time.Time
	receivers    []agent.Receiver
	// With BGP: the speaker, when it started, the hold time, and how many
	// VIPs are announced.
	bgp        Announcer
	bgpStarted time.Time
	hold       time.Duration
	announced  map[string]netip.Addr
	drained    bool
}

type reloadRequest struct {
	inv  *inventory.Inventory
	done chan error
}

// New prepares a director; it neither checks nor touches the kernel.
func New(cfg Config) (*Director, error) {
	sp, err := newSpec(cfg.Inventory, cfg.Node)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.NewSource == nil {
		cfg.NewSource = logstashSource
	}
	if cfg.CheckStateDir == "" {
		cfg.CheckStateDir = check.DefaultStateDir
	}
	if cfg.DrainDir == "" {
		cfg.DrainDir = drain.DefaultDir
	}
	if cfg.Agents == nil {
		if cfg.Agents, err = agentDialer(cfg.Inventory); err != nil {
			return nil, err
		}
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.NewAnnouncer == nil {
		cfg.NewAnnouncer = startAnnouncer
	}
	if cfg.DrainPoll <= 0 {
		cfg.DrainPoll = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	d := &Director{
		cfg:         cfg,
		log:         cfg.Logger,
		metrics:     newMetrics(),
		sp:          sp,
		health:      map[string]map[checkKey]*health{},
		present:     map[ipvs.ServiceKey]map[netip.AddrPort]ipvs.Destination{},
		allDown:     map[ipvs.ServiceKey]bool{},
		drained:     map[string]*drain.Record{},
		drainErr:    map[string]string{},
		weights:     &check.MemoryWeights{},
		results:     make(chan result, 64),
		reloads:     make(chan reloadRequest),
		status:      status{lastResult: map[string]time.Time{}, intervals: map[string]time.Duration{}, announced: map[string]netip.Addr{}},
		agents:      cfg.Agents,
		after:       cfg.After,
		agentMsgs:   make(chan agentMsg, 64),
		agentStates: map[string]*agentState{},
	}
	d.registerAgentMetrics()
	d.metrics.reg.MustRegister(peerCollector{d})
	d.watchTraffic()
	return d, nil
}

// Run starts the director and serves until ctx ends; it returns nil then
// (the kernel table is left as it is, unless FlushOnExit), or an error
// when the start fails.
//
// Start: it reads the kernel table, runs one round of checks of every
// backend at once (bounded by the check timeout, so a black-holed API
// cannot hold it), then applies the desired table with those verdicts
// (see health.start): a restart neither removes a healthy backend nor
// adds one it has not seen healthy. Only then does it call Ready and
// start the per-backend loops, their first checks spread over the
// interval.
func (d *Director) Run(ctx context.Context) error {
	observed, err := reconcile.Observe(ctx, d.cfg.Target)
	if err != nil {
		return fmt.Errorf("read the IPVS table: %w", err)
	}
	inTable := map[ipvs.ServiceKey]map[netip.AddrPort]bool{}
	for _, e := range observed {
		m := map[netip.AddrPort]bool{}
		for _, dst := range e.Destinations {
			m[dst.Key()] = true
		}
		inTable[e.Service.Key()] = m
	}
	probers, err := d.newProbers(d.sp)
	if err != nil {
		return err
	}
	if d.sp.inv.UsesBGP() {
		// Sessions come up while the first checks run; nothing is
		// announced before the first apply.
		if err := d.startBGP(ctx); err != nil {
			return err
		}
		defer d.bgp.speaker.Stop()
	}
	first := d.firstRound(ctx, probers)
	for name, r := range first {
		d.noteDrain(r)
		d.observe(r)
		for _, c := range d.sp.backends[name].Checks {
			h := d.healthOf(name, c.checkKey)
			v := r.verdicts[c.checkKey]
			in := false
			for _, ss := range d.sp.users[name][c.checkKey] {
				for _, m := range ss.Members {
					if m.Backend == name && inTable[ss.Key][m.Destination.Key()] {
						in = true
					}
				}
			}
			h.start(in, v.Healthy, c.Fall)
			h.noteWeight(v)
			d.record(r, c.checkKey, v)
			d.log.Info("first check", "backend", name, "check", c.checkKey.String(), "healthy", v.Healthy, "in_table", in, "up", h.up, "reason", v.String())
		}
	}
	if err := d.reconcile(ctx, "start"); err != nil {
		return err
	}
	d.setReady()
	d.readDirectorDrain()
	d.announce()
	if d.cfg.Ready != nil {
		d.cfg.Ready()
	}
	d.startProbers(ctx, probers, true)
	defer func() {
		if d.stop != nil {
			d.stop()
		}
	}()
	return d.loop(ctx)
}

func (d *Director) loop(ctx context.Context) error {
	reconcileEvery := d.sp.inv.Cluster.ReconcileInterval.Duration
	repair := time.NewTicker(reconcileEvery)
	defer repair.Stop()
	var wd <-chan time.Time
	if d.cfg.Watchdog != nil && d.cfg.WatchdogInterval > 0 {
		t := time.NewTicker(d.cfg.WatchdogInterval)
		defer t.Stop()
		wd = t.C
	}
	var drainPoll <-chan time.Time
	if d.bgp != nil {
		t := time.NewTicker(d.cfg.DrainPoll)
		defer t.Stop()
		drainPoll = t.C
	}
	for {
		d.mu.Lock()
		d.status.loopAt = time.Now()
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			d.stopBGP()
			if d.cfg.FlushOnExit {
				return d.flush()
			}
			d.log.Info("stopping; the IPVS table is left as it is")
			return nil
		case r := <-d.results:
			if r.gen == d.gen {
				d.handle(ctx, r)
				d.announce()
			}
		case m := <-d.agentMsgs:
			if m.gen == d.gen {
				d.handleAgent(ctx, m)
				d.publishReceivers()
			}
		case <-repair.C:
			_ = d.reconcile(ctx, "repair")
		case <-drainPoll:
			d.pollDrain()
		case req := <-d.reloads:
			err := d.reload(ctx, req.inv)
			if err == nil && d.bgp != nil {
				if lerr := d.localVIPs(); lerr != nil {
					d.log.Error("VIPs on the dummy interface", "error", lerr)
				}
				d.announce()
			}
			req.done <- err
			if err == nil && d.sp.inv.Cluster.ReconcileInterval.Duration != reconcileEvery {
				reconcileEvery = d.sp.inv.Cluster.ReconcileInterval.Duration
				repair.Reset(reconcileEvery)
			}
		case <-wd:
			d.cfg.Watchdog()
		}
	}
}

// Reload replaces the inventory while Run runs: inv must already be loaded
// and validated (the caller logs its file:line problems otherwise). An
// inventory the director cannot use is refused with the error and the
// running one kept. Backends and services are added and removed through
// the plan/apply path, so unchanged rules are not touched.
func (d *Director) Reload(ctx context.Context, inv *inventory.Inventory) error {
	req := reloadRequest{inv: inv, done: make(chan error, 1)}
	select {
	case d.reloads <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Director) reload(ctx context.Context, inv *inventory.Inventory) error {
	sp, err := newSpec(inv, d.cfg.Node)
	if err != nil {
		d.log.Error("reload refused; keeping the running inventory", "error", err)
		return err
	}
	probers, err := d.newProbers(sp)
	if err != nil {
		d.log.Error("reload refused; keeping the running inventory", "error", err)
		return err
	}
	old := d.sp
	// Health carries over for a backend × input that is still checked at
	// the same API; a new one starts down and needs rise passes.
	next := map[string]map[checkKey]*health{}
	for name, b := range sp.backends {
		ob := old.backends[name]
		for _, c := range b.Checks {
			if ob != nil && ob.Address == b.Address && ob.APIPort == b.APIPort {
				if h := d.health[name][c.checkKey]; h != nil {
					if next[name] == nil {
						next[name] = map[checkKey]*health{}
					}
					next[name][c.checkKey] = h
				}
			}
		}
	}
	d.health = next
	d.sp = sp
	d.traffic.setSpec(sp)
	d.state.setSpec(sp, d.cfg.Node)
	for k := range d.present {
		if !slices.ContainsFunc(sp.services, func(s *serviceSpec) bool { return s.Key == k }) {
			delete(d.present, k)
		}
	}
	if d.stop != nil {
		d.stop()
	}
	d.startProbers(ctx, probers, false)
	d.log.Info("inventory reloaded", "file", inv.File, "services", len(sp.services), "backends", len(sp.backends))
	return d.reconcile(ctx, "reload")
}

func (d *Director) newProbers(sp *spec) ([]*prober, error) {
	var ps []*prober
	for _, name := range sp.backendNames() {
		b := sp.backends[name]
		src, err := d.cfg.NewSource(sp.inv, b.Address.String(), b.APIPort)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		ps = append(ps, &prober{b: b, src: src, stateDir: d.cfg.CheckStateDir, drainDir: d.cfg.DrainDir, weights: d.weights, clock: d.cfg.Clock})
	}
	return ps, nil
}

// firstRound checks every backend once, all at once.
func (d *Director) firstRound(ctx context.Context, ps []*prober) map[string]result {
	out := make(map[string]result, len(ps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			r := p.once(ctx)
			mu.Lock()
			out[p.b.Name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (d *Director) startProbers(ctx context.Context, ps []*prober, spread bool) {
	d.gen++
	pctx, cancel := context.WithCancel(ctx)
	d.stop = cancel
	d.mu.Lock()
	d.status.intervals = map[string]time.Duration{}
	now := time.Now()
	for _, p := range ps {
		d.status.intervals[p.b.Name] = p.b.Interval + p.b.Timeout
		if _, ok := d.status.lastResult[p.b.Name]; !ok || !spread {
			d.status.lastResult[p.b.Name] = now
		}
	}
	d.mu.Unlock()
	// One base time for all, so that loops in one slot fire together.
	base := d.cfg.Clock.Now()
	for _, p := range ps {
		p.gen = d.gen
		go p.run(pctx, base.Add(slot(p.b.Interval)), d.results)
	}
	d.startAgents(pctx)
}

func (d *Director) healthOf(backend string, c checkKey) *health {
	m := d.health[backend]
	if m == nil {
		m = map[checkKey]*health{}
		d.health[backend] = m
	}
	h := m[c]
	if h == nil {
		h = &health{}
		m[c] = h
	}
	return h
}

// handle applies one round of one backend's verdicts: transitions after
// rise/fall, a drain or undrain at once, and load weight changes, each
// service touched converging once.
func (d *Director) handle(ctx context.Context, r result) {
	b := d.sp.backends[r.backend]
	if b == nil {
		return
	}
	d.mu.Lock()
	d.status.lastResult[r.backend] = time.Now()
	d.mu.Unlock()
	d.observe(r)
	touched := map[*serviceSpec]bool{}
	if d.noteDrain(r) {
		for _, c := range b.Checks {
			for _, ss := range d.sp.users[r.backend][c.checkKey] {
				touched[ss] = true
			}
		}
	}
	for _, c := range b.Checks {
		v := r.verdicts[c.checkKey]
		d.record(r, c.checkKey, v)
		h := d.healthOf(r.backend, c.checkKey)
		if h.noteWeight(v) {
			for _, ss := range d.sp.users[r.backend][c.checkKey] {
				touched[ss] = touched[ss] || ss.Load
			}
		}
		// A pass does not count while the agent says the input's socket
		// is closed: a half-started Logstash answers its API.
		if !h.observe(v.Healthy && !d.agentVetoed(r.backend, c.checkKey), c.Rise, c.Fall) {
			continue
		}
		state := "down"
		if h.up {
			state = "up"
		}
		attrs := []any{"backend", r.backend, "address", b.Address.String(), "check", c.checkKey.String(), "state", state, "reason", v.String()}
		if h.up {
			d.log.Info("backend up", attrs...)
		} else {
			d.log.Warn("backend down", attrs...)
		}
		for _, ss := range d.sp.users[r.backend][c.checkKey] {
			d.metrics.transition(ss.Name, r.backend, state)
			d.noteTransition(ss.Name, r.backend, v.String())
			touched[ss] = true
		}
	}
	for _, ss := range d.sp.services {
		if touched[ss] {
			d.converge(ctx, ss)
		}
	}
}

// noteDrain records the round's drain state of its backend, logs a change
// and reports it. A record that cannot be read counts as not drained and
// is warned about once per distinct error.
func (d *Director) noteDrain(r result) bool {
	if r.drainErr != nil {
		if msg := r.drainErr.Error(); d.drainErr[r.backend] != msg {
			d.drainErr[r.backend] = msg
			d.log.Warn("drain record ignored; the backend counts as not drained", "backend", r.backend, "error", msg)
		}
	} else {
		delete(d.drainErr, r.backend)
	}
	was := d.drained[r.backend]
	switch {
	case r.drained != nil && was == nil:
		d.drained[r.backend] = r.drained
		d.log.Info("backend drained: UDP destinations removed, TCP ones at weight 0", "backend", r.backend, "since", r.drained.Since.Format(time.RFC3339))
		return true
	case r.drained == nil && was != nil:
		delete(d.drained, r.backend)
		d.log.Info("backend undrained", "backend", r.backend)
		return true
	}
	return false
}

// observe records the duration of one round: one request, however many
// inputs it judged.
func (d *Director) observe(r result) {
	b := d.sp.backends[r.backend]
	d.metrics.checkDuration.WithLabelValues(r.backend, b.Address.String()).Observe(r.duration.Seconds())
}

// record counts a failed verdict.
func (d *Director) record(r result, c checkKey, v *check.Verdict) {
	if !v.Healthy {
		b := d.sp.backends[r.backend]
		d.metrics.checkFailures.WithLabelValues(r.backend, b.Address.String(), c.Input).Inc()
	}
}

// want is the service's destinations under the current verdicts,
// appended to out in Members order: the healthy members at their weight
// (with weights = "load", the last load weight); with on_failure =
// "quiesce", failed members still in the table at weight 0. A drained
// member is removed from a UDP service (a UDP destination at weight 0
// still gets its flows' datagrams) and kept at weight 0 in a TCP one, so
// sessions finish. When no undrained member is healthy and all_down =
// "keep", the undrained destinations in the table stay, at their
// configured weight (a quiesced one is restored): a check can fail while
// the input still receives (the API black-holed), and an empty syslog
// service drops everything. down reports that case (either all_down).
func (d *Director) want(ss *serviceSpec, out []ipvs.Destination) (_ []ipvs.Destination, down bool) {
	if ss.Pinned {
		return d.wantPinned(ss, out)
	}
	have := d.present[ss.Key]
	start := len(out)
	healthy := 0
	for _, m := range ss.Members {
		h := d.healthOf(m.Backend, m.Check)
		dst := m.Destination
		if ss.Load && h.weight > 0 {
			dst.Weight = h.weight
		}
		_, in := have[dst.Key()]
		switch {
		case len(d.drained) > 0 && d.drained[m.Backend] != nil:
			if in && !ss.UDP && (h.up || ss.Quiesce) {
				dst.Weight = 0
				out = append(out, dst)
			}
		case h.up:
			out = append(out, dst)
			healthy++
		case ss.Quiesce && in:
			dst.Weight = 0
			out = append(out, dst)
		}
	}
	if healthy > 0 || len(ss.Members) == 0 {
		return out, false
	}
	if !ss.KeepAll {
		return out, true
	}
	// Every member failed: each undrained one in the table stays at its
	// configured weight; the others keep what the pass above gave them.
	first := slices.Clone(out[start:])
	out = out[:start]
	for _, m := range ss.Members {
		k := m.Destination.Key()
		if _, in := have[k]; in && d.drained[m.Backend] == nil {
			out = append(out, m.Destination)
		} else if i := slices.IndexFunc(first, func(dst ipvs.Destination) bool { return dst.Key() == k }); i >= 0 {
			out = append(out, first[i])
		}
	}
	return out, true
}

// wantPinned is want for a pinned service (mh, on_failure = "quiesce"):
// every member, in Members order, at its configured weight when healthy
// and undrained, else at weight 0, so that the destination list, and with
// it mh's table, is the same on every director whatever each one saw.
// When none is healthy and undrained and all_down = "keep", the undrained
// members are at their configured weight.
func (d *Director) wantPinned(ss *serviceSpec, out []ipvs.Destination) (_ []ipvs.Destination, down bool) {
	start := len(out)
	healthy := 0
	for _, m := range ss.Members {
		dst := m.Destination
		if d.healthOf(m.Backend, m.Check).up && d.drained[m.Backend] == nil {
			healthy++
		} else {
			dst.Weight = 0
		}
		out = append(out, dst)
	}
	if healthy > 0 || len(ss.Members) == 0 {
		return out, false
	}
	if ss.KeepAll {
		for i, m := range ss.Members {
			if d.drained[m.Backend] == nil {
				out[start+i].Weight = m.Destination.Weight
			}
		}
	}
	return out, true
}

// converge moves one service's destinations to what the verdicts say, one
// request per destination that changes. On an ordered service (mh, sh) a
// destination to add goes through reconcile instead, which adds it in its
// place in the list.
func (d *Director) converge(ctx context.Context, ss *serviceSpec) {
	d.convergeAll(ctx, []*serviceSpec{ss})
}

// convergeAll moves several services at once: their requests go to the
// kernel in one batch (one netlink write for destination changes).
func (d *Director) convergeAll(ctx context.Context, sss []*serviceSpec) {
	var reqs []ipvs.Request
	var names []string
	ordered := false
	for _, ss := range sss {
		n := len(reqs)
		reqs = d.changes(ss, reqs)
		for range len(reqs) - n {
			names = append(names, ss.Name)
		}
		if ss.Ordered && slices.ContainsFunc(reqs[n:], func(r ipvs.Request) bool { return r.Op == ipvs.OpAddDestination }) {
			ordered = true
		}
	}
	if ordered {
		_ = d.reconcile(ctx, "order") // it logs a failure; the next repair retries
		return
	}
	if len(reqs) > 0 {
		d.write(ctx, reqs, names)
	}
	for _, ss := range sss {
		d.publish(ss)
	}
}

// changes appends the requests that move ss to what the verdicts say.
func (d *Director) changes(ss *serviceSpec, reqs []ipvs.Request) []ipvs.Request {
	list, down := d.want(ss, nil)
	d.noteAllDown(ss, down, len(list))
	want := make(map[netip.AddrPort]ipvs.Destination, len(list))
	for _, dst := range list {
		want[dst.Key()] = dst
	}
	have := d.present[ss.Key]
	// Adds and updates before deletes: the kernel applies a batch one
	// request at a time, and when one backend replaces another (the one
	// all_down = "keep" kept, when another comes back) a delete first
	// left the service empty between the two, dropping what arrived then
	// (a CI run's B5 lost one datagram so).
	var deletes []ipvs.Request
	for _, m := range ss.Members {
		k := m.Destination.Key()
		w, wok := want[k]
		h, hok := have[k]
		switch {
		case wok && !hok:
			reqs = append(reqs, ipvs.Request{Op: ipvs.OpAddDestination, Service: ss.Service, Destination: w})
		case wok && hok && w.Weight != h.Weight:
			reqs = append(reqs, ipvs.Request{Op: ipvs.OpUpdateDestination, Service: ss.Service, Destination: w})
		case !wok && hok:
			deletes = append(deletes, ipvs.Request{Op: ipvs.OpDeleteDestination, Service: ss.Service, Destination: h})
		}
	}
	return append(reqs, deletes...)
}

// write makes the requests in one batch and records what the kernel
// took; names[i] is the service of reqs[i], for the log.
func (d *Director) write(ctx context.Context, reqs []ipvs.Request, names []string) {
	start := time.Now()
	errs := d.cfg.Target.Batch(ctx, reqs)
	for i, req := range reqs {
		k := req.Destination.Key()
		if err := errs[i]; err != nil {
			d.metrics.netlinkErrors.Inc()
			d.log.Error("IPVS change failed; the next repair retries", "service", names[i], "change", req.String(), "error", err)
			continue
		}
		have := d.present[req.Service.Key()]
		if have == nil {
			have = map[netip.AddrPort]ipvs.Destination{}
			d.present[req.Service.Key()] = have
		}
		if req.Op == ipvs.OpDeleteDestination {
			delete(have, k)
		} else {
			have[k] = req.Destination
		}
		d.log.Info("IPVS changed", "service", names[i], "change", req.String(), "weight", req.Destination.Weight, "took", time.Since(start).String())
	}
}

// noteAllDown logs, loudly and once per episode, a service whose every
// backend fails.
func (d *Director) noteAllDown(ss *serviceSpec, down bool, kept int) {
	was := d.allDown[ss.Key]
	d.allDown[ss.Key] = down
	switch {
	case down && !was && ss.KeepAll:
		d.log.Error("no backend of the service is both healthy and undrained; keeping its undrained destinations in the table (all_down = \"keep\")", "service", ss.Name, "kept", kept)
	case down && !was:
		d.log.Error("no backend of the service is both healthy and undrained; it has no destination left and drops all its traffic (all_down = \"remove\")", "service", ss.Name)
	case !down && was:
		d.log.Info("the service has a healthy backend again", "service", ss.Name)
	}
}

// publish sets the service's per-backend gauges from its table.
func (d *Director) publish(ss *serviceSpec) {
	have := d.present[ss.Key]
	for _, m := range ss.Members {
		dst, in := have[m.Destination.Key()]
		up := 0.0
		if d.healthOf(m.Backend, m.Check).up {
			up = 1
		}
		port := fmt.Sprint(m.Destination.Port)
		d.metrics.up.WithLabelValues(ss.Name, m.Backend, m.Destination.Address.String(), port, m.Check.Input).Set(up)
		w := -1.0 // not in the table
		if in {
			w = float64(dst.Weight)
		}
		d.metrics.weight.WithLabelValues(ss.Name, m.Backend, m.Destination.Address.String(), port).Set(w)
	}
	d.publishView(ss)
}

// adjusted is the desired table with the current verdicts applied. It
// runs on every repair, over every destination, so its destinations share
// one array, reused from the last repair: the table is used only by the
// reconcile it is made for.
func (d *Director) adjusted() reconcile.Table {
	out := slices.Clone(d.sp.desired)
	n := 0
	for _, e := range out {
		n += len(e.Destinations)
	}
	if cap(d.adjustBuf) < n {
		d.adjustBuf = make([]ipvs.Destination, 0, n)
	}
	all := d.adjustBuf[:0]
	for _, ss := range d.sp.services {
		start := len(all)
		var down bool
		all, down = d.want(ss, all)
		d.noteAllDown(ss, down, len(all)-start)
		// A full slice expression: nothing appended later can reach it.
		out[ss.entry].Destinations = all[start:len(all):len(all)]
	}
	return out
}

// reconcile applies the whole adjusted table through the plan/apply path
// hala ipvs apply uses, and logs what it changed: at "repair" every change
// is drift (a rule removed or edited by hand, or a write that failed).
func (d *Director) reconcile(ctx context.Context, why string) error {
	start := time.Now()
	var desired reconcile.Table
	res, err := reconcile.Run(ctx, d.sp.inv, d.cfg.Target, reconcile.Options{
		Node: d.cfg.Node, Prune: true, StatePath: d.cfg.StatePath,
		// The spec's table: computed once per inventory, not per repair.
		Desired: d.sp.desired,
		Adjust: func(reconcile.Table) reconcile.Table {
			desired = d.adjusted()
			return desired
		},
	})
	d.metrics.reconcileDuration.Observe(time.Since(start).Seconds())
	d.metrics.reconcileChanges.Add(float64(len(res.Applied)))
	for _, c := range res.Applied {
		if why == "repair" {
			d.log.Warn("repaired drift", "change", c.String())
		} else {
			d.log.Info("applied", "reason", why, "change", c.String())
		}
	}
	result := "ok"
	if err != nil {
		result = "error"
		if errors.Is(err, reconcile.ErrAdopt) {
			err = fmt.Errorf("%w (take them over once with: hala ipvs apply --adopt -i %s)", err, d.sp.inv.File)
		}
		d.log.Error("reconcile failed", "reason", why, "error", err)
	}
	d.metrics.reconcileTotal.WithLabelValues(result).Inc()
	d.mu.Lock()
	d.status.reconcileErr = ""
	if err != nil {
		d.status.reconcileErr = err.Error()
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	// The kernel now holds the adjusted table. A repair that found it so
	// already leaves present as it is (10,000 map entries otherwise).
	if !d.presentIs(desired) {
		d.present = map[ipvs.ServiceKey]map[netip.AddrPort]ipvs.Destination{}
		for _, e := range desired {
			m := make(map[netip.AddrPort]ipvs.Destination, len(e.Destinations))
			for _, dst := range e.Destinations {
				m[dst.Key()] = dst
			}
			d.present[e.Service.Key()] = m
		}
	}
	// The gauges follow every transition already; a repair that changed
	// nothing leaves them as they are (10,000 label lookups otherwise).
	if why != "repair" || len(res.Applied) > 0 {
		for _, ss := range d.sp.services {
			d.publish(ss)
		}
	}
	return nil
}

// presentIs reports whether present holds exactly t's services and
// destinations.
func (d *Director) presentIs(t reconcile.Table) bool {
	if len(d.present) != len(t) {
		return false
	}
	for _, e := range t {
		have, ok := d.present[e.Service.Key()]
		if !ok || len(have) != len(e.Destinations) {
			return false
		}
		for _, dst := range e.Destinations {
			if h, ok := have[dst.Key()]; !ok || h != dst {
				return false
			}
		}
	}
	return true
}

// flush deletes every service hala owns (--flush-on-exit).
func (d *Director) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := reconcile.Run(ctx, d.sp.inv, d.cfg.Target, reconcile.Options{
		Node: d.cfg.Node, Prune: true, StatePath: d.cfg.StatePath,
		Adjust: func(reconcile.Table) reconcile.Table { return reconcile.Table{} },
	})
	if err != nil {
		return fmt.Errorf("flush on exit: %w", err)
	}
	d.log.Info("stopping; removed the services hala owns (--flush-on-exit)")
	return nil
}

func (d *Director) setReady() {
	d.mu.Lock()
	d.status.ready = true
	d.mu.Unlock()
}

// Healthy reports whether the director is doing its job: started, the last
// reconcile succeeded, the main loop turns, and every backend's loop has
// reported within its interval plus timeout (three times over). The
// reason names what is wrong.
func (d *Director) Healthy() (bool, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	now := time.Now()
	switch {
	case !st.ready:
		return false, "starting: the first checks and apply have not finished"
	case st.reconcileErr != "":
		return false, "last reconcile failed: " + st.reconcileErr
	}
	names := make([]string, 0, len(st.intervals))
	for n := range st.intervals {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if late := now.Sub(st.lastResult[n]); late > 3*st.intervals[n]+time.Second {
			return false, fmt.Sprintf("no check of backend %s for %s", n, late.Round(time.Millisecond))
		}
	}
	if st.bgp != nil {
		if ok, why := peersHealthy(st.bgp.Peers(), st.bgpStarted, d.cfg.Now(), st.hold); !ok {
			return false, why
		}
	}
	return true, "ok"
}
