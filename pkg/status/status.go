package status

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/logstash"
	"github.com/hala-lb/hala/pkg/reconcile"
	"github.com/hala-lb/hala/pkg/vip"
)

// Source is one backend's monitoring API; *logstash.Client satisfies it.
type Source interface {
	NodeStats(ctx context.Context, pipeline string) (*logstash.NodeStats, error)
	HealthReport(ctx context.Context) (*logstash.HealthReport, error)
}

// VIPReader reads whether addresses are on their interfaces; *vip.Handle
// satisfies it.
type VIPReader interface {
	Show(addrs []vip.Address) ([]vip.State, error)
}

// DrainFunc reports whether a backend is drained, and why, as a phrase
// ("drained since … (hala drain)"); err says why its record could not be
// read (it then counts as not drained, as hala check and hala director
// count it). The CLI reads hala drain's records (pkg/drain) through it.
type DrainFunc func(backend netip.Addr) (drained bool, reason string, err error)

// NotDrained is the DrainFunc of a cluster without drain records.
func NotDrained(netip.Addr) (bool, string, error) { return false, "", nil }

// Config says what Collect looks at.
type Config struct {
	Inventory *inventory.Inventory
	// Client returns the API client for a backend.
	Client func(inventory.Logstash) (Source, error)
	// IPVS is the local IPVS table, nil when it cannot be read; IPVSErr
	// then says why (no root, no IPVS in the kernel).
	IPVS    reconcile.Target
	IPVSErr error
	// Node is the director whose VIPs are shown ("" when this host is
	// none; NodeErr says why). VIPs reads them, nil with VIPErr.
	Node    string
	NodeErr error
	VIPs    VIPReader
	VIPErr  error
	// Drained defaults to NotDrained.
	Drained DrainFunc
	// Timeout bounds the whole collection: every backend is asked at
	// once, so a hundred take about one Timeout.
	Timeout time.Duration
	// Gap is the time between the two samples events/s comes from
	// (default: half of Timeout, at most 1s).
	Gap time.Duration
	// BGP reads the local hala director's sessions and announced VIPs
	// (cluster.ha = "bgp"; the CLI asks its /bgp).
	BGP func(context.Context) (*BGP, error)
}

// Collect asks every backend of every service concurrently, reads the
// local IPVS table and VIPs, and returns one row per service and backend.
// It never fails: what could not be read is said in the rows and notes.
func Collect(ctx context.Context, cfg Config) *Status {
	start := time.Now()
	if cfg.Drained == nil {
		cfg.Drained = NotDrained
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = inventory.DefaultCheckTimeout
	}
	if cfg.Gap <= 0 {
		cfg.Gap = min(time.Second, cfg.Timeout/2)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	inv := cfg.Inventory
	st := &Status{Cluster: inv.Cluster.Name, Node: cfg.Node, Rows: []Row{}, VIPs: []VIPRow{}}

	var wg sync.WaitGroup
	nodes := map[string]*nodeResult{}
	for _, l := range inv.Logstash {
		r := &nodeResult{}
		nodes[l.Name] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.ask(ctx, cfg, l, pipelineFor(inv, l.Name))
		}()
	}
	var table reconcile.Table
	ipvsErr := cfg.IPVSErr
	if cfg.IPVS != nil && ipvsErr == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			table, ipvsErr = reconcile.Observe(ctx, cfg.IPVS)
		}()
	}
	st.VIPs, st.VIPNote = vipRows(cfg)
	if cfg.BGP != nil && inv.UsesBGP() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := cfg.BGP(ctx)
			if err != nil {
				st.BGPNote = "BGP not read: " + err.Error()
				return
			}
			st.BGP = b
		}()
	}
	wg.Wait()
	if ipvsErr != nil {
		st.IPVSNote = "IPVS table not read: " + ipvsErr.Error()
	}
	desired, _ := reconcile.Desired(inv, "") // validated by inventory.Load
	keys := map[string]ipvs.ServiceKey{}
	for _, e := range desired {
		keys[e.Name] = e.Service.Key()
	}
	observed := map[ipvs.ServiceKey]reconcile.Entry{}
	for _, e := range table {
		observed[e.Service.Key()] = e
	}
	for _, s := range inv.Services {
		for _, l := range inv.Backends(s) {
			row := nodes[l.Name].row(cfg, s, l)
			row.IPVS = ipvsCell(ipvsErr, observed, keys[s.Name], l.Address, s.BackendPort)
			st.Rows = append(st.Rows, row)
		}
	}
	st.State = st.Verdict().String()
	st.Elapsed = time.Since(start)
	return st
}

