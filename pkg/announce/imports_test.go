package announce

import (
	"os/exec"
	"strings"
	"testing"
)

// Only this package imports GoBGP, and only pkg/director imports this
// package: every other hala command (hala check above all) stays free of
// GoBGP's packages and their init.
func TestImportedOnlyByDirector(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list packages")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/hala-lb/hala/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/hala-lb/hala/pkg/announce"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			switch {
			case strings.HasPrefix(imp, "github.com/osrg/gobgp") && pkg != self:
				t.Errorf("%s imports %s: only pkg/announce may import GoBGP", pkg, imp)
			case imp == self && pkg != "github.com/hala-lb/hala/pkg/director":
				t.Errorf("%s imports pkg/announce: only pkg/director may", pkg)
			}
		}
	}
}
