package agent

import "github.com/prometheus/client_golang/prometheus"

// Receiver is one Logstash host's inputs as an agent reports them.
type Receiver struct {
	Backend string
	States  []State
}

// ReceiverCollector exports hala_receiver_* per service and backend from
// receivers, read at each scrape: the agent exports its own host, the
// director every agent it hears from, under the same names.
type ReceiverCollector struct {
	receivers func() []Receiver
}

// NewReceiverCollector returns a collector over receivers.
func NewReceiverCollector(receivers func() []Receiver) *ReceiverCollector {
	return &ReceiverCollector{receivers: receivers}
}

var (
	receiverLabels = []string{"service", "backend"}
	descSocketUp   = prometheus.NewDesc("hala_receiver_socket_up",
		"1 while a socket is bound to receive the service's input on the backend, per hala agent.", receiverLabels, nil)
	descDrops = prometheus.NewDesc("hala_receiver_drops_total",
		"Packets the backend's kernel dropped at the input's sockets (receive buffer full), per hala agent.", receiverLabels, nil)
	descQueue = prometheus.NewDesc("hala_receiver_queue_bytes",
		"Bytes waiting in the input's receive queues (TCP: connections waiting for accept).", receiverLabels, nil)
	descNoPorts = prometheus.NewDesc("hala_receiver_noports_total",
		"UDP datagrams the backend's kernel found no socket for while the input was down (host-wide Udp NoPorts growth).", receiverLabels, nil)
)

// Describe implements prometheus.Collector.
func (c *ReceiverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSocketUp, descDrops, descQueue, descNoPorts} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ReceiverCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.receivers() {
		for _, st := range r.States {
			up := 0.0
			if st.Up {
				up = 1
			}
			for _, svc := range st.Services {
				ch <- prometheus.MustNewConstMetric(descSocketUp, prometheus.GaugeValue, up, svc, r.Backend)
				ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(st.Drops), svc, r.Backend)
				ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.QueueBytes), svc, r.Backend)
				if st.Proto == UDP.String() {
					ch <- prometheus.MustNewConstMetric(descNoPorts, prometheus.CounterValue, float64(st.NoPorts), svc, r.Backend)
				}
			}
		}
	}
}
