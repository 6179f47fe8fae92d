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

	"github.com/hala-lb/hala/pkg/drain"
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
	srv := httptest.NewServer(r.d.Handler())
	defer srv.Close()
	names := map[string]bool{}
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

var metricRef = regexp.MustCompile(`\b(?:hala_|node_)[a-z0-9_]+\b|\b[a-z_]+:[a-z0-9_:]+\b|\bup\{`)

// TestMonitoringUsesExportedMetrics: every metric the rendered rules and
// dashboard refer to is exported by a running director (scraped here),
// by node_exporter (a fixed list), or recorded by the rules themselves.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	exported := scrapedNames(t)
	for _, n := range []string{"hala_ipvs_backend_packets_in_total", "hala_vip_held", "hala_backend_drained_since_timestamp_seconds", "hala_director_healthy"} {
		if !exported[n] {
			t.Fatalf("the director does not export %s; the test scrapes too little", n)
		}
	}
	inv := cluster(t, "", "")
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
}
