package rollout

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/ipvs"
)

// table is an IPVS table that steps through snapshots, one per read,
// staying on the last: a small fake behind reconcile.Target.
type table struct {
	snapshots [][]ipvs.Entry
	reads     int
}

func (t *table) Entries(context.Context) ([]ipvs.Entry, error) {
	e := t.snapshots[min(t.reads, len(t.snapshots)-1)]
	t.reads++
	return e, nil
}

func (t *table) Batch(context.Context, []ipvs.Request) []error { panic("the waits only read") }

var (
	backend = netip.MustParseAddr("10.0.0.12")
	udpSvc  = ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	tcpSvc  = ipvs.Service{Protocol: ipvs.TCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5515, Scheduler: "wlc"}
)

func dest(addr netip.Addr, port uint16, weight, conns int, pkts uint64) ipvs.Destination {
	d := ipvs.Destination{Address: addr, Port: port, Weight: weight, ActiveConns: conns}
	d.Stats.PacketsIn = pkts
	return d
}

// Destinations reads only the backend's destinations, with what WaitDirector
// judges; WaitDirector over it returns Quiet after the last one settled.
func TestDestinationsOfTheTable(t *testing.T) {
	other := netip.MustParseAddr("10.0.0.11")
	tb := &table{snapshots: [][]ipvs.Entry{
		{{Service: udpSvc, Destinations: []ipvs.Destination{dest(other, 5514, 1, 0, 9), dest(backend, 5514, 1, 0, 40)}},
			{Service: tcpSvc, Destinations: []ipvs.Destination{dest(backend, 5515, 1, 3, 70)}}},
		{{Service: udpSvc, Destinations: []ipvs.Destination{dest(other, 5514, 1, 0, 9)}},
			{Service: tcpSvc, Destinations: []ipvs.Destination{dest(backend, 5515, 0, 1, 75)}}},
		{{Service: udpSvc, Destinations: []ipvs.Destination{dest(other, 5514, 1, 0, 99)}},
			{Service: tcpSvc, Destinations: []ipvs.Destination{dest(backend, 5515, 0, 0, 80)}}},
	}}
	read := Destinations(tb, backend)
	ds, err := read(context.Background())
	if err != nil || len(ds) != 2 {
		t.Fatalf("%v, %v: want the backend's two destinations", ds, err)
	}
	if got := ds[1].String(); !strings.HasSuffix(got, "-> 10.0.0.12:5515 weight 1, 3 active connections, 70 packets in") || ds[1].Settled() {
		t.Errorf("tcp destination: %q", got)
	}
	c, o := clock(0)
	if err := WaitDirector(context.Background(), o, read); err != nil {
		t.Fatal(err)
	}
	// Settled from the table's third read (the 2nd of the wait, t0+100ms),
	// still a second after: t0+1.1s. The other backend's counter is not
	// its business.
	if at := c.now.Sub(t0); at != 1100*time.Millisecond {
		t.Errorf("returned at t0+%v, want t0+1.1s", at)
	}
}

// WaitBack returns once every service has the backend at a weight above
// 0, and says how many did when the wait ends first.
func TestWaitBack(t *testing.T) {
	half := []ipvs.Entry{
		{Service: udpSvc, Destinations: []ipvs.Destination{dest(backend, 5514, 1, 0, 0)}},
		{Service: tcpSvc, Destinations: []ipvs.Destination{dest(backend, 5515, 0, 0, 0)}},
	}
	full := []ipvs.Entry{
		{Service: udpSvc, Destinations: []ipvs.Destination{dest(backend, 5514, 1, 0, 0)}},
		{Service: tcpSvc, Destinations: []ipvs.Destination{dest(backend, 5515, 1, 0, 0)}},
	}
	tb := &table{snapshots: [][]ipvs.Entry{nil, half, full}}
	_, o := clock(5 * time.Second)
	if err := WaitBack(context.Background(), o, tb, backend, 2); err != nil || tb.reads != 3 {
		t.Errorf("back at the 3rd read: %v after %d reads", err, tb.reads)
	}
	tb = &table{snapshots: [][]ipvs.Entry{half}}
	_, o = clock(5 * time.Second)
	err := WaitBack(context.Background(), o, tb, backend, 2)
	if err == nil || err.Error() != "1 of 2 destinations at weight above 0" || errors.Is(err, ErrStillServing) {
		t.Errorf("never back: %v", err)
	}
}
