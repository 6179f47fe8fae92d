package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// hala-agent.service is rendered for each Logstash host when agent.port
// is set, runs with no capability, and systemd accepts it as written;
// so does the packaged one.
func TestAgentUnit(t *testing.T) {
	inv, err := inventory.Load("../../examples/two-node-director.toml")
	if err != nil {
		t.Fatal(err)
	}
	inv.Agent.TokenFile = "/etc/hala/agent-token"
	files, err := render.Node(inv, "stash2")
	if err != nil {
		t.Fatal(err)
	}
	var unit string
	for _, f := range files {
		if f.Path == "stash2/"+render.AgentUnitPath {
			unit = string(f.Data)
		}
	}
	for _, line := range []string{
		"ExecStart=/usr/bin/hala agent -i ${CREDENTIALS_DIRECTORY}/inventory --node stash2",
		"LoadCredential=inventory:/etc/hala/inventory.toml",
		"LoadCredential=agent-token:/etc/hala/agent-token",
		"DynamicUser=yes",
		"CapabilityBoundingSet=",
		"AmbientCapabilities=",
	} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("rendered unit lacks %q:\n%s", line, unit)
		}
	}
	packaged, err := render.PackagedAgentUnit("/usr/bin/hala")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(packaged), "\nExecStart=/usr/bin/hala agent -i ${CREDENTIALS_DIRECTORY}/inventory $HALA_AGENT_ARGS\n") {
		t.Errorf("packaged unit:\n%s", packaged)
	}
	inv.Agent.Port = 0
	files, err = render.Node(inv, "stash2")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, render.AgentUnitPath) {
			t.Errorf("agent.port unset, yet %s rendered", f.Path)
		}
	}

	bin := testutil.RequireTool(t, "systemd-analyze")
	for name, data := range map[string]string{"rendered": unit, "packaged": string(packaged)} {
		path := filepath.Join(t.TempDir(), render.AgentUnitPath)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "verify", path).CombinedOutput()
		var findings []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.Contains(l, "/bin/hala is not executable: No such file or directory") {
				findings = append(findings, l)
			}
		}
		if len(findings) > 0 {
			t.Errorf("systemd-analyze verify %s unit: %v\n%s", name, err, out)
		}
	}
}
