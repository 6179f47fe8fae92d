package inventory

import (
	"fmt"
	"net/netip"
	"time"
)

// Inventory is one cluster as described by a TOML file. After Load or Parse
// every optional field holds its effective value (defaults applied), so
// consumers never re-derive defaults.
//
// The TOML keys are a contract: keys may be added, never renamed.
type Inventory struct {
	Cluster   Cluster    `toml:"cluster"`
	Directors []Director `toml:"director"`
	Logstash  []Logstash `toml:"logstash"`
	VIPs      []VIP      `toml:"vip"`
	Services  []Service  `toml:"service"`
	Firewall  Firewall   `toml:"firewall"`
	Agent     Agent      `toml:"agent"`
	// BGP configures the directors' BGP speaker (cluster.ha = "bgp").
	BGP BGP `toml:"bgp"`
	// Monitoring tunes the rendered alert rules (monitoring.go).
	Monitoring Monitoring `toml:"monitoring"`

	// File is the path the inventory was read from ("" for Parse of bytes
	// without a name); messages name it.
	File string `toml:"-"`

	// Warnings are non-fatal findings of validation (validate and render
	// print them); they never stop a render.
	Warnings []Problem `toml:"-"`

	// pos locates keys in the file the inventory was parsed from (nil for
	// an inventory built in Go).
	pos positions
}

// Cluster holds settings shared by every host.
type Cluster struct {
	Name              string   `toml:"name"`
	Interface         string   `toml:"interface"`
	VRRPAuthPass      string   `toml:"vrrp_auth_pass"`
	Unicast           bool     `toml:"unicast"`
	AdvertInterval    Duration `toml:"advert_interval"` // default 1s
	NotificationEmail []string `toml:"notification_email"`
	APIPort           int      `toml:"api_port"` // default 9600

	// Additions to the original schema.

	// APIScheme is "http" (default) or "https" for the Logstash API.
	APIScheme string `toml:"api_scheme"`
	// APICA is a CA bundle file for verifying the Logstash API's TLS certificate.
	APICA string `toml:"api_ca"`
	// APIAuthFile is a file (mode 0600/0400) holding "user:password" for the API.
	APIAuthFile string `toml:"api_auth_file"`
	// CheckTimeout bounds one hala check run (default 2s); misc_timeout is derived from it.
	CheckTimeout Duration `toml:"check_timeout"`
	// HalaPath is where directors have the hala binary (default /usr/bin/hala,
	// where the package installs it; setup.sh checks it is there).
	HalaPath string `toml:"hala_path"`
	// ScriptUser runs keepalived's check scripts (default keepalived_script).
	ScriptUser string `toml:"script_user"`
	// SMTPServer is the mail relay keepalived sends notification_email
	// alerts through: "host" or "host:port" (port default 25). Without it
	// keepalived mails nothing.
	SMTPServer string `toml:"smtp_server"`
	// NotificationEmailFrom is the alerts' sender address (keepalived's
	// default is keepalived@<host name>).
	NotificationEmailFrom string `toml:"notification_email_from"`
	// IPVS says who programs the IPVS table: "keepalived" (default:
	// virtual_server blocks with MISC_CHECKs) or "director" (hala director;
	// keepalived keeps only VRRP).
	IPVS string `toml:"ipvs"`
	// ReconcileInterval is how often hala director re-applies the whole
	// table to repair drift (default 10s).
	ReconcileInterval Duration `toml:"reconcile_interval"`
	// HA says how the VIPs move: "vrrp" (default: keepalived, one active
	// director per VIP) or "bgp" (every director announces every VIP to
	// the routers, which spread traffic by ECMP; needs ipvs = "director").
	HA string `toml:"ha"`
	// MetricsAddress is where every director's hala director serves
	// /metrics and /healthz, and where keepalived's tracking script (hala
	// director health) asks: IP:PORT on loopback (default 127.0.0.1:9610).
	// A director's own metrics_address overrides it.
	MetricsAddress string `toml:"metrics_address"`
}

// Director is a host that runs keepalived and IPVS.
type Director struct {
	Name      string     `toml:"name"`
	Address   netip.Addr `toml:"address"`
	Interface string     `toml:"interface"` // default Cluster.Interface
	// Priority overrides the derived VRRP priority for every VIP (0 = derived).
	Priority int `toml:"priority"`
	// ASN overrides bgp.asn for this director (0 = bgp.asn).
	ASN uint32 `toml:"asn"`
	// RouterID overrides the BGP router id (default: bgp.router_id, else
	// the director's IPv4 address).
	RouterID netip.Addr `toml:"router_id"`
	// MetricsAddress is this director's /metrics and /healthz address
	// (default cluster.metrics_address): loopback or an address of its own,
	// e.g. its address for a Prometheus elsewhere.
	MetricsAddress string `toml:"metrics_address"`
}

// Logstash is a real server: a host running Logstash.
type Logstash struct {
	Name    string     `toml:"name"`
	Address netip.Addr `toml:"address"`
	APIPort int        `toml:"api_port"` // default Cluster.APIPort
}

