package importer

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
	"github.com/hala-lb/hala/pkg/render"
)

// semantic is what a keepalived.conf means for traffic, read from the
// parsed tree by code independent of the importer: per VRRP instance its
// router id, address, interface, state, authentication and unicast peers;
// per virtual server its address, protocol and scheduling, and per real
// server its address, weight and check target.
type semantic struct {
	Instances []string
	Servers   []string
}

func semanticOf(t *testing.T, nodes []*keepalived.Node, exactChecks bool) semantic {
	t.Helper()
	var s semantic
	for _, in := range keepalived.All(nodes, "vrrp_instance") {
		var f []string
		for _, n := range in.Children {
			switch n.Name {
			case "virtual_router_id", "interface", "state", "advert_int", "unicast_src_ip", "version":
				f = append(f, n.String())
			case "authentication":
				for _, a := range n.Children {
					f = append(f, a.String())
				}
			case "virtual_ipaddress":
				for _, a := range n.Children {
					f = append(f, "vip "+a.Name)
				}
			case "unicast_peer":
				var peers []string
				for _, p := range n.Children {
					peers = append(peers, p.Name)
				}
				sort.Strings(peers)
				f = append(f, "peers "+strings.Join(peers, ","))
			case "track_script":
				f = append(f, "track "+n.Children[0].Name)
			}
		}
		s.Instances = append(s.Instances, strings.Join(withDefaults(f, "advert_int 1"), "; "))
	}
	for _, vs := range keepalived.All(nodes, "virtual_server") {
		f := []string{"at " + strings.Join(vs.Args, " ")}
		var reals []string
		for _, n := range vs.Children {
			switch n.Name {
			case "lb_algo", "lb_kind", "protocol", "ops":
				f = append(f, n.String())
			case "delay_loop", "persistence_timeout":
				f = append(f, n.String())
			case "real_server":
				r := []string{strings.Join(n.Args, " ")}
				for _, c := range n.Children {
					switch c.Name {
					case "weight":
						r = append(r, c.String())
					case "MISC_CHECK":
						for _, m := range c.Children {
							switch {
							case m.Name == "misc_path" && exactChecks:
								r = append(r, m.String())
							case m.Name == "misc_path":
								// The target: the command's last two words.
								w := strings.Fields(m.Arg(0))
								r = append(r, "checks "+strings.Join(w[len(w)-2:], " "))
							case exactChecks:
								r = append(r, m.String())
							}
						}
					}
				}
				reals = append(reals, strings.Join(withDefaults(r, "weight 1"), "; "))
			}
		}
		sort.Strings(reals)
		f = withDefaults(f, "delay_loop 5", "persistence_timeout 0")
		s.Servers = append(s.Servers, strings.Join(f, "; ")+" => "+strings.Join(reals, " | "))
	}
	return s
}

// withDefaults adds keepalived's default for each key f does not set,
// and sorts f.
func withDefaults(f []string, defaults ...string) []string {
	for _, d := range defaults {
		key, _, _ := strings.Cut(d, " ")
		found := false
		for _, x := range f {
			found = found || strings.HasPrefix(x, key+" ")
		}
		if !found {
			f = append(f, d)
		}
	}
	sort.Strings(f)
	return f
}

func parseConf(t *testing.T, name string, data []byte) *keepalived.Config {
	t.Helper()
	cfg, err := keepalived.Parse(name, data, false)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return cfg
}

// importRender imports cfg, checks the result is a valid inventory and
// renders director node's keepalived.conf from it.
func importRender(t *testing.T, cfg *keepalived.Config, src string, opts Options, node string) (*Result, []byte) {
	t.Helper()
	res, err := Import(cfg, src, opts)
	if err != nil {
		t.Fatalf("import %s: %v", src, err)
	}
	inv, err := inventory.Parse("imported.toml", res.TOML)
	if err != nil {
		t.Fatalf("imported inventory of %s is invalid: %v\n%s", src, err, res.TOML)
	}
	return res, renderConf(t, inv, node)
}

// renderConf renders director node's keepalived.conf from inv.
func renderConf(t *testing.T, inv *inventory.Inventory, node string) []byte {
	t.Helper()
	files, err := render.Node(inv, node)
	if err != nil {
		t.Fatalf("render %s: %v", node, err)
	}
	for _, f := range files {
		if f.Path == node+"/"+render.KeepalivedPath {
			return f.Data
		}
	}
	t.Fatalf("render wrote no keepalived.conf for %s", node)
	return nil
}

