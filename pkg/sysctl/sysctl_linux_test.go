//go:build linux && integration

package sysctl_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
	"github.com/hala-lb/hala/pkg/sysctl"
)

// TestIntegrationApplyRealProcInNamespace sets a per-namespace key through the real
// /proc/sys, from a thread inside a throwaway namespace, and proves the
// kernel took the value there and nowhere else.
func TestIntegrationApplyRealProcInNamespace(t *testing.T) {
	testutil.RequireKernel(t)
	ns := testutil.NewNetNS(t)
	hostBefore, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	if err != nil {
		t.Skipf("no /proc/sys here: %v", err)
	}
	settings := []sysctl.Setting{
		{Key: "net.ipv4.ip_forward", Value: "1"},
		{Key: "net.ipv4.conf.all.arp_ignore", Value: "1"},
	}
	var first, second []sysctl.Result
	err = ns.Do(func() error {
		var err error
		if first, err = sysctl.Apply("", settings, false); err != nil {
			return err
		}
		second, err = sysctl.Apply("", settings, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(first); strings.Join(got, "\n") != "net.ipv4.ip_forward: 0 → 1\nnet.ipv4.conf.all.arp_ignore: 0 → 1" {
		t.Fatalf("first apply in a fresh namespace: %q", got)
	}
	for _, r := range second {
		if r.Changed {
			t.Errorf("second apply changed %v", r)
		}
	}
	if got := strings.TrimSpace(ns.Run(t, "cat", "/proc/sys/net/ipv4/conf/all/arp_ignore")); got != "1" {
		t.Errorf("namespace arp_ignore = %s, want 1", got)
	}
	hostAfter, _ := os.ReadFile("/proc/sys/net/ipv4/conf/all/arp_ignore")
	if string(hostAfter) != string(hostBefore) {
		t.Errorf("host arp_ignore changed from %q to %q", hostBefore, hostAfter)
	}
}

// TestIntegrationApplyRenderedIPv6Director applies what hala render writes
// for an IPv6 director, in a namespace holding its interface: the real
// kernel takes every key, accept_ra = 2 on the interface included (with
// forwarding on, the kernel ignores router advertisements below 2).
func TestIntegrationApplyRenderedIPv6Director(t *testing.T) {
	testutil.RequireKernel(t)
	inv, err := inventory.Load("../render/testdata/ipv6/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Node(inv, "v6a")
	if err != nil {
		t.Fatal(err)
	}
	var settings []sysctl.Setting
	for _, f := range files {
		if f.Path == "v6a/"+render.SysctlPath {
			if settings, err = sysctl.Parse(f.Path, f.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(settings) == 0 {
		t.Fatal("no rendered sysctl settings for v6a")
	}
	ns := testutil.NewNetNS(t)
	ns.IP(t, "link", "add", "eth0", "type", "dummy")
	err = ns.Do(func() error {
		_, err := sysctl.Apply("", settings, false)
		return err
	})
	if err != nil {
		t.Fatalf("apply the rendered settings: %v", err)
	}
	for key, want := range map[string]string{
		"net/ipv6/conf/all/forwarding": "1",
		"net/ipv6/conf/eth0/accept_ra": "2",
	} {
		if got := strings.TrimSpace(ns.Run(t, "cat", "/proc/sys/"+key)); got != want {
			t.Errorf("%s = %s in the namespace, want %s", key, got, want)
		}
	}
}
