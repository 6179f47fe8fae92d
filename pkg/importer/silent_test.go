package importer

import (
	"strings"
	"testing"
)

// Each change the rendered keepalived.conf would make silently is mapped
// or named with its file:line: a VIP's brd/scope/label (and a dev that is
// not the instance's interface), a real server keepalived kept without a
// checker, smtp_alert on an instance that had none, an inline unicast_peer,
// and a host that serves a virtual server on two ports.
func TestImportNamesSilentChanges(t *testing.T) {
	conf := `global_defs {
    notification_email {
        ops@example.org
    }
    smtp_server 10.0.0.25
    router_id lb1
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    smtp_alert
    unicast_src_ip 10.0.0.1
    unicast_peer 10.0.0.2
    virtual_ipaddress {
        10.0.0.100/24 brd 10.0.0.255 dev eth0 scope global label eth0:vip
    }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 150
    unicast_src_ip 10.0.0.1
    unicast_peer 10.0.0.2
    virtual_ipaddress {
        10.0.0.101/24 dev eth1
    }
}
virtual_server 10.0.0.100 514 {
    protocol UDP
    real_server 10.0.0.11 514 {
        MISC_CHECK { misc_path "/usr/local/bin/hala check -- 10.0.0.11 udp-514" }
    }
    real_server 10.0.0.11 515 {
        MISC_CHECK { misc_path "/usr/local/bin/hala check -- 10.0.0.11 udp-514" }
    }
    real_server 10.0.0.12 514 {
        weight 1
    }
}
`
	res, err := Import(parseConf(t, "k.conf", []byte(conf)), "k.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`k.conf:17: 10.0.0.100/24 brd 10.0.0.255 dev eth0 scope global label eth0:vip: hala renders the VIP as 10.0.0.100/24 dev eth0: "brd 10.0.0.255 scope global label eth0:vip" is dropped`,
		`k.conf:28: 10.0.0.101/24 dev eth1: hala renders the VIP as 10.0.0.101/24 dev eth0: "dev eth1" is dropped`,
		"k.conf:20: vrrp_instance VI_2: keepalived mails nothing on this instance's transitions (no smtp_alert); hala renders smtp_alert on every instance when notification_email is set",
		"k.conf:36: real_server 10.0.0.11 515: 10.0.0.11 is already a backend of this service (hala lists a host once per service, on one backend_port): left out",
		"k.conf:39: real_server 10.0.0.12 514: no health checker: keepalived kept it in the table unconditionally; hala checks it with hala check (its input must be running)",
	} {
		if !contains(res.Unmapped, want) {
			t.Errorf("no note %q in\n%s", want, strings.Join(res.Unmapped, "\n"))
		}
	}
	if contains(res.Unmapped, "k.conf:8: vrrp_instance VI_1: keepalived mails nothing") {
		t.Errorf("VI_1 has smtp_alert, yet a note says it has none")
	}
	// The inline peer is a director, and the import is unicast.
	inv := string(res.TOML)
	if !strings.Contains(inv, `address = "10.0.0.2"`) || !strings.Contains(inv, "unicast = true") {
		t.Errorf("inline unicast_peer 10.0.0.2 lost:\n%s", inv)
	}
	if strings.Contains(inv, `backends = ["logstash1", "logstash1"`) {
		t.Errorf("a host listed twice:\n%s", inv)
	}
	if res.Placeholders != 0 {
		t.Errorf("%d placeholders: the directors are named by unicast_src_ip and the inline peer", res.Placeholders)
	}
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
