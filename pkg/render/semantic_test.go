package render_test

import (
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/render"
)

// kaBlock is a parsed keepalived.conf statement: its words and, for a
// block, the statements inside it.
type kaBlock struct {
	words []string
	body  []*kaBlock
}

// parseKeepalived reads keepalived.conf the way keepalived tokenizes it:
// words split on white space, "double quoted" words, comments from an
// unquoted '#' or '!' to the end of the line, blocks in { }.
func parseKeepalived(t *testing.T, name string, data []byte) *kaBlock {
	t.Helper()
	root := &kaBlock{}
	stack := []*kaBlock{root}
	for n, line := range strings.Split(string(data), "\n") {
		var words []string
		for i := 0; i < len(line); {
			switch c := line[i]; {
			case c == ' ' || c == '\t':
				i++
			case c == '#' || c == '!':
				i = len(line)
			case c == '"':
				j := strings.IndexByte(line[i+1:], '"')
				if j < 0 {
					t.Fatalf("%s:%d: unterminated quote", name, n+1)
				}
				words = append(words, line[i+1:i+1+j])
				i += j + 2
			default:
				j := i
				for j < len(line) && !strings.ContainsRune(" \t#!\"", rune(line[j])) {
					j++
				}
				words = append(words, line[i:j])
				i = j
			}
		}
		if len(words) == 0 {
			continue
		}
		top := stack[len(stack)-1]
		switch {
		case len(words) == 1 && words[0] == "}":
			if len(stack) == 1 {
				t.Fatalf("%s:%d: unbalanced }", name, n+1)
			}
			stack = stack[:len(stack)-1]
		case words[len(words)-1] == "{":
			b := &kaBlock{words: words[:len(words)-1]}
			top.body = append(top.body, b)
			stack = append(stack, b)
		default:
			top.body = append(top.body, &kaBlock{words: words})
		}
	}
	if len(stack) != 1 {
		t.Fatalf("%s: %d unclosed blocks", name, len(stack)-1)
	}
	return root
}

// all returns the statements of b whose first word is key.
func (b *kaBlock) all(key string) []*kaBlock {
	var out []*kaBlock
	for _, c := range b.body {
		if len(c.words) > 0 && c.words[0] == key {
			out = append(out, c)
		}
	}
	return out
}

// one returns the single statement key of b, failing otherwise.
func (b *kaBlock) one(t *testing.T, key string) *kaBlock {
	t.Helper()
	s := b.all(key)
	if len(s) != 1 {
		t.Fatalf("%v: %d %q statements, want 1", b.words, len(s), key)
	}
	return s[0]
}

// arg returns the value of the single statement key of b ("" for a flag).
func (b *kaBlock) arg(t *testing.T, key string) string {
	t.Helper()
	return strings.Join(b.one(t, key).words[1:], " ")
}

// children returns the contents of each block, as their first lines.
func (b *kaBlock) lines() []string {
	var out []string
	for _, c := range b.body {
		out = append(out, strings.Join(c.words, " "))
	}
	return out
}

func filesByPath(files []render.File) map[string][]byte {
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Path] = f.Data
	}
	return m
}

