package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
)

// Paths of the cluster's monitoring files, rendered once per cluster (not
// per host) for a cluster whose IPVS hala director programs: the series
// they use are the director's.
const (
	MonitoringDir   = "monitoring"
	RulesPath       = MonitoringDir + "/hala-rules.yml"
	DashboardPath   = MonitoringDir + "/hala-dashboard.json"
	recordingPrefix = "service_backend:"
)

// Alert is one alerting rule of hala-rules.yml.
type Alert struct {
	Name     string
	Expr     string
	For      time.Duration
	Severity string
	Summary  string
	// Description is a Prometheus template naming the service and backend
	// ({{ $labels.service }}), shown with the alert.
	Description string
}

// Record is one recording rule.
type Record struct {
	Name, Expr string
}

// Alerts returns the alert rules for inv's [monitoring] settings. Every
// alert links the troubleshooting section of its name.
func Alerts(inv *inventory.Inventory) []Alert {
	m := inv.Monitoring
	job := `job="` + m.Job + `"`
	node := `job="` + m.NodeJob + `"`
	out := []Alert{
		{"HalaDirectorDown", `up{` + job + `} == 0`, m.DirectorDownFor.Duration, "warning",
			"hala director {{ $labels.instance }} is not scraped",
			"Prometheus cannot scrape hala director on {{ $labels.instance }}: the process is down or its listener unreachable. keepalived gives the VIPs up on that host while hala director health fails."},
		{"HalaDirectorUnhealthy", `hala_director_healthy{` + job + `} == 0`, m.DirectorDownFor.Duration, "warning",
			"hala director {{ $labels.instance }} is unhealthy",
			"hala director on {{ $labels.instance }} answers /healthz with an error (a failed reconcile, or a backend's checks stalled); keepalived gives its VIPs up. Its log and /healthz say why."},
		{"HalaBackendDown", `hala_backend_up{` + job + `} == 0`, m.BackendDownFor.Duration, "warning",
			"backend {{ $labels.backend }} of {{ $labels.service }} is down",
			"Backend {{ $labels.backend }} ({{ $labels.address }}:{{ $labels.port }}) fails the checks of input {{ $labels.input_id }} for service {{ $labels.service }} on director {{ $labels.instance }}, and is out of the service (or quiesced)."},
		{"HalaServiceDown", `max by (job, instance, service) (hala_backend_up{` + job + `}) == 0`, m.ServiceDownFor.Duration, "critical",
			"every backend of {{ $labels.service }} is down",
			"No backend of service {{ $labels.service }} passes its checks on director {{ $labels.instance }}: with all_down = \"remove\" the service drops every message, with \"keep\" it sends them to backends that fail."},
		{"HalaVIPNotHeld", `max by (job, vip, address) (hala_vip_held{` + job + `}) == 0`, m.VIPUnheldFor.Duration, "critical",
			"VIP {{ $labels.vip }} is held by no director",
			"No director has VIP {{ $labels.vip }} ({{ $labels.address }}) on its interface: senders to it reach nobody. " + notHeldHint(inv)},
		{"HalaBackendFlapping", `sum by (job, instance, service, backend) (increase(hala_backend_transitions_total{` + job + `}[` + promDuration(m.FlapWindow.Duration) + `])) >= ` + strconv.Itoa(m.FlapTransitions), 0, "warning",
			"backend {{ $labels.backend }} of {{ $labels.service }} is flapping",
			"Backend {{ $labels.backend }} changed state at least " + strconv.Itoa(m.FlapTransitions) + " times in " + promDuration(m.FlapWindow.Duration) + " in service {{ $labels.service }} on director {{ $labels.instance }}: its checks pass and fail in turn."},
		{"HalaDrainTooOld", `time() - hala_backend_drained_since_timestamp_seconds{` + job + `} > ` + strconv.Itoa(int(m.DrainMaxAge.Seconds())), 0, "warning",
			"backend {{ $labels.backend }} drained for more than " + promDuration(m.DrainMaxAge.Duration),
			"Backend {{ $labels.backend }} ({{ $labels.address }}) has been drained on director {{ $labels.instance }} for more than " + promDuration(m.DrainMaxAge.Duration) + ": was hala undrain forgotten after a restart?"},
		{"HalaReconcileErrors", `increase(hala_reconcile_total{` + job + `,result="error"}[10m]) > 0`, 0, "warning",
			"hala director {{ $labels.instance }} fails to reconcile IPVS",
			"Whole-table reconciles of hala director on {{ $labels.instance }} failed in the last 10 minutes: the IPVS table may not match the inventory."},
		{"HalaNetlinkErrors", `increase(hala_netlink_errors_total{` + job + `}[10m]) > 0`, 0, "warning",
			"IPVS changes fail on {{ $labels.instance }}",
			"Netlink requests of transitions failed on hala director {{ $labels.instance }} in the last 10 minutes; the next repair retries them."},
		{"HalaIPVSUnreadable", `hala_ipvs_scrape_success{` + job + `} == 0`, 5 * time.Minute, "warning",
			"hala director {{ $labels.instance }} cannot read the IPVS table",
			"The traffic counters of hala director on {{ $labels.instance }} are missing: reading the IPVS table failed."},
		{"HalaChecksSlow", `rate(hala_backend_check_duration_seconds_sum{` + job + `}[10m]) / rate(hala_backend_check_duration_seconds_count{` + job + `}[10m]) > on (job, instance, backend, address) (hala_backend_check_interval_seconds{` + job + `} * ` + percent(m.CheckSlowPercent) + `)`, 5 * time.Minute, "warning",
			"checks of backend {{ $labels.backend }} are slow",
			"A check of backend {{ $labels.backend }} ({{ $labels.address }}) takes {{ $value | humanizeDuration }} on average on director {{ $labels.instance }}, more than " + strconv.Itoa(m.CheckSlowPercent) + "% of its interval: its API is slow or overloaded, and checks near the timeout fail."},
		{"HalaConntrackNearFull", `node_nf_conntrack_entries{` + node + `} / node_nf_conntrack_entries_limit{` + node + `} > ` + percent(m.ConntrackFullPercent), 5 * time.Minute, "warning",
			"conntrack table of {{ $labels.instance }} is nearly full",
			"The connection tracking table of {{ $labels.instance }} is {{ $value | humanizePercentage }} full: when it is full, new flows (every new syslog sender) are dropped."},
	}
	if inv.UsesBGP() {
		out = append(out, bgpAlerts(inv)...)
	} else {
		// With BGP every director holds every VIP; only VRRP has one holder.
		out = append(out, Alert{"HalaVIPHeldTwice", `sum by (job, vip, address) (hala_vip_held{` + job + `}) > 1`, m.VIPUnheldFor.Duration, "critical",
			"VIP {{ $labels.vip }} is held by more than one director",
			"{{ $value }} directors have VIP {{ $labels.vip }} ({{ $labels.address }}) on their interfaces (VRRP split brain): the directors do not hear each other's adverts."})
	}
	if inv.AgentEnabled() {
		out = append(out, agentAlerts(inv)...)
	}
	return out
}

