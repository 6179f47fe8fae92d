//go:build linux

package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// A --netns path that is not a network namespace is reported as such, with
// what --netns takes; before, /etc/passwd gave "invalid argument" (or a
// state file of its own) and a missing path a hint about --state.
func TestNetnsPathThatIsNotANamespace(t *testing.T) {
	state := filepath.Join(t.TempDir(), "owned.json")
	const hint = "hala: hint: --netns takes a network namespace: /run/netns/NAME (ip netns list names them) or /proc/PID/ns/net\n"
	passwd := "hala: error: /etc/passwd: not a network namespace (use a path such as /run/netns/NAME or /proc/PID/ns/net)\n" + hint
	missing := "hala: error: network namespace /nonexistent: no such file or directory\n" + hint
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"ipvs", "plan", "-i", twoNode, "--netns", "/etc/passwd"}, passwd},
		{[]string{"ipvs", "apply", "-i", twoNode, "--netns", "/etc/passwd"}, passwd},
		{[]string{"ipvs", "apply", "-i", twoNode, "--netns", "/etc/passwd", "--state", state}, passwd},
		{[]string{"ipvs", "show", "--netns", "/etc/passwd"}, passwd},
		{[]string{"ipvs", "show", "--netns", "/nonexistent"}, missing},
		{[]string{"ipvs", "show", "--netns", "/nonexistent", "--state", state}, missing},
		{[]string{"vip", "show", "-i", twoNode, "--node", "stash1", "--netns", "/etc/passwd"}, passwd},
		{[]string{"vip", "del", "-i", twoNode, "--node", "stash1", "--netns", "/nonexistent"}, missing},
	} {
		code, stdout, stderr := runHala(t, tc.args...)
		if code != 1 || stdout != "" || stderr != tc.stderr {
			t.Errorf("%v: exit %d, stdout %q\nstderr %q\nwant   %q", tc.args, code, stdout, stderr, tc.stderr)
		}
		if strings.Contains(stderr, "--state") {
			t.Errorf("%v: the message speaks of --state", tc.args)
		}
	}
}
