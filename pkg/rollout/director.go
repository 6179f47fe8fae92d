package rollout

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hala-lb/hala/pkg/reconcile"
)

// Destinations returns a read for WaitDirector: the destinations of the
// IPVS table behind target that point at addr.
//
// Equivalent to: ipvsadm -L -n --stats, the lines of addr.
func Destinations(target reconcile.Target, addr netip.Addr) func(context.Context) ([]Destination, error) {
	return func(ctx context.Context) ([]Destination, error) {
		table, err := reconcile.Observe(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("read the IPVS table: %w", err)
		}
		var ds []Destination
		for _, e := range table {
			for _, d := range e.Destinations {
				if d.Address == addr {
					ds = append(ds, Destination{
						Name:   fmt.Sprintf("%s -> %s", e.Service, d.Key()),
						Weight: d.Weight, ActiveConns: d.ActiveConns, InPkts: d.Stats.PacketsIn,
					})
				}
			}
		}
		return ds, nil
	}
}

// WaitBack returns once the IPVS table behind target has want or more
// destinations of addr at a weight above 0: the director took the
// backend back after hala undrain. When ctx ends first, the error says
// how many it found.
func WaitBack(ctx context.Context, o WaitOptions, target reconcile.Target, addr netip.Addr, want int) error {
	o = o.defaults()
	for {
		table, err := reconcile.Observe(ctx, target)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read the IPVS table: %w", err)
		}
		n := 0
		for _, e := range table {
			for _, d := range e.Destinations {
				if d.Address == addr && d.Weight > 0 {
					n++
				}
			}
		}
		if n >= want {
			return nil
		}
		if err := o.Sleep(ctx, o.Every); err != nil {
			return fmt.Errorf("%d of %d destinations at weight above 0", n, want)
		}
	}
}
