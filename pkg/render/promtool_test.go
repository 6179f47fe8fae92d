package render_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// rulesCases are the golden cases that render monitoring files, with
// their rendered rules; a glob that finds none fails.
func rulesCases(t *testing.T) map[string]*inventory.Inventory {
	t.Helper()
	out := map[string]*inventory.Inventory{}
	for _, c := range goldenCases(t) {
		inv, files := loadCase(t, c)
		n := 0
		for _, f := range files {
			if f.Path == render.RulesPath || f.Path == render.DashboardPath {
				n++
			}
		}
		switch {
		case inv.UsesDirector() && n != 2:
			t.Errorf("%s: a director cluster renders %d of the 2 monitoring files", c.name, n)
		case !inv.UsesDirector() && n != 0:
			t.Errorf("%s: a keepalived cluster renders monitoring files (no hala metrics exist there)", c.name)
		case n == 2:
			out[c.name] = inv
		}
	}
	if len(out) < 2 {
		t.Fatalf("only %d cases render monitoring files; want the director example and testdata/monitoring", len(out))
	}
	return out
}

// writeRules renders inv's rules into a temporary directory.
func writeRules(t *testing.T, inv *inventory.Inventory) string {
	t.Helper()
	files, err := render.All(inv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if f.Path == render.RulesPath {
			p := filepath.Join(dir, "hala-rules.yml")
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Fatal("no rules rendered")
	return ""
}

// TestRulesPromtoolCheck: every rendered rules file passes promtool check
// rules (syntax, PromQL, templates).
func TestRulesPromtoolCheck(t *testing.T) {
	promtool := testutil.RequireTool(t, "promtool")
	for name, inv := range rulesCases(t) {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(promtool, "check", "rules", writeRules(t, inv)).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, out)
			}
			if want := fmt.Sprintf("SUCCESS: %d rules found", len(render.Alerts(inv))+len(render.Records(inv))); !strings.Contains(string(out), want) {
				t.Errorf("promtool check rules: want %q:\n%s", want, out)
			}
		})
	}
}

// alertCase is one alert's unit test: series in which one group of labels
// should fire it and another should not, and when to look.
type alertCase struct {
	alert    string
	interval time.Duration
	series   []string // `metric{labels}` = values, promtool's notation
	at       time.Duration
	// fires are the firing alerts' labels (severity added), with the
	// values of {{ $value }} templates.
	fires []map[string]string
	value string
	// early, when set, is a time before `for` has passed: nothing fires.
	early time.Duration
}

