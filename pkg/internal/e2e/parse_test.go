package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/e2e/standin"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// Parsers for what the suite reads: the rendered Logstash settings and
// the kernel's /proc/net/ip_vs. Unit tested here; used by the suite.

var (
	inputBlockRE = regexp.MustCompile(`(?s)\b(udp|tcp)\s*\{(.*?)\}`)
	inputIDRE    = regexp.MustCompile(`\bid\s*=>\s*"([^"]*)"`)
	inputHostRE  = regexp.MustCompile(`\bhost\s*=>\s*"([^"]*)"`)
	inputPortRE  = regexp.MustCompile(`\bport\s*=>\s*(\d+)`)
)

// logstashInputs reads the udp and tcp inputs of a rendered Logstash
// pipeline config.
func logstashInputs(conf string) ([]standin.Input, error) {
	var out []standin.Input
	for _, m := range inputBlockRE.FindAllStringSubmatch(conf, -1) {
		id, host, port := inputIDRE.FindStringSubmatch(m[2]), inputHostRE.FindStringSubmatch(m[2]), inputPortRE.FindStringSubmatch(m[2])
		if id == nil || port == nil {
			return nil, fmt.Errorf("%s input without id or port: %q", m[1], m[2])
		}
		h := "0.0.0.0"
		if host != nil {
			h = host[1]
		}
		out = append(out, standin.Input{ID: id[1], Proto: m[1], Addr: net.JoinHostPort(h, port[1])})
	}
	return out, nil
}

// apiAddr reads the API host and port from a rendered logstash.yml snippet.
func apiAddr(yml string) (string, error) {
	host := regexp.MustCompile(`(?m)^(?:api\.)?http\.host:\s*"?([^"\s]+)"?`).FindStringSubmatch(yml)
	port := regexp.MustCompile(`(?m)^(?:api\.)?http\.port:\s*(\d+)`).FindStringSubmatch(yml)
	if host == nil || port == nil {
		return "", errors.New("no api.http.host or api.http.port")
	}
	return net.JoinHostPort(host[1], port[1]), nil
}

// ipvsDest is a real server of a service, as /proc/net/ip_vs lists it.
type ipvsDest struct {
	Addr   netip.AddrPort
	Weight int
}

func (d ipvsDest) String() string { return fmt.Sprintf("%s w%d", d.Addr, d.Weight) }

// parseIPVSList parses /proc/net/ip_vs:
//
//	UDP  C0A801E6:158A rr ops
//	  -> C0A801DC:158A      Masq    1      0          0
//
// and returns the real servers of VIP:port in the kernel's list order,
// the order mh builds its table from (ipvsadm -Ln sorts them): nil when
// there is no such service, empty when it has no real server.
func parseIPVSList(text string, vip netip.Addr, port int) ([]ipvsDest, error) {
	want := netip.AddrPortFrom(vip, uint16(port))
	var out []ipvsDest
	sc := bufio.NewScanner(strings.NewReader(text))
	inService := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && (f[0] == "UDP" || f[0] == "TCP"):
			ap, err := hexAddrPort(f[1])
			inService = err == nil && ap == want
			if inService && out == nil {
				out = []ipvsDest{}
			}
		case inService && len(f) >= 4 && f[0] == "->":
			ap, err := hexAddrPort(f[1])
			if err != nil {
				return nil, err
			}
			w, err := strconv.Atoi(f[3])
			if err != nil {
				return nil, err
			}
			out = append(out, ipvsDest{ap, w})
		}
	}
	return out, sc.Err()
}

// parseIPVS is parseIPVSList as a map from real server to weight.
func parseIPVS(text string, vip netip.Addr, port int) (map[netip.AddrPort]int, error) {
	list, err := parseIPVSList(text, vip, port)
	if err != nil || list == nil {
		return nil, err
	}
	out := make(map[netip.AddrPort]int, len(list))
	for _, d := range list {
		out[d.Addr] = d.Weight
	}
	return out, nil
}