// notHeldHint says what puts a VIP on a director in inv's cluster.
func notHeldHint(inv *inventory.Inventory) string {
	if inv.UsesBGP() {
		return "With BGP, hala director keeps every VIP on each director: check that it runs there (its log, hala status)."
	}
	return "Check keepalived on the directors (VRRP state, hala director health)."
}

// bgpAlerts are the alerts of a cluster whose directors announce the
// VIPs over BGP (cluster.ha = "bgp").
func bgpAlerts(inv *inventory.Inventory) []Alert {
	m := inv.Monitoring
	job := `job="` + m.Job + `"`
	n := strconv.Itoa(VIPMinAnnouncers(inv))
	return []Alert{
		{"HalaVIPUnderAnnounced", `sum by (job, vip) (hala_vip_announced{` + job + `}) < ` + n, m.VIPUnheldFor.Duration, "critical",
			"VIP {{ $labels.vip }} is announced by fewer than " + n + " directors",
			"Only {{ $value }} directors announce VIP {{ $labels.vip }} over BGP (want at least " + n + "): the routers have fewer ECMP paths, and one more failure leaves the VIP unreachable. Check hala_vip_announced per director, their health and BGP sessions."},
		{"HalaBGPPeerDown", `hala_bgp_peer_up{` + job + `} == 0`, m.DirectorDownFor.Duration, "warning",
			"BGP session of {{ $labels.instance }} with {{ $labels.peer }} is down",
			"hala director on {{ $labels.instance }} has no established BGP session with peer {{ $labels.peer }}: that router does not send it the VIPs' traffic. Check the peer's neighbor configuration, TCP port 179 and the BFD session (hala_bfd_peer_up)."},
	}
}