// TestTwoNodeIsTheSeed checks that examples/two-node.toml renders the
// seed's manual configuration: VIP 192.168.1.230/24 with VRID 1 on ens33
// and PASS auth "secret42", exactly one MASTER, and a virtual server
// 192.168.1.230 5514 UDP rr NAT ops with the two hosts as real servers,
// each checked by hala check for input udp-5514.
func TestTwoNodeIsTheSeed(t *testing.T) {
	_, files := loadCase(t, goldenCase{name: "example-two-node", inventory: "../../examples/two-node.toml"})
	byPath := filesByPath(files)
	masters := 0
	for _, host := range []string{"stash1", "stash2"} {
		p := host + "/keepalived.conf"
		data, ok := byPath[p]
		if !ok {
			t.Fatalf("no %s rendered", p)
		}
		conf := parseKeepalived(t, p, data)
		g := conf.one(t, "global_defs")
		if got := g.arg(t, "router_id"); got != host {
			t.Errorf("%s: router_id %q", p, got)
		}
		g.one(t, "enable_script_security")
		if u := g.arg(t, "script_user"); u == "" || u == "root" {
			t.Errorf("%s: script_user %q, want an unprivileged user", p, u)
		}
		if len(conf.all("vrrp_strict")) > 0 || len(g.all("vrrp_strict")) > 0 {
			t.Errorf("%s: vrrp_strict on an IPVS director", p)
		}

		vi := conf.one(t, "vrrp_instance")
		if vi.arg(t, "interface") != "ens33" || vi.arg(t, "virtual_router_id") != "1" {
			t.Errorf("%s: vrrp_instance interface %q vrid %q", p, vi.arg(t, "interface"), vi.arg(t, "virtual_router_id"))
		}
		if state := vi.arg(t, "state"); state == "MASTER" {
			masters++
		} else if state != "BACKUP" {
			t.Errorf("%s: state %q", p, state)
		}
		auth := vi.one(t, "authentication")
		if auth.arg(t, "auth_type") != "PASS" || auth.arg(t, "auth_pass") != "secret42" {
			t.Errorf("%s: authentication %v", p, auth.lines())
		}
		if got := strings.Join(vi.one(t, "virtual_ipaddress").lines(), ";"); got != "192.168.1.230/24 dev ens33" {
			t.Errorf("%s: virtual_ipaddress %q", p, got)
		}

		vs := conf.one(t, "virtual_server")
		if got := strings.Join(vs.words[1:], " "); got != "192.168.1.230 5514" {
			t.Errorf("%s: virtual_server %q", p, got)
		}
		for key, want := range map[string]string{"lb_algo": "rr", "lb_kind": "NAT", "protocol": "UDP", "ops": "", "delay_loop": "5"} {
			if got := vs.arg(t, key); got != want {
				t.Errorf("%s: %s %q, want %q", p, key, got, want)
			}
		}
		reals := vs.all("real_server")
		if len(reals) != 2 {
			t.Fatalf("%s: %d real servers, want 2", p, len(reals))
		}
		for i, ip := range []string{"192.168.1.210", "192.168.1.220"} {
			rs := reals[i]
			if got := strings.Join(rs.words[1:], " "); got != ip+" 5514" {
				t.Errorf("%s: real_server %q, want %q", p, got, ip+" 5514")
			}
			mc := rs.one(t, "MISC_CHECK")
			argv := strings.Fields(mc.arg(t, "misc_path"))
			if len(argv) < 4 || argv[0] != "/usr/local/bin/hala" || argv[1] != "check" || argv[len(argv)-2] != ip || argv[len(argv)-1] != "udp-5514" {
				t.Errorf("%s: misc_path %q, want hala check ... %s udp-5514", p, argv, ip)
			}
			if mt, _ := strconv.Atoi(mc.arg(t, "misc_timeout")); mt < 1 || mt >= 5 {
				t.Errorf("%s: misc_timeout %d, want 1..4 (below delay_loop 5)", p, mt)
			}
		}
	}
	if masters != 1 {
		t.Errorf("%d directors start as MASTER, want exactly 1", masters)
	}
}

var (
	inputRE = regexp.MustCompile(`(?s)\n  (udp|tcp) \{\n    id => "([^"]*)"\n    host => "([^"]*)"\n    port => (\d+)\n  \}`)
	ymlRE   = regexp.MustCompile(`(?m)^api\.http\.host: "([^"]*)"\napi\.http\.port: (\d+)$`)
)

