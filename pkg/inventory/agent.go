package inventory

// Agent configures hala agent, which runs on each Logstash host and
// streams its inputs' socket events to the directors ([agent]).
type Agent struct {
	// Port is where every Logstash host's hala agent serves the directors
	// (0, the default: no agents; the director relies on API checks only).
	Port int `toml:"port"`
	// TokenFile is a file (mode 0600/0400), on the Logstash hosts and the
	// directors alike, holding a bearer token the agent requires and the
	// director sends ("": no token; the firewall alone admits directors).
	TokenFile string `toml:"token_file"`
}

// AgentEnabled reports whether the Logstash hosts run hala agent.
func (inv *Inventory) AgentEnabled() bool { return inv.Agent.Port != 0 }

func (c *checker) agent() {
	a := c.inv.Agent
	if c.set("agent.port") {
		c.port("agent.port", a.Port)
		if a.Port == c.inv.Cluster.APIPort {
			c.errorf("agent.port", "%d is the Logstash API port (cluster.api_port)", a.Port)
		}
	}
	if a.TokenFile != "" {
		c.absPath("agent.token_file", a.TokenFile)
		if a.Port == 0 {
			c.warnf("agent.token_file", "set, but agent.port is not: no agent runs")
		}
	}
}
