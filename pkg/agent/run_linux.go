package agent

import (
	"context"
	"errors"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Run watches the inputs until ctx ends: it joins the destruction groups,
// dumps once, then dumps every Interval while a second goroutine applies
// each destruction as it is announced. It returns an error only when the
// kernel interface cannot be opened.
func (a *Agent) Run(ctx context.Context) error {
	ev, err := openDiag()
	if err != nil {
		return err
	}
	defer ev.Close()
	if err := ev.subscribe(a.tr.Protos()); err != nil {
		return err
	}
	// The event reader wakes each second to see whether ctx ended.
	if err := unix.SetsockoptTimeval(ev.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1}); err != nil {
		return err
	}
	dc, err := openDiag()
	if err != nil {
		return err
	}
	defer dc.Close()
	var lastErr string
	d := dumper{protos: a.tr.Protos()}
	if err := a.dump(dc, &d); err != nil {
		a.noteDumpError(err, &lastErr)
	}
	a.log.Info("watching", "node", a.cfg.Node, "inputs", len(a.inputs), "interval", a.cfg.Interval.String())
	now := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.readEvents(ctx, ev, now)
	}()
	tick := time.NewTicker(a.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-tick.C:
		case <-now:
		}
		if err := a.dump(dc, &d); err != nil {
			a.noteDumpError(err, &lastErr)
		} else {
			lastErr = ""
		}
	}
}

// readEvents applies destruction broadcasts until ctx ends; after lost
// broadcasts it asks for a dump at once.
func (a *Agent) readEvents(ctx context.Context, c *diagConn, dumpNow chan<- struct{}) {
	for ctx.Err() == nil {
		socks, err := c.next()
		switch {
		case errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, errOverrun):
			a.metrics.overruns.Add(1)
			select {
			case dumpNow <- struct{}{}:
			default:
			}
			continue
		case err != nil:
			a.log.Error("reading socket events; relying on dumps", "error", err)
			return
		}
		if len(socks) > 0 {
			a.destroyed(socks)
		}
	}
}

// dumper keeps the buffers of the periodic dump.
type dumper struct {
	protos []Proto
	socks  []Socket
}

// dump lists the listening sockets of the watched protocols, IPv4 and
// IPv6, and applies them.
func (a *Agent) dump(c *diagConn, d *dumper) error {
	start := time.Now()
	d.socks = d.socks[:0]
	var err error
	for _, p := range d.protos {
		states := uint32(1) << tcpListen
		if p == UDP {
			states = ^uint32(0) // an unconnected UDP socket is CLOSE; connected ones are filtered later
		}
		for _, fam := range []uint8{afInet, afInet6} {
			if d.socks, err = c.dump(fam, p, states, d.socks); err != nil {
				return err
			}
		}
	}
	var np uint64
	npOK := false
	if slices.Contains(d.protos, UDP) {
		var err error
		np, err = noPorts()
		npOK = err == nil
	}
	a.applyDump(d.socks, np, npOK)
	a.metrics.dumpSeconds.Observe(time.Since(start).Seconds())
	return nil
}