// VIPMinAnnouncers is [monitoring] vip_min_announcers, at most the number
// of directors (a smaller cluster cannot announce more).
func VIPMinAnnouncers(inv *inventory.Inventory) int {
	return min(inv.Monitoring.VIPMinAnnouncers, max(len(inv.Directors), 1))
}

// agentAlerts are the alerts of a cluster whose Logstash hosts run hala
// agent ([agent] port set); the directors export what agents report.
func agentAlerts(inv *inventory.Inventory) []Alert {
	job := `job="` + inv.Monitoring.Job + `"`
	return []Alert{
		{"HalaReceiverDrops", `increase(hala_receiver_drops_total{` + job + `}[10m]) > 0`, 0, "warning",
			"backend {{ $labels.backend }} drops messages of {{ $labels.service }}",
			"The kernel of backend {{ $labels.backend }} dropped {{ $value }} packets of service {{ $labels.service }} at its input's sockets in the last 10 minutes (receive buffer full), as hala agent reports to director {{ $labels.instance }}: the receiver is too slow or its buffer too small. IPVS still counts them as delivered."},
		{"HalaAgentStreamDown", `hala_agent_stream_up{` + job + `} == 0`, 5 * time.Minute, "warning",
			"no hala agent stream from backend {{ $labels.backend }}",
			"Director {{ $labels.instance }} has no open stream from hala agent on backend {{ $labels.backend }} for 5 minutes: it checks the backend by API only, and loses the socket events and receiver drops. Is hala-agent running there, its port open to the directors, its token the same?"},
	}
}

// Records returns the recording rules the dashboard uses: per service and
// backend, summed over the directors (only the VIP's holder forwards).
func Records(inv *inventory.Inventory) []Record {
	job := `job="` + inv.Monitoring.Job + `"`
	sum := func(metric string) string {
		return `sum by (service, backend) (rate(` + metric + `{` + job + `}[1m]))`
	}
	return []Record{
		{recordingPrefix + "hala_ipvs_backend_packets_in:rate1m", sum("hala_ipvs_backend_packets_in_total")},
		{recordingPrefix + "hala_ipvs_backend_bytes_in:rate1m", sum("hala_ipvs_backend_bytes_in_total")},
		{recordingPrefix + "hala_ipvs_backend_connections:rate1m", sum("hala_ipvs_backend_connections_total")},
		{recordingPrefix + "hala_backend_up:max", `max by (service, backend) (hala_backend_up{` + job + `})`},
	}
}

// Anchor is the troubleshooting section of an alert in docs/monitoring.md
// (GitHub's anchor of a "### HalaBackendDown" heading).
func Anchor(alert string) string { return strings.ToLower(alert) }

