package inventory

import (
	"errors"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

// base is the seed's two-node setup (inventorytest.TwoNode). Line numbers
// referred to by the cases below:
//
//	 1 [cluster]            14 [[logstash]]       27 [[service]]
//	 2 name                 15 name               28 name
//	 3 interface            16 address            29 vip
//	 4 vrrp_auth_pass       18 [[logstash]]       30 port
//	 6 [[director]]         19 name               31 protocol
//	 7 name                 20 address            32 input_id
//	 8 address              22 [[vip]]            33 scheduler
//	10 [[director]]         23 name               34 forwarding
//	11 name                 24 address            35 one_packet
//	12 address              25 router_id          36 delay_loop
//	                                              38 [firewall]
//	                                              39 zone
//	                                              40 log_sources
//
// Lines appended by a case start at 41.
const base = inventorytest.TwoNode

// edit returns base with each "old" line replaced by "new"; an old line of
// "" appends new at the end. Every old line must occur exactly once.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	return editLines(t, base, pairs...)
}

// editLines is edit of any inventory src.
func editLines(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatal("edit needs old/new pairs")
	}
	s := src
	for i := 0; i < len(pairs); i += 2 {
		old, repl := pairs[i], pairs[i+1]
		if old == "" {
			s += repl + "\n"
			continue
		}
		if n := strings.Count(s, "\n"+old+"\n"); n != 1 {
			t.Fatalf("edit: line %q occurs %d times", old, n)
		}
		s = strings.Replace(s, "\n"+old+"\n", "\n"+repl+"\n", 1)
	}
	return s
}

