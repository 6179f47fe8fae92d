package logstash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultPort is the Logstash monitoring API's default port.
const DefaultPort = 9600

// Config says how to reach one node's monitoring API.
type Config struct {
	// Host is the node's address (an IP, or a name).
	Host string
	// Port defaults to DefaultPort.
	Port int
	// Scheme is "http" (default) or "https".
	Scheme string
	// CAFile is a PEM bundle that replaces the system roots for https.
	CAFile string
	// Insecure skips TLS certificate verification (explicit opt-in only).
	Insecure bool
	// Credentials for HTTP basic auth; nil sends none.
	Credentials *Credentials
	// MaxBody limits every response body; 0 means DefaultMaxBody.
	MaxBody int64
	// KeepAlive keeps the connection open between requests (hala director,
	// which asks every interval); hala check, one short process, does not.
	KeepAlive bool
	// Observe, when set, is called after each HTTP exchange (for reports).
	Observe func(Exchange)
}

// Exchange records one HTTP request and what came back.
type Exchange struct {
	Method  string
	URL     string
	Status  int // 0 when no response arrived
	Bytes   int64
	Elapsed time.Duration
	Err     error
}

// String is "GET http://10.0.0.1:9600/_node/stats/pipelines → 200 (3.9 KiB, 1.2ms)".
func (e Exchange) String() string {
	res := ""
	switch {
	case e.Err != nil && e.Status == 0:
		res = e.Err.Error()
	case e.Err != nil:
		res = fmt.Sprintf("%d, %v", e.Status, e.Err)
	default:
		res = fmt.Sprintf("%d (%s)", e.Status, FormatBytes(e.Bytes))
	}
	return fmt.Sprintf("%s %s → %s in %s", e.Method, e.URL, res, e.Elapsed.Round(10*time.Microsecond))
}

// HTTPError is a response with an unexpected status.
type HTTPError struct {
	Status int
	URL    string
}

func (e *HTTPError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("HTTP %d from API (credentials?)", e.Status)
	}
	return fmt.Sprintf("HTTP %d from API", e.Status)
}

// RedirectError is a redirect to another host, port or scheme, which the
// client refuses to follow.
type RedirectError struct {
	Location string
	// URL is Location parsed.
	URL *url.URL
	// Differs says what is not the API asked: "host", "port", "scheme",
	// or "port and scheme".
	Differs string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("API redirected to %s (another %s; not followed)", e.Location, e.Differs)
}

// SameHost is true when only the port or the scheme differs.
func (e *RedirectError) SameHost() bool { return e.Differs != "host" }

// Port is the target's port, the scheme's default when it names none.
func (e *RedirectError) Port() string { return portOf(e.URL) }

// SchemeError means the API seems to speak the other scheme: plain HTTP
// where https was asked, or TLS where http was.
type SchemeError struct {
	Asked, Seems string // "http" or "https"
	// Err is what the asked scheme got.
	Err error
}

func (e *SchemeError) Error() string {
	return fmt.Sprintf("the API seems to speak %s, not %s (%v)", e.Seems, e.Asked, e.Err)
}

func (e *SchemeError) Unwrap() error { return e.Err }

// UntrustedError is an API certificate the client's roots do not verify:
// the CAFile's when one is given, else the system's.
type UntrustedError struct {
	CAFile string
	Err    error
}

func (e *UntrustedError) Error() string { return e.Err.Error() }
func (e *UntrustedError) Unwrap() error { return e.Err }

// Client reads one node's monitoring API. Every call is bounded by its
// context: dial, TLS handshake, headers and body all run under the same
// connection deadline, so no server behaviour can hold a call past it.
// Redirects to another host, port or scheme are refused, proxies are never
// used and each request uses a fresh connection (the check is one short
// process). When a request gets no answer in its scheme, the client tries
// the other on a fresh connection, only to say which one the API speaks.
type Client struct {
	base    url.URL
	host    string
	tls     *tls.Config // nil for http
	caFile  string
	creds   *Credentials
	maxBody int64
	observe func(Exchange)

	// keepAlive keeps one idle connection between requests (Config.KeepAlive).
	keepAlive bool
	mu        sync.Mutex
	idle      *pconn
	requests  map[string][]byte // serialised requests by URL (keepAlive)
}

// pconn is a connection with the reader its responses are read through.
type pconn struct {
	conn net.Conn // what requests go through (TLS, when https)
	raw  net.Conn // the TCP connection, whose deadline bounds every call
	br   *bufio.Reader
}

// Close closes the idle kept-alive connection, if any. The client remains
// usable: the next request dials again.
func (c *Client) Close() error {
	c.mu.Lock()
	p := c.idle
	c.idle = nil
	c.mu.Unlock()
	if p != nil {
		return p.conn.Close()
	}
	return nil
}