// Every example's rendered keepalived.conf, imported and rendered again,
// means the same: same VIPs, router ids, virtual servers, real servers and
// checks (compared on the parsed trees, not as text).
func TestRoundTripExamples(t *testing.T) {
	examples, err := filepath.Glob("../../examples/*.toml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	// Per-VIP interface, advert interval, password and VRRP version.
	examples = append(examples, "../render/testdata/per-vip-vrrp/inventory.toml")
	rounds := 0
	for _, ex := range examples {
		inv, err := inventory.Load(ex)
		if err != nil {
			t.Fatal(err)
		}
		if inv.UsesDirector() {
			continue // TestImportDirectorExample
		}
		for _, d := range inv.Directors {
			t.Run(filepath.Base(ex)+"/"+d.Name, func(t *testing.T) {
				files, err := render.Node(inv, d.Name)
				if err != nil {
					t.Fatal(err)
				}
				var conf []byte
				for _, f := range files {
					if f.Path == d.Name+"/"+render.KeepalivedPath {
						conf = f.Data
					}
				}
				orig := parseConf(t, "keepalived.conf", conf)
				var opts Options
				if !inv.Cluster.Unicast {
					// Multicast names no director: as with --director NAME=ADDR.
					for _, o := range inv.Directors {
						opts.Directors = append(opts.Directors, Director{Name: o.Name, Address: o.Address})
					}
				}
				res, again := importRender(t, orig, "keepalived.conf", opts, d.Name)
				if len(res.Unmapped) != 0 {
					t.Errorf("hala's own output has unmapped parts: %v", res.Unmapped)
				}
				got, want := semanticOf(t, parseConf(t, "again.conf", again).Nodes, true), semanticOf(t, orig.Nodes, true)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round trip differs\n got: %#v\nwant: %#v\ninventory:\n%s", got, want, res.TOML)
				}
				rounds++
			})
		}
	}
	if rounds < 5 {
		t.Errorf("%d round trips, want one per director of every keepalived example", rounds)
	}
}

// The seed's hand-written keepalived.conf (multicast, inputstatus.py
// checks) imports to an inventory whose render has the same VIP, router
// id, virtual server and real servers, each checked for the same input on
// the same host, now by hala check.
func TestRoundTripSeed(t *testing.T) {
	cfg, err := keepalived.Load("../keepalived/testdata/seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Directors: []Director{
		{Name: "stash1", Address: netip.MustParseAddr("192.168.1.210")},
		{Name: "stash2", Address: netip.MustParseAddr("192.168.1.220")},
	}}
	res, again := importRender(t, cfg, "seed.conf", opts, "stash1")
	got, want := semanticOf(t, parseConf(t, "again.conf", again).Nodes, false), semanticOf(t, cfg.Nodes, false)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs\n got: %#v\nwant: %#v\ninventory:\n%s", got, want, res.TOML)
	}
	// What hala cannot express is named with file and line, not dropped.
	wantNotes := []string{
		"../keepalived/testdata/seed.conf:8: smtp_connect_timeout 30: no inventory key (hala renders global_defs itself)",
		"../keepalived/testdata/seed.conf:22: priority 100: hala derives priorities (150 on the master, 100, 99, … on the backups)",
		"../keepalived/testdata/seed.conf:13: vrrp_instance VI_1: keepalived mails nothing on this instance's transitions (no smtp_alert); hala renders smtp_alert on every instance when notification_email is set",
	}
	if !reflect.DeepEqual(res.Unmapped, wantNotes) {
		t.Errorf("unmapped\n%s\nwant\n%s", strings.Join(res.Unmapped, "\n"), strings.Join(wantNotes, "\n"))
	}
	for _, n := range wantNotes {
		if !strings.Contains(string(res.TOML), "#   "+n+"\n") {
			t.Errorf("inventory lacks the comment %q", n)
		}
	}
	if !strings.Contains(string(again), `misc_path "/usr/bin/hala check --port 9600 --timeout 2s -- 192.168.1.220 udp-5514"`) {
		t.Errorf("rendered checks are not hala check of the seed's input:\n%s", again)
	}
}

