package logstash

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxAuthFile bounds the auth file's size.
const maxAuthFile = 4096

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

// ReadAuthFile reads "user:password" from path, one line (a final newline
// is optional). The file must be a regular file that group and others
// cannot access (mode 0600 or 0400), so the password is never on a command
// line or world-readable.
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
	data, err := io.ReadAll(io.LimitReader(f, maxAuthFile+1))
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	if len(data) > maxAuthFile {
		return nil, fmt.Errorf("auth file %s: over %d bytes: want one line \"user:password\"", path, maxAuthFile)
	}
	// A second line would be ignored, or meant as part of the password:
	// either way not what the file's author expects.
	line, rest, _ := strings.Cut(string(data), "\n")
	if strings.TrimRight(rest, "\r\n") != "" {
		return nil, fmt.Errorf("auth file %s: %d lines: want one line \"user:password\"", path, strings.Count(strings.TrimRight(string(data), "\r\n"), "\n")+1)
	}
	line = strings.TrimSuffix(line, "\r")
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" {
		return nil, fmt.Errorf("auth file %s: want one line \"user:password\"", path)
	}
	return &Credentials{Username: user, Password: pass}, nil
}
