package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

// TestWritesSynthetic: scripts/bench-ipvs applies what this command writes
// and the Go benchmarks build inventorytest.Synthetic; the two are the same
// text, and hala loads it as the table the benchmark counts.
func TestWritesSynthetic(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run([]string{"-services", "7", "-backends", "3"}, &out, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if want := inventorytest.Synthetic(3, 7, inventorytest.Keepalived); out.String() != want {
		t.Errorf("inventory -services 7 -backends 3 writes\n%s\nSynthetic(3, 7, Keepalived) is\n%s", out.String(), want)
	}
	inv, err := inventory.Parse("bench.toml", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Cluster.IPVS != "keepalived" || len(inv.Logstash) != 3 || len(inv.Services) != 7 || len(inv.Services[6].Backends) != 3 {
		t.Errorf("parsed: ipvs %q, %d hosts, %d services", inv.Cluster.IPVS, len(inv.Logstash), len(inv.Services))
	}
}

// TestDefaultsAreTheBenchmarks: without flags it writes bench-ipvs's
// default table, 1,000 services × 10 backends.
func TestDefaultsAreTheBenchmarks(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run(nil, &out, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if out.String() != inventorytest.Synthetic(10, 1000, inventorytest.Keepalived) {
		t.Error("inventory without flags: not Synthetic(10, 1000, Keepalived)")
	}
}

// TestLimitsLoad: what the largest counts it allows give hala can load: the
// 250th host's address is valid, and 30,000 services with 250 hosts stay
// within inventory.MaxFileSize (measured, not parsed: 7.5 million backends
// take minutes under -race).
func TestLimitsLoad(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := run([]string{"-backends", "250", "-services", "2"}, &out, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if _, err := inventory.Parse("bench.toml", out.Bytes()); err != nil {
		t.Error(err)
	}
	out.Reset()
	if err := run([]string{"-backends", "250", "-services", "30000"}, &out, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if out.Len() > inventory.MaxFileSize {
		t.Errorf("250 backends, 30000 services: %d bytes, more than inventory.MaxFileSize (%d)", out.Len(), inventory.MaxFileSize)
	}
}

func TestRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-backends", "0"}, "backends"},
		{[]string{"-backends", "251"}, "backends"},
		{[]string{"-services", "0"}, "services"},
		{[]string{"-services", "30001"}, "services"},
		{[]string{"-services", "many"}, "-services"},
		{[]string{"extra"}, `"extra"`},
	} {
		var out, stderr bytes.Buffer
		err := run(tc.args, &out, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("%v: wrote %d bytes despite the error", tc.args, out.Len())
		}
	}
}