// VIP is a floating virtual address held by one director at a time.
type VIP struct {
	Name     string       `toml:"name"`
	Address  netip.Prefix `toml:"address"`
	RouterID int          `toml:"router_id"`
	Master   string       `toml:"master"` // default: derived, spread over directors

	// Per-VIP VRRP settings. keepalived sets them per vrrp_instance, and
	// hala import carries each instance's own values, so a rendered
	// keepalived.conf advertises exactly as the one it replaces (peers
	// whose adverts disagree each become MASTER).

	// AdvertInterval is this VIP's advert_int (default cluster.advert_interval).
	AdvertInterval Duration `toml:"advert_interval"`
	// VRRPAuthPass is this VIP's PASS authentication (default
	// cluster.vrrp_auth_pass); written as "" it means no authentication.
	VRRPAuthPass string `toml:"vrrp_auth_pass"`
	// Interface is this VIP's VRRP interface on every director (default:
	// each director's interface); see InterfaceOf.
	Interface string `toml:"interface"`
	// VRRPVersion is 3 to advertise VRRP version 3 (no authentication)
	// even at whole-second intervals; 0 = derived: 3 below whole seconds
	// or for IPv6, else keepalived's default 2.
	VRRPVersion int `toml:"vrrp_version"`
}

// Service is an IPVS virtual server on a VIP.
type Service struct {
	Name        string   `toml:"name"`
	VIP         string   `toml:"vip"`
	Port        int      `toml:"port"`
	Protocol    string   `toml:"protocol"` // udp | tcp
	InputID     string   `toml:"input_id"`
	Scheduler   string   `toml:"scheduler"`  // default rr
	Forwarding  string   `toml:"forwarding"` // nat | dr | tun; default nat
	OnePacket   bool     `toml:"one_packet"`
	DelayLoop   Duration `toml:"delay_loop"`   // default 5s
	Persistence Duration `toml:"persistence"`  // 0 = none
	Backends    []string `toml:"backends"`     // default: every [[logstash]] host
	BackendPort int      `toml:"backend_port"` // default Port

	// Additions to the original schema.

	// Pipeline limits the check to one Logstash pipeline ("" = any pipeline).
	Pipeline string `toml:"pipeline"`
	// Weight is every backend's IPVS weight (default 1).
	Weight int `toml:"weight"`
	// Weights is "static" (default: keepalived keeps Weight) or "load":
	// hala check --dynamic-weight sets each backend's weight from its
	// pipeline's load, through keepalived's misc_dynamic.
	Weights string `toml:"weights"`
	// MaxIdle fails a backend whose input's events.out has not grown for
	// this long (hala check --max-idle; 0 = off).
	MaxIdle Duration `toml:"max_idle"`
	// RequireRunning also requires the pipeline's state RUNNING in
	// /_health_report (hala check --require-running).
	RequireRunning bool `toml:"require_running"`
	// Probe also connects to the backend's backend_port (hala check
	// --probe); TCP with NAT forwarding only.
	Probe bool `toml:"probe"`

	// Keys read by hala director (cluster.ipvs = "director").

	// Interval is how often the director checks each backend (default 1s).
	Interval Duration `toml:"interval"`
	// Rise is how many checks in a row must pass before a backend is
	// (re)admitted (default 2).
	Rise int `toml:"rise"`
	// Fall is how many checks in a row must fail before a backend is
	// removed (default 2).
	Fall int `toml:"fall"`
	// OnFailure is what a failed backend's destination gets: "remove"
	// (default) or "quiesce" (TCP only: weight 0, so established sessions
	// finish while new ones go elsewhere).
	OnFailure string `toml:"on_failure"`
	// AllDown is what happens when every backend of the service fails:
	// "keep" (default: the destinations in the table stay, so traffic still
	// reaches whatever can take it) or "remove" (keepalived's behaviour:
	// the service is left empty and drops everything).
	AllDown string `toml:"all_down"`
	// MinHealthy is how many of the service's backends must be healthy in
	// a director's view for it to announce the service's VIP over BGP
	// (default 1).
	MinHealthy int `toml:"min_healthy"`

	// Keys read with scheduler = "mh" (Maglev hashing).

	// MHPort hashes the source port as well as the source address
	// (IP_VS_SVC_F_SCHED_MH_PORT, keepalived's mh-port; default true), so
	// one sender's connections spread over the backends.
	MHPort bool `toml:"mh_port"`
	// MHFallback sends a flow whose backend is at weight 0 (failed or
	// drained) to the next one the table gives
	// (IP_VS_SVC_F_SCHED_MH_FALLBACK, keepalived's mh-fallback; default
	// true); without it such flows are dropped.
	MHFallback bool `toml:"mh_fallback"`
}

// Firewall describes the firewalld rules rendered for every host.
type Firewall struct {
	Zone       string         `toml:"zone"` // default public
	LogSources []netip.Prefix `toml:"log_sources"`
}

// Duration is a time.Duration written as a string such as "5s" in TOML.
type Duration struct {
	time.Duration
}

// Summary counts the inventory's parts, e.g.
// "2 directors, 2 logstash hosts, 1 VIP, 1 service".
func (inv *Inventory) Summary() string {
	return fmt.Sprintf("%s, %s, %s, %s",
		plural(len(inv.Directors), "director", "directors"),
		plural(len(inv.Logstash), "logstash host", "logstash hosts"),
		plural(len(inv.VIPs), "VIP", "VIPs"),
		plural(len(inv.Services), "service", "services"))
}

// String names the cluster and counts its parts:
// `cluster "stash" (2 directors, 2 logstash hosts, 1 VIP, 1 service)`.
func (inv *Inventory) String() string {
	return fmt.Sprintf("cluster %s (%s)", quote(inv.Cluster.Name), inv.Summary())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