// New prepares a client; it reads CAFile but makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Host == "" {
		return nil, errors.New("no host")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("port %d out of range 1-65535", cfg.Port)
	}
	switch cfg.Scheme {
	case "":
		cfg.Scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("scheme %q: want http or https", cfg.Scheme)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	c := &Client{
		base:      url.URL{Scheme: cfg.Scheme, Host: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))},
		host:      cfg.Host,
		caFile:    cfg.CAFile,
		creds:     cfg.Credentials,
		maxBody:   cfg.MaxBody,
		observe:   cfg.Observe,
		keepAlive: cfg.KeepAlive,
	}
	if cfg.Scheme == "https" {
		tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} // #nosec G402 -- only with --insecure
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s: no PEM certificates", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		c.tls = tc
	} else if cfg.CAFile != "" || cfg.Insecure {
		return nil, errors.New("a CA file or --insecure needs scheme https")
	}
	return c, nil
}

// Address is host:port of the API, as messages show it.
func (c *Client) Address() string { return c.base.Host }

// errFallback marks an endpoint the node does not have (404/400).
var errFallback = errors.New("endpoint not available")

// NodeStats fetches pipeline stats using the narrowest endpoint the node
// has: /_node/stats/pipelines/<pipeline> when pipeline is set, else
// /_node/stats/pipelines; on 404 or 400 (5.x, or an unknown pipeline) it
// falls back to /_node/stats/pipeline and then /_node/stats. On 6.0+ the
// common case is one request.
func (c *Client) NodeStats(ctx context.Context, pipeline string) (*NodeStats, error) {
	return c.nodeStats(ctx, pipeline, ParseNodeStats)
}

// NodeStatsPlugins is NodeStats parsed by ParseNodeStatsPlugins: with every
// pipeline's filters, outputs, settings and queues (hala diagnose).
func (c *Client) NodeStatsPlugins(ctx context.Context, pipeline string) (*NodeStats, error) {
	return c.nodeStats(ctx, pipeline, ParseNodeStatsPlugins)
}

func (c *Client) nodeStats(ctx context.Context, pipeline string, parse func(io.Reader, int64) (*NodeStats, error)) (*NodeStats, error) {
	first := "/_node/stats/pipelines"
	if pipeline != "" {
		first += "/" + url.PathEscape(pipeline)
	}
	var last error
	for _, path := range []string{first, "/_node/stats/pipeline", "/_node/stats"} {
		var stats *NodeStats
		err := c.get(ctx, path, func(body io.Reader) error {
			s, err := parse(body, c.maxBody)
			stats = s
			if errors.Is(err, ErrNotNodeStats) && path != "/_node/stats" && !isSyntax(err) {
				// Valid JSON without pipelines: a 6.0+ node answering
				// /_node/stats/pipeline with its other stats. Try the next.
				return errFallback
			}
			return err
		})
		if errors.Is(err, errFallback) {
			last = err
			continue
		}
		if err != nil {
			return nil, err
		}
		return stats, nil
	}
	return nil, fmt.Errorf("no node stats endpoint answered (last: %v); is this the Logstash API port?", last)
}

func isSyntax(err error) bool {
	var se *syntaxError
	return errors.As(err, &se)
}

// maxRedirects bounds redirects followed on the same host.
const maxRedirects = 3

// get performs one GET of the escaped path (following same-host redirects) and passes a 200
// body to read. 404 and 400 give errFallback; other statuses an *HTTPError.
func (c *Client) get(ctx context.Context, path string, read func(io.Reader) error) error {
	u := c.base
	u.Path, _ = url.PathUnescape(path)
	u.RawPath = path // keeps an escaped "/" in a pipeline id escaped
	for i := 0; ; i++ {
		next, err := c.getOnce(ctx, &u, read)
		if err != nil || next == nil {
			return err
		}
		if d := differs(&c.base, next); d != "" {
			return &RedirectError{Location: next.String(), URL: next, Differs: d}
		}
		if i == maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		u = *next
	}
}

// differs says what of a redirect's target is not the API's base URL.
func differs(base, next *url.URL) string {
	if !strings.EqualFold(base.Hostname(), next.Hostname()) {
		return "host"
	}
	var d []string
	if portOf(base) != portOf(next) {
		d = append(d, "port")
	}
	if base.Scheme != next.Scheme {
		d = append(d, "scheme")
	}
	return strings.Join(d, " and ")
}

func portOf(u *url.URL) string {
	switch p := u.Port(); {
	case p != "":
		return p
	case u.Scheme == "https":
		return "443"
	}
	return "80"
}