// pipelineFor is the one pipeline every service on the backend names, else
// "" (all pipelines: one request on 6.0+), as the director asks.
func pipelineFor(inv *inventory.Inventory, backend string) string {
	svcs := inv.ServicesOfBackend(backend)
	if len(svcs) == 0 {
		return ""
	}
	p := svcs[0].Pipeline
	for _, s := range svcs[1:] {
		if s.Pipeline != p {
			return ""
		}
	}
	return p
}

// nodeResult is what one backend answered: two samples of its stats, its
// health report (8.16+), or the error that stopped the first.
type nodeResult struct {
	address      string
	first, last  *logstash.NodeStats
	elapsed      time.Duration
	err          error
	health       *logstash.HealthReport
	healthErr    error
	healthAsked  bool
	askedTimeout time.Duration
}

func (r *nodeResult) ask(ctx context.Context, cfg Config, l inventory.Logstash, pipeline string) {
	r.address = net.JoinHostPort(l.Address.String(), strconv.Itoa(l.APIPort))
	r.askedTimeout = cfg.Timeout
	src, err := cfg.Client(l)
	if err != nil {
		r.err = err
		return
	}
	if c, ok := src.(interface{ Close() error }); ok {
		defer c.Close()
	}
	r.first, r.err = src.NodeStats(ctx, pipeline)
	if r.err != nil {
		return
	}
	t1 := time.Now()
	if r.first.VersionAtLeast(8, 16) {
		r.healthAsked = true
		r.health, r.healthErr = src.HealthReport(ctx)
	}
	wait := time.NewTimer(cfg.Gap - time.Since(t1))
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return // one sample: no rate
	case <-wait.C:
	}
	last, err := src.NodeStats(ctx, pipeline)
	if err == nil {
		r.last, r.elapsed = last, time.Since(t1)
	}
}

// fetched answers check.Run from stats already read.
func (r *nodeResult) row(cfg Config, s inventory.Service, l inventory.Logstash) Row {
	row := Row{Service: s.Name, Backend: l.Name, Address: l.Address, Input: s.InputID}
	var derr error
	row.Drained, row.DrainReason, derr = cfg.Drained(l.Address)
	if derr != nil {
		row.DrainError = derr.Error()
	}
	if r.err != nil {
		row.API = APIDown
		row.Problem = check.Describe(context.TODO(), r.err, r.askedTimeout)
		if errors.Is(r.err, context.DeadlineExceeded) {
			row.Problem = "timed out after " + cfg.Timeout.String()
		}
		return row
	}
	stats := r.first
	if r.last != nil {
		stats = r.last
	}
	row.API, row.Version = APIUp, stats.Version
	v := check.Run(context.Background(), check.Answered{Stats: stats}, check.Options{Address: r.address, Input: s.InputID, Pipeline: s.Pipeline, ReadOnly: true})
	if !v.Healthy {
		row.InputState = InputMissing
		row.Problem = v.String()
		return row
	}
	row.InputState = InputPresent
	if r.healthAsked {
		var ph logstash.PipelineHealth
		ok := false
		if r.health != nil {
			ph, ok = r.health.Pipelines[v.Pipeline]
		}
		switch {
		case r.healthErr != nil:
			row.Problem = "health report: " + check.Describe(context.TODO(), r.healthErr, cfg.Timeout)
		case ok && ph.State == "RUNNING":
			row.InputState = InputRunning
		case ok && ph.State != "":
			row.InputState = InputStopped
			row.Problem = "pipeline " + strconv.Quote(v.Pipeline) + " is " + ph.State
		}
	}
	p := stats.Pipeline(v.Pipeline)
	if f, w, ok := p.Flow["worker_utilization"].Recent(); ok {
		row.Load, row.LoadSource = &f, "worker_utilization "+w
	}
	if r.last != nil && r.elapsed > 0 {
		a, b := inputOut(r.first, v.Pipeline, s.InputID), inputOut(r.last, v.Pipeline, s.InputID)
		if a >= 0 && b >= a {
			rate := float64(b-a) / r.elapsed.Seconds()
			row.EventsPerSec = &rate
		}
	}
	return row
}

