package render

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/templates"
)

// File is one rendered file.
type File struct {
	// Path is relative to the output directory, with '/' separators:
	// "<host>/keepalived.conf".
	Path string
	// Data is the file's content.
	Data []byte
	// Mode is the file's permission bits.
	Mode fs.FileMode
}

// String returns the file's relative path.
func (f File) String() string { return f.Path }

// Paths of the rendered files inside a host's directory.
const (
	KeepalivedPath = "keepalived.conf"
	SysctlPath     = "sysctl.d/90-hala.conf"
	SetupPath      = "setup.sh"
	FirewalldPath  = "firewalld.sh"
	InputsPath     = "logstash/conf.d/hala-inputs.conf"
	LogstashYML    = "logstash/logstash.yml.snippet"
	// LocalVIPsUnitPath is the systemd unit of a DR/TUN real server.
	LocalVIPsUnitPath = "hala-local-vips.service"
	// DirectorUnitPath is hala director's systemd unit (cluster.ipvs = "director").
	DirectorUnitPath = "hala-director.service"
	// DirectorInventory is where the director's unit reads the inventory.
	DirectorInventory = "/etc/hala/inventory.toml"
	// DirectorMetricsAddress is where hala director serves /metrics and
	// /healthz by default, and where keepalived's vrrp_script asks.
	DirectorMetricsAddress = "127.0.0.1:9610"
)

// tmpl holds the parsed templates. They are parsed on first use, not at
// init: every hala process (hala check runs every few seconds per real
// server) would otherwise pay for it.
var tmpl = &lazyTemplate{parse: func() *template.Template {
	return template.Must(template.New("hala").
		Option("missingkey=error").
		Funcs(template.FuncMap{
			"kq":      keepalivedQuote,
			"lq":      logstashQuote,
			"sh":      shellQuote,
			"comment": comment,
			"add1":    func(i int) int { return i + 1 },
			"sanitize": func(s string) string {
				return strings.ReplaceAll(strings.ReplaceAll(sanitize(s), "-", "_"), ".", "_")
			},
		}).
		ParseFS(templates.FS, "*.tmpl"))
}}

type lazyTemplate struct {
	once  sync.Once
	parse func() *template.Template
	t     *template.Template
}

func (l *lazyTemplate) ExecuteTemplate(w io.Writer, name string, data any) error {
	l.once.Do(func() { l.t = l.parse() })
	return l.t.ExecuteTemplate(w, name, data)
}

