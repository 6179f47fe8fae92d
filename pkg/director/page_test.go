package director

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/logstash"
	halastatus "github.com/hala-lb/hala/pkg/status"
	"golang.org/x/net/html"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "copy the status page's screenshot to docs/status-page.png")

// secret is the cluster's VRRP password: the page must not show it.
const secret = "pw4vrrp"

// countingTable is the fake table with packet counters that grow by a
// set amount per backend at every read.
type countingTable struct {
	*fakeTable
	mu    sync.Mutex
	n     int
	per   map[netip.Addr]uint64 // packets per read
	total map[netip.AddrPort]uint64
}

func (c *countingTable) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	es, err := c.fakeTable.Entries(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	for i := range es {
		for j := range es[i].Destinations {
			d := &es[i].Destinations[j]
			k := d.Key()
			// A wave, so the graph has a shape.
			c.total[k] += c.per[d.Address] * uint64(3+c.n%4)
			d.Stats.PacketsIn = c.total[k]
		}
	}
	return es, err
}

// pageRig is a running director with l1's input udp-5514 missing (down
// in syslog-udp, up elsewhere), l2 drained, its VIPs held, and ten
// minutes of traffic samples.
func pageRig(t *testing.T) (*rig, *httptest.Server) {
	t.Helper()
	inv := cluster(t, `vrrp_auth_pass = "`+secret+`"`, "")
	r := newRig(t, inv, nil)
	r.d.cfg.Node = "d1"
	r.d.state.setSpec(r.d.sp, "d1")
	r.d.WatchVIPs(heldVIPs{})
	if err := drain.Drain(r.drains, drain.Record{Address: netip.MustParseAddr("10.0.0.12"), Name: "l2", Since: time.Now().Add(-90 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r.start()
	r.apis["10.0.0.11"].set("missing")
	r.waitFor("l1 down", func() bool { return strings.Contains(r.logs.String(), "backend down") })
	// Samples every 30s over the last ten minutes, on the history's clock.
	ct := &countingTable{fakeTable: r.table, total: map[netip.AddrPort]uint64{},
		per: map[netip.Addr]uint64{netip.MustParseAddr("10.0.0.11"): 3000, netip.MustParseAddr("10.0.0.12"): 1200}}
	now := time.Now().Add(-10 * time.Minute)
	r.d.traffic.hist.now = func() time.Time { return now }
	r.d.traffic.table = ct
	for range 20 {
		now = now.Add(30 * time.Second)
		r.d.traffic.sample(context.Background())
	}
	srv := httptest.NewServer(r.d.Handler())
	t.Cleanup(srv.Close)
	return r, srv
}

// pageRow is a backend row of the page's DOM.
type pageRow struct{ state, weight string }

// parsePage parses the page as HTML5 and returns its backend rows by
// service and backend, every URL it refers to, and its text.
func parsePage(t *testing.T, doc string) (rows map[[2]string]pageRow, urls []string, text string) {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	rows = map[[2]string]pageRow{}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if at.Key == "href" || at.Key == "src" || at.Key == "action" || at.Key == "xlink:href" {
					urls = append(urls, at.Val)
				}
			}
			if n.Data == "tr" && a["class"] == "backend" {
				rows[[2]string{a["data-service"], a["data-backend"]}] = pageRow{a["data-state"], a["data-weight"]}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return rows, urls, b.String()
}

// wellFormed checks the served markup strictly: every element the page
// opens is closed in order (void elements aside), attributes are quoted,
// and nothing is left open at the end.
func wellFormed(t *testing.T, doc string) {
	t.Helper()
	void := map[string]bool{"meta": true, "br": true, "img": true, "input": true, "link": true, "hr": true}
	z := html.NewTokenizer(strings.NewReader(doc))
	var stack []string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenize: %v", z.Err())
			}
			if len(stack) > 0 {
				t.Fatalf("elements left open: %v", stack)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !void[string(name)] {
				stack = append(stack, string(name))
			}
		case html.SelfClosingTagToken:
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(name) {
				t.Fatalf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// checkPage asserts what the page must show for pageRig's director.
func checkPage(t *testing.T, doc string) {
	t.Helper()
	rows, urls, text := parsePage(t, doc)
	want := map[[2]string]pageRow{
		{"syslog-udp", "l1"}: {"down", "1"}, // all_down = "keep": kept at its weight
		{"syslog-udp", "l2"}: {"drained", "-"},
		{"syslog-tcp", "l1"}: {"up", "1"},
		{"syslog-tcp", "l2"}: {"drained", "-"},
		{"beats", "l1"}:      {"up", "1"},
		{"beats", "l2"}:      {"drained", "-"},
	}
	for k, w := range want {
		if got, ok := rows[k]; !ok {
			t.Errorf("no row for backend %s of %s", k[1], k[0])
		} else if got != w {
			t.Errorf("%s of %s: state %q weight %q, want %q %q", k[1], k[0], got.state, got.weight, w.state, w.weight)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d backend rows, want %d", len(rows), len(want))
	}
	for _, u := range urls {
		if strings.Contains(u, "//") || strings.Contains(u, ":") {
			t.Errorf("the page refers to an external URL %q", u)
		}
	}
	for _, s := range []string{"not found in pipelines", "held by this director", "drained since", "10.0.0.12", "<polyline points="} {
		if !strings.Contains(text, s) && !strings.Contains(doc, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if strings.Contains(doc, secret) {
		t.Error("the page shows the VRRP password")
	}
	if strings.Contains(doc, "<script") {
		t.Error("the page has a script")
	}
}

func TestStatusPage(t *testing.T) {
	_, srv := pageRig(t)
	doc := get(t, srv.URL+"/")
	wellFormed(t, doc)
	checkPage(t, doc)
	if !strings.Contains(doc, `<meta http-equiv="refresh" content="10">`) {
		t.Error("the page does not reload itself")
	}
	// A graph per destination in the table (l2 drained is not).
	if got := strings.Count(doc, "<polyline"); got != 3 {
		t.Errorf("%d traffic graphs, want one per backend in the table (3)", got)
	}
}

// TestStatusPageAgreesWithHalaStatus: hala status (halastatus.Collect, asking
// the same APIs and reading the same table and drain records) and the
// page say the same of every backend: state and weight.
func TestStatusPageAgreesWithHalaStatus(t *testing.T) {
	r, srv := pageRig(t)
	rows, _, _ := parsePage(t, get(t, srv.URL+"/"))
	st := halastatus.Collect(context.Background(), halastatus.Config{
		Inventory: r.d.sp.inv, IPVS: r.table, Timeout: 2 * time.Second, Gap: time.Millisecond,
		Client: func(l inventory.Logstash) (halastatus.Source, error) {
			src, err := r.source(nil, l.Address.String(), 0)
			if err != nil {
				return nil, err
			}
			return src.(*logstash.Client), nil
		},
		Drained: func(a netip.Addr) (bool, string, error) {
			rec, err := drain.Lookup(r.drains, a)
			if err != nil || rec == nil {
				return false, "", err
			}
			return true, rec.Reason(), nil
		},
	})
	if len(st.Rows) != len(rows) {
		t.Fatalf("hala status has %d rows, the page %d", len(st.Rows), len(rows))
	}
	for _, row := range st.Rows {
		state := "down"
		switch {
		case row.Drained:
			state = "drained"
		case row.API == halastatus.APIUp && row.InputState != halastatus.InputMissing && row.InputState != halastatus.InputStopped:
			state = "up"
		}
		weight := "-"
		if row.IPVS.State == halastatus.IPVSPresent {
			weight = strconv.Itoa(*row.IPVS.Weight)
		}
		got := rows[[2]string{row.Service, row.Backend}]
		if got.state != state || got.weight != weight {
			t.Errorf("%s of %s: the page says %s, weight %s; hala status %s, weight %s (%+v)", row.Backend, row.Service, got.state, got.weight, state, weight, row)
		}
	}
}

// chromium runs Debian's chromium headless with a fresh profile and no
// network activity of its own.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testutil.RequireTool(t, "chromium")
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestStatusPageInChromium renders the page in a real browser: the DOM
// it builds has every backend row with its state, and a screenshot is
// kept as a test artifact (HALA_ARTIFACTS, default .cache/artifacts).
func TestStatusPageInChromium(t *testing.T) {
	_, srv := pageRig(t)
	dom := chromium(t, "--dump-dom", srv.URL+"/")
	checkPage(t, string(dom))

	dir := os.Getenv("HALA_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(dir, "status-page.png"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(shot)
	chromium(t, "--screenshot="+shot, "--window-size=1200,1100", srv.URL+"/")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("%s is not a PNG of a rendered page (%d bytes)", shot, len(png))
	}
	t.Logf("screenshot: %s", shot)
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
