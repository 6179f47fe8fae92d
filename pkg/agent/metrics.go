package agent

import (
	"github.com/hala-lb/hala/pkg/internal/promtext"
)

// Receiver is one Logstash host's inputs as an agent reports them.
type Receiver struct {
	Backend string
	States  []State
}

// The hala_receiver_* families: the agent exports its own host, the
// director every agent it hears from, under the same names.
var (
	famSocketUp = promtext.Family{Name: "hala_receiver_socket_up", Type: "gauge",
		Help: "1 while a socket is bound to receive the service's input on the backend, per hala agent."}
	famDrops = promtext.Family{Name: "hala_receiver_drops_total", Type: "counter",
		Help: "Packets the backend's kernel dropped at the input's sockets (receive buffer full), per hala agent."}
	famQueue = promtext.Family{Name: "hala_receiver_queue_bytes", Type: "gauge",
		Help: "Bytes waiting in the input's receive queues (TCP: connections waiting for accept)."}
	famNoPorts = promtext.Family{Name: "hala_receiver_noports_total", Type: "counter",
		Help: "UDP datagrams the backend's kernel found no socket for while the input was down (host-wide Udp NoPorts growth)."}
)

// ReceiverFamilies are the names AppendReceivers writes.
func ReceiverFamilies() []string {
	return []string{famSocketUp.Name, famDrops.Name, famQueue.Name, famNoPorts.Name}
}

// AppendReceivers appends the hala_receiver_* families for rs in the
// Prometheus text format; a family without samples is left out, as
// client_golang does.
func AppendReceivers(b []byte, rs []Receiver) []byte {
	for _, f := range []promtext.Family{famSocketUp, famDrops, famQueue, famNoPorts} {
		header := false
		for _, r := range rs {
			for _, st := range r.States {
				if f == famNoPorts && st.Proto != UDP.String() {
					continue
				}
				var v uint64
				switch f {
				case famSocketUp:
					if st.Up {
						v = 1
					}
				case famDrops:
					v = st.Drops
				case famQueue:
					v = st.QueueBytes
				case famNoPorts:
					v = st.NoPorts
				}
				for _, svc := range st.Services {
					if !header {
						b, header = f.AppendHeader(b), true
					}
					b = promtext.AppendUint(b, f.Name, promtext.Labels("backend", r.Backend, "service", svc), v)
				}
			}
		}
	}
	return b
}
