package inventory

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanPositions(t *testing.T) {
	src := "# a comment with [brackets] and key = value\r\n" + // 1
		"[cluster]  # trailing comment\r\n" + // 2
		"name = \"c\"\n" + // 3
		"  \"quoted.key\" = 1\n" + // 4
		"notification_email = [\n" + // 5
		"  \"a@example.org\", # first\n" + // 6
		"  'b@example.org',\n" + // 7
		"]\n" + // 8
		"long = \"\"\"\n" + // 9
		"[not_a_table]\n" + // 10
		"not_a_key = 1 \\\"\"\"\"\n" + // 11 (ends with an escaped quote and the delimiter)
		"lit = '''\n" + // 12
		"[[also_not]]'''\n" + // 13
		"dotted.sub = 2\n" + // 14
		"\n" + // 15
		"[[director]]\n" + // 16
		"name = \"d1\"\n" + // 17
		"[[director]]\n" + // 18
		"  name = \"d2\"\n" + // 19
		"[director.extra]\n" + // 20
		"x = 1\n" + // 21
		"[ 'firewall' ]\n" + // 22
		"log_sources = [\"10.0.0.0/8\", [ 1, 2 ], \"10.1.0.0/16\"]\n" + // 23
		"inline = { a = 1, b = { c = [ 3 ] } }\n" + // 24
		"service = [ { name = \"s0\" },\n" + // 25
		"  { name = \"s1\", port = 514 } ]\n" + // 26
		"when = 1979-05-27 07:32:00Z # a date-time with a space\n" + // 27
		"after = true\n" // 28
	// The scanner only ever sees files the TOML library accepted.
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		t.Fatalf("test input is not valid TOML: %v", err)
	}
	ps := scanPositions(src)
	want := map[string]position{
		"cluster":                       {2, 1},
		"cluster.name":                  {3, 1},
		"cluster.quoted.key":            {4, 3},
		"cluster.notification_email":    {5, 1},
		"cluster.notification_email[0]": {6, 3},
		"cluster.notification_email[1]": {7, 3},
		"cluster.long":                  {9, 1},
		"cluster.lit":                   {12, 1},
		"cluster.dotted":                {14, 1},
		"cluster.dotted.sub":            {14, 1},
		"director":                      {16, 1},
		"director[0]":                   {16, 1},
		"director[0].name":              {17, 1},
		"director[1]":                   {18, 1},
		"director[1].name":              {19, 3},
		"director[1].extra":             {20, 1},
		"director[1].extra.x":           {21, 1},
		"firewall":                      {22, 1},
		"firewall.log_sources[0]":       {23, 16},
		"firewall.log_sources[1]":       {23, 30},
		"firewall.log_sources[1][1]":    {23, 35},
		"firewall.log_sources[2]":       {23, 40},
		"firewall.inline.b.c[0]":        {24, 31},
		"firewall.service[1]":           {26, 3},
		"firewall.service[1].port":      {26, 18},
		"firewall.when":                 {27, 1},
		"firewall.after":                {28, 1},
	}
	for key, p := range want {
		if got, ok := ps[key]; !ok || got != p {
			t.Errorf("%s at %v (found %v), want %v", key, got, ok, p)
		}
	}
	for _, key := range []string{"not_a_table", "cluster.not_a_key", "also_not", "cluster.\"quoted"} {
		if ps.has(key) {
			t.Errorf("scanner took string content for key %q", key)
		}
	}
	// A missing key is placed at its table.
	if got := ps.lookup("director[1].address"); got != (position{18, 1}) {
		t.Errorf("lookup of a missing key = %v, want its [[director]] header 18:1", got)
	}
	if got := ps.lookup("vip[0].name"); got != (position{}) {
		t.Errorf("lookup in a missing table = %v, want unknown", got)
	}
}