// problems returns the messages of err's Problems, one per line.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error is not joined Problems: %T %v", err, err)
	}
	var out []string
	for _, e := range joined.Unwrap() {
		var p *Problem
		if !errors.As(e, &p) {
			t.Fatalf("error %T is not a *Problem: %v", e, e)
		}
		out = append(out, p.Error())
	}
	return out
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		toml func(t *testing.T) string
		want []string
	}{
		{
			name: "vip names nothing",
			toml: func(t *testing.T) string { return edit(t, `vip = "logs"`, `vip = "logz"`) },
			want: []string{`x.toml:29:1: service[0] ("syslog-udp").vip: "logz" names no [[vip]] (known: "logs")`},
		},
		{
			name: "backend names nothing",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `backends = ["stash1", "stash3"]`) },
			want: []string{`x.toml:36:23: service[0] ("syslog-udp").backends[1]: "stash3" names no [[logstash]] host (known: "stash1", "stash2")`},
		},
		{
			name: "master names nothing",
			toml: func(t *testing.T) string { return edit(t, `router_id = 1`, `router_id = 1`+"\n"+`master = "stash3"`) },
			want: []string{`x.toml:26:1: vip[0] ("logs").master: "stash3" names no [[director]] (known: "stash1", "stash2")`},
		},
		{
			name: "duplicate director name",
			toml: func(t *testing.T) string {
				return edit(t, `name = "stash2"`+"\n"+`address = "192.168.1.220"`+"\n\n[[logstash]]", `name = "stash1"`+"\n"+`address = "192.168.1.220"`+"\n\n[[logstash]]")
			},
			want: []string{
				`x.toml:11:1: director[1] ("stash1").name: "stash1" is also the name of director[0] ("stash1")`,
				`x.toml:20:1: logstash[1] ("stash2").address: 192.168.1.220 is director[1] ("stash1")'s address: a host that is both director and Logstash node needs one name`,
			},
		},
		{
			name: "duplicate logstash address",
			toml: func(t *testing.T) string {
				return edit(t, "", "[[logstash]]\nname = \"stash3\"\naddress = \"192.168.1.210\"")
			},
			want: []string{
				`x.toml:43:1: logstash[2] ("stash3").address: 192.168.1.210 is also the address of logstash[0] ("stash1")`,
				`x.toml:43:1: logstash[2] ("stash3").address: 192.168.1.210 is director[0] ("stash1")'s address: a host that is both director and Logstash node needs one name`,
			},
		},
		{
			name: "same name as a director, other address",
			toml: func(t *testing.T) string {
				return edit(t, "", "[[logstash]]\nname = \"stash2\"\naddress = \"192.168.1.240\"")
			},
			want: []string{
				`x.toml:42:1: logstash[2] ("stash2").name: "stash2" is also the name of logstash[1] ("stash2")`,
				`x.toml:43:1: logstash[2] ("stash2").address: 192.168.1.240 differs from director[1] ("stash2")'s 192.168.1.220: a director and a Logstash host with one name are one host`,
			},
		},
		{
			name: "router_id out of range",
			toml: func(t *testing.T) string { return edit(t, `router_id = 1`, `router_id = 256`) },
			want: []string{`x.toml:25:1: vip[0] ("logs").router_id: 256 is out of range 1-255`},
		},
		{
			name: "router_id missing",
			toml: func(t *testing.T) string { return edit(t, `router_id = 1`, ``) },
			want: []string{`x.toml:22:1: vip[0] ("logs").router_id: required: the VRRP virtual_router_id (1-255), unique among the VRRP instances on the directors' network`},
		},
		{
			name: "router_id reused",
			toml: func(t *testing.T) string {
				return edit(t, "", "[[vip]]\nname = \"logs2\"\naddress = \"192.168.1.231/24\"\nrouter_id = 1")
			},
			want: []string{`x.toml:44:1: vip[1] ("logs2").router_id: 1 is already used by vip[0] ("logs") on the same interface; each VRRP instance needs its own id`},
		},
		{
			name: "auth pass too long",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret421"`)
			},
			want: []string{`x.toml:4:1: cluster.vrrp_auth_pass: is 9 characters; keepalived's PASS authentication uses at most 8 (it would silently cut the rest)`},
		},
		{
			name: "auth pass with sub-second adverts (VRRPv3)",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, "vrrp_auth_pass = \"secret42\"\nadvert_interval = \"500ms\"")
			},
			want: []string{`x.toml:4:1: cluster.vrrp_auth_pass: is set but advert_interval 500ms is not whole seconds, which needs VRRP version 3, which has no authentication: use whole seconds or drop vrrp_auth_pass`},
		},
		{
			name: "vip prefix length out of range",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "192.168.1.230/33"`)
			},
			want: []string{`x.toml:24:1: vip[0] ("logs").address: "192.168.1.230/33": prefix length /33 is out of range for IPv4 (0-32)`},
		},
		{
			name: "vip is the network address",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "192.168.1.0/24"`)
			},
			want: []string{`x.toml:24:1: vip[0] ("logs").address: 192.168.1.0 is the network address of 192.168.1.0/24; pick a host address`},
		},
		{
			name: "vip is the broadcast address",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "192.168.1.255/24"`)
			},
			want: []string{`x.toml:24:1: vip[0] ("logs").address: 192.168.1.255 is the broadcast address of 192.168.1.0/24; pick a host address`},
		},
		{
			name: "vip subnet excludes the directors",
			toml: func(t *testing.T) string { return edit(t, `address = "192.168.1.230/24"`, `address = "10.1.2.3/24"`) },
			want: []string{`x.toml:24:1: vip[0] ("logs").address: director "stash1" (192.168.1.210), "stash2" (192.168.1.220) is outside 10.1.2.0/24: use /32 for a VIP off the directors' subnet`},
		},
		{
			name: "vip of another family",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "2001:db8::30/64"`)
			},
			want: []string{`x.toml:24:1: vip[0] ("logs").address: 2001:db8::30/64 is IPv6 but the directors are IPv4: keepalived needs the directors' family on the VRRP interface`},
		},
		{
			name: "vip is a director's address",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "192.168.1.220/24"`)
			},
			want: []string{
				`x.toml:24:1: vip[0] ("logs").address: 192.168.1.220 is director[1] ("stash2")'s own address; a VIP needs an address of its own`,
				`x.toml:24:1: vip[0] ("logs").address: 192.168.1.220 is logstash[1] ("stash2")'s own address; a VIP needs an address of its own`,
			},
		},
		{
			name: "port out of range",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, `port = 70000`) },
			want: []string{`x.toml:30:1: service[0] ("syslog-udp").port: port 70000 is out of range 1-65535`},
		},
		{
			name: "backend_port zero",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, `port = 5514`+"\n"+`backend_port = 0`) },
			want: []string{`x.toml:31:1: service[0] ("syslog-udp").backend_port: port 0 is out of range 1-65535`},
		},
		{
			name: "api_port out of range",
			toml: func(t *testing.T) string { return edit(t, `interface = "ens33"`, `api_port = 96000`) },
			want: []string{
				`x.toml:3:1: cluster.api_port: port 96000 is out of range 1-65535`,
				`x.toml:6:1: director[0] ("stash1").interface: no VRRP interface: set cluster.interface or this director's interface`,
				`x.toml:10:1: director[1] ("stash2").interface: no VRRP interface: set cluster.interface or this director's interface`,
			},
		},
		{
			name: "one_packet on tcp",
			toml: func(t *testing.T) string { return edit(t, `protocol = "udp"`, `protocol = "tcp"`) },
			want: []string{`x.toml:35:1: service[0] ("syslog-udp").one_packet: applies to UDP only: keepalived silently drops "ops" on a TCP service`},
		},
		{
			name: "two services on one vip port protocol",
			toml: func(t *testing.T) string {
				return edit(t, "", "[[service]]\nname = \"again\"\nvip = \"logs\"\nport = 5514\nprotocol = \"UDP\"\ninput_id = \"udp-5514-b\"\nbackend_port = 5515")
			},
			want: []string{`x.toml:44:1: service[1] ("again").port: udp 5514 on vip "logs" is already service[0] ("syslog-udp")'s`},
		},
		{
			name: "unknown scheduler",
			toml: func(t *testing.T) string { return edit(t, `scheduler = "rr"`, `scheduler = "round-robin"`) },
			want: []string{`x.toml:33:1: service[0] ("syslog-udp").scheduler: "round-robin" is not an IPVS scheduler keepalived accepts (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)`},
		},
		{
			name: "unknown forwarding",
			toml: func(t *testing.T) string { return edit(t, `forwarding = "nat"`, `forwarding = "masq"`) },
			want: []string{`x.toml:34:1: service[0] ("syslog-udp").forwarding: "masq" is not nat, dr or tun`},
		},
		{
			name: "protocol not udp or tcp",
			toml: func(t *testing.T) string { return edit(t, `protocol = "udp"`, `protocol = "sctp"`) },
			want: []string{`x.toml:31:1: service[0] ("syslog-udp").protocol: "sctp" is not udp or tcp`},
		},
		{
			name: "delay_loop not above misc_timeout",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `delay_loop = "3s"`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").delay_loop: 3s must be longer than the check's misc_timeout 3s (cluster.check_timeout 2s rounded up, plus 1s)`},
		},
		{
			name: "delay_loop as an integer",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `delay_loop = 5`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").delay_loop: must be a duration string such as "5s", not integer 5`},
		},
		{
			name: "negative duration",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `persistence = "-1s"`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").persistence: -1s must not be negative`},
		},
		{
			name: "advert_interval out of range",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `advert_interval = "5ms"`) },
			want: []string{`x.toml:4:1: cluster.advert_interval: 5ms is outside keepalived's range 10ms-255s`},
		},
		{
			name: "interface name too long",
			toml: func(t *testing.T) string { return edit(t, `interface = "ens33"`, `interface = "enp0s31f6-bond0.100"`) },
			want: []string{`x.toml:3:1: cluster.interface: interface name "enp0s31f6-bond0.100" is 19 characters; Linux allows at most 15`},
		},
		{
			name: "unknown key with suggestion",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.220"`+"\n\n[[logstash]]", `adress = "192.168.1.220"`+"\n\n[[logstash]]")
			},
			want: []string{
				`x.toml:10:1: director[1] ("stash2").address: required: the director's own IP address`,
				`x.toml:12:1: director[1] ("stash2").adress: unknown key (did you mean "address"?)`,
			},
		},
		{
			name: "unknown table",
			toml: func(t *testing.T) string { return edit(t, "", "[firewal]\nzone = \"x\"") },
			want: []string{`x.toml:41:1: firewal: unknown key (did you mean "firewall"?)`},
		},
		{
			name: "wrong type",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, `port = "5514"`) },
			want: []string{`x.toml:30:1: service[0] ("syslog-udp").port: must be an integer, not string "5514"`},
		},
		{
			name: "address with a prefix",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.210"`+"\n\n[[director]]", `address = "192.168.1.210/24"`+"\n\n[[director]]")
			},
			want: []string{`x.toml:8:1: director[0] ("stash1").address: "192.168.1.210/24" is not an IP address (write the address without a /prefix)`},
		},
		{
			name: "input_id breaks misc_path",
			toml: func(t *testing.T) string { return edit(t, `input_id = "udp-5514"`, `input_id = "udp \"5514\""`) },
			want: []string{`x.toml:32:1: service[0] ("syslog-udp").input_id: "udp \"5514\"" contains a space, which cannot be passed in keepalived's quoted misc_path`},
		},
		{
			name: "input_id missing",
			toml: func(t *testing.T) string { return edit(t, `input_id = "udp-5514"`, ``) },
			want: []string{`x.toml:27:1: service[0] ("syslog-udp").input_id: required: the id of the Logstash input that must be running on each backend`},
		},
		{
			name: "name would escape the output directory",
			toml: func(t *testing.T) string { return edit(t, `name = "syslog-udp"`, `name = "../etc"`) },
			want: []string{`x.toml:28:1: service[0] ("../etc").name: "../etc" is not a valid name: use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit (names become directory names)`},
		},
		{
			name: "weight out of range",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `weight = 70000`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").weight: 70000 is out of range 0-65535`},
		},
		{
			name: "api_scheme",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `api_scheme = "ftp"`) },
			want: []string{`x.toml:4:1: cluster.api_scheme: "ftp" is not http or https`},
		},
		{
			name: "hala_path relative",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `hala_path = "bin/hala"`) },
			want: []string{`x.toml:4:1: cluster.hala_path: "bin/hala" must be an absolute, clean path`},
		},
		{
			name: "script user root",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `script_user = "root"`) },
			want: []string{`x.toml:4:1: cluster.script_user: check scripts must not run as root; use an unprivileged user such as "keepalived_script"`},
		},
		{
			name: "dr cannot change ports",
			toml: func(t *testing.T) string {
				return edit(t, `forwarding = "nat"`, `forwarding = "dr"`, `delay_loop = "5s"`, `backend_port = 5515`)
			},
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").backend_port: 5515 differs from port 5514, but forwarding "dr" cannot change ports (only nat can)`},
		},
		{
			name: "log source with host bits",
			toml: func(t *testing.T) string {
				return edit(t, `log_sources = ["192.168.1.111/32"]`, `log_sources = ["10.0.0.1/8", "192.168.1.111/24"]`)
			},
			want: []string{
				`x.toml:40:16: firewall.log_sources[0]: 10.0.0.1/8 has host bits set: write 10.0.0.1/32 for one host or 10.0.0.0/8 for the subnet`,
				`x.toml:40:30: firewall.log_sources[1]: 192.168.1.111/24 has host bits set: write 192.168.1.111/32 for one host or 192.168.1.0/24 for the subnet`,
			},
		},
		{
			name: "duplicate input id in one pipeline",
			toml: func(t *testing.T) string {
				return edit(t, "", "[[service]]\nname = \"tcp\"\nvip = \"logs\"\nport = 5514\nprotocol = \"tcp\"\ninput_id = \"udp-5514\"")
			},
			want: []string{`x.toml:46:1: service[1] ("tcp").input_id: "udp-5514" is also the input_id of service[0] ("syslog-udp"): Logstash refuses two inputs with one id in a pipeline`},
		},
		{
			name: "explicit priorities beat the master",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.220"`+"\n\n[[logstash]]", `address = "192.168.1.220"`+"\npriority = 200\n\n[[logstash]]")
			},
			want: []string{`x.toml:23:1: vip[0] ("logs"): master "stash1" has priority 150 but director "stash2" has 200: each VIP needs one preferred master (raise the master's priority or drop the explicit priorities)`},
		},
		{
			name: "cluster name missing",
			toml: func(t *testing.T) string { return edit(t, `name = "stash"`, `# no name`) },
			want: []string{`x.toml:1:1: cluster.name: required: the cluster's name`},
		},
		{
			name: "director interface invalid",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.210"`+"\n\n[[director]]", `address = "192.168.1.210"`+"\ninterface = \"eth0:1\"\n\n[[director]]")
			},
			want: []string{`x.toml:9:1: director[0] ("stash1").interface: "eth0:1" is not a valid interface name`},
		},
		{
			name: "missing required tables",
			toml: func(t *testing.T) string { return "[cluster]\nname = \"c\"\ninterface = \"eth0\"\n" },
			want: []string{
				`x.toml: director: at least one [[director]] is required`,
				`x.toml: logstash: at least one [[logstash]] host is required`,
				`x.toml: service: at least one [[service]] is required`,
				`x.toml: vip: at least one [[vip]] is required`,
			},
		},
		{
			name: "table where an array of tables belongs",
			toml: func(t *testing.T) string { return strings.Replace(base, "[[vip]]", "[vip]", 1) },
			want: []string{`x.toml:22:1: vip: must be an array of tables: write [[vip]], not [vip]`},
		},
		{
			name: "syntax error",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, `port = 5514 5515`) },
			want: []string{"x.toml:30:12: TOML syntax: expected a top-level item to end with a newline, comment, or EOF, but got '5' instead\n" +
				"     28 | name = \"syslog-udp\"\n" +
				"     29 | vip = \"logs\"\n" +
				"     30 | port = 5514 5515\n" +
				"                     ^^"},
		},
		{
			name: "input_id Logstash would substitute",
			toml: func(t *testing.T) string { return edit(t, `input_id = "udp-5514"`, `input_id = "${HOME}"`) },
			want: []string{`x.toml:32:1: service[0] ("syslog-udp").input_id: "${HOME}" contains "${": Logstash replaces ${NAME} in config values with a variable's value, so the running input's id would not be the one hala check asks for`},
		},
		{
			name: "log source of the other family",
			toml: func(t *testing.T) string {
				return edit(t, `log_sources = ["192.168.1.111/32"]`, `log_sources = ["192.168.1.111/32", "fe80::/10"]`)
			},
			want: []string{`x.toml:40:36: firewall.log_sources[1]: fe80::/10 is IPv6 but the cluster (directors, VIPs, backends) is IPv4: no log port would be opened for it`},
		},
		{
			name: "log source link-local",
			toml: func(t *testing.T) string {
				return edit(t, `log_sources = ["192.168.1.111/32"]`, `log_sources = ["169.254.0.0/16"]`)
			},
			want: []string{`x.toml:40:16: firewall.log_sources[0]: 169.254.0.0/16 is link-local: senders reach the VIPs and backends from routable addresses, so this entry would admit nobody`},
		},
		{
			name: "weights neither static nor load",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `weights = "dynamic"`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").weights: "dynamic" is not "static" or "load"`},
		},
		{
			name: "weights load with one_packet and not wrr",
			toml: func(t *testing.T) string {
				return edit(t, `scheduler = "rr"`, `scheduler = "wlc"`, `delay_loop = "5s"`, `weights = "load"`)
			},
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").weights: "load" with one_packet needs scheduler "wrr": with one-packet scheduling only wrr spreads datagrams by weight (scheduler is "wlc")`},
		},
		{
			name: "weights load with rr",
			toml: func(t *testing.T) string { return edit(t, `one_packet = true`, `weights = "load"`) },
			want: []string{`x.toml:35:1: service[0] ("syslog-udp").weights: "load" needs a scheduler that spreads by weight, but "rr" ignores weights (other than 0): use wrr, wlc, sed, nq, twos`},
		},
		{
			name: "weights load with a hashing scheduler",
			toml: func(t *testing.T) string {
				return edit(t, `scheduler = "rr"`, `scheduler = "sh"`, `one_packet = true`, `weights = "load"`)
			},
			want: []string{`x.toml:35:1: service[0] ("syslog-udp").weights: "load" with scheduler "sh": its weights place flows or cap a server, so weights that follow load would move clients at every check; use wrr, wlc, sed, nq, twos`},
		},
		{
			name: "max_idle not above delay_loop",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `max_idle = "5s"`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").max_idle: 5s must be longer than delay_loop 5s: the check sees events.out once per delay_loop`},
		},
		{
			name: "max_idle zero",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `max_idle = "0s"`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").max_idle: 0s must be positive (leave it out to turn the idle check off)`},
		},
		{
			name: "probe on udp",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `probe = true`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").probe: applies to TCP inputs only: a UDP input has nothing to connect to`},
		},
		{
			name: "probe with direct routing",
			toml: func(t *testing.T) string {
				return edit(t, `protocol = "udp"`, `protocol = "tcp"`, `forwarding = "nat"`, `forwarding = "dr"`, `one_packet = true`, `probe = true`)
			},
			want: []string{`x.toml:35:1: service[0] ("syslog-udp").probe: needs forwarding = "nat": with "dr" the input binds the VIP, not the backend's address, so the probe would always fail`},
		},
		{
			name: "nesting too deep",
			toml: func(t *testing.T) string {
				return edit(t, "", "x = "+strings.Repeat("[", 20000)+strings.Repeat("]", 20000))
			},
			want: []string{`x.toml:41:21: arrays or inline tables nested more than 16 deep: an inventory needs at most 2`},
		},
		{
			name: "brackets in strings and comments do not nest",
			toml: func(t *testing.T) string {
				deep := strings.Repeat("[{", 20)
				return edit(t, `name = "stash"`, `name = "stash" # `+deep,
					`input_id = "udp-5514"`, `input_id = "udp-5514"`+"\n"+`pipeline = '''`+"\n"+deep+"'''\n"+`x = """`+deep+`"""`)
			},
			want: []string{
				`x.toml:33:1: service[0] ("syslog-udp").pipeline: "[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{" is not a valid pipeline id: use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit`,
				`x.toml:35:1: service[0] ("syslog-udp").x: unknown key (known: name, vip, port, protocol, input_id, scheduler, forwarding, one_packet, delay_loop, persistence, backends, backend_port, pipeline, weight, weights, max_idle, require_running, probe, interval, rise, fall, on_failure, all_down, min_healthy, mh_port, mh_fallback)`,
			},
		},
		{
			name: "syntax error in the password line",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = secret42`) },
			want: []string{"x.toml:4:18: TOML syntax: expected value but found \"<redacted>\" instead (in the vrrp_auth_pass line; its value is not shown)\n" +
				"      2 | name = \"stash\"\n" +
				"      3 | interface = \"ens33\"\n" +
				"      4 | vrrp_auth_pass = <redacted>"},
		},
		{
			name: "password of the wrong type",
			toml: func(t *testing.T) string { return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = 12345678`) },
			want: []string{`x.toml:4:1: cluster.vrrp_auth_pass: must be a string, not a TOML integer`},
		},
		{
			name: "syntax error after the password line",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"`+"\n"+`unicast = tru`)
			},
			want: []string{"x.toml:5:11: TOML syntax: expected value but found \"tru\" instead\n" +
				"      3 | interface = \"ens33\"\n" +
				"      4 | vrrp_auth_pass = <redacted>\n" +
				"      5 | unicast = tru\n" +
				"                    ^^^"},
		},
		{
			name: "VRRP on lo",
			toml: func(t *testing.T) string { return edit(t, `interface = "ens33"`, `interface = "lo"`) },
			want: []string{`x.toml:3:1: cluster.interface: "lo": keepalived ignores a vrrp_instance on the loopback interface (no VRRP adverts leave it, so no VIP would ever move); use the interface of the directors' network`},
		},
		{
			name: "loopback VIP",
			toml: func(t *testing.T) string { return edit(t, `address = "192.168.1.230/24"`, `address = "127.0.0.5/32"`) },
			want: []string{`x.toml:24:1: vip[0] ("logs").address: 127.0.0.5 is a loopback address: every host has it on lo, so clients could never reach the VIP on a director and VRRP would have nothing to move; use an address of the directors' network`},
		},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d invalid inventories", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse("x.toml", []byte(tc.toml(t)))
			if err == nil {
				t.Fatalf("Parse accepted the inventory: %v", inv)
			}
			if inv != nil {
				t.Errorf("Parse returned an inventory with its error")
			}
			got := problems(t, err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// One file with many mistakes reports every one, in file order.
func TestParseReportsEveryProblem(t *testing.T) {
	src := edit(t,
		`vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "much-too-long"`,
		`router_id = 1`, `router_id = 0`,
		`vip = "logs"`, `vip = "logz"`,
		`protocol = "udp"`, `protocol = "tcp"`,
		`scheduler = "rr"`, `scheduler = "fastest"`,
		`log_sources = ["192.168.1.111/32"]`, `log_sources = ["192.168.1.111/33"]`,
	)
	_, err := Parse("many.toml", []byte(src))
	want := []string{
		`many.toml:4:1: cluster.vrrp_auth_pass: is 13 characters; keepalived's PASS authentication uses at most 8 (it would silently cut the rest)`,
		`many.toml:25:1: vip[0] ("logs").router_id: 0 is out of range 1-255 (hala import's placeholder where no vrrp_instance holds a virtual_server's address): set a VRRP virtual_router_id no other VRRP instance on the directors' network uses`,
		`many.toml:29:1: service[0] ("syslog-udp").vip: "logz" names no [[vip]] (known: "logs")`,
		`many.toml:33:1: service[0] ("syslog-udp").scheduler: "fastest" is not an IPVS scheduler keepalived accepts (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)`,
		`many.toml:35:1: service[0] ("syslog-udp").one_packet: applies to UDP only: keepalived silently drops "ops" on a TCP service`,
		`many.toml:40:16: firewall.log_sources[0]: "192.168.1.111/33": prefix length /33 is out of range for IPv4 (0-32)`,
	}
	got := problems(t, err)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		toml func(t *testing.T) string
		want []string
	}{
		{
			name: "one_packet with wlc",
			toml: func(t *testing.T) string { return edit(t, `scheduler = "rr"`, `scheduler = "wlc"`) },
			want: []string{`x.toml:35:1: service[0] ("syslog-udp").one_packet: with scheduler "wlc" sends every datagram to one backend: one-packet scheduling keeps no connection entries for wlc to count; use rr or wrr`},
		},
		{
			name: "weight 0 is kept",
			toml: func(t *testing.T) string { return edit(t, `delay_loop = "5s"`, `weight = 0`) },
			want: []string{`x.toml:36:1: service[0] ("syslog-udp").weight: 0: IPVS sends no new connections to these backends (quiesced)`},
		},
		{
			name: "no log sources",
			toml: func(t *testing.T) string { return edit(t, `log_sources = ["192.168.1.111/32"]`, `log_sources = []`) },
			want: []string{`x.toml:40:1: firewall.log_sources: no log_sources: the rendered firewall rules admit no log senders`},
		},
		{
			name: "credentials over http",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, `api_auth_file = "/etc/hala/api-auth"`)
			},
			want: []string{`x.toml:4:1: cluster.api_auth_file: the Logstash API credentials cross the network in clear text with api_scheme = "http"; use https`},
		},
		{
			name: "log sources open to everyone",
			toml: func(t *testing.T) string {
				return edit(t, `log_sources = ["192.168.1.111/32"]`, `log_sources = ["0.0.0.0/0"]`)
			},
			want: []string{`x.toml:40:16: firewall.log_sources[0]: 0.0.0.0/0 admits log senders from every address to the log ports; list the senders' networks instead`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Parse("x.toml", []byte(tc.toml(t)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for _, w := range inv.Warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
