package main

import "testing"

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
