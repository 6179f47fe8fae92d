package cli

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// dropListener ends, without a word, each connection whose first byte is
// of the other protocol: Logstash's API closes on a TLS ClientHello at its
// plain-http port, and on plain HTTP at its TLS port.
type dropListener struct {
	net.Listener
	tls bool // the server speaks TLS: drop what is not a TLS handshake
}

func (l dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, tls: l.tls, r: bufio.NewReader(c)}, nil
}

type dropConn struct {
	net.Conn
	tls     bool
	r       *bufio.Reader
	checked bool
}

func (c *dropConn) Read(p []byte) (int, error) {
	if !c.checked {
		c.checked = true
		// 0x16 is a TLS handshake record.
		if b, err := c.r.Peek(1); err == nil && (b[0] == 0x16) != c.tls {
			c.Conn.Close()
			return 0, io.EOF
		}
	}
	return c.r.Read(p)
}

// statsServer serves a real Logstash 8.8 node stats body holding input
// udp-5514; with tls over TLS; with logstashLike it closes on the wrong
// protocol as Logstash does, else it answers as Go's server does (an HTTP
// 400 either way).
func statsServer(t *testing.T, tls, logstashLike bool) *httptest.Server {
	t.Helper()
	body := testutil.NodeStats("udp-5514")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if logstashLike {
		srv.Listener = dropListener{Listener: srv.Listener, tls: tls}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// writeCA writes a PEM file holding a CA certificate of its own, not the
// one that signed httptest's server certificate.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, "other-ca.pem", der)
}

func writePEM(t *testing.T, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckSchemeAndCAMessages: a wrong --scheme or --ca fails with a line
// that says what the server speaks or who signed it and which flag to
// change, through the binary keepalived runs.
func TestCheckSchemeAndCAMessages(t *testing.T) {
	env := []string{"HALA_SYSLOG_SOCKET=" + filepath.Join(t.TempDir(), "none"), "HALA_STATE_DIR=" + t.TempDir()}
	goTLS := statsServer(t, true, false)
	goodCA := writePEM(t, "ca.pem", goTLS.Certificate().Raw)
	otherCA := writeCA(t)
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		args []string
		want string // the line after `ADDR input "udp-5514"`; "" = healthy
	}{
		{"https to Logstash's plain port", statsServer(t, false, true), []string{"--scheme", "https"},
			`: the API seems to speak http, not https (TLS handshake: `},
		{"https to Go's plain server", statsServer(t, false, false), []string{"--scheme", "https"},
			`: the API seems to speak http, not https (TLS handshake got an HTTP answer): use --scheme http (api_scheme in the inventory)`},
		{"http to Logstash's TLS port", statsServer(t, true, true), nil,
			`: the API seems to speak https, not http (connection closed before a response): use --scheme https (api_scheme in the inventory)`},
		{"http to Go's TLS server", goTLS, nil,
			`: the API seems to speak https, not http (HTTP 400: "Client sent an HTTP request to an HTTPS server."): use --scheme https (api_scheme in the inventory)`},
		{"https without --ca", goTLS, []string{"--scheme", "https"},
			`: TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority (give the CA with --ca)`},
		{"https with another CA", goTLS, []string{"--scheme", "https", "--ca", otherCA},
			`: TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority: the CA in ` + otherCA + ` did not sign it (is that file the CA that issued the API's certificate?)`},
		{"https with the right CA", goTLS, []string{"--scheme", "https", "--ca", goodCA}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port, _ := net.SplitHostPort(tc.srv.Listener.Addr().String())
			args := append(append([]string{"--port", port}, tc.args...), host, "udp-5514")
			r := checkProcess(t, env, args...)
			if tc.want == "" {
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d stderr %q, want healthy", r.code, r.stderr)
				}
				return
			}
			prefix := "hala-check: " + host + ":" + port + ` input "udp-5514"`
			line := strings.TrimPrefix(strings.TrimSuffix(r.stderr, "\n"), prefix)
			if r.code != 1 || !strings.HasPrefix(r.stderr, prefix) || !strings.HasPrefix(line, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d stderr %q\n want exit 1 and %q", r.code, r.stderr, prefix+tc.want+"...")
			}
			if strings.Contains(tc.name, "Logstash's plain port") && !strings.HasSuffix(line, "): use --scheme http (api_scheme in the inventory)") {
				t.Errorf("stderr %q: no --scheme http advice", r.stderr)
			}
		})
	}
}
