package stream

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CredentialName is the systemd credential (LoadCredential=) that the
// rendered hala-agent.service passes agent.token_file under.
const CredentialName = "agent-token"

// ReadToken reads a bearer token from path, which no one but its owner
// may read (mode 0600 or 0400): the token must not leak to other users.
// Under systemd with LoadCredential=, the credential of that name wins.
func ReadToken(path string) (string, error) {
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		if p := filepath.Join(dir, CredentialName); fileExists(p) {
			path = p
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("agent token: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("agent token file %s has mode %04o: it must not be readable by group or others (run: chmod 600 %s)", path, uint32(fi.Mode().Perm()), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("agent token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("agent token file %s: want one word on one line", path)
	}
	return tok, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
