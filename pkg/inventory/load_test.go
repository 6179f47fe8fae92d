package inventory

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The smallest valid inventory gets every documented default.
func TestParseDefaults(t *testing.T) {
	src := `
[cluster]
name = "c"
interface = "eth0"

[[director]]
name = "d1"
address = "10.0.0.1"

[[director]]
name = "d2"
address = "10.0.0.2"
interface = "eth1"

[[director]]
name = "d3"
address = "10.0.0.3"

[[logstash]]
name = "l1"
address = "10.0.0.11"

[[logstash]]
name = "l2"
address = "10.0.0.12"
api_port = 9601

[[vip]]
name = "a"
address = "10.0.0.100/24"
router_id = 10

[[vip]]
name = "b"
address = "10.0.0.101/24"
router_id = 11

[[vip]]
name = "c"
address = "10.0.0.102/32"
router_id = 12
master = "d1"

[[vip]]
name = "d"
address = "10.0.0.103"
router_id = 13

[[service]]
name = "s"
vip = "a"
port = 514
protocol = "UDP"
input_id = "in"
`
	inv, err := Parse("min.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := inv.Cluster
	if c.AdvertInterval.Duration != time.Second || c.APIPort != 9600 || c.APIScheme != "http" ||
		c.CheckTimeout.Duration != 2*time.Second || c.HalaPath != "/usr/bin/hala" || c.ScriptUser != "keepalived_script" {
		t.Errorf("cluster defaults: %+v", c)
	}
	if got := []string{inv.Directors[0].Interface, inv.Directors[1].Interface, inv.Directors[2].Interface}; !reflect.DeepEqual(got, []string{"eth0", "eth1", "eth0"}) {
		t.Errorf("director interfaces = %v, want cluster.interface unless overridden", got)
	}
	if inv.Logstash[0].APIPort != 9600 || inv.Logstash[1].APIPort != 9601 {
		t.Errorf("logstash api ports = %d, %d; want 9600 (cluster default), 9601", inv.Logstash[0].APIPort, inv.Logstash[1].APIPort)
	}
	// Masters are spread over the directors in order; an explicit one stays.
	var masters []string
	for _, v := range inv.VIPs {
		masters = append(masters, v.Master)
	}
	if want := []string{"d1", "d2", "d1", "d1"}; !reflect.DeepEqual(masters, want) {
		t.Errorf("masters = %v, want %v", masters, want)
	}
	if got, want := inv.VIPs[3].Address, netip.MustParsePrefix("10.0.0.103/32"); got != want {
		t.Errorf("bare VIP address = %v, want %v", got, want)
	}
	s := inv.Services[0]
	want := Service{
		Name: "s", VIP: "a", Port: 514, Protocol: "udp", InputID: "in",
		Scheduler: "rr", Forwarding: "nat", DelayLoop: Duration{5 * time.Second},
		Backends: []string{"l1", "l2"}, BackendPort: 514, Weight: 1, Weights: "static",
		Interval: Duration{time.Second}, Rise: 2, Fall: 2, OnFailure: "remove", AllDown: "keep", MinHealthy: 1, MHPort: true, MHFallback: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("service = %+v\nwant      %+v", s, want)
	}
	if inv.Firewall.Zone != "public" {
		t.Errorf("firewall zone = %q, want public", inv.Firewall.Zone)
	}
	if got, want := inv.MiscTimeout(), 3*time.Second; got != want {
		t.Errorf("MiscTimeout = %v, want %v", got, want)
	}
	if got, want := inv.String(), `cluster "c" (3 directors, 2 logstash hosts, 4 VIPs, 1 service)`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// Each VIP has exactly one highest priority: its master's.
	for _, v := range inv.VIPs {
		top, n := 0, 0
		for _, d := range inv.Directors {
			switch p := inv.Priority(v, d); {
			case p > top:
				top, n = p, 1
			case p == top:
				n++
			}
		}
		m, _ := inv.Director(v.Master)
		if n != 1 || inv.Priority(v, m) != top {
			t.Errorf("vip %s: master %s does not hold the single highest priority", v.Name, v.Master)
		}
	}

	// Defaults are idempotent and the result validates again.
	again := *inv
	again.Services = append([]Service(nil), inv.Services...)
	again.SetDefaults()
	if !reflect.DeepEqual(again.Services, inv.Services) {
		t.Errorf("SetDefaults twice changed services: %+v", again.Services)
	}
	if err := inv.Validate(); err != nil {
		t.Errorf("Validate after Parse: %v", err)
	}
}

// An inventory built in Go gets the same defaults and validation.
func TestValidateBuiltInGo(t *testing.T) {
	inv := &Inventory{
		Cluster:   Cluster{Name: "c", Interface: "eth0"},
		Directors: []Director{{Name: "d1", Address: netip.MustParseAddr("10.0.0.1")}, {Name: "d2", Address: netip.MustParseAddr("10.0.0.2")}},
		Logstash:  []Logstash{{Name: "l1", Address: netip.MustParseAddr("10.0.0.11")}},
		VIPs:      []VIP{{Name: "v", Address: netip.MustParsePrefix("10.0.0.100/24"), RouterID: 1}},
		Services:  []Service{{Name: "s", VIP: "v", Port: 514, Protocol: "udp", InputID: "in"}},
		Firewall:  Firewall{LogSources: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}},
	}
	inv.SetDefaults()
	if err := inv.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if inv.Services[0].Weight != 1 || inv.VIPs[0].Master != "d1" {
		t.Errorf("defaults not applied: %+v %+v", inv.Services[0], inv.VIPs[0])
	}
	inv.Services[0].Port = 0
	err := inv.Validate()
	if err == nil || err.Error() != `service[0] ("s").port: required: the port clients send to on the VIP` {
		t.Errorf("Validate with port 0 = %v", err)
	}
}

