package importer

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
)

func TestParseCheck(t *testing.T) {
	tests := []struct {
		in      string
		want    Check
		wantErr string
	}{
		{in: "/bin/python /etc/keepalived/inputstatus.py 192.168.1.210 udp-5514",
			want: Check{Kind: "inputstatus", Address: "192.168.1.210", InputID: "udp-5514"}},
		{in: "/etc/keepalived/inputstatus.py 10.0.0.1 tcp-1",
			want: Check{Kind: "inputstatus", Address: "10.0.0.1", InputID: "tcp-1"}},
		{in: "/opt/hala/bin/hala check --port 9601 --timeout=1s --pipeline syslog --dynamic-weight -- 10.0.0.1 -dash-id",
			want: Check{Kind: "hala", Program: "/opt/hala/bin/hala", Address: "10.0.0.1", InputID: "-dash-id",
				Flags: map[string]string{"port": "9601", "timeout": "1s", "pipeline": "syslog", "dynamic-weight": ""}}},
		{in: `/usr/local/bin/hala check 10.0.0.1 "udp 5514"`,
			want: Check{Kind: "hala", Program: "/usr/local/bin/hala", Address: "10.0.0.1", InputID: "udp 5514", Flags: map[string]string{}}},
		{in: "/usr/bin/curl -sf http://10.0.0.1:9600/", wantErr: "/usr/bin/curl is neither hala check nor inputstatus.py"},
		{in: "/usr/local/bin/hala check --bogus 10.0.0.1 x", wantErr: "hala check flag --bogus is not one import knows"},
		{in: "/usr/local/bin/hala check 10.0.0.1", wantErr: "takes an address and an input id, got 1"},
		{in: "/bin/python inputstatus.py 10.0.0.1", wantErr: "inputstatus.py takes an address and an input id, got 1"},
		{in: `/bin/x "open`, wantErr: "unterminated"},
	}
	for _, tc := range tests {
		got, err := ParseCheck(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseCheck(%q) error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCheck(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// What hala cannot express is kept as a comment with file:line and the
// reason, and the rest still imports into a valid inventory.
func TestImportUnsupported(t *testing.T) {
	conf := `global_defs {
    router_id lb1
    lvs_sync_daemon eth1 VI_1
}
vrrp_script chk { script "/bin/true" }
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 7
    priority 150
    unicast_src_ip 10.0.0.1
    unicast_peer {
        10.0.0.2
    }
    nopreempt
    virtual_ipaddress {
        10.0.0.100/24
        10.0.0.101/24
    }
}
virtual_server fwmark 1 {
    lb_algo rr
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    lb_kind DR
    real_server 10.0.0.11 80 {
        TCP_CHECK { connect_timeout 3 }
    }
    real_server 10.0.0.12 80 {
        MISC_CHECK { misc_path "/usr/local/bin/hala check --port 9600 -- 10.0.0.12 tcp-80" }
    }
}
virtual_server 10.0.0.100 81 {
    protocol TCP
    real_server 10.0.0.11 81 {
        MISC_CHECK { misc_path "/usr/bin/curl -sf http://10.0.0.11:9600/" }
    }
}
@lb1 include extra.conf
`
	cfg, err := keepalived.Parse("k.conf", []byte(conf), false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(cfg, "k.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`k.conf:40: conditional "@lb1" is not evaluated: the line is left out`,
		"k.conf:3: lvs_sync_daemon eth1 VI_1: no inventory key (hala renders global_defs itself)",
		"k.conf:5: vrrp_script chk: hala tracks only its own director (vrrp_script hala_director)",
		"k.conf:15: nopreempt: no inventory key for this vrrp_instance setting",
		"k.conf:18: 10.0.0.101/24: hala has one address per vrrp_instance: add a [[vip]] with its own router_id",
		"k.conf:21: virtual_server fwmark 1: hala renders virtual_server ADDRESS PORT only (no fwmark or group)",
		"k.conf:28: TCP_CHECK: hala checks real servers with MISC_CHECK (hala check) only",
		`k.conf:37: misc_path /usr/bin/curl -sf http://10.0.0.11:9600/: check not mapped: /usr/bin/curl is neither hala check nor inputstatus.py`,
		"k.conf:34: virtual_server 10.0.0.100 81: no real_server has a MISC_CHECK hala recognises, so the Logstash input id is unknown: input_id is a placeholder",
	}
	if !reflect.DeepEqual(res.Unmapped, want) {
		t.Errorf("unmapped:\n%s\nwant:\n%s", strings.Join(res.Unmapped, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(string(res.TOML), "#   "+w+"\n") {
			t.Errorf("no comment for %q", w)
		}
	}
	// The one thing left to fill in is the input id the curl check did not name.
	_, err = inventory.Parse("imported.toml", res.TOML)
	if err == nil || !errors.Is(err, inventory.ErrPlaceholder) || strings.Count(err.Error(), "\n") != 0 ||
		!strings.Contains(err.Error(), `service[1] ("tcp-81").input_id: "" is a placeholder`) {
		t.Fatalf("imported inventory: %v, want only the input_id placeholder\n%s", err, res.TOML)
	}
	inv, err := inventory.Parse("imported.toml", []byte(strings.Replace(string(res.TOML), `input_id = ""`, `input_id = "tcp-81"`, 1)))
	if err != nil {
		t.Fatalf("imported inventory with the placeholder set: %v\n%s", err, res.TOML)
	}
	if len(inv.Services) != 2 || inv.Services[0].InputID != "tcp-80" || inv.Services[0].Forwarding != "dr" || len(inv.Directors) != 2 {
		t.Errorf("imported %+v", inv)
	}
}

// A multicast config names no director address: the placeholder makes
// validation fail with ErrPlaceholder, so hala validate can say what to do.
func TestImportPlaceholderRejected(t *testing.T) {
	cfg, err := keepalived.Load("../keepalived/testdata/seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(cfg, "seed.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Placeholders != 1 || !strings.Contains(string(res.TOML), `address = "0.0.0.0"  # PLACEHOLDER`) {
		t.Fatalf("placeholders %d in\n%s", res.Placeholders, res.TOML)
	}
	_, err = inventory.Parse("imported.toml", res.TOML)
	if err == nil || !errors.Is(err, inventory.ErrPlaceholder) {
		t.Fatalf("validate: %v, want ErrPlaceholder", err)
	}
	if !strings.Contains(err.Error(), `director[0] ("LVS_MASTER").address: 0.0.0.0 is a placeholder`) {
		t.Errorf("validate: %v", err)
	}
}

func TestParseDirector(t *testing.T) {
	if d, err := ParseDirector("stash1=192.168.1.210"); err != nil || d.Name != "stash1" || d.Address.String() != "192.168.1.210" {
		t.Errorf("ParseDirector = %+v, %v", d, err)
	}
	for _, bad := range []string{"stash1", "=1.2.3.4", "stash1=nope", "a b=1.2.3.4"} {
		if _, err := ParseDirector(bad); err == nil {
			t.Errorf("ParseDirector(%q) accepted", bad)
		}
	}
}
