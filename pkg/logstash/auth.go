package logstash

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// AuthFileEnv names the environment variable that may point to the auth file.
const AuthFileEnv = "HALA_API_AUTH_FILE"

// Credentials for the API's HTTP basic auth (api.auth.type: basic).
type Credentials struct {
	Username string
	Password string
}

// String shows the user name only, never the password.
func (c Credentials) String() string { return fmt.Sprintf("user %q", c.Username) }

// InsecureModeError means the auth file can be read by group or others.
type InsecureModeError struct {
	Path string
	Mode os.FileMode
}

func (e *InsecureModeError) Error() string {
	return fmt.Sprintf("auth file %s has mode %04o: it must not be readable by group or others (run: chmod 600 %s)", e.Path, uint32(e.Mode.Perm()), e.Path)
}

// ReadAuthFile reads "user:password" from the first line of path. The file
// must be a regular file that group and others cannot access (mode 0600 or
// 0400), so the password is never on a command line or world-readable.
func ReadAuthFile(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("auth file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &InsecureModeError{Path: path, Mode: fi.Mode()}
	}
	line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	line = strings.TrimRight(line, "\r\n")
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" {
		return nil, fmt.Errorf("auth file %s: want one line \"user:password\"", path)
	}
	return &Credentials{Username: user, Password: pass}, nil
}
