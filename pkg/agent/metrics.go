package agent

import (
	"github.com/hala-lb/hala/pkg/internal/promtext"
)

// Receiver is one Logstash host's inputs as an agent reports them.
type Receiver struct {
	Backend string
	States  []State
}

// receiverFamilies are the hala_receiver_* families, each with its value
// per input state: the agent exports its own host, the director every
// agent it hears from, under the same names.
var receiverFamilies = []struct {
	promtext.Family
	udpOnly bool
	value   func(State) uint64
}{
	{promtext.Family{Name: "hala_receiver_socket_up", Type: "gauge",
		Help: "1 while a socket is bound to receive the service's input on the backend, per hala agent."},
		false, func(st State) uint64 {
			if st.Up {
				return 1
			}
			return 0
		}},
	{promtext.Family{Name: "hala_receiver_drops_total", Type: "counter",
		Help: "Packets the backend's kernel dropped at the input's sockets (receive buffer full), per hala agent."},
		false, func(st State) uint64 { return st.Drops }},
	{promtext.Family{Name: "hala_receiver_queue_bytes", Type: "gauge",
		Help: "Bytes waiting in the input's receive queues (TCP: connections waiting for accept)."},
		false, func(st State) uint64 { return st.QueueBytes }},
	{promtext.Family{Name: "hala_receiver_noports_total", Type: "counter",
		Help: "UDP datagrams the backend's kernel found no socket for while the input was down (host-wide Udp NoPorts growth)."},
		true, func(st State) uint64 { return st.NoPorts }},
}

// ReceiverFamilies are the names AppendReceivers writes.
func ReceiverFamilies() []string {
	names := make([]string, len(receiverFamilies))
	for i, f := range receiverFamilies {
		names[i] = f.Name
	}
	return names
}

// AppendReceivers appends the hala_receiver_* families for rs in the
// Prometheus text format; a family without samples is left out, as
// client_golang does.
func AppendReceivers(b []byte, rs []Receiver) []byte {
	for _, f := range receiverFamilies {
		header := false
		for _, r := range rs {
			for _, st := range r.States {
				if f.udpOnly && st.Proto != UDP.String() {
					continue
				}
				for _, svc := range st.Services {
					if !header {
						b, header = f.AppendHeader(b), true
					}
					b = promtext.AppendUint(b, f.Name, promtext.Labels("backend", r.Backend, "service", svc), f.value(st))
				}
			}
		}
	}
	return b
}
