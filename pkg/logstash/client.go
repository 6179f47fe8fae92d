package logstash

import (
	"bufio"
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

// RedirectError is a redirect to another host (or scheme), which the client
// refuses to follow.
type RedirectError struct {
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("API redirected to %s (another host; not followed)", e.Location)
}

// Client reads one node's monitoring API. Every call is bounded by its
// context: dial, TLS handshake, headers and body all run under the same
// connection deadline, so no server behaviour can hold a call past it.
// Redirects to another host are refused, proxies are never used and each
// request uses a fresh connection (the check is one short process).
type Client struct {
	base    url.URL
	host    string
	tls     *tls.Config // nil for http
	creds   *Credentials
	maxBody int64
	observe func(Exchange)

	// keepAlive keeps one idle connection between requests (Config.KeepAlive).
	keepAlive bool
	mu        sync.Mutex
	idle      *pconn
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
		if next.Host != c.base.Host || next.Scheme != c.base.Scheme {
			return &RedirectError{Location: next.String()}
		}
		if i == maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		u = *next
	}
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
	if err := req.Write(conn); err != nil {
		if reused && ctx.Err() == nil {
			pc.conn.Close()
			return c.getOnce(ctx, u, read) // the server closed the idle connection
		}
		return nil, c.ioError(ctx, err)
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
			return nil, errors.New("connection closed before a response")
		}
		var perr *textproto.ProtocolError
		if errors.As(err, &perr) || strings.Contains(err.Error(), "malformed HTTP") {
			return nil, fmt.Errorf("not an HTTP response (%v)", err)
		}
		return nil, c.ioError(ctx, err)
	}
	// No resp.Body.Close: it would drain the rest of the body. Closing
	// the connection (deferred above) drops it instead.
	ex.Status = resp.StatusCode
	counted := &countingReader{r: resp.Body}
	defer func() { ex.Bytes = counted.n }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusBadRequest:
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
			return nil, nil, c.ioError(ctx, err)
		}
		return tc, raw, nil
	}
	return raw, raw, nil
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
