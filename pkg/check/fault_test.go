package check

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// rawServer accepts connections on loopback and hands each to serve in its
// own goroutine; connections are closed at cleanup.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// readRequest consumes the request head so the client is waiting on us.
func readRequest(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return
		}
	}
}

func httpServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestFaults: every way a node can fail gives exit 1 with a precise
// message, and the check's deadline ends it.
func TestFaults(t *testing.T) {
	const timeout = 500 * time.Millisecond
	other := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("followed a redirect to another host")
	})
	_, otherPort, _ := net.SplitHostPort(other)
	for _, tc := range []struct {
		name  string
		addr  func(t *testing.T) string
		want  string // regexp for the message after `ADDR input "udp-5514": `
		hangs bool   // the timeout is what ends it
	}{
		{"connection refused", func(t *testing.T) string {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}, `^connect: connection refused$`, false},
		{"black hole (accepts, never answers)", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {})
		}, `^timed out after 500ms$`, true},
		{"slow headers", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				for _, b := range []byte("Content-Type: application/json\r\n") {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}, `^timed out after 500ms$`, true},
		{"drip-fed body", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
				io.WriteString(c, `{"pipelines":{"main":{"plugins":{"inputs":[`)
				for {
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		}, `^timed out after 500ms$`, true},
		{"HTTP 500", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
		}, `^HTTP 500 from API$`, false},
		{"HTTP 404 on every endpoint", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
		}, `^no node stats endpoint answered \(last: endpoint not available \(HTTP 404\)\); is this the Logstash API port\?$`, false},
		{"HTTP 401", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "who?", http.StatusUnauthorized) })
		}, `^HTTP 401 from API \(credentials\?\)$`, false},
		{"HTML error page", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<!DOCTYPE html><html><body><h1>Bad Gateway</h1></body></html>")
			})
		}, `^response is not Logstash node stats JSON \(invalid character '<' looking for beginning of value at offset 0\)$`, false},
		{"truncated JSON", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
				io.WriteString(c, `{"pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-55`)
				c.Close()
			})
		}, `^response is not Logstash node stats JSON \(unexpected end of body at offset 56\)$`, false},
		{"50 MiB body, streamed", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"pipelines":{},"pad":"`)
				chunk := []byte(strings.Repeat("x", 64<<10))
				for i := 0; i < 50<<20/len(chunk); i++ {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				io.WriteString(w, `"}`)
			})
		}, `^response body too large \(over 8 MiB\)$`, false},
		{"50 MiB body, announced", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				readRequest(c)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{", 50<<20)
			})
		}, `^response body too large \(over 8 MiB\)$`, false},
		{"redirect to another host", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://localhost:"+otherPort+"/_node/stats", http.StatusFound)
			})
		}, `^API redirected to http://localhost:` + otherPort + `/_node/stats \(another host; not followed\)$`, false},
		{"redirect to another port on the same host", func(t *testing.T) string {
			return httpServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://"+other+"/_node/stats", http.StatusFound)
			})
		}, `^API redirected to http://` + regexp.QuoteMeta(other) + `/_node/stats \(another port; not followed\): if that is the API, use --scheme http --port ` + otherPort + `$`, false},
		{"not HTTP", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
				c.Close()
			})
		}, `^not an HTTP response \(`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			timeout := timeout
			if strings.HasPrefix(tc.name, "50 MiB") {
				// Reads 8 MiB: the limit, not the deadline, must end it,
				// however slow a loaded machine under -race makes that.
				timeout = time.Minute
			}
			// The message says which deadline or limit ended the check; how
			// close to its timeout it ends is measured by the e2e table (row
			// 4), where the machine's speed is part of the result. A check
			// that ignored its deadline would hang here, which go test's own
			// -timeout reports.
			start := time.Now()
			v := run(t, addr, Options{Input: "udp-5514", Timeout: timeout})
			elapsed := time.Since(start)
			prefix := addr + ` input "udp-5514": `
			msg := v.String()
			if v.Healthy || v.ExitCode() != 1 {
				t.Errorf("healthy %v exit %d, want unhealthy exit 1", v.Healthy, v.ExitCode())
			}
			if !strings.HasPrefix(msg, prefix) || !regexp.MustCompile(tc.want).MatchString(strings.TrimPrefix(msg, prefix)) {
				t.Errorf("message %q\n want %q + /%s/", msg, prefix, tc.want)
			}
			// A lower bound only: a slow machine cannot make it fail.
			if tc.hangs && elapsed < timeout-50*time.Millisecond {
				t.Errorf("took %s: ended before the %s timeout", elapsed, timeout)
			}

			// The same fault through the real binary, as keepalived runs it:
			// exit 1, nothing on stdout, the one line on stderr, and the
			// process gone (not hung past its deadline). For the 50 MiB
			// bodies the bound is what matters: reading 8 MiB may lose the
			// race against the deadline, so a timeout is accepted too.
			want := regexp.MustCompile(tc.want)
			if strings.HasPrefix(tc.name, "50 MiB") {
				want = regexp.MustCompile(tc.want + `|^timed out after 500ms$`)
			}
			r := checkProcess(t, addr, "--timeout", "500ms")
			line := strings.TrimSuffix(r.stderr, "\n")
			if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
				!strings.HasPrefix(line, "hala-check: "+prefix) || !want.MatchString(strings.TrimPrefix(line, "hala-check: "+prefix)) {
				t.Errorf("process: exit %d stdout %q stderr %q\n want exit 1, stderr %q + /%s/", r.code, r.stdout, r.stderr, "hala-check: "+prefix, want)
			}
		})
	}
}

type procResult struct {
	code           int
	stdout, stderr string
}

// checkProcess runs `hala check [args] <host> udp-5514` against addr
// (host:port) with the built binary, as keepalived would, with no syslog.
func checkProcess(t *testing.T, addr string, args ...string) procResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args = append(append([]string{"check", "--port", port}, args...), host, "udp-5514")
	cmd := exec.Command(testutil.HalaBinary(t), args...)
	cmd.Env = append(os.Environ(), "HALA_SYSLOG_SOCKET="+filepath.Join(t.TempDir(), "no-syslog"), "HALA_STATE_DIR="+t.TempDir())
	code, stdout, stderr := testutil.Run(t, cmd)
	return procResult{code: code, stdout: stdout, stderr: stderr}
}
