package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// dump prints a tree one statement a line, indented by depth, with each
// argument quoted so that spaces inside one are visible.
func dump(nodes []*Node) string {
	var b strings.Builder
	var walk func([]*Node, int)
	walk = func(ns []*Node, depth int) {
		for _, n := range ns {
			b.WriteString(strings.Repeat("  ", depth) + n.Name)
			for _, a := range n.Args {
				b.WriteString(" [" + a + "]")
			}
			if n.Block {
				b.WriteString(" {")
			}
			b.WriteString("\n")
			walk(n.Children, depth+1)
		}
	}
	walk(nodes, 0)
	return b.String()
}

func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"comments", "a 1 # x\n! whole line\nb 2 ! y\n", "a [1]\nb [2]\n"},
		{"quoted", `misc_path "/bin/x a b" c` + "\n", "misc_path [/bin/x a b] [c]\n"},
		{"quoted keeps comment characters", `p "a # b ! c"` + "\n", "p [a # b ! c]\n"},
		{"escaped quote", `p "say \"hi\" \\ ok"` + "\n", `p [say "hi" \ ok]` + "\n"},
		{"inline block", "v { 1.2.3.4 dev eth0 }\nw 1\n", "v {\n  1.2.3.4 [dev] [eth0]\nw [1]\n"},
		{"brace next line", "vs 1.2.3.4 80\n{\n  lb_algo rr\n}\n", "vs [1.2.3.4] [80] {\n  lb_algo [rr]\n"},
		{"attached braces", "a{b 1}\n", "a {\n  b [1]\n"},
		{"empty block", "notification_email {\n}\n", "notification_email {\n"},
		{"continuation", "a 1 \\\n  2\nb\n", "a [1] [2]\nb\n"},
		{"crlf", "a 1\r\nb {\r\n c\r\n}\r\n", "a [1]\nb {\n  c\n"},
		{"nested", "x {\n y {\n  z 1\n }\n q\n}\n", "x {\n  y {\n    z [1]\n  q\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("k.conf", []byte(tc.in), false)
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(cfg.Nodes); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unclosed block", "a 1\nvrrp_instance VI_1 {\n state MASTER\n", `k.conf:2: block "vrrp_instance" is never closed`},
		{"extra close", "a {\n}\n}\n", "k.conf:3: '}' closes no block"},
		{"unterminated quote", "a 1\nmisc_path \"/bin/x\n", "k.conf:2: unterminated quoted string"},
		{"brace alone at start", "{\n}\n", "k.conf:1: '{' without a keyword"},
		{"include arguments", "include a b\n", "k.conf:1: include takes one file"},
		{"too deep", strings.Repeat("a {\n", MaxDepth+2), "blocks nested deeper than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k.conf", []byte(tc.in), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
		})
	}
}

func TestLoadSeed(t *testing.T) {
	cfg, err := Load("testdata/seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := `global_defs {
  notification_email {
    notification@domain.org
  notification_email_from [keepalived@domain.org]
  smtp_server [localhost]
  smtp_connect_timeout [30]
  router_id [LVS_MASTER]
vrrp_instance [VI_1] {
  state [MASTER]
  interface [ens33]
  virtual_router_id [1]
  priority [100]
  authentication {
    auth_type [PASS]
    auth_pass [secret42]
  virtual_ipaddress {
    192.168.1.230/24
virtual_server [192.168.1.230] [5514] {
  delay_loop [5]
  lb_algo [rr]
  lb_kind [NAT]
  ops
  protocol [UDP]
  real_server [192.168.1.210] [5514] {
    MISC_CHECK {
      misc_path [/bin/python /etc/keepalived/inputstatus.py 192.168.1.210 udp-5514]
  real_server [192.168.1.220] [5514] {
    MISC_CHECK {
      misc_path [/bin/python /etc/keepalived/inputstatus.py 192.168.1.220 udp-5514]
`
	if got := dump(cfg.Nodes); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if vs := First(cfg.Nodes, "virtual_server"); vs == nil || vs.Pos.Line != 33 {
		t.Errorf("virtual_server at %v, want testdata/seed.conf:33", vs)
	}
	if len(cfg.Notes) != 0 {
		t.Errorf("notes %v, want none", cfg.Notes)
	}
}

func TestLoadIncludeGlobRelative(t *testing.T) {
	// Run from another directory: include paths are relative to the
	// including file, not to the working directory.
	abs, err := filepath.Abs("testdata/include/keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cfg, err := Load(abs)
	if err != nil {
		t.Fatal(err)
	}
	want := `global_defs {
  router_id [stash1]
vrrp_instance [VI_1] {
  virtual_router_id [1]
  virtual_ipaddress {
    192.168.1.230/24 [dev] [ens33]
vrrp_instance [VI_2] {
  interface [$IFACE]
  virtual_router_id [2]
virtual_server [192.168.1.230] [5514] {
  protocol [UDP]
  real_server [192.168.1.210] [5514] {
    MISC_CHECK {
      misc_path [/usr/local/bin/hala check -- 192.168.1.210 "udp 5514"]
`
	if got := dump(cfg.Nodes); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	dir := filepath.Dir(abs)
	more := filepath.Join(dir, "conf.d", "20-more.conf")
	wantNotes := []string{
		more + `:1: conditional "@stash2" is not evaluated: the line is left out`,
		more + `:2: parameter definition "$IFACE" is not evaluated: the line is left out`,
		more + `:4: parameter in "$IFACE" is not substituted`,
	}
	var notes []string
	for _, n := range cfg.Notes {
		notes = append(notes, n.String())
	}
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes\n%s\nwant\n%s", strings.Join(notes, "\n"), strings.Join(wantNotes, "\n"))
	}
	if len(cfg.Files) != 4 {
		t.Errorf("files %v, want the main file and 3 included", cfg.Files)
	}
	if vs := First(cfg.Nodes, "virtual_server"); vs.Pos != (Pos{File: abs, Line: 6}) {
		t.Errorf("virtual_server at %v, want %s:6", vs.Pos, abs)
	}
	rs := First(First(cfg.Nodes, "virtual_server").Children, "real_server")
	if rs.Pos.File != filepath.Join(dir, "real", "a.conf") || rs.Pos.Line != 1 {
		t.Errorf("real_server at %v, want real/a.conf:1", rs.Pos)
	}
}

func TestLoadIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loop := write("loop.conf", "include loop.conf\n")
	none := write("none.conf", "a 1\ninclude missing/*.conf\n")
	tests := []struct{ path, want string }{
		{loop, "nested includes"},
		{none, none + `:2: include "missing/*.conf" matches no file`},
		{filepath.Join(dir, "absent.conf"), "no such file"},
		{dir, "not a regular file"},
	}
	for _, tc := range tests {
		_, err := Load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s): error %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestParseWithoutFollowNotesInclude(t *testing.T) {
	cfg, err := Parse("k.conf", []byte("a\ninclude /etc/keepalived/*.conf\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Notes) != 1 || cfg.Notes[0].String() != `k.conf:2: include "/etc/keepalived/*.conf" is not followed` {
		t.Errorf("notes %v", cfg.Notes)
	}
}
