package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/logstash"
)

// WaitInputs runs on the Logstash host l itself: input by input, it
// returns once each input l serves in inv has drained (WaitBackendHost),
// calling idle after each one. who names l in errors.
func WaitInputs(ctx context.Context, o WaitOptions, inv *inventory.Inventory, l inventory.Logstash, who string, idle func(inventory.Service)) error {
	services, client, addr, err := apiOf(inv, l)
	if err != nil {
		return err
	}
	for _, s := range services {
		so := o
		if o.Notify != nil {
			so.Notify = func(m string) { o.Notify(fmt.Sprintf("input %q: %s", s.InputID, m)) }
		}
		if err := WaitBackendHost(ctx, so, inputSample(client, addr, s, UDPFiles)); err != nil {
			return fmt.Errorf("wait for input %q of %s: %w", s.InputID, who, err)
		}
		idle(s)
	}
	return nil
}

// inputSample returns a read for WaitBackendHost: s's input's events.out
// from the API at addr, and for UDP the receive queues of the sockets on
// its port (in udpFiles).
func inputSample(src check.Source, addr string, s inventory.Service, udpFiles []string) func(context.Context) (HostSample, error) {
	return func(ctx context.Context) (HostSample, error) {
		var out HostSample
		stats, err := src.NodeStats(ctx, s.Pipeline)
		if err != nil {
			return out, askError{addr: addr, err: err}
		}
		// The input is found as hala check finds it, and missing as it
		// says it is.
		v := check.Run(ctx, check.Answered{Stats: stats}, check.Options{Address: addr, Input: s.InputID, Pipeline: s.Pipeline, ReadOnly: true})
		if !v.Healthy {
			return out, fmt.Errorf("%w: %s", ErrInputMissing, v)
		}
		in := stats.Pipeline(v.Pipeline).Input(s.InputID)
		if in.Events != nil {
			out.EventsOut = in.Events.Out
		}
		if s.Protocol == "udp" {
			q, _, err := UDPReceiveQueue(uint16(s.BackendPort), udpFiles...)
			if err != nil {
				return out, err
			}
			out.RxQueue = q
		}
		return out, nil
	}
}

// apiOf returns the services l serves in inv, a client of l's API and
// its address.
func apiOf(inv *inventory.Inventory, l inventory.Logstash) ([]inventory.Service, *logstash.Client, string, error) {
	services := inv.ServicesOfBackend(l.Name)
	if len(services) == 0 {
		return nil, nil, "", fmt.Errorf("%s: no [[service]] has %s among its backends", inv.File, l.Name)
	}
	cfg, err := check.APIConfig(inv, l.Address.String(), l.APIPort)
	if err != nil {
		return nil, nil, "", err
	}
	client, err := logstash.New(cfg)
	if err != nil {
		return nil, nil, "", err
	}
	return services, client, net.JoinHostPort(l.Address.String(), strconv.Itoa(l.APIPort)), nil
}

// transient reports whether err is how a starting, restarting or busy
// Logstash fails a read: the connection refused, reset or cut, a timeout,
// HTTP 5xx or 429. Waiting may see it answer.
func transient(err error) bool {
	var he *logstash.HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests
	}
	var op *net.OpError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &op) && op.Op == "dial")
}

// askError is a failed read of the API at addr, worded as hala check
// words it ("connect: connection refused", not the dial's whole chain).
type askError struct {
	addr string
	err  error
}

func (e askError) Error() string {
	return "ask " + e.addr + ": " + check.Describe(context.TODO(), e.err, 0)
}
func (e askError) Unwrap() error { return e.err }
