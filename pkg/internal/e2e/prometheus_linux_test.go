//go:build linux && integration

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/render"
)

// A real Prometheus (Debian's package) scrapes both directors during the
// director half, with the alert rules hala render wrote loaded: the
// backend-down alert must fire after row D3's fault within the scrape
// and evaluation intervals plus its for, and resolve after the repair;
// the per-backend packet counters must rise by what the sender sent.

const (
	promScrape = 2 * time.Second
	promEval   = 2 * time.Second
	// promDownFor is the e2e's [monitoring] backend_down_for: short, so
	// that D3's fault is held only a few seconds longer, and a multiple
	// of promEval: for is checked at evaluations, so a for between two
	// of them fires at the later one.
	promDownFor = 4 * time.Second
)

// prometheus is the running server and its HTTP API's address.
type prometheus struct {
	proc *testutil.Process
	url  string
}

// startPrometheus renders the example with backend_down_for = 3s (the
// real hala render), forwards a loopback port of the test's namespace to
// each director's listener (which is on its own namespace's loopback),
// and starts Prometheus scraping them every promScrape, on one CPU (the
// VM's other work must not starve).
func (c *cluster) startPrometheus() {
	t := c.t
	bin := testutil.RequireTool(t, "prometheus")
	src, err := os.ReadFile(c.example)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "[monitoring]") {
		t.Fatalf("%s has a [monitoring] table; the suite adds its own", c.example)
	}
	dir := filepath.Join(c.tmp, "prometheus")
	inv := filepath.Join(dir, "inventory.toml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src = fmt.Appendf(src, "\n[monitoring]\nbackend_down_for = %q\n", promDownFor.String())
	if err := os.WriteFile(inv, src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if b, err := exec.Command(c.hala, "render", "-i", inv, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("hala render: %v\n%s", err, b)
	}
	rules := filepath.Join(out, filepath.FromSlash(render.RulesPath))

	var targets []string
	for _, n := range c.nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go forward(ln, n)
		targets = append(targets, fmt.Sprintf("{targets: [%q], labels: {instance: %q}}", ln.Addr().String(), n.name))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
rule_files: [%q]
scrape_configs:
  - job_name: %s
    static_configs: [%s]
`, promScrape, promScrape, promEval, rules, c.inv.Monitoring.Job, strings.Join(targets, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for its API
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &prometheus{url: "http://" + addr}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn", "--storage.tsdb.retention.time=1h")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	p.proc = testutil.Start(t, cmd)
	_, err = testutil.Poll(60*time.Second, 200*time.Millisecond, func() error {
		if done, err := p.proc.Exited(); done {
			return fmt.Errorf("prometheus exited: %v\n%s", err, p.proc.Output())
		}
		// Both directors scraped, the rules loaded.
		v, err := p.query(`count(up{job="` + c.inv.Monitoring.Job + `"} == 1)`)
		if err != nil || v[""] != float64(len(c.nodes)) {
			return fmt.Errorf("prometheus has not scraped both directors: %v %v", v, err)
		}
		if _, err := p.alerts("HalaBackendDown"); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.prom = p
}

// forward copies connections accepted on ln to node n's director
// listener, dialled inside n's namespace.
func forward(ln net.Listener, n *node) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			var out net.Conn
			if err := n.ns.Do(func() (err error) {
				out, err = net.DialTimeout("tcp", metricsAddress, 2*time.Second)
				return err
			}); err != nil {
				return
			}
			defer out.Close()
			go func() { _, _ = io.Copy(out, in) }()
			_, _ = io.Copy(in, out)
		}()
	}
}

// get asks Prometheus's HTTP API and decodes its data.
func (p *prometheus) get(path string, q url.Values, data any) error {
	resp, err := http.Get(p.url + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// query evaluates an instant vector; the result is keyed by the value of
// its backend label ("" when it has none).
func (p *prometheus) query(expr string) (map[string]float64, error) {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %v", expr, r.Value[1])
		}
		out[r.Metric["backend"]] = v
	}
	return out, nil
}

// promAlert is one alert as /api/v1/alerts lists it.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts lists the pending and firing alerts called name.
func (p *prometheus) alerts(name string) ([]promAlert, error) {
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := p.get("/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	var out []promAlert
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out, nil
}

// backendDown reports whether HalaBackendDown fires for victim on
// director d.
func (p *prometheus) backendDown(d, victim *node) (bool, error) {
	as, err := p.alerts("HalaBackendDown")
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.State == "firing" && a.Labels["backend"] == victim.name && a.Labels["instance"] == d.name {
			return true, nil
		}
	}
	return false, nil
}

// alertBound is how soon after the backend's transition the alert must
// fire: the next scrape sees it, the next evaluation makes the alert
// pending, for later it fires.
func alertBound() time.Duration { return promScrape + promEval + promDownFor }

// checkAlertFires waits (while victim is out of d's table since out) for
// HalaBackendDown on victim to fire, within alertBound.
func (c *cluster) checkAlertFires(row *Row, d, victim *node, out time.Time) {
	bound := alertBound()
	row.Bound += fmt.Sprintf(", alert ≤ %s, resolved ≤ %s", Seconds(bound), Seconds(promScrape+promEval))
	_, err := testutil.Poll(3*bound, 100*time.Millisecond, func() error {
		ok, err := c.prom.backendDown(d, victim)
		if err == nil && !ok {
			err = fmt.Errorf("HalaBackendDown not firing for %s on %s", victim.name, d.name)
		}
		return err
	})
	took := time.Since(out)
	if err != nil {
		row.Failf("Prometheus: %v after %s", err, Seconds(took))
		return
	}
	row.Check(took <= bound+sampleEvery, "Prometheus: HalaBackendDown fired %s after %s left the table; bound scrape + evaluation + for = %s", Seconds(took), victim.name, Seconds(bound))
	row.Time = "alert " + Seconds(took)
}

// checkAlertResolves waits, after victim is back in d's table at back, for
// the alert to stop firing, within a scrape and an evaluation.
func (c *cluster) checkAlertResolves(row *Row, d, victim *node, back time.Time) {
	bound := promScrape + promEval
	_, err := testutil.Poll(5*bound, 100*time.Millisecond, func() error {
		as, err := c.prom.alerts("HalaBackendDown")
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.Labels["backend"] == victim.name {
				return fmt.Errorf("HalaBackendDown still %s for %s", a.State, victim.name)
			}
		}
		return nil
	})
	took := time.Since(back)
	if err != nil {
		row.Failf("Prometheus: %v %s after the repair", err, Seconds(took))
		return
	}
	row.Check(took <= bound+sampleEvery, "Prometheus: HalaBackendDown resolved %s after %s was back; bound scrape + evaluation = %s", Seconds(took), victim.name, Seconds(bound))
	row.Time += ", resolved " + Seconds(took)
}

// packetsIn returns each backend's hala_ipvs_backend_packets_in_total,
// summed over the directors, as Prometheus last scraped it.
func (c *cluster) packetsIn() (map[string]float64, error) {
	return c.prom.query(`sum by (backend) (hala_ipvs_backend_packets_in_total{job="` + c.inv.Monitoring.Job + `"})`)
}

// checkPackets asserts that each backend's packet counter, as Prometheus
// scraped it, rose from before by what the backend received (one
// datagram a message), within 1%.
func (c *cluster) checkPackets(row *Row, before map[string]float64, received map[string]int) {
	var after map[string]float64
	// Two scrapes after the last message at most; poll until they land.
	_, err := testutil.Poll(10*promScrape, 200*time.Millisecond, func() error {
		var err error
		after, err = c.packetsIn()
		if err != nil {
			return err
		}
		for name, n := range received {
			if after[name]-before[name] < 0.99*float64(n) {
				return fmt.Errorf("%s: counter rose by %v, received %d", name, after[name]-before[name], n)
			}
		}
		return nil
	})
	if err != nil {
		row.Failf("Prometheus packet counters: %v", err)
		return
	}
	for name, n := range received {
		rose := after[name] - before[name]
		row.Check(rose >= 0.99*float64(n) && rose <= 1.01*float64(n),
			"Prometheus: hala_ipvs_backend_packets_in_total of %s rose by %v, the sender's messages to it were %d; want ±1%%", name, rose, n)
	}
}
