package inventory

import (
	"strings"
	"testing"
)

func TestAgentKeys(t *testing.T) {
	inv, err := Parse("x.toml", []byte(edit(t, "", "[agent]\nport = 9611\ntoken_file = \"/etc/hala/agent-token\"")))
	if err != nil {
		t.Fatal(err)
	}
	if !inv.AgentEnabled() || inv.Agent.Port != 9611 || inv.Agent.TokenFile != "/etc/hala/agent-token" {
		t.Errorf("agent = %+v", inv.Agent)
	}
	if inv, err := Parse("x.toml", []byte(base)); err != nil || inv.AgentEnabled() {
		t.Errorf("without [agent]: enabled=%v, %v; want no agents", inv != nil && inv.AgentEnabled(), err)
	}
	for _, tc := range []struct{ agent, want string }{
		{"port = 70000", "x.toml:42:1: agent.port: port 70000 is out of range 1-65535"},
		{"port = 9600", "x.toml:42:1: agent.port: 9600 is the Logstash API port (cluster.api_port)"},
		{"port = 9611\ntoken_file = \"etc/token\"", `x.toml:43:1: agent.token_file: "etc/token" must be an absolute, clean path`},
		{"port = 9611\nbogus = 1", "agent.bogus"},
	} {
		_, err := Parse("x.toml", []byte(edit(t, "", "[agent]\n"+tc.agent)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("[agent] %s: err = %v, want %q", tc.agent, err, tc.want)
		}
	}
}