// examples/two-node.toml is exactly the seed's hand-made setup.
func TestTwoNodeExampleIsTheSeed(t *testing.T) {
	inv, err := Load("../../examples/two-node.toml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	c := inv.Cluster
	if c.Name != "stash" || c.Interface != "ens33" || c.VRRPAuthPass != "secret42" || c.Unicast || c.APIPort != 9600 {
		t.Errorf("cluster = %+v", c)
	}
	hosts := map[string]string{"stash1": "192.168.1.210", "stash2": "192.168.1.220"}
	if len(inv.Directors) != 2 || len(inv.Logstash) != 2 {
		t.Fatalf("want 2 directors and 2 logstash hosts, got %d and %d", len(inv.Directors), len(inv.Logstash))
	}
	for i := range 2 {
		d, l := inv.Directors[i], inv.Logstash[i]
		if hosts[d.Name] != d.Address.String() || hosts[l.Name] != l.Address.String() || d.Name != l.Name {
			t.Errorf("host %d: director %s %s, logstash %s %s", i, d.Name, d.Address, l.Name, l.Address)
		}
	}
	if len(inv.VIPs) != 1 {
		t.Fatalf("want 1 VIP, got %d", len(inv.VIPs))
	}
	if v := inv.VIPs[0]; v.Name != "logs" || v.Address.String() != "192.168.1.230/24" || v.RouterID != 1 {
		t.Errorf("vip = %+v", v)
	}
	if len(inv.Services) != 1 {
		t.Fatalf("want 1 service, got %d", len(inv.Services))
	}
	s := inv.Services[0]
	want := Service{
		Name: "syslog-udp", VIP: "logs", Port: 5514, Protocol: "udp", InputID: "udp-5514",
		Scheduler: "rr", Forwarding: "nat", OnePacket: true, DelayLoop: Duration{5 * time.Second},
		Backends: []string{"stash1", "stash2"}, BackendPort: 5514, Weight: 1, Weights: "static",
		Interval: Duration{time.Second}, Rise: 2, Fall: 2, OnFailure: "remove", AllDown: "keep", MinHealthy: 1, MHPort: true, MHFallback: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("service = %+v\nwant      %+v", s, want)
	}
	if fw := inv.Firewall; fw.Zone != "public" || len(fw.LogSources) != 1 || fw.LogSources[0].String() != "192.168.1.111/32" {
		t.Errorf("firewall = %+v", fw)
	}
}

// Every bundled example loads and validates without problems or warnings.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d examples, want two-node, active-active and direct-routing at least", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			inv, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			// An example is what operators copy: it must not trip a warning.
			for _, w := range inv.Warnings {
				t.Errorf("warning: %s", w)
			}
		})
	}

	aa, err := Load("../../examples/active-active.toml")
	if err != nil {
		t.Fatal(err)
	}
	protos := map[string]bool{}
	for _, s := range aa.Services {
		protos[s.Protocol] = true
	}
	if len(aa.Directors) < 3 || len(aa.VIPs) < 2 || len(aa.Logstash) < 3 || !protos["udp"] || !protos["tcp"] {
		t.Errorf("active-active: %s, protocols %v", aa.Summary(), protos)
	}
	if aa.VIPs[0].Master == aa.VIPs[1].Master {
		t.Errorf("active-active: both VIPs prefer %s", aa.VIPs[0].Master)
	}
	dr, err := Load("../../examples/direct-routing.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range dr.Services {
		if s.Forwarding != "dr" {
			t.Errorf("direct-routing: service %s forwards by %s", s.Name, s.Forwarding)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.HasPrefix(err.Error(), "read inventory: open ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

// Load refuses what is not a regular file before reading from it: a device
// that never ends, or a FIFO whose open would wait for a writer.
func TestLoadRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "inventory.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (a character device): an inventory is a TOML file"},
		{"/dev/urandom", "/dev/urandom: not a regular file (a character device): an inventory is a TOML file"},
		{fifo, fifo + ": not a regular file (a FIFO): an inventory is a TOML file"},
		{t.TempDir(), ": not a regular file (a directory): an inventory is a TOML file"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(tc.path)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("Load(%s) = %v, want ...%s", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) still reading after 5s", tc.path)
		}
	}
}

