package keepalived

import (
	"reflect"
	"strings"
	"testing"
)

// keepalived's parameters are read as keepalived reads them: "${NAME}"
// stays one word (its braces open no block, an include naming one is not
// a syntax error), "$NAME=value" definitions, braces and continuation
// lines included, are left out, and each is reported with its file:line.
// "\!" and "\#" inside a word are literal characters, not comments.
func TestParseParameters(t *testing.T) {
	conf := `$IF=eth0
$ADDRS={ 10.0.0.1 \
  10.0.0.2 }
include ${CONFDIR}/vs.conf
vrrp_instance VI_${N} {
    interface ${IF}
    virtual_router_id 51
    authentication {
        auth_type PASS
        auth_pass se\!cr\#t
    }
    virtual_ipaddress {
        10.0.0.100/24 dev $IF
    }
}
`
	cfg, err := Parse("k.conf", []byte(conf), true)
	if err != nil {
		t.Fatal(err)
	}
	want := `vrrp_instance [VI_${N}] {
  interface [${IF}]
  virtual_router_id [51]
  authentication {
    auth_type [PASS]
    auth_pass [se!cr#t]
  virtual_ipaddress {
    10.0.0.100/24 [dev] [$IF]
`
	if got := dump(cfg.Nodes); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var notes []string
	for _, n := range cfg.Notes {
		notes = append(notes, n.String())
	}
	wantNotes := []string{
		`k.conf:1: parameter definition "$IF" is not evaluated: the line is left out`,
		`k.conf:2: parameter definition "$ADDRS" is not evaluated: the line is left out`,
		`k.conf:4: include "${CONFDIR}/vs.conf" names a parameter, which is not substituted: the include is not followed`,
		`k.conf:5: parameter in "VI_${N}" is not substituted`,
		`k.conf:6: parameter in "${IF}" is not substituted`,
		`k.conf:13: parameter in "$IF" is not substituted`,
	}
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes\n%s\nwant\n%s", strings.Join(notes, "\n"), strings.Join(wantNotes, "\n"))
	}
}