// directorExample is the keepalived.conf hala renders for stash1 of
// examples/two-node-director.toml and the import options naming its two
// directors.
func directorExample(t *testing.T) ([]byte, Options) {
	t.Helper()
	inv, err := inventory.Load("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Node(inv, "stash1")
	if err != nil {
		t.Fatal(err)
	}
	var conf []byte
	for _, f := range files {
		if f.Path == "stash1/"+render.KeepalivedPath {
			conf = f.Data
		}
	}
	if conf == nil {
		t.Fatal("render.Node(stash1) wrote no keepalived.conf")
	}
	return conf, Options{Directors: []Director{{Name: "stash1", Address: netip.MustParseAddr("192.168.1.210")}, {Name: "stash2", Address: netip.MustParseAddr("192.168.1.220")}}}
}

// The director example's keepalived.conf carries VRRP and the track of
// hala director but no virtual_server (the director programs IPVS from the
// inventory): import maps what is there and the inventory says, through
// validation, that the services must be added.
func TestImportDirectorExample(t *testing.T) {
	conf, opts := directorExample(t)
	res, err := Import(parseConf(t, "keepalived.conf", conf), "keepalived.conf", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ipvs = "director"`, `address = "192.168.1.230/24"`, "router_id = 1\n", `master = "stash1"`} {
		if !strings.Contains(string(res.TOML), want) {
			t.Errorf("inventory lacks %s:\n%s", want, res.TOML)
		}
	}
	_, err = inventory.Parse("imported.toml", res.TOML)
	if err == nil || !strings.Contains(err.Error(), "at least one [[service]] is required") {
		t.Errorf("validate: %v, want only the missing services", err)
	}
}

// A director's tracking script asking another address than the default
// keeps that address: re-rendering must not move keepalived's question
// away from where hala director serves.
func TestImportDirectorMetricsAddress(t *testing.T) {
	conf, opts := directorExample(t)
	for addr, want := range map[string]string{
		"127.0.0.2:9700":     `metrics_address = "127.0.0.2:9700"`,
		"192.168.1.210:9610": `--metrics-address 192.168.1.210:9610: set metrics_address = "192.168.1.210:9610" under this host's [[director]]`,
	} {
		c := strings.Replace(string(conf), "--metrics-address 127.0.0.1:9610", "--metrics-address "+addr, 1)
		res, err := Import(parseConf(t, "keepalived.conf", []byte(c)), "keepalived.conf", opts)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.TOML), want) {
			t.Errorf("%s: inventory lacks %s:\n%s", addr, want, res.TOML)
		}
	}
}

// An mh service's keepalived keywords (mh-port, mh-fallback, and the
// inhibit_on_failure hala renders for TCP with mh) map back to the
// inventory, and absent ones become mh_port/mh_fallback = false, not the
// inventory's defaults.
func TestRoundTripMH(t *testing.T) {
	src := `
[cluster]
name = "mh"
interface = "eth0"
vrrp_auth_pass = "maglev42"

[[director]]
name = "lb1"
address = "10.1.0.1"

[[logstash]]
name = "stash1"
address = "10.1.0.21"

[[logstash]]
name = "stash2"
address = "10.1.0.22"

[[vip]]
name = "logs"
address = "10.1.0.100/24"
router_id = 21

[[service]]
name = "syslog-tcp"
vip = "logs"
port = 5140
protocol = "tcp"
input_id = "tcp-5140"
scheduler = "mh"
forwarding = "dr"

[[service]]
name = "beats"
vip = "logs"
port = 5044
protocol = "tcp"
input_id = "beats"
scheduler = "mh"
forwarding = "dr"
mh_port = false
mh_fallback = false
`
	inv, err := inventory.Parse("mh.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Node(inv, "lb1")
	if err != nil {
		t.Fatal(err)
	}
	var conf []byte
	for _, f := range files {
		if f.Path == "lb1/"+render.KeepalivedPath {
			conf = f.Data
		}
	}
	orig := parseConf(t, "keepalived.conf", conf)
	opts := Options{Directors: []Director{{Name: "lb1", Address: inv.Directors[0].Address}}}
	res, again := importRender(t, orig, "keepalived.conf", opts, "lb1")
	if len(res.Unmapped) != 0 {
		t.Errorf("unmapped: %v", res.Unmapped)
	}
	if !strings.Contains(string(res.TOML), "mh_port = false\nmh_fallback = false\n") {
		t.Errorf("the service without mh-port and mh-fallback did not import them as false:\n%s", res.TOML)
	}
	got, want := semanticOf(t, parseConf(t, "again.conf", again).Nodes, true), semanticOf(t, orig.Nodes, true)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs\n got: %#v\nwant: %#v\ninventory:\n%s", got, want, res.TOML)
	}
}
