package logstash

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
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

// Client reads one node's monitoring API through net/http. Every call is
// bounded by its context: dial, TLS handshake, headers and body all end
// with it, so no server behaviour can hold a call past it. Redirects to
// another host, port or scheme are refused, proxies are never used, and a
// connection is kept between calls only when Config.KeepAlive asks (hala
// director); hala check, one short process, closes it. When a request
// gets no answer in its scheme, the client tries the other on a fresh
// connection, only to say which one the API speaks.
type Client struct {
	base      url.URL
	host      string
	tls       *tls.Config // nil for http
	caFile    string
	creds     *Credentials
	maxBody   int64
	observe   func(Exchange)
	keepAlive bool
	transport *http.Transport
	http      *http.Client
}

// Close closes the idle kept-alive connection, if any. The client remains
// usable: the next request dials again.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
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
	c.transport = &http.Transport{
		Proxy:               nil, // the API is on the node: never through a proxy
		DialContext:         dialAskFirst,
		TLSClientConfig:     c.tls,
		DisableKeepAlives:   !cfg.KeepAlive,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		// No gzip: MaxBody bounds the bytes on the wire, as Logstash sends them.
		DisableCompression: true,
	}
	var rt http.RoundTripper = c.transport
	if c.observe != nil {
		rt = observer{next: c.transport, observe: c.observe}
	}
	c.http = &http.Client{Transport: rt, CheckRedirect: c.checkRedirect}
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

// checkRedirect follows a redirect only on the API's own host, port and
// scheme, and at most maxRedirects times.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if d := differs(&c.base, req.URL); d != "" {
		return &RedirectError{Location: req.URL.String(), URL: req.URL, Differs: d}
	}
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}
	return nil
}

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)

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

// call is one get's state, shared with the observer and the TLS trace
// through the request's context.
type call struct {
	hopStart time.Time // when the latest request of the call was sent

	mu        sync.Mutex // the handshake runs on the transport's dial goroutine
	handshake error      // the TLS handshake's error, if it failed
}

func (cl *call) handshakeErr() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.handshake
}

type callKey struct{}

// observer reports each redirect of a call as an Exchange when it comes
// back; get reports the call's last request, once its body is read.
type observer struct {
	next    http.RoundTripper
	observe func(Exchange)
}

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	cl, _ := req.Context().Value(callKey{}).(*call)
	start := time.Now()
	if cl != nil {
		cl.hopStart = start
	}
	resp, err := o.next.RoundTrip(req)
	if err == nil && isRedirect(resp.StatusCode) {
		if loc, lerr := resp.Location(); lerr == nil {
			o.observe(Exchange{Method: req.Method, URL: req.URL.String(), Status: resp.StatusCode,
				Elapsed: time.Since(start), Err: fmt.Errorf("redirect to %s", loc)})
		}
	}
	return resp, err
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// get performs one GET of the escaped path (following same-host redirects)
// and passes a 200 body to read. 404 and 400 give errFallback; other
// statuses an *HTTPError.
func (c *Client) get(ctx context.Context, path string, read func(io.Reader) error) (err error) {
	u := c.base
	u.Path, _ = url.PathUnescape(path)
	u.RawPath = path // keeps an escaped "/" in a pipeline id escaped
	cl := &call{hopStart: time.Now()}
	rctx := context.WithValue(ctx, callKey{}, cl)
	if c.tls != nil {
		rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
			TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
				if err != nil {
					cl.mu.Lock()
					cl.handshake = err
					cl.mu.Unlock()
				}
			},
		})
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header = http.Header{
		"Accept":     {"application/json"},
		"User-Agent": {"hala-check"},
	}
	if c.creds != nil {
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	ex := Exchange{Method: http.MethodGet, URL: u.String()}
	observed := false // a redirect the observer reported
	if c.observe != nil {
		defer func() {
			if observed {
				return
			}
			ex.Elapsed = time.Since(cl.hopStart)
			ex.Err = err
			if errors.Is(err, errFallback) {
				ex.Err = nil
			}
			c.observe(ex)
		}()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var re *RedirectError
		observed = errors.As(err, &re) || errors.Is(err, errTooManyRedirects)
		var ue *url.Error
		if errors.As(err, &ue) {
			ex.URL = ue.URL
			err = ue.Err
		}
		if hs := cl.handshakeErr(); hs != nil {
			return c.handshakeError(ctx, c.ioError(ctx, hs))
		}
		return c.requestError(ctx, err)
	}
	defer resp.Body.Close()
	ex.URL = resp.Request.URL.String()
	ex.Status = resp.StatusCode
	counted := &countingReader{r: resp.Body}
	defer func() { ex.Bytes = counted.n }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest:
		if err := c.httpsRefusal(counted); err != nil {
			return err
		}
		return fmt.Errorf("%w (HTTP %d)", errFallback, resp.StatusCode)
	case http.StatusNotFound:
		return fmt.Errorf("%w (HTTP %d)", errFallback, resp.StatusCode)
	default:
		// A redirect without a Location ends here too.
		return &HTTPError{Status: resp.StatusCode, URL: ex.URL}
	}
	if resp.ContentLength > c.maxBody {
		return fmt.Errorf("%w (over %s)", ErrBodyTooLarge, FormatBytes(c.maxBody))
	}
	if err := read(counted); err != nil {
		return c.ioError(ctx, err)
	}
	if c.keepAlive && !resp.Close {
		// The transport reuses only a connection whose body was read to
		// its end; closing it early closes the connection.
		io.Copy(io.Discard, io.LimitReader(counted, c.maxBody-counted.n+1))
	}
	return nil
}

// requestError words an error that ended a request before its response:
// a timeout as ctx's error, a closed connection or a non-HTTP answer as
// such, with the other scheme probed when it may be what the API speaks.
func (c *Client) requestError(ctx context.Context, err error) error {
	if err := c.ioError(ctx, err); errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return err
	}
	if closedEarly(err) {
		return c.plainError(ctx, errors.New("connection closed before a response"))
	}
	var perr *textproto.ProtocolError
	if errors.As(err, &perr) || strings.Contains(err.Error(), "malformed HTTP") {
		return c.plainError(ctx, fmt.Errorf("not an HTTP response (%v)", strings.TrimPrefix(err.Error(), "net/http: HTTP/1.x transport connection broken: ")))
	}
	return c.plainError(ctx, c.ioError(ctx, err))
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

// dialAskFirst dials a connection that reads nothing before the first
// request is written. net/http's transport reads a fresh connection at
// once, and a server that speaks first (an SSH or SMTP port given as the
// API's) would be logged as an "unsolicited response" and fail with an
// internal error; read after the request, its banner is what it is: not
// an HTTP response.
func dialAskFirst(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &askFirstConn{Conn: conn, asked: make(chan struct{})}, nil
}

type askFirstConn struct {
	net.Conn
	once  sync.Once
	asked chan struct{} // closed by the first Write, or by Close
}

func (c *askFirstConn) Read(p []byte) (int, error) {
	<-c.asked
	return c.Conn.Read(p)
}

func (c *askFirstConn) Write(p []byte) (int, error) {
	c.once.Do(func() { close(c.asked) })
	return c.Conn.Write(p)
}

func (c *askFirstConn) Close() error {
	c.once.Do(func() { close(c.asked) })
	return c.Conn.Close()
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
