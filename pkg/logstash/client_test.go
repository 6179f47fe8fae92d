package logstash

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiServer is a real HTTP server on loopback answering the paths in
// bodies (404 otherwise) and recording every request path.
type apiServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newAPIServer(t *testing.T, bodies map[string][]byte) *apiServer {
	s := &apiServer{}
	s.Server = httptest.NewServer(s.handler(bodies))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) handler(bodies map[string][]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.Error(w, `{"status":404}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func (s *apiServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// clientFor returns a client aimed at a test server's URL.
func clientFor(t *testing.T, rawURL string, cfg Config) *Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	if cfg.Scheme == "" {
		cfg.Scheme = u.Scheme
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx2s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNodeStatsEndpoints(t *testing.T) {
	v8 := readTestdata(t, "node_stats-8.15-kuskoman.json")
	v5 := readTestdata(t, "node_stats-5.6-bonniernews.json")
	v5p := readTestdata(t, "node_stats_pipeline-5.3-telegraf.json")
	for _, tc := range []struct {
		name     string
		bodies   map[string][]byte
		pipeline string
		want     []string // request paths, in order
		pipes    int
	}{
		{"6.0+ any pipeline: one request", map[string][]byte{"/_node/stats/pipelines": v8, "/_node/stats": v8}, "",
			[]string{"/_node/stats/pipelines"}, 2},
		{"6.0+ one pipeline: one narrow request", map[string][]byte{"/_node/stats/pipelines/main": v8, "/_node/stats": v8}, "main",
			[]string{"/_node/stats/pipelines/main"}, 2},
		{"5.x: falls back to /_node/stats/pipeline", map[string][]byte{"/_node/stats/pipeline": v5p, "/_node/stats": v5}, "main",
			[]string{"/_node/stats/pipelines/main", "/_node/stats/pipeline"}, 1},
		{"unknown pipeline: ends at /_node/stats", map[string][]byte{"/_node/stats": v8}, "nope",
			[]string{"/_node/stats/pipelines/nope", "/_node/stats/pipeline", "/_node/stats"}, 2},
		{"/_node/stats/pipeline without pipelines: next endpoint", map[string][]byte{
			"/_node/stats/pipeline": readTestdata(t, "node_stats_jvm-6.4-telegraf.json"), "/_node/stats": v8}, "x",
			[]string{"/_node/stats/pipelines/x", "/_node/stats/pipeline", "/_node/stats"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIServer(t, tc.bodies)
			s, err := clientFor(t, srv.URL, Config{}).NodeStats(ctx2s(t), tc.pipeline)
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.requests(); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("requests %q, want %q", got, tc.want)
			}
			if len(s.Pipelines) != tc.pipes {
				t.Errorf("%d pipelines, want %d", len(s.Pipelines), tc.pipes)
			}
		})
	}
}

func TestPipelineIDIsEscaped(t *testing.T) {
	srv := newAPIServer(t, nil)
	clientFor(t, srv.URL, Config{}).NodeStats(ctx2s(t), "a/b c")
	if got := srv.requests(); len(got) == 0 || got[0] != "/_node/stats/pipelines/a/b c" {
		// The server sees the decoded path; what matters is that the
		// request was well-formed and reached it.
		t.Errorf("requests %q", got)
	}
}

func TestRedirects(t *testing.T) {
	body := readTestdata(t, "node_stats-8.15-kuskoman.json")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the client followed a redirect to another host: %s", r.URL)
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/_node/stats/pipelines", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	mux.HandleFunc("/_node/stats/pipelines/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/_node/stats", http.StatusMovedPermanently)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := clientFor(t, srv.URL, Config{})

	if _, err := c.NodeStats(ctx2s(t), ""); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
	_, err := c.NodeStats(ctx2s(t), "elsewhere")
	var re *RedirectError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), other.URL+"/_node/stats") {
		t.Fatalf("err %v, want a RedirectError naming %s", err, other.URL)
	}
}

func TestHTTPStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{401, "HTTP 401 from API (credentials?)"},
		{403, "HTTP 403 from API (credentials?)"},
		{500, "HTTP 500 from API"},
		{503, "HTTP 503 from API"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", tc.status)
		}))
		_, err := clientFor(t, srv.URL, Config{}).NodeStats(ctx2s(t), "")
		srv.Close()
		var he *HTTPError
		if !errors.As(err, &he) || err.Error() != tc.want {
			t.Errorf("status %d: err %v, want %q", tc.status, err, tc.want)
		}
	}
}

func TestHealthReportEndpoint(t *testing.T) {
	srv := newAPIServer(t, map[string][]byte{"/_health_report": readTestdata(t, "health_report_example_terminated-9.x-openapi.json")})
	rep, err := clientFor(t, srv.URL, Config{}).HealthReport(ctx2s(t))
	if err != nil {
		t.Fatal(err)
	}
	if ph := rep.Pipelines["abnormal-termination-pipeline"]; ph.State != "TERMINATED" {
		t.Errorf("pipelines %v", rep.Pipelines)
	}
	old := newAPIServer(t, nil) // before 8.16: 404
	if _, err := clientFor(t, old.URL, Config{}).HealthReport(ctx2s(t)); !errors.Is(err, ErrNoHealthReport) {
		t.Errorf("err %v, want ErrNoHealthReport", err)
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the server's tls.Config and the CA's PEM file.
func testCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hala test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "logstash"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, caFile
}

func TestTLS(t *testing.T) {
	serverTLS, caFile := testCA(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(readTestdata(t, "node_stats-8.15-kuskoman.json"))
	}))
	srv.TLS = serverTLS
	srv.StartTLS()
	defer srv.Close()

	if _, err := clientFor(t, srv.URL, Config{CAFile: caFile}).NodeStats(ctx2s(t), ""); err != nil {
		t.Errorf("with the CA: %v", err)
	}
	_, err := clientFor(t, srv.URL, Config{}).NodeStats(ctx2s(t), "")
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("without the CA: err %v, want unknown authority (verification is on by default)", err)
	}
	if _, err := clientFor(t, srv.URL, Config{Insecure: true}).NodeStats(ctx2s(t), ""); err != nil {
		t.Errorf("with Insecure: %v", err)
	}
	if _, err := New(Config{Host: "127.0.0.1", Insecure: true}); err == nil {
		t.Error("Insecure accepted with scheme http")
	}
}

func writeAuthFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api-auth")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestBasicAuth(t *testing.T) {
	body := readTestdata(t, "node_stats-8.15-kuskoman.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "logstash_system" || p != "s3cr:et" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	creds, err := ReadAuthFile(writeAuthFile(t, "logstash_system:s3cr:et\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientFor(t, srv.URL, Config{Credentials: creds}).NodeStats(ctx2s(t), ""); err != nil {
		t.Errorf("with a 0600 auth file: %v", err)
	}
	if s := creds.String(); strings.Contains(s, "s3cr") {
		t.Errorf("Credentials.String shows the password: %s", s)
	}
	_, err = clientFor(t, srv.URL, Config{}).NodeStats(ctx2s(t), "")
	if err == nil || err.Error() != "HTTP 401 from API (credentials?)" {
		t.Errorf("without credentials: %v", err)
	}

	p := writeAuthFile(t, "logstash_system:s3cr:et\n", 0o644)
	_, err = ReadAuthFile(p)
	var ime *InsecureModeError
	if !errors.As(err, &ime) || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Errorf("0644 file: err %v, want a refusal naming mode 0644 and chmod 600", err)
	}
	if _, err := ReadAuthFile(writeAuthFile(t, "nocolon\n", 0o400)); err == nil {
		t.Error("accepted an auth file without user:password")
	}
}