func hexAddrPort(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || len(h) != 8 {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	a, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), uint16(port)), nil
}

// TestParsersReadRenderedExample guards the suite against render changes:
// the stand-ins must listen exactly where the rendered Logstash files say.
func TestParsersReadRenderedExample(t *testing.T) {
	inv, err := inventory.Load(filepath.Join("..", "..", "..", "examples", "two-node.toml"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.All(inv)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Data)
	}
	for _, tc := range []struct{ node, input, api string }{
		{"stash1", "udp-5514=udp://192.168.1.210:5514", "192.168.1.210:9600"},
		{"stash2", "udp-5514=udp://192.168.1.220:5514", "192.168.1.220:9600"},
	} {
		ins, err := logstashInputs(byPath[tc.node+"/logstash/conf.d/hala-inputs.conf"])
		if err != nil || len(ins) != 1 || ins[0].String() != tc.input {
			t.Errorf("%s inputs = %v, %v; want [%s]", tc.node, ins, err, tc.input)
		}
		api, err := apiAddr(byPath[tc.node+"/logstash/logstash.yml.snippet"])
		if err != nil || api != tc.api {
			t.Errorf("%s API = %q, %v; want %s", tc.node, api, err, tc.api)
		}
		if !strings.Contains(byPath[tc.node+"/keepalived.conf"], "misc_timeout ") {
			t.Errorf("%s keepalived.conf has no misc_timeout for the suite to read", tc.node)
		}
	}
}

func TestLogstashInputs(t *testing.T) {
	conf := `input {
  tcp { id => "tcp-514" port => 514 }
  udp {
    id => "udp-5514"
    host => "10.0.0.1"
    port => 5514
  }
}`
	ins, err := logstashInputs(conf)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ins)
	if want := "[tcp-514=tcp://0.0.0.0:514 udp-5514=udp://10.0.0.1:5514]"; got != want {
		t.Errorf("inputs = %s, want %s", got, want)
	}
	if _, err := logstashInputs(`udp { port => 1 }`); err == nil {
		t.Error("an input without id was accepted")
	}
	if api, err := apiAddr("http.host: 10.0.0.1\nhttp.port: 9601\n"); err != nil || api != "10.0.0.1:9601" {
		t.Errorf("6.x keys: %q, %v", api, err)
	}
	if _, err := apiAddr("# nothing\n"); err == nil {
		t.Error("missing API keys accepted")
	}
}

func TestParseIPVS(t *testing.T) {
	const text = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A801E6:0050 rr
  -> C0A801DC:0050      Masq    1      0          0
UDP  C0A801E6:158A rr ops
  -> C0A801D2:158A      Masq    1      0          0
  -> C0A801DC:158A      Masq    0      0          0
`
	vip := netip.MustParseAddr("192.168.1.230")
	got, err := parseIPVS(text, vip, 5514)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.AddrPort]int{
		netip.MustParseAddrPort("192.168.1.210:5514"): 1,
		netip.MustParseAddrPort("192.168.1.220:5514"): 0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("real servers = %v, want %v", got, want)
	}
	if none, err := parseIPVS(text, vip, 9999); err != nil || none != nil {
		t.Errorf("absent service = %v, %v; want nil", none, err)
	}
	if empty, err := parseIPVS("UDP  C0A801E6:158A rr ops\n", vip, 5514); err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("service without real servers = %v, %v; want an empty map", empty, err)
	}
	// The kernel lists an mh service's real servers in its own order.
	const mh = "TCP  C0A801E6:1414 mh\n  -> C0A801DE:1414      Route   1      0          0\n  -> C0A801DD:1414      Route   0      0          0\n"
	list, err := parseIPVSList(mh, vip, 5140)
	if want := "[192.168.1.222:5140 w1 192.168.1.221:5140 w0]"; err != nil || fmt.Sprint(list) != want {
		t.Errorf("list = %v, %v; want %s, in the file's order", list, err, want)
	}
}
