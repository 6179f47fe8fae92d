package testutil

import (
	"strings"
	"testing"
)

func TestNodeStatsSetsTheInputID(t *testing.T) {
	if !strings.Contains(string(NodeStats("")), nodeStats88InputID) {
		t.Fatal("captured body lacks its generator input id")
	}
	body := string(NodeStats("udp-5514"))
	if !strings.Contains(body, `"id": "udp-5514"`) && !strings.Contains(body, `"id":"udp-5514"`) {
		t.Fatalf("NodeStats(udp-5514) has no input with that id:\n%s", body)
	}
	if strings.Contains(body, nodeStats88InputID) {
		t.Error("NodeStats(udp-5514) still holds the captured id")
	}
}
