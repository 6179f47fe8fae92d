package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPackageVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                   "1.2.3",
		"1.2.3":                    "1.2.3",
		"v1.2.3-4-gabc1234":        "1.2.3+4.gabc1234",
		"v1.2.3-rc1":               "1.2.3+rc1",
		"abc1234":                  "0.0.0+gabc1234",
		"abc1234-dirty":            "0.0.0+gabc1234.dirty",
		"v2.0.0-1-gdeadbeef-dirty": "2.0.0+1.gdeadbeef.dirty",
	} {
		if got, err := PackageVersion(in); err != nil || got != want {
			t.Errorf("PackageVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "dev", "v1.2.3 x", "1.2/3"} {
		if got, err := PackageVersion(bad); err == nil {
			t.Errorf("PackageVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// Each man page is titled after its command, as man shows it in the
// header line: HALA-DIRECTOR(1), not HALA(1) on every page; the director's
// page lists its exit statuses.
func TestManPagesTitledPerCommand(t *testing.T) {
	dir := t.TempDir()
	if err := manPages(dir, "v1.2.3"); err != nil {
		t.Fatal(err)
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
