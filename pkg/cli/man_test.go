package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each man page is titled after its command, as man shows it in the
// header line: HALA-DIRECTOR(1), not HALA(1) on every page; the director's
// page lists its exit statuses.
func TestManPagesTitledPerCommand(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runHala(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("hala man: exit %d: %s", code, stderr)
	}
	for page, title := range map[string]string{
		"hala.1":                 `"HALA"`,
		"hala-director.1":        `"HALA-DIRECTOR"`,
		"hala-director-health.1": `"HALA-DIRECTOR-HEALTH"`,
		"hala-render.1":          `"HALA-RENDER"`,
	} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n.TH "+title+` "1" `) {
			t.Errorf("%s: no .TH %s 1 in\n%.200s", page, title, data)
		}
		if page == "hala-director.1" && !strings.Contains(string(data), "78 (EX_CONFIG)") {
			t.Errorf("%s lacks the exit statuses", page)
		}
	}
}