// alertCases are the cases for inv's thresholds; job labels follow
// [monitoring].
func alertCases(inv *inventory.Inventory) []alertCase {
	m := inv.Monitoring
	job, node := `job="`+m.Job+`"`, `job="`+m.NodeJob+`"`
	d1, d2 := job+`,instance="d1:9610"`, job+`,instance="d2:9610"`
	min := func(d time.Duration) int { return int((d + time.Minute - 1) / time.Minute) }
	l := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	base := func(inst string) map[string]string { return l("job", m.Job, "instance", inst) }
	with := func(a map[string]string, kv ...string) map[string]string {
		for k, v := range l(kv...) {
			a[k] = v
		}
		return a
	}
	up := `address="10.0.0.11",port="5514",input_id="udp-5514"`
	upFor := min(m.BackendDownFor.Duration) + 1
	svcFor := min(m.ServiceDownFor.Duration) + 1
	vipFor := min(m.VIPUnheldFor.Duration) + 1
	dirFor := min(m.DirectorDownFor.Duration) + 1
	flaps := m.FlapTransitions
	cases := []alertCase{
		{alert: "HalaDirectorDown", interval: time.Minute, at: time.Duration(dirFor) * time.Minute, early: m.DirectorDownFor.Duration / 2,
			series: []string{`up{` + d1 + `}=0x30`, `up{` + d2 + `}=1x30`},
			fires:  []map[string]string{base("d1:9610")}},
		{alert: "HalaDirectorUnhealthy", interval: time.Minute, at: time.Duration(dirFor) * time.Minute, early: m.DirectorDownFor.Duration / 2,
			series: []string{`hala_director_healthy{` + d1 + `}=0x30`, `hala_director_healthy{` + d2 + `}=1x30`},
			fires:  []map[string]string{base("d1:9610")}},
		{alert: "HalaBackendDown", interval: time.Minute, at: time.Duration(upFor) * time.Minute, early: m.BackendDownFor.Duration / 2,
			series: []string{
				`hala_backend_up{` + d1 + `,service="syslog-udp",backend="l1",` + up + `}=0x30`,
				`hala_backend_up{` + d1 + `,service="syslog-udp",backend="l2",address="10.0.0.12",port="5514",input_id="udp-5514"}=1x30`,
			},
			fires: []map[string]string{with(base("d1:9610"), "service", "syslog-udp", "backend", "l1", "address", "10.0.0.11", "port", "5514", "input_id", "udp-5514")}},
		{alert: "HalaServiceDown", interval: time.Minute, at: time.Duration(svcFor) * time.Minute, early: m.ServiceDownFor.Duration / 2,
			series: []string{
				`hala_backend_up{` + d1 + `,service="beats",backend="l1",` + up + `}=0x30`,
				`hala_backend_up{` + d1 + `,service="beats",backend="l2",` + up + `}=0x30`,
				`hala_backend_up{` + d1 + `,service="syslog-udp",backend="l1",` + up + `}=0x30`,
				`hala_backend_up{` + d1 + `,service="syslog-udp",backend="l2",` + up + `}=1x30`,
			},
			fires: []map[string]string{with(base("d1:9610"), "service", "beats")}},
		{alert: "HalaVIPNotHeld", interval: time.Minute, at: time.Duration(vipFor) * time.Minute, early: m.VIPUnheldFor.Duration / 2,
			series: []string{
				`hala_vip_held{` + d1 + `,vip="logs",address="10.0.0.100",interface="eth0"}=0x30`,
				`hala_vip_held{` + d2 + `,vip="logs",address="10.0.0.100",interface="eth0"}=0x30`,
				`hala_vip_held{` + d1 + `,vip="other",address="10.0.0.101",interface="eth0"}=0x30`,
				`hala_vip_held{` + d2 + `,vip="other",address="10.0.0.101",interface="eth0"}=1x30`,
			},
			fires: []map[string]string{l("job", m.Job, "vip", "logs", "address", "10.0.0.100")}},
		// l1 goes down and up once a minute; l2 changes once.
		{alert: "HalaBackendFlapping", interval: time.Minute, at: time.Duration(flaps+1) * time.Minute,
			series: []string{
				`hala_backend_transitions_total{` + d1 + `,service="s",backend="l1",state="down"}=0+1x30`,
				`hala_backend_transitions_total{` + d1 + `,service="s",backend="l1",state="up"}=0+1x30`,
				`hala_backend_transitions_total{` + d1 + `,service="s",backend="l2",state="down"}=0 1x30`,
			},
			fires: []map[string]string{with(base("d1:9610"), "service", "s", "backend", "l1")}},
		// l1 drained DrainMaxAge + 1m before the start, l2 at the start.
		{alert: "HalaDrainTooOld", interval: time.Minute, at: time.Minute,
			series: []string{
				fmt.Sprintf(`hala_backend_drained_since_timestamp_seconds{%s,backend="l1",address="10.0.0.11"}=%dx30`, d1, -int(m.DrainMaxAge.Seconds())),
				`hala_backend_drained_since_timestamp_seconds{` + d1 + `,backend="l2",address="10.0.0.12"}=0x30`,
			},
			fires: []map[string]string{with(base("d1:9610"), "backend", "l1", "address", "10.0.0.11")}},
		{alert: "HalaReconcileErrors", interval: time.Minute, at: 3 * time.Minute,
			series: []string{`hala_reconcile_total{` + d1 + `,result="error"}=0 0 1x30`, `hala_reconcile_total{` + d2 + `,result="error"}=0x30`,
				`hala_reconcile_total{` + d2 + `,result="ok"}=0+1x30`},
			fires: []map[string]string{with(base("d1:9610"), "result", "error")}},
		{alert: "HalaNetlinkErrors", interval: time.Minute, at: 3 * time.Minute,
			series: []string{`hala_netlink_errors_total{` + d1 + `}=0 0 1x30`, `hala_netlink_errors_total{` + d2 + `}=0x30`},
			fires:  []map[string]string{base("d1:9610")}},
		{alert: "HalaIPVSUnreadable", interval: time.Minute, at: 6 * time.Minute, early: 3 * time.Minute,
			series: []string{`hala_ipvs_scrape_success{` + d1 + `}=0x30`, `hala_ipvs_scrape_success{` + d2 + `}=1x30`},
			fires:  []map[string]string{base("d1:9610")}},
		// l1's checks take 1s each, its interval 1s; l2's 0.1s.
		{alert: "HalaChecksSlow", interval: time.Minute, at: 8 * time.Minute, early: 4 * time.Minute, value: "1s",
			series: []string{
				`hala_backend_check_duration_seconds_sum{` + d1 + `,backend="l1",address="10.0.0.11"}=0+60x30`,
				`hala_backend_check_duration_seconds_count{` + d1 + `,backend="l1",address="10.0.0.11"}=0+60x30`,
				`hala_backend_check_interval_seconds{` + d1 + `,backend="l1",address="10.0.0.11"}=1x30`,
				`hala_backend_check_duration_seconds_sum{` + d1 + `,backend="l2",address="10.0.0.12"}=0+6x30`,
				`hala_backend_check_duration_seconds_count{` + d1 + `,backend="l2",address="10.0.0.12"}=0+60x30`,
				`hala_backend_check_interval_seconds{` + d1 + `,backend="l2",address="10.0.0.12"}=1x30`,
			},
			fires: []map[string]string{with(base("d1:9610"), "backend", "l1", "address", "10.0.0.11")}},
		{alert: "HalaConntrackNearFull", interval: time.Minute, at: 6 * time.Minute, early: 3 * time.Minute, value: "100%",
			series: []string{
				`node_nf_conntrack_entries{` + node + `,instance="d1:9100"}=100x30`, `node_nf_conntrack_entries_limit{` + node + `,instance="d1:9100"}=100x30`,
				fmt.Sprintf(`node_nf_conntrack_entries{%s,instance="d2:9100"}=%dx30`, node, m.ConntrackFullPercent-1), `node_nf_conntrack_entries_limit{` + node + `,instance="d2:9100"}=100x30`,
			},
			fires: []map[string]string{l("job", m.NodeJob, "instance", "d1:9100")}},
	}
	if !inv.UsesBGP() {
		cases = append(cases, alertCase{alert: "HalaVIPHeldTwice", interval: time.Minute, at: time.Duration(vipFor) * time.Minute, early: m.VIPUnheldFor.Duration / 2, value: "2",
			series: []string{
				`hala_vip_held{` + d1 + `,vip="logs",address="10.0.0.100",interface="eth0"}=1x30`,
				`hala_vip_held{` + d2 + `,vip="logs",address="10.0.0.100",interface="eth0"}=1x30`,
				`hala_vip_held{` + d1 + `,vip="other",address="10.0.0.101",interface="eth0"}=1x30`,
				`hala_vip_held{` + d2 + `,vip="other",address="10.0.0.101",interface="eth0"}=0x30`,
			},
			fires: []map[string]string{l("job", m.Job, "vip", "logs", "address", "10.0.0.100")}})
	}
	if inv.UsesBGP() {
		// logs is announced by d1 only; other by both directors.
		n := render.VIPMinAnnouncers(inv)
		var ann []string
		for i := 1; i <= n; i++ {
			logs := 0
			if i == 1 {
				logs = 1
			}
			ann = append(ann, fmt.Sprintf(`hala_vip_announced{%s,instance="d%d:9610",vip="other"}=1x30`, job, i),
				fmt.Sprintf(`hala_vip_announced{%s,instance="d%d:9610",vip="logs"}=%dx30`, job, i, logs))
		}
		cases = append(cases,
			alertCase{alert: "HalaVIPUnderAnnounced", interval: time.Minute, at: time.Duration(vipFor) * time.Minute, early: m.VIPUnheldFor.Duration / 2,
				value: "1", series: ann, fires: []map[string]string{l("job", m.Job, "vip", "logs")}},
			alertCase{alert: "HalaBGPPeerDown", interval: time.Minute, at: time.Duration(dirFor) * time.Minute, early: m.DirectorDownFor.Duration / 2,
				series: []string{`hala_bgp_peer_up{` + d1 + `,peer="192.0.2.1"}=0x30`, `hala_bgp_peer_up{` + d1 + `,peer="192.0.2.2"}=1x30`},
				fires:  []map[string]string{with(base("d1:9610"), "peer", "192.0.2.1")}},
		)
	}
	if inv.AgentEnabled() {
		cases = append(cases,
			// l1 drops 5 packets a minute, l2 none.
			alertCase{alert: "HalaReceiverDrops", interval: time.Minute, at: 5 * time.Minute, value: "25",
				series: []string{
					`hala_receiver_drops_total{` + d1 + `,service="s",backend="l1"}=0+5x30`,
					`hala_receiver_drops_total{` + d1 + `,service="s",backend="l2"}=7x30`,
				},
				fires: []map[string]string{with(base("d1:9610"), "service", "s", "backend", "l1")}},
			alertCase{alert: "HalaAgentStreamDown", interval: time.Minute, at: 6 * time.Minute, early: 3 * time.Minute,
				series: []string{`hala_agent_stream_up{` + d1 + `,backend="l1"}=0x30`, `hala_agent_stream_up{` + d1 + `,backend="l2"}=1x30`},
				fires:  []map[string]string{with(base("d1:9610"), "backend", "l1")}},
		)
	}
	return cases
}

