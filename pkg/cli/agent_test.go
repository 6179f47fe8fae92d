package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentRefusesToStart: the checks before any socket is opened.
func TestAgentRefusesToStart(t *testing.T) {
	noAgent := filepath.Join(t.TempDir(), "no-agent.toml")
	src, err := os.ReadFile("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noAgent, []byte(strings.Replace(string(src), "port = 9611", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ex := "../../examples/two-node-director.toml"
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no agent.port", []string{"agent", "-i", noAgent, "--node", "stash1"},
			[]string{"agent.port is not set", "hala: hint: add [agent] port = 9611"}},
		{"not a logstash host", []string{"agent", "-i", ex, "--node", "nope"},
			[]string{`no [[logstash]] host named "nope"`, "hala: hint: pass this host's name with --node"}},
		{"every interface", []string{"agent", "-i", ex, "--node", "stash1", "--listen", "0.0.0.0:9611"},
			[]string{"listens on every interface"}},
		{"interval", []string{"agent", "-i", ex, "--node", "stash1", "--interval", "0s"},
			[]string{"--interval 0s: want above 0 and at most 1s"}},
		{"no inventory", []string{"agent"}, []string{`required flag(s) "inventory" not set`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runHala(t, tc.args...)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}
