package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadToken(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := ReadToken(write("ok", "s3cret\n", 0o600)); err != nil || tok != "s3cret" {
		t.Errorf("owner-only file: %q, %v", tok, err)
	}
	if _, err := ReadToken(write("open", "s3cret\n", 0o644)); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("world-readable file: err = %v", err)
	}
	if _, err := ReadToken(write("two", "a b\n", 0o600)); err == nil || !strings.Contains(err.Error(), "one word") {
		t.Errorf("two words: err = %v", err)
	}
	// systemd's credential wins over the configured path.
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, CredentialName), []byte("fromsystemd"), 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	if tok, err := ReadToken(filepath.Join(dir, "unreadable-here")); err != nil || tok != "fromsystemd" {
		t.Errorf("credential: %q, %v", tok, err)
	}
}
