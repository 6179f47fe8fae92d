package sysctl_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/sysctl"
)

func TestParse(t *testing.T) {
	data := []byte(`# Forward packets between the VIP and the real servers (IPVS NAT).
net.ipv4.ip_forward = 1
; old-style comment
net.ipv4.ip_local_port_range =	1024   65000
  -net.ipv4.vs.conntrack=1

net/ipv4/conf/eth0.10/rp_filter = 2
`)
	got, err := sysctl.Parse("90-hala.conf", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []sysctl.Setting{
		{Key: "net.ipv4.ip_forward", Value: "1", Line: 2},
		{Key: "net.ipv4.ip_local_port_range", Value: "1024 65000", Line: 4},
		{Key: "net.ipv4.vs.conntrack", Value: "1", Optional: true, Line: 5},
		{Key: "net/ipv4/conf/eth0.10/rp_filter", Value: "2", Line: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseReportsEveryBadLine(t *testing.T) {
	_, err := sysctl.Parse("x.conf", []byte("net.ipv4.ip_forward 1\nok = 1\n= 3\nnet..x = 1\n"))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"x.conf:1:", "x.conf:3:", "x.conf:4:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "x.conf:2:") {
		t.Errorf("error %q blames the good line 2", err)
	}
}

// fakeProc builds a /proc/sys-like tree under a temp dir.
func fakeProc(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for k, v := range files {
		p := filepath.Join(root, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func read(t *testing.T, root, k string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(k)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lines(rs []sysctl.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func TestApplyWritesOnlyChangedKeys(t *testing.T) {
	root := fakeProc(t, map[string]string{
		"net/ipv4/ip_forward":              "0\n",
		"net/ipv4/ip_nonlocal_bind":        "1", // no newline: a rewrite would add one
		"net/ipv4/ip_local_port_range":     "32768\t60999\n",
		"net/ipv4/conf/eth0.10/arp_ignore": "0\n",
	})
	settings, err := sysctl.Parse("90-hala.conf", []byte(`
net.ipv4.ip_forward = 1
net.ipv4.ip_nonlocal_bind = 1
net.ipv4.ip_local_port_range = 32768 60999
net/ipv4/conf/eth0.10/arp_ignore = 1
`))
	if err != nil {
		t.Fatal(err)
	}

	res, err := sysctl.Apply(root, settings, true)
	if err != nil {
		t.Fatal(err)
	}
	wantDry := []string{
		"net.ipv4.ip_forward: 0 → 1 (dry run)",
		"net.ipv4.ip_nonlocal_bind: 1 (unchanged)",
		"net.ipv4.ip_local_port_range: 32768 60999 (unchanged)",
		"net/ipv4/conf/eth0.10/arp_ignore: 0 → 1 (dry run)",
	}
	if got := lines(res); !reflect.DeepEqual(got, wantDry) {
		t.Fatalf("dry run:\n%q\nwant\n%q", got, wantDry)
	}
	if got := read(t, root, "net/ipv4/ip_forward"); got != "0\n" {
		t.Fatalf("dry run wrote ip_forward = %q", got)
	}

	res, err = sysctl.Apply(root, settings, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"net.ipv4.ip_forward: 0 → 1",
		"net.ipv4.ip_nonlocal_bind: 1 (unchanged)",
		"net.ipv4.ip_local_port_range: 32768 60999 (unchanged)",
		"net/ipv4/conf/eth0.10/arp_ignore: 0 → 1",
	}
	if got := lines(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("apply:\n%q\nwant\n%q", got, want)
	}
	if got := read(t, root, "net/ipv4/ip_forward"); got != "1\n" {
		t.Fatalf("ip_forward = %q after apply", got)
	}
	if got := read(t, root, "net/ipv4/conf/eth0.10/arp_ignore"); got != "1\n" {
		t.Fatalf("eth0.10 arp_ignore = %q after apply", got)
	}

	if got := read(t, root, "net/ipv4/ip_nonlocal_bind"); got != "1" {
		t.Fatalf("apply rewrote the unchanged ip_nonlocal_bind: %q", got)
	}

	// A second apply changes nothing.
	res, err = sysctl.Apply(root, settings, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Changed {
			t.Errorf("second apply changed %v", r)
		}
	}
}

func TestApplyUnknownKeys(t *testing.T) {
	root := fakeProc(t, map[string]string{"net/ipv4/ip_forward": "0\n"})
	settings := []sysctl.Setting{
		{Key: "net.ipv4.vs.conntrack", Value: "1", Optional: true},
		{Key: "net.ipv4.no_such_key", Value: "1"},
		{Key: "net.ipv4.ip_forward", Value: "1"},
	}
	res, err := sysctl.Apply(root, settings, false)
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.no_such_key: not in this kernel") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
	if !errors.Is(err, sysctl.ErrUnknownKey) {
		t.Errorf("err = %v, want it to wrap ErrUnknownKey", err)
	}
	if strings.Contains(err.Error(), "conntrack") {
		t.Errorf("optional key reported as an error: %v", err)
	}
	want := []string{
		"net.ipv4.vs.conntrack: not in this kernel (skipped)",
		"net.ipv4.ip_forward: 0 → 1",
	}
	if got := lines(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("results %q, want %q (keys after a failure are still applied)", got, want)
	}
	if _, statErr := os.Stat(filepath.Join(root, "net/ipv4/no_such_key")); statErr == nil {
		t.Fatal("apply created a file for an unknown key")
	}
}

func TestApplyGlob(t *testing.T) {
	root := fakeProc(t, map[string]string{
		"net/ipv4/conf/all/rp_filter":  "1\n",
		"net/ipv4/conf/eth0/rp_filter": "2\n",
		"net/ipv4/conf/lo/rp_filter":   "0\n",
	})
	res, err := sysctl.Apply(root, []sysctl.Setting{{Key: "net.ipv4.conf.*.rp_filter", Value: "0"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"net.ipv4.conf.all.rp_filter: 1 → 0",
		"net.ipv4.conf.eth0.rp_filter: 2 → 0",
		"net.ipv4.conf.lo.rp_filter: 0 (unchanged)",
	}
	if got := lines(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