// All renders every host's files, sorted by Path.
func All(inv *inventory.Inventory) ([]File, error) {
	r, err := newRenderer(inv)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, h := range r.hosts {
		fs, err := r.host(h)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	if inv.UsesBGP() {
		fs, err := r.router()
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	sortFiles(files)
	return files, nil
}

// Node renders the files of the host called name (a director, a Logstash
// host, or both), sorted by Path; with cluster.ha = "bgp", name "router"
// gives the router snippets.
func Node(inv *inventory.Inventory, name string) ([]File, error) {
	r, err := newRenderer(inv)
	if err != nil {
		return nil, err
	}
	if name == RouterDir && inv.UsesBGP() {
		files, err := r.router()
		sortFiles(files)
		return files, err
	}
	h, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	files, err := r.host(h)
	if err != nil {
		return nil, err
	}
	sortFiles(files)
	return files, nil
}

// lookup returns the host called name.
func (r *renderer) lookup(name string) (host, error) {
	names := make([]string, 0, len(r.hosts))
	for _, h := range r.hosts {
		if h.name == name {
			return h, nil
		}
		names = append(names, strconv.Quote(h.name))
	}
	return host{}, fmt.Errorf("no host %q in the inventory (hosts: %s)", name, strings.Join(names, ", "))
}

func sortFiles(files []File) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// host is one machine: a director, a Logstash host, or both (same name).
type host struct {
	name     string
	director *inventory.Director
	logstash *inventory.Logstash
}

// renderer holds what every host's files share, computed once.
type renderer struct {
	inv   *inventory.Inventory
	hosts []host
	// services is the virtual_server part of keepalived.conf, the same on
	// every director; rendered once, on first use.
	services []byte
	// addrs holds the directors' addresses as strings, in inventory order.
	addrs []string
	// instanceNames maps a VIP name to its vrrp_instance name.
	instanceNames map[string]string
}

func newRenderer(inv *inventory.Inventory) (*renderer, error) {
	if inv == nil {
		return nil, fmt.Errorf("render: no inventory")
	}
	r := &renderer{inv: inv, instanceNames: make(map[string]string, len(inv.VIPs))}
	byName := map[string]int{}
	add := func(name string) *host {
		if i, ok := byName[name]; ok {
			return &r.hosts[i]
		}
		byName[name] = len(r.hosts)
		r.hosts = append(r.hosts, host{name: name})
		return &r.hosts[len(r.hosts)-1]
	}
	for i := range inv.Directors {
		add(inv.Directors[i].Name).director = &inv.Directors[i]
	}
	for i := range inv.Logstash {
		add(inv.Logstash[i].Name).logstash = &inv.Logstash[i]
	}
	for _, h := range r.hosts {
		if err := hostDir(h.name); err != nil {
			return nil, err
		}
		if inv.UsesBGP() && h.name == RouterDir {
			return nil, fmt.Errorf("host name %q is the directory of the router snippets (cluster.ha = \"bgp\"): rename the host", h.name)
		}
	}
	sort.Slice(r.hosts, func(i, j int) bool { return r.hosts[i].name < r.hosts[j].name })

	used := map[string]bool{}
	for _, v := range inv.VIPs {
		base := "VI_" + sanitize(v.Name)
		name := base
		for n := 2; used[name]; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		used[name] = true
		r.instanceNames[v.Name] = name
	}
	return r, nil
}

// hostDir checks that a host name can be a directory name of the output.
func hostDir(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("host name %q cannot be a directory name", name)
	}
	return nil
}

// sanitize keeps letters, digits, '_', '-' and '.', replacing anything else
// with '_', for names that must be one plain word (vrrp_instance, paths).
func sanitize(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

func (r *renderer) host(h host) ([]File, error) {
	var files []File
	add := func(rel string, mode fs.FileMode, data []byte) {
		files = append(files, File{Path: h.name + "/" + rel, Data: data, Mode: mode})
	}
	if h.director != nil {
		// With BGP no VRRP runs: the directors get no keepalived.conf.
		if !r.inv.UsesBGP() {
			data, err := r.keepalived(*h.director)
			if err != nil {
				return nil, fmt.Errorf("render %s/%s: %w", h.name, KeepalivedPath, err)
			}
			add(KeepalivedPath, 0o600, data)
		}
		if r.inv.UsesDirector() {
			data, err := execute("hala-director.service.tmpl", directorUnitData{
				Cluster: r.inv.Cluster.Name, Director: h.director.Name,
				HalaPath: r.inv.Cluster.HalaPath, Inventory: DirectorInventory,
				BGP: r.inv.UsesBGP(),
			}, 2048)
			if err != nil {
				return nil, fmt.Errorf("render %s/%s: %w", h.name, DirectorUnitPath, err)
			}
			add(DirectorUnitPath, 0o644, data)
		}
	}
	local := r.localVIPs(h)
	if needsSysctl(h, local) {
		data, err := r.sysctl(h, local)
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", h.name, SysctlPath, err)
		}
		add(SysctlPath, 0o644, data)
		data, err = r.setup(h, local)
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", h.name, SetupPath, err)
		}
		add(SetupPath, 0o755, data)
	}
	if len(local) > 0 {
		data, err := r.localVIPsUnit(h, local)
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", h.name, LocalVIPsUnitPath, err)
		}
		add(LocalVIPsUnitPath, 0o644, data)
	}
	data, err := r.firewalld(h)
	if err != nil {
		return nil, fmt.Errorf("render %s/%s: %w", h.name, FirewalldPath, err)
	}
	add(FirewalldPath, 0o755, data)
	if h.logstash != nil {
		inputs, err := r.logstashInputs(h)
		if err != nil {
			return nil, fmt.Errorf("render %s logstash inputs: %w", h.name, err)
		}
		for _, in := range inputs {
			add(in.path, 0o644, in.data)
		}
		data, err := r.logstashYML(h)
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", h.name, LogstashYML, err)
		}
		add(LogstashYML, 0o644, data)
	}
	return files, nil
}

type directorUnitData struct {
	Cluster, Director, HalaPath, Inventory string
	// Generic is the packaged unit: no cluster or director of its own.
	Generic bool
	// BGP: the director runs the BGP speaker (cluster.ha = "bgp").
	BGP bool
}

// PackagedDirectorUnit renders the hala-director.service that the .deb and
// .rpm install: the rendered unit's template, reading DirectorInventory
// and taking this director's flags (--node NAME) from
// /etc/default/hala-director, so one unit serves every director.
func PackagedDirectorUnit(halaPath string) ([]byte, error) {
	return execute("hala-director.service.tmpl", directorUnitData{HalaPath: halaPath, Inventory: DirectorInventory, Generic: true}, 2048)
}

func execute(name string, data any, size int) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(size)
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// seconds formats d in seconds with no trailing zeros: "5", "2.5".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

// hostPrefix is a as a single-address prefix: "192.0.2.1/32".
func hostPrefix(a netip.Addr) string {
	return netip.PrefixFrom(a, a.BitLen()).String()
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

func (r *renderer) interfaceOf(d inventory.Director) string {
	if d.Interface != "" {
		return d.Interface
	}
	return r.inv.Cluster.Interface
}

// joinPath is path.Join for a host-relative file.
func joinPath(elem ...string) string { return path.Join(elem...) }
