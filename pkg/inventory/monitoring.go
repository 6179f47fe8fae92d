package inventory

import (
	"net/url"
	"time"
)

// Monitoring sets what the rendered alert rules and dashboard
// (monitoring/hala-rules.yml, monitoring/hala-dashboard.json) expect: the
// Prometheus jobs that scrape the directors and node_exporter, and the
// alerts' thresholds. Every key has a default.
type Monitoring struct {
	// Job is the Prometheus job scraping every hala director's /metrics.
	Job string `toml:"job"`
	// NodeJob is the job scraping node_exporter on the directors.
	NodeJob string `toml:"node_job"`
	// BackendDownFor is how long a backend must fail its checks before
	// HalaBackendDown fires.
	BackendDownFor Duration `toml:"backend_down_for"`
	// ServiceDownFor is how long every backend of a service may be down
	// before HalaServiceDown (critical) fires.
	ServiceDownFor Duration `toml:"service_down_for"`
	// DirectorDownFor is how long a director may be unscraped or unhealthy.
	DirectorDownFor Duration `toml:"director_down_for"`
	// VIPUnheldFor is how long a VIP may be held by no director.
	VIPUnheldFor Duration `toml:"vip_unheld_for"`
	// FlapTransitions state changes within FlapWindow make a backend
	// flapping.
	FlapTransitions int      `toml:"flap_transitions"`
	FlapWindow      Duration `toml:"flap_window"`
	// DrainMaxAge is how long a drain may stay in place.
	DrainMaxAge Duration `toml:"drain_max_age"`
	// CheckSlowPercent: a backend's checks whose mean duration exceeds
	// this percentage of its interval are slow.
	CheckSlowPercent int `toml:"check_slow_percent"`
	// ConntrackFullPercent is the conntrack table's fill that alerts.
	ConntrackFullPercent int `toml:"conntrack_full_percent"`
	// VIPMinAnnouncers: with cluster.ha = "bgp", a VIP announced by fewer
	// directors than this alerts (capped at the number of directors).
	VIPMinAnnouncers int `toml:"vip_min_announcers"`
	// RunbookURL is where each alert's troubleshooting section is
	// (docs/monitoring.md); an alert links RunbookURL#<alert name>.
	RunbookURL string `toml:"runbook_url"`
}

// Defaults of [monitoring].
const (
	DefaultMonitoringJob        = "hala"
	DefaultMonitoringNodeJob    = "node"
	DefaultBackendDownFor       = time.Minute
	DefaultServiceDownFor       = 30 * time.Second
	DefaultDirectorDownFor      = time.Minute
	DefaultVIPUnheldFor         = 30 * time.Second
	DefaultFlapTransitions      = 4
	DefaultFlapWindow           = 15 * time.Minute
	DefaultDrainMaxAge          = 24 * time.Hour
	DefaultCheckSlowPercent     = 80
	DefaultConntrackFullPercent = 80
	// DefaultVIPMinAnnouncers is 2: a VIP on one director is one failure
	// from unreachable, while one director down of three (which
	// HalaDirectorDown reports) still leaves it redundant.
	DefaultVIPMinAnnouncers = 2
	DefaultRunbookURL       = "https://github.com/hala-lb/hala/blob/main/docs/monitoring.md"
)

func (inv *Inventory) setMonitoringDefaults() {
	m := &inv.Monitoring
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	dur := func(v *Duration, def time.Duration) {
		if v.Duration == 0 {
			v.Duration = def
		}
	}
	str(&m.Job, DefaultMonitoringJob)
	str(&m.NodeJob, DefaultMonitoringNodeJob)
	str(&m.RunbookURL, DefaultRunbookURL)
	dur(&m.BackendDownFor, DefaultBackendDownFor)
	dur(&m.ServiceDownFor, DefaultServiceDownFor)
	dur(&m.DirectorDownFor, DefaultDirectorDownFor)
	dur(&m.VIPUnheldFor, DefaultVIPUnheldFor)
	dur(&m.FlapWindow, DefaultFlapWindow)
	dur(&m.DrainMaxAge, DefaultDrainMaxAge)
	if m.FlapTransitions == 0 {
		m.FlapTransitions = DefaultFlapTransitions
	}
	if m.CheckSlowPercent == 0 {
		m.CheckSlowPercent = DefaultCheckSlowPercent
	}
	if m.ConntrackFullPercent == 0 {
		m.ConntrackFullPercent = DefaultConntrackFullPercent
	}
	if m.VIPMinAnnouncers == 0 {
		m.VIPMinAnnouncers = DefaultVIPMinAnnouncers
	}
}

// jobRE is what a job name in the rendered rules may be: a label value
// that needs no quoting in YAML or escaping in PromQL.
var jobRE = &lazyRegexp{expr: `^[A-Za-z0-9_.:-]{1,64}$`}

func (c *checker) monitoring() {
	m := c.inv.Monitoring
	for _, j := range []struct{ key, v string }{{"monitoring.job", m.Job}, {"monitoring.node_job", m.NodeJob}} {
		if !jobRE.MatchString(j.v) {
			c.errorf(j.key, "%q is not a job name hala's rules can match (1-64 letters, digits, _ . : -)", j.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"monitoring.backend_down_for", m.BackendDownFor.Duration}, {"monitoring.service_down_for", m.ServiceDownFor.Duration},
		{"monitoring.director_down_for", m.DirectorDownFor.Duration},
		{"monitoring.vip_unheld_for", m.VIPUnheldFor.Duration}, {"monitoring.flap_window", m.FlapWindow.Duration},
		{"monitoring.drain_max_age", m.DrainMaxAge.Duration},
	} {
		if d.v < time.Second || d.v%time.Second != 0 {
			c.errorf(d.key, "%s: want whole seconds, at least 1s (the rules count in seconds)", d.v)
		}
	}
	if m.FlapTransitions < 2 {
		c.errorf("monitoring.flap_transitions", "%d: at least 2 (one transition is a backend going down)", m.FlapTransitions)
	}
	for _, r := range []struct {
		key string
		v   int
	}{{"monitoring.check_slow_percent", m.CheckSlowPercent}, {"monitoring.conntrack_full_percent", m.ConntrackFullPercent}} {
		if r.v < 1 || r.v > 100 {
			c.errorf(r.key, "%d: out of range 1-100", r.v)
		}
	}
	if m.VIPMinAnnouncers < 1 {
		c.errorf("monitoring.vip_min_announcers", "%d: at least 1", m.VIPMinAnnouncers)
	} else if c.set("monitoring.vip_min_announcers") && c.inv.UsesBGP() && m.VIPMinAnnouncers > len(c.inv.Directors) {
		c.errorf("monitoring.vip_min_announcers", "%d: more than the cluster's %d directors (HalaVIPUnderAnnounced would always fire)", m.VIPMinAnnouncers, len(c.inv.Directors))
	}
	if u, err := url.Parse(m.RunbookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		c.errorf("monitoring.runbook_url", "%q: want an http(s) URL without a #fragment (each alert adds its own)", m.RunbookURL)
	}
}
