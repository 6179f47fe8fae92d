package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
)

type keepalivedData struct {
	Cluster    string
	Director   string
	ScriptUser string
	Emails     []string
	EmailFrom  string
	SMTPServer string
	SMTPPort   int
	Instances  []instanceData
	// TrackDirector tracks the hala director process (cluster.ipvs =
	// "director"); the virtual_server blocks are then left out.
	TrackDirector  bool
	HalaPath       string
	MetricsAddress string
}

type instanceData struct {
	Name      string
	VIP       string
	Master    string
	State     string
	Interface string
	RouterID  int
	Priority  int
	AdvertInt string
	SMTPAlert bool
	Version3  bool
	AuthPass  string
	Unicast   bool
	SrcIP     string
	Peers     []string
	Address   string
	// TrackDirector adds track_script of hala director (vrrp_script).
	TrackDirector bool
}

type servicesData struct {
	Servers []serverData
}

type serverData struct {
	Name        string
	Address     string
	Port        int
	DelayLoop   string
	Scheduler   string
	Kind        string
	Protocol    string
	OPS         bool
	Persistence int
	// MHPort and MHFallback are the mh scheduler's flags (scheduler = "mh").
	MHPort     bool
	MHFallback bool
	// Inhibit keeps a failed real server at weight 0 (inhibit_on_failure):
	// TCP with mh, whose table is built from the list (see pkg/director).
	Inhibit bool
	Reals   []realData
}

type realData struct {
	Name        string
	InputID     string
	Address     string
	Port        int
	Weight      int
	MiscPath    string
	MiscTimeout int
	// MiscDynamic: the check's exit status sets the weight (weights = "load").
	MiscDynamic bool
}

// keepalived renders director d's keepalived.conf: global_defs and one
// vrrp_instance per VIP, then the virtual_server part every director shares.
func (r *renderer) keepalived(d inventory.Director) ([]byte, error) {
	c := r.inv.Cluster
	data := keepalivedData{
		Cluster:    c.Name,
		Director:   d.Name,
		ScriptUser: c.ScriptUser,
		Emails:     c.NotificationEmail,
		HalaPath:   c.HalaPath,
		// Where this director's hala director serves /healthz: the
		// inventory's metrics_address, which hala director reads too.
		MetricsAddress: r.inv.MetricsAddress(d.Name),
		// keepalived does VRRP only; hala director owns the IPVS table.
		TrackDirector: r.inv.UsesDirector(),
	}
	if len(c.NotificationEmail) > 0 {
		data.EmailFrom = c.NotificationEmailFrom
		if c.SMTPServer != "" {
			host, port, err := inventory.SplitSMTPServer(c.SMTPServer)
			if err != nil {
				return nil, fmt.Errorf("cluster.smtp_server %q: %w", c.SMTPServer, err)
			}
			data.SMTPServer, data.SMTPPort = host, port
		}
	}
	for _, v := range r.inv.VIPs {
		// Each VIP's own advert_int and password (the cluster's unless it
		// sets them), as keepalived has them per vrrp_instance.
		advert, v3, err := advertInt(v.AdvertInterval.Duration)
		if err != nil {
			return nil, fmt.Errorf("vip %q: %w", v.Name, err)
		}
		if v3 && v.VRRPAuthPass != "" {
			return nil, fmt.Errorf("vip %q: advert_interval %s is not whole seconds, which needs VRRP version 3, which has no authentication: use whole seconds or drop vrrp_auth_pass", v.Name, v.AdvertInterval.Duration)
		}
		if v.Address.Addr().Is6() && v.VRRPAuthPass != "" {
			return nil, fmt.Errorf("vip %q: IPv6 uses VRRP version 3, which has no authentication: drop vrrp_auth_pass", v.Name)
		}
		in := instanceData{
			Name:      r.instanceNames[v.Name],
			VIP:       v.Name,
			Master:    v.Master,
			State:     "BACKUP",
			Interface: r.inv.InterfaceOf(v, d),
			RouterID:  v.RouterID,
			Priority:  r.inv.Priority(v, d),
			AdvertInt: advert,
			SMTPAlert: len(c.NotificationEmail) > 0,
			Version3:  v3 || v.VRRPVersion == 3,
			AuthPass:  v.VRRPAuthPass,
			Unicast:   c.Unicast,
			Address:   v.Address.String(),

			TrackDirector: data.TrackDirector,
		}
		if v.Master == d.Name {
			in.State = "MASTER"
		}
		if c.Unicast {
			in.SrcIP = d.Address.String()
			in.Peers = r.peers(d)
		}
		data.Instances = append(data.Instances, in)
	}
	if r.services == nil && !data.TrackDirector {
		var err error
		if r.services, err = r.virtualServers(); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	b.Grow(1024 + len(data.Instances)*(640+24*len(r.inv.Directors)) + len(r.services))
	if err := tmpl.ExecuteTemplate(&b, "keepalived.conf.tmpl", data); err != nil {
		return nil, err
	}
	b.Write(r.services)
	return b.Bytes(), nil
}

// peers returns the addresses of every director but d, for unicast_peer.
func (r *renderer) peers(d inventory.Director) []string {
	if r.addrs == nil {
		r.addrs = make([]string, len(r.inv.Directors))
		for i, o := range r.inv.Directors {
			r.addrs[i] = o.Address.String()
		}
	}
	out := make([]string, 0, len(r.addrs))
	for i, o := range r.inv.Directors {
		if o.Name != d.Name {
			out = append(out, r.addrs[i])
		}
	}
	return out
}

// advertInt formats the VRRP advertisement interval: whole seconds for
// VRRP version 2, or a fraction that needs version 3.
func advertInt(d time.Duration) (string, bool, error) {
	if d <= 0 {
		return "", false, fmt.Errorf("advert_interval %s is not positive", d)
	}
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second)), false, nil
	}
	if d%(10*time.Millisecond) != 0 {
		return "", false, fmt.Errorf("advert_interval %s is not a multiple of 10ms", d)
	}
	return seconds(d), true, nil
}