// inputOut is the input's events.out, -1 when unknown.
func inputOut(s *logstash.NodeStats, pipeline, input string) int64 {
	p := s.Pipeline(pipeline)
	if p == nil {
		return -1
	}
	in := p.Input(input)
	if in == nil || in.Events == nil {
		return -1
	}
	return in.Events.Out
}

func ipvsCell(err error, observed map[ipvs.ServiceKey]reconcile.Entry, key ipvs.ServiceKey, addr netip.Addr, port int) IPVSCell {
	if err != nil {
		return IPVSCell{State: IPVSUnknown, Why: shortReason(err)}
	}
	e, ok := observed[key]
	if !ok {
		return IPVSCell{State: IPVSNoService}
	}
	for _, d := range e.Destinations {
		if d.Address == addr && int(d.Port) == port {
			w := d.Weight
			return IPVSCell{State: IPVSPresent, Weight: &w}
		}
	}
	return IPVSCell{State: IPVSAbsent}
}

// shortReason words an IPVS or netlink error for a table cell.
func shortReason(err error) string {
	switch {
	case errors.Is(err, ipvs.ErrUnsupported), errors.Is(err, vip.ErrUnsupported):
		return "no IPVS"
	case isPermission(err):
		return "no root"
	}
	return "error"
}

func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

func vipRows(cfg Config) ([]VIPRow, string) {
	inv := cfg.Inventory
	rows := []VIPRow{}
	if cfg.Node == "" {
		why := "no director given"
		if cfg.NodeErr != nil {
			why = cfg.NodeErr.Error()
		}
		return rows, "VIPs not read: " + why
	}
	d, _ := inv.Director(cfg.Node)
	var addrs []vip.Address
	for _, v := range inv.VIPs {
		a := vip.Address{Name: v.Name, Prefix: v.Address, Interface: inv.InterfaceOf(v, d)}
		if inv.UsesBGP() { // hala director keeps every VIP on its dummy
			a.Prefix = netip.PrefixFrom(v.Address.Addr(), v.Address.Addr().BitLen())
			a.Interface = vip.DummyInterface
		}
		addrs = append(addrs, a)
		rows = append(rows, VIPRow{Name: v.Name, Address: a.Prefix, Interface: a.Interface})
	}
	err := cfg.VIPErr
	var states []vip.State
	if err == nil && cfg.VIPs != nil {
		states, err = cfg.VIPs.Show(addrs)
	}
	if err != nil || cfg.VIPs == nil {
		for i := range rows {
			rows[i].State = "(" + shortReason(err) + ")"
		}
		if err == nil {
			err = errors.New("no reader")
		}
		return rows, "VIPs not read: " + err.Error()
	}
	for i, s := range states {
		switch {
		case s.Missing:
			rows[i].State = "no interface " + s.Address.Interface
		case s.Present && s.LinkUp:
			rows[i].State, rows[i].Held = "held", true
		case s.Present:
			rows[i].State, rows[i].Held = "held, interface down", true
		default:
			rows[i].State = "not held"
		}
	}
	return rows, ""
}
