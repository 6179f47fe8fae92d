package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Quiet is how long a drained backend's counters must stay still before a
// wait says it gets no more traffic.
const Quiet = time.Second

// Destination is one IPVS destination that points at a drained backend.
type Destination struct {
	// Name says where it is: `syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514`.
	Name        string
	Weight      int
	ActiveConns int
	// InPkts is the destination's IPVS packet counter.
	InPkts uint64
}

// String is `syslog-udp ... weight 1, 2 active connections, 1500 packets in`.
func (d Destination) String() string {
	return fmt.Sprintf("%s weight %d, %d active connections, %d packets in", d.Name, d.Weight, d.ActiveConns, d.InPkts)
}

// Settled reports whether the destination takes no new traffic by itself:
// weight 0 and no active connection.
func (d Destination) Settled() bool { return d.Weight == 0 && d.ActiveConns == 0 }

// WaitOptions paces a wait.
type WaitOptions struct {
	// Every is the time between two reads (default 100ms).
	Every time.Duration
	// Quiet is how long the counters must stay still (default Quiet).
	Quiet time.Duration
	// Now and Sleep are the clock (default: the wall clock); tests step
	// a fake one read by read.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Notify is told what a wait on the backend host does about reads
	// that fail (default: nothing).
	Notify func(msg string)
}

func (o WaitOptions) defaults() WaitOptions {
	if o.Every <= 0 {
		o.Every = 100 * time.Millisecond
	}
	if o.Quiet <= 0 {
		o.Quiet = Quiet
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Notify == nil {
		o.Notify = func(string) {}
	}
	return o
}

// ErrStillServing is wrapped by a wait that ended before the backend was
// idle; the message lists what still points at it or still moves.
var ErrStillServing = errors.New("still receiving traffic")

// WaitDirector returns once nothing in the director's IPVS table sends the
// backend traffic: every destination read points at it is gone, or at
// weight 0 with no active connection, and the sum of their packet
// counters has not grown for o.Quiet. read returns the destinations that
// point at the backend now. When ctx ends first, the error wraps
// ErrStillServing and lists them.
func WaitDirector(ctx context.Context, o WaitOptions, read func(context.Context) ([]Destination, error)) error {
	o = o.defaults()
	var last []Destination
	var lastPkts uint64
	var still time.Time
	for {
		ps, err := read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %s", ErrStillServing, listDestinations(last))
			}
			return err
		}
		settled := true
		var pkts uint64
		for _, p := range ps {
			settled = settled && p.Settled()
			pkts += p.InPkts
		}
		now := o.Now()
		switch {
		case len(ps) == 0:
			return nil
		case !settled || last == nil || pkts != lastPkts:
			still = now
		case now.Sub(still) >= o.Quiet:
			return nil
		}
		last, lastPkts = ps, pkts
		if err := o.Sleep(ctx, o.Every); err != nil {
			return fmt.Errorf("%w: %s", ErrStillServing, listDestinations(last))
		}
	}
}

func listDestinations(ps []Destination) string {
	if len(ps) == 0 {
		return "no read of the IPVS table finished"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
		if !p.Settled() {
			s[i] += " (not quiesced)"
		}
	}
	return "still pointing at it: " + strings.Join(s, "; ")
}

// HostSample is one look at a Logstash input on its own host.
type HostSample struct {
	// EventsOut is the input's events.out from the Logstash API.
	EventsOut int64
	// RxQueue is the bytes waiting in the receive queues of the UDP
	// sockets on the input's port (0 for a TCP input).
	RxQueue uint64
}

// ErrUnreadable is wrapped by WaitBackendHost when the Logstash API could
// not be read: whether the input is idle is then not known.
var ErrUnreadable = errors.New("the Logstash API could not be read")

// ErrInputMissing is wrapped by a read of an input that the Logstash API
// answered without.
var ErrInputMissing = errors.New("input missing")

// WaitBackendHost returns once the input has drained on the Logstash
// host: its events.out has not grown for o.Quiet and nothing waits in its
// UDP socket's receive queue, which a stopping UDP input would lose.
//
// A read that fails the way a starting, restarting or busy Logstash fails
// (connection refused or reset, a timeout, HTTP 5xx or 429) is retried
// until ctx ends, with o.Notify told when reads start failing and when
// they answer again; the error then wraps ErrUnreadable. Any other error
// (credentials, TLS, not Logstash's API, ErrInputMissing) is returned
// at once: waiting would not change it.
func WaitBackendHost(ctx context.Context, o WaitOptions, read func(context.Context) (HostSample, error)) error {
	o = o.defaults()
	var last HostSample
	var lastErr error
	var failingSince time.Time
	seen := false
	var still time.Time
	for {
		l, err := read(ctx)
		now := o.Now()
		switch {
		case err != nil && ctx.Err() != nil:
			// The deadline came during the read: not the API's fault.
		case errors.Is(err, ErrInputMissing):
			return fmt.Errorf("%w (not waiting: this does not pass by itself)", err)
		case err != nil && !transient(err):
			return fmt.Errorf("%w: %w (not waiting: this does not pass by itself)", ErrUnreadable, err)
		case err != nil:
			if lastErr == nil {
				failingSince = now
				o.Notify(fmt.Sprintf("cannot read the Logstash API (%v); waiting for it until the timeout (a starting or busy Logstash answers later)", err))
			}
			lastErr = err
			still = now
		default:
			if lastErr != nil {
				o.Notify("the Logstash API answers again")
				lastErr = nil
			}
			switch {
			case !seen || l.EventsOut != last.EventsOut || l.RxQueue > 0:
				still, last, seen = now, l, true
			case now.Sub(still) >= o.Quiet:
				return nil
			}
		}
		if err := o.Sleep(ctx, o.Every); err != nil {
			if lastErr != nil {
				return fmt.Errorf("%w for the last %s (%v): whether the input is idle is not known", ErrUnreadable, o.Now().Sub(failingSince).Round(time.Millisecond), lastErr)
			}
			if !seen {
				return fmt.Errorf("%w: nothing read yet", ErrStillServing)
			}
			return fmt.Errorf("%w: events.out %d (growing within the last %s), %d bytes in the UDP receive queue", ErrStillServing, last.EventsOut, o.Quiet, last.RxQueue)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