// virtualServers renders one virtual_server per service.
func (r *renderer) virtualServers() ([]byte, error) {
	c := r.inv.Cluster
	misc := int(r.inv.MiscTimeout() / time.Second)
	var data servicesData
	reals := 0
	for _, s := range r.inv.Services {
		v, ok := r.inv.VIP(s.VIP)
		if !ok {
			return nil, fmt.Errorf("service %q: no vip %q", s.Name, s.VIP)
		}
		proto := strings.ToUpper(s.Protocol)
		sd := serverData{
			Name:        s.Name,
			Address:     v.Address.Addr().String(),
			Port:        s.Port,
			DelayLoop:   seconds(s.DelayLoop.Duration),
			Scheduler:   s.Scheduler,
			Kind:        strings.ToUpper(s.Forwarding),
			Protocol:    proto,
			OPS:         s.OnePacket && proto == "UDP",
			Persistence: ceilSeconds(s.Persistence.Duration),
			MHPort:      s.UsesMH() && s.MHPort,
			MHFallback:  s.UsesMH() && s.MHFallback,
			Inhibit:     s.UsesMH() && proto == "TCP",
		}
		for _, l := range r.inv.Backends(s) {
			mp, err := miscPath(c, s, l)
			if err != nil {
				return nil, fmt.Errorf("service %q backend %q: %w", s.Name, l.Name, err)
			}
			sd.Reals = append(sd.Reals, realData{
				Name:        l.Name,
				InputID:     s.InputID,
				Address:     l.Address.String(),
				Port:        s.BackendPort,
				Weight:      s.Weight,
				MiscPath:    mp,
				MiscTimeout: misc,
				MiscDynamic: s.Weights == inventory.WeightsLoad,
			})
		}
		reals += len(sd.Reals)
		data.Servers = append(data.Servers, sd)
	}
	return execute("keepalived-services.tmpl", data, 256*len(data.Servers)+320*reals)
}

// miscPath is the MISC_CHECK command line for backend l of service s
// (contract: "<hala_path> check --port N --timeout D [--pipeline P]
// [--scheme https] [--ca F] [--auth-file F] [--require-running]
// [--max-idle D] [--probe --probe-port N] [--dynamic-weight] -- <ip>
// <input_id>"). The "--" ends the flags, so an input id that starts with
// '-' stays an argument instead of failing the check as an unknown flag.
func miscPath(c inventory.Cluster, s inventory.Service, l inventory.Logstash) (string, error) {
	args := []string{c.HalaPath, "check", "--port", strconv.Itoa(l.APIPort), "--timeout", c.CheckTimeout.Duration.String()}
	if s.Pipeline != "" {
		args = append(args, "--pipeline", s.Pipeline)
	}
	if c.APIScheme == "https" {
		args = append(args, "--scheme", "https")
	}
	if c.APICA != "" {
		args = append(args, "--ca", c.APICA)
	}
	if c.APIAuthFile != "" {
		args = append(args, "--auth-file", c.APIAuthFile)
	}
	if s.RequireRunning {
		args = append(args, "--require-running")
	}
	if s.MaxIdle.Duration > 0 {
		args = append(args, "--max-idle", s.MaxIdle.Duration.String())
	}
	if s.Probe {
		args = append(args, "--probe", "--probe-port", strconv.Itoa(s.BackendPort))
	}
	if s.Weights == inventory.WeightsLoad {
		args = append(args, "--dynamic-weight")
	}
	args = append(args, "--", l.Address.String(), s.InputID)
	for _, a := range args {
		if err := argWord(a); err != nil {
			return "", fmt.Errorf("misc_path argument %q: %w", a, err)
		}
	}
	return strings.Join(args, " "), nil
}

// stateDir is where hala check keeps --max-idle and --require-running
// state by default (check.DefaultStateDir; a test keeps them equal).
const stateDir = "/run/hala"

// needsState reports whether some service's check keeps state (load
// weights keep the last weight and, before flow metrics, event counters).
func needsState(inv *inventory.Inventory) bool {
	for _, s := range inv.Services {
		if s.MaxIdle.Duration > 0 || s.RequireRunning || s.Weights == inventory.WeightsLoad {
			return true
		}
	}
	return false
}
