package inventory

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// A director address of 0.0.0.0 (hala import's placeholder) is rejected as
// a placeholder, testable with errors.Is, and only once: not also as a
// director outside the VIP's subnet.
func TestPlaceholderDirectorAddress(t *testing.T) {
	data, err := os.ReadFile("../../examples/two-node.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), `address = "192.168.1.220"`, `address = "0.0.0.0"`, 1)
	_, err = Parse("x.toml", []byte(src))
	if !errors.Is(err, ErrPlaceholder) {
		t.Fatalf("error %v, want ErrPlaceholder", err)
	}
	if strings.Contains(err.Error(), "is outside") {
		t.Errorf("the placeholder is also reported outside the VIP's subnet:\n%v", err)
	}
	if !strings.Contains(err.Error(), `x.toml:25:1: director[1] ("stash2").address: 0.0.0.0 is a placeholder, not a host address`) {
		t.Errorf("error %v", err)
	}
	// Elsewhere 0.0.0.0 is just not a host address.
	src = strings.Replace(string(data), "[[logstash]]\nname = \"stash2\"\naddress = \"192.168.1.220\"", "[[logstash]]\nname = \"stash2\"\naddress = \"0.0.0.0\"", 1)
	_, err = Parse("x.toml", []byte(src))
	if err == nil || errors.Is(err, ErrPlaceholder) {
		t.Errorf("logstash 0.0.0.0: %v, want an error that is not ErrPlaceholder", err)
	}
}
