package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateExample(t *testing.T) {
	for _, args := range [][]string{{"validate", "-i", twoNode}, {"validate", twoNode}} {
		code, stdout, stderr := runHala(t, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if want := twoNode + ": ok (2 directors, 2 logstash hosts, 1 VIP, 1 service)\n"; stdout != want {
			t.Errorf("%v: stdout %q, want %q", args, stdout, want)
		}
	}
}

// An invalid inventory exits 1 and lists every problem on its own line,
// with file, line, column and key path; nothing goes to stdout.
func TestValidateListsEveryProblem(t *testing.T) {
	data, err := os.ReadFile(twoNode)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), `vip = "logs"`, `vip = "logz"`, 1)
	src = strings.Replace(src, `router_id = 1 `, `router_id = 300`, 1)
	file := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "validate", "-i", file)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	want := "hala: error: " + file + ": 2 problems:\n" +
		file + ":40:1: vip[0] (\"logs\").router_id: 300 is out of range 1-255\n" +
		file + ":45:1: service[0] (\"syslog-udp\").vip: \"logz\" names no [[vip]] (known: \"logs\")\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
}

func TestValidatePrintsWarnings(t *testing.T) {
	data, err := os.ReadFile(twoNode)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), `scheduler = "rr"`, `scheduler = "lc"`, 1)
	file := filepath.Join(t.TempDir(), "warn.toml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHala(t, "validate", file)
	if code != 0 || !strings.HasSuffix(stdout, ": ok (2 directors, 2 logstash hosts, 1 VIP, 1 service)\n") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if !strings.HasPrefix(stderr, "hala: warning: "+file+":") || !strings.Contains(stderr, `one_packet: with scheduler "lc" sends every datagram to one backend`) {
		t.Errorf("stderr %q", stderr)
	}
}

func TestValidateUsage(t *testing.T) {
	code, _, stderr := runHala(t, "validate")
	if code != 1 || stderr != "hala: error: no inventory given\nhala: hint: hala validate -i FILE\n" {
		t.Errorf("no file: exit %d, %q", code, stderr)
	}
	code, _, stderr = runHala(t, "validate", "-i", "nope.toml")
	if code != 1 || !strings.HasPrefix(stderr, "hala: error: read inventory: open nope.toml: ") {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
}

// A device is refused before it is read: /dev/zero would never end.
func TestValidateRefusesADevice(t *testing.T) {
	code, _, stderr := runHala(t, "validate", "-i", "/dev/zero")
	if want := "hala: error: /dev/zero: not a regular file (a character device): an inventory is a TOML file\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, %q, want 1, %q", code, stderr, want)
	}
}
