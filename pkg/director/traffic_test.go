package director

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// statsTable is a table read with counters, as the kernel gives it.
type statsTable struct {
	entries []ipvs.Entry
	err     error
	reads   int
}

func (s *statsTable) Entries(context.Context) ([]ipvs.Entry, error) {
	s.reads++
	return s.entries, s.err
}

// trafficEntries is the cluster's UDP service with l1 and l2 counting
// packets, plus a service and a destination hala does not manage.
func trafficEntries(l1, l2 uint64) []ipvs.Entry {
	vip := netip.MustParseAddr("10.0.0.100")
	dst := func(addr string, pkts uint64, active int) ipvs.Destination {
		return ipvs.Destination{Address: netip.MustParseAddr(addr), Port: 5514, Weight: 1, ActiveConns: active, InactiveConns: 3,
			Stats: ipvs.Stats{Connections: 2, PacketsIn: pkts, BytesIn: pkts * 100}}
	}
	return []ipvs.Entry{
		{Service: ipvs.Service{Protocol: ipvs.UDP, Address: vip, Port: 5514, Stats: ipvs.Stats{Connections: 4, PacketsIn: l1 + l2 + 7, BytesIn: 100 * (l1 + l2 + 7)}},
			Destinations: []ipvs.Destination{dst("10.0.0.11", l1, 0), dst("10.0.0.12", l2, 0), dst("10.0.0.99", 7, 0)}},
		{Service: ipvs.Service{Protocol: ipvs.TCP, Address: vip, Port: 80, Stats: ipvs.Stats{PacketsIn: 5}},
			Destinations: []ipvs.Destination{dst("10.0.0.11", 5, 1)}},
	}
}

func TestTrafficCollector(t *testing.T) {
	sp, err := newSpec(cluster(t, "", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	table := &statsTable{entries: trafficEntries(1000, 250)}
	tr := newTraffic(table, nil)
	tr.setSpec(sp)
	body := scrapeTraffic(t, tr)
	for _, want := range []string{
		`hala_ipvs_backend_packets_in_total{service="syslog-udp",backend="l1",address="10.0.0.11",port="5514",protocol="udp"} 1000`,
		`hala_ipvs_backend_packets_in_total{service="syslog-udp",backend="l2",address="10.0.0.12",port="5514",protocol="udp"} 250`,
		`hala_ipvs_backend_bytes_in_total{service="syslog-udp",backend="l1",address="10.0.0.11",port="5514",protocol="udp"} 100000`,
		`hala_ipvs_backend_connections_total{service="syslog-udp",backend="l2",address="10.0.0.12",port="5514",protocol="udp"} 2`,
		`hala_ipvs_backend_connections_inactive{service="syslog-udp",backend="l2",address="10.0.0.12",port="5514",protocol="udp"} 3`,
		`hala_ipvs_backend_connections_active{service="syslog-udp",backend="l1",address="10.0.0.11",port="5514",protocol="udp"} 0`,
		`hala_ipvs_service_packets_in_total{service="syslog-udp",address="10.0.0.100",port="5514",protocol="udp"} 1257`,
		`hala_ipvs_service_connections_total{service="syslog-udp",address="10.0.0.100",port="5514",protocol="udp"} 4`,
		"hala_ipvs_scrape_success 1",
		"# TYPE hala_ipvs_backend_packets_in_total counter",
		"# TYPE hala_ipvs_backend_connections_active gauge",
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	// Neither the unmanaged destination nor the unmanaged service.
	for _, not := range []string{"10.0.0.99", `port="80"`} {
		if strings.Contains(body, not) {
			t.Errorf("scrape exports what hala does not manage (%s)", not)
		}
	}
	if table.reads != 1 {
		t.Errorf("one gather read the table %d times, want 1", table.reads)
	}
	if n := strings.Count(body, "\nhala_ipvs_"); n != 2+5+2*7 {
		t.Errorf("%d series, want 23 (2 of the scrape, 5 of the service, 7 per backend):\n%s", n, body)
	}

	table.err = ipvs.ErrUnsupported
	body = scrapeTraffic(t, tr)
	if !strings.Contains(body, "\nhala_ipvs_scrape_success 0\n") || strings.Contains(body, "\nhala_ipvs_backend_packets_in_total{") {
		t.Errorf("after a failed read:\n%s", body)
	}
}

// scrapeTraffic writes one scrape of tr and checks that it parses as
// the Prometheus text format.
func scrapeTraffic(t *testing.T, tr *traffic) string {
	t.Helper()
	var b bytes.Buffer
	if err := tr.write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(bytes.NewReader(b.Bytes())); err != nil {
		t.Fatalf("the scrape does not parse: %v\n%s", err, b.String())
	}
	return "\n" + b.String()
}

func TestTrafficHistory(t *testing.T) {
	sp, err := newSpec(cluster(t, "", ""), "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	table := &statsTable{}
	tr := newTraffic(table, func() time.Time { return now })
	tr.setSpec(sp)
	read := func(l1 uint64, after time.Duration) {
		now = now.Add(after)
		table.entries = trafficEntries(l1, 0)
		_ = tr.write(context.Background(), io.Discard)
	}
	read(0, 0)
	read(100, 10*time.Second) // 10/s
	read(150, time.Second)    // within historyGap: not sampled
	read(400, 9*time.Second)  // 300 in 10s
	read(40, 10*time.Second)  // re-added: counts from 0
	got := tr.hist.rates("syslog-udp", "l1")
	want := []float64{10, 30, 4}
	if len(got) != len(want) {
		t.Fatalf("rates %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rates %v, want %v", got, want)
		}
	}
	read(50, historyKeep) // the first samples age out
	if got := tr.hist.rates("syslog-udp", "l1"); len(got) != 1 {
		t.Errorf("after %s: rates %v, want one (the older samples dropped)", historyKeep, got)
	}
	table.entries = nil
	now = now.Add(time.Minute)
	_ = tr.write(context.Background(), io.Discard)
	if got := tr.hist.rates("syslog-udp", "l1"); got != nil {
		t.Errorf("a backend gone from the table keeps rates %v", got)
	}
}

// BenchmarkScrapeInMemory is one /metrics scrape of a director over
// 1,000 services × 10 backends in an in-memory table (no kernel:
// BenchmarkIntegrationScrape times it with the real table read).
func BenchmarkScrapeInMemory(b *testing.B) {
	d := healthyDirector(b, benchTable(10, 1000), newFakeTable())
	h := d.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 || w.Body.Len() < 1e6 {
			b.Fatalf("scrape: %d, %d bytes", w.Code, w.Body.Len())
		}
	}
}
