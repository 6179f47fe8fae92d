package inventory

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseWarnings: findings that do not stop a render but that an
// operator must hear about, each at its line and key path, with the fix.
func TestParseWarnings(t *testing.T) {
	tcp := []string{`protocol = "udp"`, `protocol = "tcp"`, `one_packet = true`, ``}
	ls3 := "\n[[logstash]]\nname = \"ls3\"\naddress = \"192.168.1.230\""
	tests := []struct {
		name string
		toml func(t *testing.T) string
		// want holds, per expected warning, its "file:line:col: path"
		// prefix and a part of its message; nil means no warning.
		want [][2]string
	}{
		{
			name: "tcp nat to a backend that is not a director",
			toml: func(t *testing.T) string {
				s := edit(t, append(tcp, `address = "192.168.1.230/24"`, `address = "192.168.1.240/24"`)...)
				return s + ls3 + "\n"
			},
			want: [][2]string{{`x.toml:34:1: service[0] ("syslog-udp").forwarding: `, `not directors ("ls3")`}, {``, `or use forwarding = "dr"`}},
		},
		{
			name: "tcp nat to directors only",
			toml: func(t *testing.T) string { return edit(t, tcp...) },
		},
		{
			name: "udp nat to a backend that is not a director (one-way syslog)",
			toml: func(t *testing.T) string {
				return edit(t, `address = "192.168.1.230/24"`, `address = "192.168.1.240/24"`) + ls3 + "\n"
			},
		},
		{
			name: "input port below 1024",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, `port = 514`) },
			want: [][2]string{{`x.toml:30:1: service[0] ("syslog-udp").port: `, `cannot bind it; set backend_port = 5514 (NAT maps port 514 to it)`}},
		},
		{
			name: "privileged port mapped to an unprivileged input",
			toml: func(t *testing.T) string { return edit(t, `port = 5514`, "port = 514\nbackend_port = 5514") },
		},
		{
			name: "emails without smtp_server",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"`+"\n"+`notification_email = ["ops@example.org"]`)
			},
			want: [][2]string{{`x.toml:5:1: cluster.notification_email: `, `keepalived mails nothing`}},
		},
		{
			name: "emails with smtp_server",
			toml: func(t *testing.T) string {
				return edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"`+"\n"+`notification_email = ["ops@example.org"]`+"\n"+`smtp_server = "mail.example.org:587"`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse("x.toml", []byte(tt.toml(t)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []string
			for _, w := range inv.Warnings {
				got = append(got, w.String())
			}
			if len(tt.want) == 0 {
				if len(got) != 0 {
					t.Fatalf("warnings:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d warnings, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				if !strings.HasPrefix(got[0], w[0]) || !strings.Contains(got[0], w[1]) {
					t.Errorf("warning:\n%s\nwant prefix %q containing %q", got[0], w[0], w[1])
				}
			}
		})
	}
}

func TestSMTPServer(t *testing.T) {
	for _, tt := range []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"mail.example.org", "mail.example.org", 25, true},
		{"10.0.0.5:2525", "10.0.0.5", 2525, true},
		{"[2001:db8::5]:587", "2001:db8::5", 587, true},
		{"2001:db8::5", "2001:db8::5", 25, true},
		{"mail example", "", 0, false},
		{"mail.example.org:0", "", 0, false},
		{"mail#x", "", 0, false},
	} {
		host, port, err := SplitSMTPServer(tt.in)
		if (err == nil) != tt.ok || host != tt.host || port != tt.port {
			t.Errorf("SplitSMTPServer(%q) = %q, %d, %v; want %q, %d, ok=%v", tt.in, host, port, err, tt.host, tt.port, tt.ok)
		}
	}
	_, err := Parse("x.toml", []byte(edit(t, `vrrp_auth_pass = "secret42"`, `vrrp_auth_pass = "secret42"`+"\n"+`smtp_server = "a b"`)))
	if got := problems(t, err); len(got) != 1 || !strings.HasPrefix(got[0], `x.toml:5:1: cluster.smtp_server: "a b": not a host name`) {
		t.Errorf("bad smtp_server: %q", got)
	}
}

// manyDirectors returns an inventory with n directors and one VIP.
func manyDirectors(n int) string {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"big\"\ninterface = \"eth0\"\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[[director]]\nname = \"d%d\"\naddress = \"10.1.%d.%d\"\n", i, i/250, i%250+1)
	}
	b.WriteString("[[logstash]]\nname = \"l\"\naddress = \"10.2.0.1\"\n")
	b.WriteString("[[vip]]\nname = \"v\"\naddress = \"10.3.0.1/32\"\nrouter_id = 1\n")
	b.WriteString("[[service]]\nname = \"s\"\nvip = \"v\"\nport = 5514\nprotocol = \"udp\"\ninput_id = \"in\"\n")
	b.WriteString("[firewall]\nlog_sources = [\"10.9.0.0/16\"]\n")
	return b.String()
}

// TestPrioritiesDistinct: up to 149 backups of a VIP get distinct
// priorities below the master's, so keepalived never breaks a tie by
// address; beyond that a warning says so.
func TestPrioritiesDistinct(t *testing.T) {
	for _, n := range []int{2, 101, 102, 150} {
		inv, err := Parse("x.toml", []byte(manyDirectors(n)))
		if err != nil {
			t.Fatalf("%d directors: %v", n, err)
		}
		if len(inv.Warnings) != 0 {
			t.Errorf("%d directors: warnings %v", n, inv.Warnings)
		}
		v := inv.VIPs[0]
		seen := map[int]string{}
		for _, d := range inv.Directors {
			p := inv.Priority(v, d)
			if p < 1 || p > 254 {
				t.Errorf("%d directors: %s has priority %d", n, d.Name, p)
			}
			if d.Name != v.Master && p >= MasterPriority {
				t.Errorf("%d directors: backup %s has priority %d, master %d", n, d.Name, p, MasterPriority)
			}
			if o, dup := seen[p]; dup {
				t.Errorf("%d directors: %s and %s share priority %d", n, o, d.Name, p)
			}
			seen[p] = d.Name
		}
	}
	inv, err := Parse("x.toml", []byte(manyDirectors(151)))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0].String(), "director: 151 directors: VRRP priorities leave room for 149 backups") {
		t.Errorf("151 directors: warnings %v", inv.Warnings)
	}
}
