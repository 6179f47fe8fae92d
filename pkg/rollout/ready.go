package rollout

import (
	"context"
	"errors"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/inventory"
)

// WaitReady repeats hala check of every input l serves in inv (drain
// records aside) until all pass at once: the backend is ready to be
// undrained after its restart. When ctx ends first, the error is the
// last failed check's verdict (not one the deadline cut short). o.Every
// defaults to 200ms here.
func WaitReady(ctx context.Context, o WaitOptions, inv *inventory.Inventory, l inventory.Logstash) error {
	if o.Every <= 0 {
		o.Every = 200 * time.Millisecond
	}
	o = o.defaults()
	services, client, addr, err := apiOf(inv, l)
	if err != nil {
		return err
	}
	var last *check.Verdict
	for {
		ok := true
		for _, s := range services {
			cctx, cancel := context.WithTimeout(ctx, inv.Cluster.CheckTimeout.Duration)
			v := check.Run(cctx, client, check.Options{
				Address: addr, Host: l.Address.String(), Input: s.InputID, Pipeline: s.Pipeline,
				Timeout: inv.Cluster.CheckTimeout.Duration, ReadOnly: true,
			})
			cancel()
			if !v.Healthy {
				// A check the wait's own deadline cut short says
				// nothing of the backend: the last whole one does.
				if ctx.Err() == nil {
					last = v
				}
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if err := o.Sleep(ctx, o.Every); err != nil {
			if last == nil {
				return errors.New("no check finished within the wait")
			}
			return errors.New(last.String())
		}
	}
}
