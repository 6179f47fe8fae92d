package render

import (
	"net/netip"

	"github.com/hala-lb/hala/pkg/inventory"
)

// AgentUnitPath is hala agent's systemd unit on a Logstash host (with
// agent.port set).
const AgentUnitPath = "hala-agent.service"

type agentUnitData struct {
	Cluster, Node, HalaPath, Inventory, TokenFile string
	// Generic is the packaged unit: no cluster or node of its own.
	Generic bool
}

// agentUnit renders Logstash host l's hala-agent.service.
func (r *renderer) agentUnit(l inventory.Logstash) ([]byte, error) {
	return execute("hala-agent.service.tmpl", agentUnitData{
		Cluster: r.inv.Cluster.Name, Node: l.Name, HalaPath: r.inv.Cluster.HalaPath,
		Inventory: DirectorInventory, TokenFile: r.inv.Agent.TokenFile,
	}, 2048)
}

// PackagedAgentUnit renders the hala-agent.service that the .deb and .rpm
// install: it reads DirectorInventory and takes this host's flags
// (--node NAME) from /etc/default/hala-agent. A token file must be
// added with a drop-in (LoadCredential=agent-token:FILE).
func PackagedAgentUnit(halaPath string) ([]byte, error) {
	return execute("hala-agent.service.tmpl", agentUnitData{HalaPath: halaPath, Inventory: DirectorInventory, Generic: true}, 2048)
}

// agentRules admits the directors, and no one else, to Logstash host l's
// hala agent.
func (r *renderer) agentRules(l inventory.Logstash) ruleGroup {
	var rules ruleSet
	for _, d := range r.inv.Directors {
		if d.Address == l.Address || d.Address.Is4() != l.Address.Is4() {
			continue
		}
		rules.add(portRule(netip.PrefixFrom(d.Address, d.Address.BitLen()), l.Address, r.inv.Agent.Port, "tcp"))
	}
	return ruleGroup{Why: "hala agent's stream (agent.port) only from the directors.", Rules: rules.rules}
}