// TestConsistent checks, for every example and golden case, what breaks
// failover silently when hand-edited: every VIP has exactly one MASTER
// whose priority is the highest and all priorities differ; every real
// server's MISC_CHECK asks its own address for an input id that the
// Logstash host really defines, on the protocol and port IPVS sends to,
// and for the API port that host's logstash.yml snippet binds;
// misc_timeout is below delay_loop; protocol, lb_algo and lb_kind are
// explicit; vrrp_strict never appears.
func TestConsistent(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			inv, files := loadCase(t, c)
			byPath := filesByPath(files)

			// Logstash inputs by host name: "proto id" → "host:port".
			inputs := map[string]map[string]string{}
			apis := map[string]string{}
			for _, f := range files {
				host, rest, _ := strings.Cut(f.Path, "/")
				if path.Base(rest) == "hala-inputs.conf" {
					if inputs[host] == nil {
						inputs[host] = map[string]string{}
					}
					for _, m := range inputRE.FindAllStringSubmatch(string(f.Data), -1) {
						inputs[host][m[1]+" "+m[2]] = net.JoinHostPort(m[3], m[4])
					}
				}
				if rest == render.LogstashYML {
					m := ymlRE.FindStringSubmatch(string(f.Data))
					if m == nil {
						t.Fatalf("%s: no api.http.host/port", f.Path)
					}
					apis[host] = net.JoinHostPort(m[1], m[2])
				}
			}
			hostByAddr := map[string]string{}
			for _, l := range inv.Logstash {
				hostByAddr[l.Address.String()] = l.Name
			}

			type vipState struct {
				masters    int
				master     int
				priorities map[string]bool
				max        int
			}
			vips := map[string]*vipState{}
			if inv.UsesBGP() {
				for _, d := range inv.Directors {
					if _, ok := byPath[d.Name+"/keepalived.conf"]; ok {
						t.Errorf("%s/keepalived.conf rendered with cluster.ha = \"bgp\"", d.Name)
					}
				}
				return
			}
			for _, d := range inv.Directors {
				p := d.Name + "/keepalived.conf"
				conf := parseKeepalived(t, p, byPath[p])
				if len(conf.all("vrrp_strict")) > 0 || len(conf.one(t, "global_defs").all("vrrp_strict")) > 0 {
					t.Errorf("%s: vrrp_strict", p)
				}
				instances := conf.all("vrrp_instance")
				if len(instances) != len(inv.VIPs) {
					t.Errorf("%s: %d vrrp_instances for %d VIPs", p, len(instances), len(inv.VIPs))
				}
				for _, vi := range instances {
					name := vi.words[1]
					st := vips[name]
					if st == nil {
						st = &vipState{priorities: map[string]bool{}}
						vips[name] = st
					}
					prio, _ := strconv.Atoi(vi.arg(t, "priority"))
					if st.priorities[vi.arg(t, "priority")] {
						t.Errorf("%s: %s priority %d used by another director", p, name, prio)
					}
					st.priorities[vi.arg(t, "priority")] = true
					st.max = max(st.max, prio)
					if vi.arg(t, "state") == "MASTER" {
						st.masters++
						st.master = prio
					}
				}
				for _, vs := range conf.all("virtual_server") {
					for _, key := range []string{"protocol", "lb_algo", "lb_kind"} {
						if vs.arg(t, key) == "" {
							t.Errorf("%s: virtual_server %v without %s", p, vs.words[1:], key)
						}
					}
					proto := strings.ToLower(vs.arg(t, "protocol"))
					delay, _ := strconv.ParseFloat(vs.arg(t, "delay_loop"), 64)
					for _, rs := range vs.all("real_server") {
						ip, port := rs.words[1], rs.words[2]
						mc := rs.one(t, "MISC_CHECK")
						argv := strings.Fields(mc.arg(t, "misc_path"))
						mt, _ := strconv.ParseFloat(mc.arg(t, "misc_timeout"), 64)
						if mt <= 0 || mt >= delay {
							t.Errorf("%s: real_server %s: misc_timeout %v not in (0, delay_loop %v)", p, ip, mt, delay)
						}
						if argv[1] != "check" || argv[len(argv)-2] != ip {
							t.Errorf("%s: real_server %s: misc_path %q checks another address", p, ip, argv)
							continue
						}
						id := argv[len(argv)-1]
						host := hostByAddr[ip]
						bind, ok := inputs[host][proto+" "+id]
						if !ok {
							t.Errorf("%s: real_server %s checks %s input %q, which %s's Logstash inputs do not define (%v)", p, ip, proto, id, host, inputs[host])
							continue
						}
						if _, bport, _ := net.SplitHostPort(bind); bport != port {
							t.Errorf("%s: real_server %s port %s, but input %q listens on %s", p, ip, port, id, bind)
						}
						apiPort := "9600"
						for i, a := range argv {
							if a == "--port" {
								apiPort = argv[i+1]
							}
						}
						if want := net.JoinHostPort(ip, apiPort); apis[host] != want {
							t.Errorf("%s: real_server %s checks the API at %s, %s's logstash.yml binds %s", p, ip, want, host, apis[host])
						}
					}
				}
			}
			for name, st := range vips {
				if st.masters != 1 {
					t.Errorf("%s: %d MASTER directors, want 1", name, st.masters)
				} else if st.master != st.max {
					t.Errorf("%s: MASTER priority %d is not the highest (%d)", name, st.master, st.max)
				}
			}
		})
	}
}
