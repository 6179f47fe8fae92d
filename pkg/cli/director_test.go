package cli

import (
	"strings"
	"testing"
)

// TestDirectorRefusesToStart: the checks that come before the kernel is
// touched, each with its hint.
func TestDirectorRefusesToStart(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"inventory for keepalived", []string{"director", "-i", twoNode},
			[]string{`cluster.ipvs is "keepalived"`, `hala: hint: set ipvs = "director"`}},
		{"metrics on every interface", []string{"director", "-i", "../../examples/two-node-director.toml", "--metrics-address", "0.0.0.0:9610"},
			[]string{"listens on every interface", "hala: hint: give one address"}},
		{"metrics on every interface, no host", []string{"director", "-i", "../../examples/two-node-director.toml", "--metrics-address", ":9610"},
			[]string{"listens on every interface"}},
		{"log format", []string{"director", "-i", "../../examples/two-node-director.toml", "--log-format", "xml"},
			[]string{`--log-format "xml": want text or json`}},
		{"no inventory", []string{"director"}, []string{`required flag(s) "inventory" not set`}},
		{"a typo", []string{"director", "helth"}, []string{`unknown command "helth" for "hala director"`, `did you mean "health"?`}},
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

func TestDirectorHealthWithoutDirector(t *testing.T) {
	code, stdout, stderr := runHala(t, "director", "health", "--metrics-address", "127.0.0.1:1", "--timeout", "300ms")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "hala-director: hala director not answering on 127.0.0.1:1") {
		t.Errorf("exit %d stdout %q stderr %q; want 1 and why", code, stdout, stderr)
	}
}