// promDuration writes d as Prometheus does: 90s → 1m30s, 24h → 1d.
func promDuration(d time.Duration) string {
	s := int64(d / time.Second)
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			fmt.Fprintf(&b, "%d%s", s/u.n, u.unit)
			s %= u.n
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

func percent(p int) string { return strconv.FormatFloat(float64(p)/100, 'g', -1, 64) }

// yq quotes s as a YAML double-quoted scalar (JSON's string syntax is
// YAML's).
func yq(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// monitoring renders the cluster's monitoring files, or none when hala
// director does not run the cluster's IPVS.
func (r *renderer) monitoring() ([]File, error) {
	if !r.inv.UsesDirector() {
		return nil, nil
	}
	rules := rulesFile(r.inv)
	dash, err := dashboard(r.inv)
	if err != nil {
		return nil, err
	}
	return []File{
		{Path: RulesPath, Data: rules, Mode: 0o644},
		{Path: DashboardPath, Data: dash, Mode: 0o644},
	}, nil
}

func rulesFile(inv *inventory.Inventory) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Prometheus rules for hala cluster %s, rendered by hala render from %s.\n", inv.Cluster.Name, inventoryName(inv))
	b.WriteString("# Load with rule_files in prometheus.yml; check with: promtool check rules hala-rules.yml\n")
	fmt.Fprintf(&b, "# Thresholds come from the inventory's [monitoring]; troubleshooting: %s\n", inv.Monitoring.RunbookURL)
	b.WriteString("groups:\n  - name: hala.records\n    rules:\n")
	for _, rec := range Records(inv) {
		fmt.Fprintf(&b, "      - record: %s\n        expr: %s\n", rec.Name, yq(rec.Expr))
	}
	b.WriteString("  - name: hala.alerts\n    rules:\n")
	for _, a := range Alerts(inv) {
		fmt.Fprintf(&b, "      - alert: %s\n        expr: %s\n", a.Name, yq(a.Expr))
		if a.For > 0 {
			fmt.Fprintf(&b, "        for: %s\n", promDuration(a.For))
		}
		fmt.Fprintf(&b, "        labels:\n          severity: %s\n", a.Severity)
		fmt.Fprintf(&b, "        annotations:\n          summary: %s\n          description: %s\n          runbook_url: %s\n",
			yq(a.Summary), yq(a.Description), yq(inv.Monitoring.RunbookURL+"#"+Anchor(a.Name)))
	}
	return b.Bytes()
}

// inventoryName is the inventory's file name, without its directory
// (rendered files do not depend on where the renderer ran).
func inventoryName(inv *inventory.Inventory) string {
	if inv.File == "" {
		return "an inventory"
	}
	i := strings.LastIndexAny(inv.File, `/\`)
	return inv.File[i+1:]
}

// Grafana's dashboard model, as much of it as hala's dashboard uses.
type (
	gDashboard struct {
		UID           string      `json:"uid"`
		Title         string      `json:"title"`
		Description   string      `json:"description"`
		Tags          []string    `json:"tags"`
		Editable      bool        `json:"editable"`
		SchemaVersion int         `json:"schemaVersion"`
		Refresh       string      `json:"refresh"`
		Time          gTime       `json:"time"`
		Templating    gTemplating `json:"templating"`
		Panels        []gPanel    `json:"panels"`
	}
	gTime       struct{ From, To string }
	gTemplating struct {
		List []gVar `json:"list"`
	}
	gVar struct {
		Name       string `json:"name"`
		Label      string `json:"label"`
		Type       string `json:"type"`
		Query      any    `json:"query"`
		Datasource *gDS   `json:"datasource,omitempty"`
		Refresh    int    `json:"refresh,omitempty"`
		Multi      bool   `json:"multi,omitempty"`
		IncludeAll bool   `json:"includeAll,omitempty"`
	}
	gDS struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	gPanel struct {
		ID          int         `json:"id"`
		Type        string      `json:"type"`
		Title       string      `json:"title"`
		Description string      `json:"description,omitempty"`
		GridPos     gGrid       `json:"gridPos"`
		Datasource  *gDS        `json:"datasource,omitempty"`
		Targets     []gTarget   `json:"targets,omitempty"`
		FieldConfig *gFieldConf `json:"fieldConfig,omitempty"`
	}
	gGrid      struct{ H, W, X, Y int }
	gFieldConf struct {
		Defaults gDefaults `json:"defaults"`
	}
	gDefaults struct {
		Unit string `json:"unit,omitempty"`
		Min  *int   `json:"min,omitempty"`
		Max  *int   `json:"max,omitempty"`
	}
	gTarget struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	}
)

// MarshalJSON writes Grafana's lowercase keys.
func (t gTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"from": t.From, "to": t.To})
}

// MarshalJSON writes Grafana's lowercase keys.
func (g gGrid) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int{"h": g.H, "w": g.W, "x": g.X, "y": g.Y})
}

// dashboard is the Grafana dashboard: per service (a variable) traffic
// per backend, up/down and weight over time, transitions, check latency,
// and the directors' VIPs and conntrack fill.
func dashboard(inv *inventory.Inventory) ([]byte, error) {
	m := inv.Monitoring
	ds := &gDS{Type: "prometheus", UID: "${datasource}"}
	sel := `job="` + m.Job + `",service=~"$service"`
	job := `job="` + m.Job + `"`
	zero, one := 0, 1
	type panel struct {
		title, desc, unit string
		exprs             [][2]string // expr, legend
		min, max          *int
	}
	panels := []panel{
		{title: "Packets in per backend", desc: "Packets IPVS forwarded to each backend, summed over the directors (only the VIP's holder forwards).", unit: "pps",
			exprs: [][2]string{{recordingPrefix + `hala_ipvs_backend_packets_in:rate1m{service=~"$service"}`, "{{service}} {{backend}}"}}},
		{title: "Bytes in per backend", unit: "Bps",
			exprs: [][2]string{{recordingPrefix + `hala_ipvs_backend_bytes_in:rate1m{service=~"$service"}`, "{{service}} {{backend}}"}}},
		{title: "Backend up", desc: "1 while the backend passes its checks on at least one director.", min: &zero, max: &one,
			exprs: [][2]string{{recordingPrefix + `hala_backend_up:max{service=~"$service"}`, "{{service}} {{backend}}"}}},
		{title: "Weight", desc: "The IPVS weight each director gave the backend; -1 while it is out of the table.",
			exprs: [][2]string{{`hala_backend_weight{` + sel + `}`, "{{instance}} {{service}} {{backend}}"}}},
		{title: "Transitions", desc: "State changes of backends, by new state.",
			exprs: [][2]string{{`sum by (service, backend, state) (increase(hala_backend_transitions_total{` + sel + `}[$__rate_interval]))`, "{{service}} {{backend}} {{state}}"}}},
		{title: "Check latency (p90)", unit: "s",
			exprs: [][2]string{{`histogram_quantile(0.9, sum by (instance, backend, le) (rate(hala_backend_check_duration_seconds_bucket{` + job + `}[$__rate_interval])))`, "{{instance}} {{backend}}"}}},
		{title: "Check failures", unit: "ops",
			exprs: [][2]string{{`sum by (instance, backend, input_id) (rate(hala_backend_check_failures_total{` + job + `}[$__rate_interval]))`, "{{instance}} {{backend}} {{input_id}}"}}},
		{title: "Active and inactive connections",
			exprs: [][2]string{
				{`sum by (service, backend) (hala_ipvs_backend_connections_active{` + sel + `})`, "{{service}} {{backend}} active"},
				{`sum by (service, backend) (hala_ipvs_backend_connections_inactive{` + sel + `})`, "{{service}} {{backend}} inactive"},
			}},
		{title: "VIPs held", desc: "1 on the director that holds the VIP (VRRP master).", min: &zero, max: &one,
			exprs: [][2]string{{`hala_vip_held{` + job + `}`, "{{vip}} on {{instance}}"}}},
		{title: "Conntrack table fill", unit: "percentunit", desc: "From node_exporter on the directors.",
			exprs: [][2]string{{`node_nf_conntrack_entries{job="` + m.NodeJob + `"} / node_nf_conntrack_entries_limit{job="` + m.NodeJob + `"}`, "{{instance}}"}}},
		{title: "Reconciles and netlink errors", unit: "ops",
			exprs: [][2]string{
				{`sum by (instance, result) (rate(hala_reconcile_total{` + job + `}[$__rate_interval]))`, "{{instance}} reconcile {{result}}"},
				{`rate(hala_netlink_errors_total{` + job + `}[$__rate_interval])`, "{{instance}} netlink errors"},
			}},
	}
	if inv.UsesBGP() {
		panels = append(panels,
			panel{title: "VIP announcers", desc: "Directors announcing each VIP over BGP; HalaVIPUnderAnnounced fires below " + strconv.Itoa(VIPMinAnnouncers(inv)) + ".", min: &zero,
				exprs: [][2]string{{`sum by (vip) (hala_vip_announced{` + job + `})`, "{{vip}}"}}},
			panel{title: "BGP and BFD sessions", desc: "1 while the director's session with the peer is up.", min: &zero, max: &one,
				exprs: [][2]string{
					{`hala_bgp_peer_up{` + job + `}`, "{{instance}} BGP {{peer}}"},
					{`hala_bfd_peer_up{` + job + `}`, "{{instance}} BFD {{peer}}"},
				}},
			panel{title: "BGP session changes", exprs: [][2]string{{`sum by (instance, peer, state) (increase(hala_bgp_peer_transitions_total{` + job + `}[$__rate_interval]))`, "{{instance}} {{peer}} {{state}}"}}},
		)
	}
	if inv.AgentEnabled() {
		panels = append(panels,
			panel{title: "Receiver drops", unit: "pps", desc: "Packets each backend's kernel dropped at the input's sockets, as hala agent reports (max over the directors).",
				exprs: [][2]string{{`max by (service, backend) (rate(hala_receiver_drops_total{` + sel + `}[$__rate_interval]))`, "{{service}} {{backend}}"}}},
			panel{title: "Receiver queue", unit: "bytes", desc: "Bytes waiting in the input's receive queues.",
				exprs: [][2]string{{`max by (service, backend) (hala_receiver_queue_bytes{` + sel + `})`, "{{service}} {{backend}}"}}},
			panel{title: "Receiver sockets and agent streams", desc: "1 while the input's socket is bound; 1 while the director's stream from the agent is open.", min: &zero, max: &one,
				exprs: [][2]string{
					{`min by (service, backend) (hala_receiver_socket_up{` + sel + `})`, "socket {{service}} {{backend}}"},
					{`hala_agent_stream_up{` + job + `}`, "stream {{instance}} {{backend}}"},
				}},
		)
	}
	d := gDashboard{
		UID: dashboardUID(inv.Cluster.Name), Title: "hala: " + inv.Cluster.Name, Tags: []string{"hala", "ipvs"}, Editable: true,
		Description:   "Rendered by hala render from the inventory of cluster " + inv.Cluster.Name + "; see docs/monitoring.md.",
		SchemaVersion: 39, Refresh: "30s", Time: gTime{From: "now-1h", To: "now"},
		Templating: gTemplating{List: []gVar{
			{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus"},
			{Name: "service", Label: "Service", Type: "query", Datasource: ds, Refresh: 2, Multi: true, IncludeAll: true,
				Query: map[string]string{"query": `label_values(hala_backend_up{` + job + `}, service)`, "refId": "service"}},
		}},
	}
	for i, p := range panels {
		gp := gPanel{ID: i + 1, Type: "timeseries", Title: p.title, Description: p.desc, Datasource: ds,
			GridPos: gGrid{H: 8, W: 12, X: 12 * (i % 2), Y: 8 * (i / 2)}}
		if p.unit != "" || p.min != nil {
			gp.FieldConfig = &gFieldConf{Defaults: gDefaults{Unit: p.unit, Min: p.min, Max: p.max}}
		}
		for j, e := range p.exprs {
			gp.Targets = append(gp.Targets, gTarget{RefID: string(rune('A' + j)), Expr: e[0], LegendFormat: e[1]})
		}
		d.Panels = append(d.Panels, gp)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return append(out, '\n'), nil
}

// dashboardUID is the dashboard's id in Grafana, one per cluster: at most
// 40 characters, as Grafana allows.
func dashboardUID(cluster string) string {
	uid := "hala-" + sanitize(cluster)
	if len(uid) > 40 {
		uid = uid[:40]
	}
	return uid
}

// DashboardExprs returns every PromQL expression of a rendered dashboard,
// its variables' queries included.
func DashboardExprs(data []byte) ([]string, error) {
	var d gDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var out []string
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				out = append(out, s)
			}
		}
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	return out, nil
}