// getOnce performs one request on a fresh connection. A redirect returns
// its resolved location.
func (c *Client) getOnce(ctx context.Context, u *url.URL, read func(io.Reader) error) (redirect *url.URL, err error) {
	start := time.Now()
	ex := Exchange{Method: http.MethodGet, URL: u.String()}
	if c.observe != nil {
		defer func() {
			ex.Elapsed = time.Since(start)
			ex.Err = err
			if errors.Is(err, errFallback) {
				ex.Err = nil
			}
			if redirect != nil {
				ex.Err = fmt.Errorf("redirect to %s", redirect)
			}
			c.observe(ex)
		}()
	}
	pc, reused, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	// The call's deadline and cancellation bound every read and write,
	// also on a connection kept from an earlier call.
	if dl, ok := ctx.Deadline(); ok {
		pc.raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { pc.raw.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if stop() && keep {
			pc.raw.SetDeadline(time.Time{})
			c.putIdle(pc)
			return
		}
		pc.conn.Close()
	}()
	conn := pc.conn
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Host:       u.Host,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Close:      !c.keepAlive,
		Header: http.Header{
			"Accept":     {"application/json"},
			"User-Agent": {"hala-check"},
		},
	}
	if c.creds != nil {
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	if err := c.writeRequest(conn, req); err != nil {
		if reused && ctx.Err() == nil {
			pc.conn.Close()
			return c.getOnce(ctx, u, read) // the server closed the idle connection
		}
		return nil, c.plainError(ctx, c.ioError(ctx, err))
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil && reused && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		// A kept connection the server had closed: nothing was answered,
		// so asking again on a fresh one is safe (a GET).
		return c.getOnce(ctx, u, read)
	}
	if err != nil {
		if err := c.ioError(ctx, err); errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, c.plainError(ctx, errors.New("connection closed before a response"))
		}
		var perr *textproto.ProtocolError
		if errors.As(err, &perr) || strings.Contains(err.Error(), "malformed HTTP") {
			return nil, c.plainError(ctx, fmt.Errorf("not an HTTP response (%v)", err))
		}
		return nil, c.plainError(ctx, c.ioError(ctx, err))
	}
	// No resp.Body.Close: it would drain the rest of the body. Closing
	// the connection (deferred above) drops it instead.
	ex.Status = resp.StatusCode
	counted := &countingReader{r: resp.Body}
	defer func() { ex.Bytes = counted.n }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest:
		if err := c.httpsRefusal(counted); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w (HTTP %d)", errFallback, resp.StatusCode)
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w (HTTP %d)", errFallback, resp.StatusCode)
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		loc, err := resp.Location()
		if err != nil {
			return nil, &HTTPError{Status: resp.StatusCode, URL: u.String()}
		}
		return loc, nil
	default:
		return nil, &HTTPError{Status: resp.StatusCode, URL: u.String()}
	}
	if resp.ContentLength > c.maxBody {
		return nil, fmt.Errorf("%w (over %s)", ErrBodyTooLarge, FormatBytes(c.maxBody))
	}
	if err := read(counted); err != nil {
		return nil, c.ioError(ctx, err)
	}
	if c.keepAlive && !resp.Close {
		// Reuse only a connection whose response was read to its end.
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody-counted.n+1))
		keep = err == nil && counted.n+n <= c.maxBody
	}
	return nil, nil
}

// writeRequest sends req. A kept-alive client asks the same few URLs every
// interval, so it serialises each request once and then sends those bytes
// in one write.
func (c *Client) writeRequest(conn net.Conn, req *http.Request) error {
	if !c.keepAlive {
		return req.Write(conn)
	}
	key := req.URL.String()
	c.mu.Lock()
	b, ok := c.requests[key]
	c.mu.Unlock()
	if !ok {
		var buf bytes.Buffer
		if err := req.Write(&buf); err != nil {
			return err
		}
		b = buf.Bytes()
		c.mu.Lock()
		if c.requests == nil {
			c.requests = map[string][]byte{}
		}
		c.requests[key] = b
		c.mu.Unlock()
	}
	_, err := conn.Write(b)
	return err
}

// connection returns the idle kept-alive connection, or a new one.
func (c *Client) connection(ctx context.Context) (*pconn, bool, error) {
	if c.keepAlive {
		c.mu.Lock()
		p := c.idle
		c.idle = nil
		c.mu.Unlock()
		if p != nil {
			return p, true, nil
		}
	}
	conn, raw, err := c.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	size := 4096
	if c.keepAlive {
		size = 32 << 10 // one read for a typical stats body
	}
	return &pconn{conn: conn, raw: raw, br: bufio.NewReaderSize(conn, size)}, false, nil
}

