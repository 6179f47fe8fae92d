package director

import (
	"bufio"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
	"github.com/hala-lb/hala/pkg/vip"
)

// nodeExporterMetrics are the node_exporter series the rendered rules
// and dashboard may use (its conntrack collector, on by default).
var nodeExporterMetrics = []string{"node_nf_conntrack_entries", "node_nf_conntrack_entries_limit"}

// heldVIPs holds every VIP it is asked about.
type heldVIPs struct{}

func (heldVIPs) Show(addrs []vip.Address) ([]vip.State, error) {
	out := make([]vip.State, len(addrs))
	for i, a := range addrs {
		out[i] = vip.State{Address: a, Present: true, LinkUp: true}
	}
	return out, nil
}

// scrapedNames are the sample names a running director exports, with a
// backend drained, another failed and its VIPs read, so every series it
// can have is there.
func scrapedNames(t *testing.T) map[string]bool {
	t.Helper()
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	r.d.cfg.Node = "d1"
	r.d.state.setSpec(r.d.sp, "d1")
	r.d.WatchVIPs(heldVIPs{})
	if err := drain.Drain(r.drains, drain.Record{Address: netip.MustParseAddr("10.0.0.12"), Name: "l2", Since: time.Unix(1_700_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	r.start()
	// A failed check and a transition, so their counters exist.
	r.apis["10.0.0.11"].set("missing")
	r.waitFor("l1 down", func() bool { return strings.Contains(r.logs.String(), "backend down") })
	// Series of BGP and the agents have no sample in this rig (no speaker,
	// no agent streams): take the names their collectors, registered in
	// every director (director.go), describe.
	descs := make(chan *prometheus.Desc, 64)
	for _, c := range []prometheus.Collector{peerCollector{r.d}, r.d.metrics.vipAnnounced, r.d.metrics.peerTransitions,
		r.d.agentMetrics.up} {
		c.Describe(descs)
	}
	close(descs)
	names := map[string]bool{}
	for _, n := range agent.ReceiverFamilies() {
		names[n] = true
	}
	for desc := range descs {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			names[m[1]] = true
		}
	}
	srv := httptest.NewServer(r.d.Handler())
	defer srv.Close()
	sc := bufio.NewScanner(strings.NewReader(get(t, srv.URL+"/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

var fqName = regexp.MustCompile(`fqName: "([a-z0-9_]+)"`)

var metricRef = regexp.MustCompile(`\b(?:hala_|node_)[a-z0-9_]+\b|\b[a-z_]+:[a-z0-9_:]+\b|\bup\{`)

// TestMonitoringUsesExportedMetrics: every metric the rendered rules and
// dashboard refer to is exported by a running director (scraped here),
// by node_exporter (a fixed list), or recorded by the rules themselves.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	exported := scrapedNames(t)
	for _, n := range []string{"hala_ipvs_backend_packets_in_total", "hala_vip_held", "hala_backend_drained_since_timestamp_seconds", "hala_director_healthy",
		"hala_bgp_peer_up", "hala_receiver_drops_total"} {
		if !exported[n] {
			t.Fatalf("the director does not export %s; the test scrapes too little", n)
		}
	}
	// A VRRP cluster, and one with BGP and agents: each renders rules and
	// panels of its own.
	bgp := cluster(t, "", "")
	bgp.Cluster.HA = inventory.HABGP
	bgp.Agent.Port = 9611
	checkExported(t, cluster(t, "", ""), exported)
	refs := checkExported(t, bgp, exported)
	for _, n := range []string{"hala_vip_announced", "hala_bgp_peer_up", "hala_bfd_peer_up", "hala_bgp_peer_transitions_total",
		"hala_receiver_drops_total", "hala_receiver_queue_bytes", "hala_receiver_socket_up", "hala_agent_stream_up"} {
		if !refs[n] {
			t.Errorf("the BGP and agent cluster's rules and dashboard do not use %s", n)
		}
	}
}

// checkExported fails on a metric inv's rules or dashboard use that is
// not exported; it returns the names used.
func checkExported(t *testing.T, inv *inventory.Inventory, exported map[string]bool) map[string]bool {
	t.Helper()
	refs := map[string]bool{}
	var exprs []string
	recorded := map[string]bool{}
	for _, rec := range render.Records(inv) {
		recorded[rec.Name] = true
		exprs = append(exprs, rec.Expr)
	}
	for _, a := range render.Alerts(inv) {
		exprs = append(exprs, a.Expr)
	}
	files, err := render.All(inv)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(files, func(f render.File) bool { return f.Path == render.DashboardPath })
	if i < 0 {
		t.Fatal("no dashboard rendered")
	}
	dash, err := render.DashboardExprs(files[i].Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(dash) < 10 {
		t.Fatalf("the dashboard has %d expressions; DashboardExprs reads too little", len(dash))
	}
	exprs = append(exprs, dash...)
	used := 0
	for _, e := range exprs {
		for _, ref := range metricRef.FindAllString(e, -1) {
			used++
			refs[ref] = true
			switch {
			case ref == "up{": // Prometheus's own
			case strings.Contains(ref, ":"):
				if !recorded[ref] {
					t.Errorf("%s refers to %s, which no recording rule records", e, ref)
				}
			case strings.HasPrefix(ref, "node_"):
				if !slices.Contains(nodeExporterMetrics, ref) {
					t.Errorf("%s refers to %s, not in node_exporter's list", e, ref)
				}
			case !exported[ref]:
				t.Errorf("%s refers to %s, which a running director does not export", e, ref)
			}
		}
	}
	if used < len(exprs) {
		t.Errorf("%d metric references in %d expressions: the pattern misses some", used, len(exprs))
	}
	return refs
}