var labelRef = regexp.MustCompile(`\{\{ \$labels\.(\w+) \}\}|\{\{ \$value[^}]*\}\}`)

// expand fills an annotation template as Prometheus would for labels.
func expand(tmpl string, labels map[string]string, value string) string {
	return labelRef.ReplaceAllStringFunc(tmpl, func(ref string) string {
		if m := labelRef.FindStringSubmatch(ref); m[1] != "" {
			return labels[m[1]]
		}
		return value
	})
}

// promDur writes d for promtool (whole minutes or seconds).
func promDur(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// TestRulesPromtoolTest runs promtool test rules on every rendered rules
// file: each alert fires on series that should fire it, with its
// annotations naming the service and backend, stays silent on the
// series beside them that should not, and waits out its for; the
// recording rules sum the directors' traffic per backend.
func TestRulesPromtoolTest(t *testing.T) {
	promtool := testutil.RequireTool(t, "promtool")
	for name, inv := range rulesCases(t) {
		t.Run(name, func(t *testing.T) {
			rules := writeRules(t, inv)
			alerts := map[string]render.Alert{}
			for _, a := range render.Alerts(inv) {
				alerts[a.Name] = a
			}
			type expAlert struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			}
			type ruleTest struct {
				EvalTime  string     `json:"eval_time"`
				Alertname string     `json:"alertname"`
				ExpAlerts []expAlert `json:"exp_alerts"`
			}
			type series struct {
				Series string `json:"series"`
				Values string `json:"values"`
			}
			type sample struct {
				Labels string  `json:"labels"`
				Value  float64 `json:"value"`
			}
			type exprTest struct {
				Expr       string   `json:"expr"`
				EvalTime   string   `json:"eval_time"`
				ExpSamples []sample `json:"exp_samples"`
			}
			type group struct {
				Interval    string     `json:"interval"`
				InputSeries []series   `json:"input_series"`
				Alerts      []ruleTest `json:"alert_rule_test,omitempty"`
				Exprs       []exprTest `json:"promql_expr_test,omitempty"`
			}
			var groups []group
			tested := map[string]bool{}
			for _, c := range alertCases(inv) {
				a, ok := alerts[c.alert]
				if !ok {
					t.Fatalf("no alert %s in the rules", c.alert)
				}
				tested[c.alert] = true
				g := group{Interval: promDur(c.interval)}
				for _, s := range c.series {
					i := strings.LastIndex(s, "}=")
					k, v := s[:i+1], s[i+2:]
					g.InputSeries = append(g.InputSeries, series{k, v})
				}
				var exp []expAlert
				for _, labels := range c.fires {
					labels["severity"] = a.Severity
					exp = append(exp, expAlert{ExpLabels: labels, ExpAnnotations: map[string]string{
						"summary": expand(a.Summary, labels, c.value), "description": expand(a.Description, labels, c.value),
						"runbook_url": inv.Monitoring.RunbookURL + "#" + render.Anchor(a.Name),
					}})
				}
				g.Alerts = append(g.Alerts, ruleTest{EvalTime: promDur(c.at), Alertname: c.alert, ExpAlerts: exp})
				if c.early > 0 {
					g.Alerts = append(g.Alerts, ruleTest{EvalTime: promDur(c.early), Alertname: c.alert, ExpAlerts: []expAlert{}})
				}
				groups = append(groups, g)
			}
			for n := range alerts {
				if !tested[n] {
					t.Errorf("alert %s has no promtool test case", n)
				}
			}
			// Two directors: only d1 forwards (600 packets a minute).
			job := `job="` + inv.Monitoring.Job + `"`
			groups = append(groups, group{Interval: "1m",
				InputSeries: []series{
					{`hala_ipvs_backend_packets_in_total{` + job + `,instance="d1:9610",service="s",backend="l1",address="10.0.0.11",port="5514",protocol="udp"}`, "0+600x10"},
					{`hala_ipvs_backend_packets_in_total{` + job + `,instance="d2:9610",service="s",backend="l1",address="10.0.0.11",port="5514",protocol="udp"}`, "0x10"},
				},
				Exprs: []exprTest{{Expr: "service_backend:hala_ipvs_backend_packets_in:rate1m", EvalTime: "5m",
					ExpSamples: []sample{{Labels: `service_backend:hala_ipvs_backend_packets_in:rate1m{backend="l1",service="s"}`, Value: 10}}}},
			})
			// JSON is YAML: promtool reads it as its test file.
			data, err := json.MarshalIndent(map[string]any{
				"rule_files": []string{filepath.Base(rules)}, "evaluation_interval": "30s", "tests": groups,
			}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testFile := filepath.Join(filepath.Dir(rules), "hala-rules.test.yml")
			if err := os.WriteFile(testFile, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(promtool, "test", "rules", filepath.Base(testFile))
			cmd.Dir = filepath.Dir(rules)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("promtool test rules: %v\n%s\ntest file:\n%s", err, out, data)
			}
		})
	}
}

// TestMonitoringDirReserved: a host called "monitoring" would share its
// directory with the cluster's monitoring files; render refuses it.
func TestMonitoringDirReserved(t *testing.T) {
	src, err := os.ReadFile("testdata/monitoring/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("x.toml", []byte(strings.ReplaceAll(string(src), `"stash2"`, `"monitoring"`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.All(inv); err == nil || !strings.Contains(err.Error(), `host name "monitoring" is the directory of the cluster's monitoring files`) {
		t.Errorf("render of a host called monitoring: err = %v", err)
	}
}

// TestAlertsHaveRunbookSections: every alert's runbook_url leads to a
// section of docs/monitoring.md.
func TestAlertsHaveRunbookSections(t *testing.T) {
	doc, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, inv := range rulesCases(t) {
		for _, a := range render.Alerts(inv) {
			if !strings.Contains(string(doc), "\n### "+a.Name+"\n") {
				t.Errorf("%s: alert %s has no section \"### %s\" in docs/monitoring.md", name, a.Name, a.Name)
			}
		}
	}
}