// dialTCP connects for a scheme probe, bounded by ctx's deadline and
// cancellation for the connection's whole life.
func (c *Client) dialTCP(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.base.Host)
	if err != nil {
		return nil, c.ioError(ctx, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation (not only the deadline) also interrupts blocked I/O.
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	return &stopConn{Conn: raw, stop: stop}, nil
}

// handshakeError words a failed TLS handshake: a plain-http API (which
// answers the ClientHello with an HTTP error, or as Logstash does, just
// closes), or a certificate that the trusted roots do not verify.
func (c *Client) handshakeError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) && string(rec.RecordHeader[:]) == "HTTP/" {
		return &SchemeError{Asked: "https", Seems: "http", Err: errors.New("TLS handshake got an HTTP answer")}
	}
	if closedEarly(err) && c.answersPlainHTTP(ctx) {
		return &SchemeError{Asked: "https", Seems: "http", Err: fmt.Errorf("TLS handshake: %w", err)}
	}
	var unknownCA x509.UnknownAuthorityError
	if errors.As(err, &unknownCA) {
		return &UntrustedError{CAFile: c.caFile, Err: err}
	}
	return err
}

// plainError words a plain-http request that got no HTTP answer: when the
// port speaks TLS (a TLS API closes, resets or sends an alert), it says so.
func (c *Client) plainError(ctx context.Context, err error) error {
	if c.tls != nil || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if c.answersTLS(ctx) {
		return &SchemeError{Asked: "http", Seems: "https", Err: err}
	}
	return err
}

// httpsRefusal reads a 400 body for the words a TLS server or proxy uses
// when a plain request reaches it (Go, nginx).
func (c *Client) httpsRefusal(body io.Reader) error {
	if c.tls != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(body, 512))
	if refusesPlainHTTP(b) {
		return &SchemeError{Asked: "http", Seems: "https", Err: fmt.Errorf("HTTP 400: %q", strings.TrimSpace(string(b)))}
	}
	return nil
}

func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// probeContext bounds a scheme probe to half the time left, so the real
// error can still be reported in time.
func probeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithTimeout(ctx, time.Until(dl)/2)
	}
	return context.WithTimeout(ctx, time.Second)
}

// answersPlainHTTP reports whether the API answers a plain HTTP request.
// The request carries no credentials: it travels in clear.
func (c *Client) answersPlainHTTP(ctx context.Context) bool {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	conn, err := c.dialTCP(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "HEAD / HTTP/1.0\r\nHost: %s\r\nUser-Agent: hala-check\r\n\r\n", c.base.Host); err != nil {
		return false
	}
	buf := make([]byte, 512)
	if _, err := io.ReadFull(conn, buf[:5]); err != nil || string(buf[:5]) != "HTTP/" {
		return false
	}
	// A TLS server may answer plain HTTP with an HTTP error that says so
	// (Go, nginx): that is not a plain-http API.
	n, _ := conn.Read(buf)
	return !refusesPlainHTTP(buf[:n])
}

// refusesPlainHTTP reports whether an answer is a TLS server's (Go's,
// nginx's) refusal of a plain HTTP request.
func refusesPlainHTTP(b []byte) bool {
	low := strings.ToLower(string(b))
	return strings.Contains(low, "http request to an https server") || strings.Contains(low, "plain http request was sent to https port")
}

// answersTLS reports whether the API completes a TLS handshake. Nothing is
// sent over the connection, so the certificate need not be verified.
func (c *Client) answersTLS(ctx context.Context) bool {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	conn, err := c.dialTCP(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}) // #nosec G402 -- a probe: nothing is sent
	return tc.HandshakeContext(ctx) == nil
}

func (c *Client) putIdle(p *pconn) {
	c.mu.Lock()
	old := c.idle
	c.idle = p
	c.mu.Unlock()
	if old != nil {
		old.conn.Close()
	}
}

// dial connects (and shakes hands for https) under ctx. It returns the
// connection requests use and the TCP connection beneath it.
func (c *Client) dial(ctx context.Context) (net.Conn, net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", c.base.Host)
	if err != nil {
		return nil, nil, c.ioError(ctx, err)
	}
	if c.tls != nil {
		tc := tls.Client(raw, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, c.handshakeError(ctx, c.ioError(ctx, err))
		}
		return tc, raw, nil
	}
	return raw, raw, nil
}

// stopConn releases the cancellation hook when the connection is closed.
type stopConn struct {
	net.Conn
	stop func() bool
}

func (s *stopConn) Close() error {
	s.stop()
	return s.Conn.Close()
}

// ioError reports a passed deadline or cancellation as ctx's error, so
// callers can word it ("timed out after 2s") whatever layer noticed it.
func (c *Client) ioError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return context.DeadlineExceeded
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
