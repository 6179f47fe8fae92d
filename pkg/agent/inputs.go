package agent

import (
	"fmt"
	"slices"

	"github.com/hala-lb/hala/pkg/inventory"
)

// Inputs lists the sockets the [[logstash]] host node must have bound:
// one per protocol, address and port, however many services share it.
// The address is the one the rendered Logstash input binds: the host's
// own, or the VIP with dr and tun forwarding (which deliver the VIP
// unchanged).
func Inputs(inv *inventory.Inventory, node string) ([]Input, error) {
	l, ok := inv.LogstashHost(node)
	if !ok {
		return nil, fmt.Errorf("%s: no [[logstash]] host named %q", inv.File, node)
	}
	var out []Input
	for _, s := range inv.ServicesOfBackend(l.Name) {
		p, err := ParseProto(s.Protocol)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", s.Name, err)
		}
		in := Input{Proto: p, Addr: l.Address, Port: uint16(s.BackendPort)}
		if s.Forwarding == "dr" || s.Forwarding == "tun" {
			if v, ok := inv.VIP(s.VIP); ok {
				in.Addr = v.Address.Addr()
			}
		}
		i := slices.IndexFunc(out, func(o Input) bool { return o.Proto == in.Proto && o.Addr == in.Addr && o.Port == in.Port })
		if i < 0 {
			out = append(out, in)
			i = len(out) - 1
		}
		out[i].Services = append(out[i].Services, s.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no service has the [[logstash]] host %q among its backends: nothing to watch", inv.File, node)
	}
	return out, nil
}