// An inventory larger than MaxFileSize is refused by its size, unparsed.
func TestLoadRefusesLargeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.toml")
	// Valid TOML all through (a comment), so only the size can refuse it.
	data := []byte(base + "#" + strings.Repeat("x", MaxFileSize-len(base)) + "\n")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ": larger than 4 MiB, the most an inventory may be"; err == nil || err.Error() != want {
		t.Errorf("Load of %d bytes = %v, want %s", len(data), err, want)
	}
	if _, err := Parse("big.toml", data); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Parse of %d bytes = %v", len(data), err)
	}
	if err := os.WriteFile(path, data[:MaxFileSize-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load of just under 4 MiB: %v", err)
	}
}

// Messages quote at most MaxQuoted bytes of a value, with control
// characters escaped, however long the value and wherever it shows.
func TestMessagesQuoteInputShort(t *testing.T) {
	huge := strings.Repeat("n", 900<<10) // four of them stay under MaxFileSize
	src := edit(t,
		`name = "stash"`, `name = "`+huge+`"`,
		`name = "syslog-udp"`, `name = "`+huge+`\u001b[2J"`,
		`vip = "logs"`, `vip = "logz`+huge+`"`,
		`address = "192.168.1.230/24"`, `address = "`+huge+`"`,
	)
	_, err := Parse("x.toml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted the inventory")
	}
	msg := err.Error()
	if len(msg) > 2000 {
		t.Errorf("error is %d bytes long: %.300s...", len(msg), msg)
	}
	if strings.ContainsRune(msg, 0x1b) {
		t.Errorf("error holds a raw escape character: %q", msg)
	}
	short := `"` + strings.Repeat("n", MaxQuoted) + `..."`
	if n := strings.Count(msg, short); n < 4 {
		t.Errorf("the long values are quoted as %s %d times, want 4 or more:\n%s", short, n, msg)
	}

	// A TOML syntax error in a long line shows the part around the error.
	_, err = Parse("x.toml", []byte(edit(t, `port = 5514`, `port = 5514 `+huge)))
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "^") {
		t.Errorf("syntax error in a long line: %.1000v", err)
	}
}
