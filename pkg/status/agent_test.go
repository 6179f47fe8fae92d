package status

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/agent/stream"
	"github.com/hala-lb/hala/pkg/inventory"
)

// With agents the table gains a DROPS column: the kernel's count at the
// input's socket; without one answering, no column at all.
func TestDropsColumn(t *testing.T) {
	i, err := inventory.Parse("inv.toml", []byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Inventory: i, Timeout: 200 * time.Millisecond,
		Client: func(inventory.Logstash) (Source, error) { return &source{}, nil },
		Receivers: func(context.Context, inventory.Logstash) ([]stream.State, error) {
			return []stream.State{{Proto: "udp", Port: 5514, Services: []string{"syslog-udp"}, Up: true, Drops: 1234}}, nil
		},
	}
	st := Collect(context.Background(), cfg)
	if d := st.Rows[0].Drops; d == nil || *d != 1234 {
		t.Fatalf("drops = %v, want 1234", d)
	}
	var b bytes.Buffer
	st.WriteText(&b, false)
	head, _, _ := strings.Cut(b.String(), "\n")
	if !strings.HasSuffix(head, "DROPS") || !strings.Contains(b.String(), "1234") {
		t.Errorf("no DROPS column:\n%s", b.String())
	}

	cfg.Receivers = func(context.Context, inventory.Logstash) ([]stream.State, error) {
		return nil, errors.New("connection refused")
	}
	b.Reset()
	Collect(context.Background(), cfg).WriteText(&b, false)
	if strings.Contains(b.String(), "DROPS") {
		t.Errorf("DROPS column without an agent:\n%s", b.String())
	}
}
