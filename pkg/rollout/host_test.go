package rollout

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/logstash"
)

// api serves answers[i] to the i-th request (the last one after that):
// "ok" a real node stats body with input udp-5514, "500" an HTTP 500,
// "garbage" a 200 that is not node stats.
func api(t *testing.T, answers ...string) (*logstash.Client, string) {
	t.Helper()
	body := testutil.NodeStats("udp-5514")
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch answers[min(int(n.Add(1))-1, len(answers)-1)] {
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "garbage":
			w.Write([]byte("<html>not the API</html>"))
		default:
			w.Write(body)
		}
	}))
	t.Cleanup(srv.Close)
	return client(t, srv.Listener.Addr().String())
}

func client(t *testing.T, addr string) (*logstash.Client, string) {
	t.Helper()
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	c, err := logstash.New(logstash.Config{Host: host, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	return c, addr
}

var udpInput = inventory.Service{InputID: "udp-5514", Protocol: "udp", BackendPort: 5514}

// An API that is down or answers HTTP 500 is waited for, and said so;
// one that answers something else than Logstash's API ends the wait at
// once; either way the error says the API could not be read, not that
// the input still receives traffic.
func TestWaitBackendHostUnreadableAPI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	noUDP := []string{filepath.Join(t.TempDir(), "none")}
	for _, tc := range []struct {
		name    string
		src     func() (*logstash.Client, string)
		reads   int // before the wait ends
		notes   []string
		wantErr string
	}{
		{"down", func() (*logstash.Client, string) { return client(t, down) }, 50,
			[]string{"cannot read the Logstash API (ask " + down + ": ", "connection refused); waiting for it until the timeout (a starting or busy Logstash answers later)"},
			"the Logstash API could not be read for the last 5s (ask " + down + ": "},
		{"HTTP 500", func() (*logstash.Client, string) { return api(t, "500") }, 50,
			[]string{"cannot read the Logstash API (ask ", ": HTTP 500 from API); waiting for it"},
			"the Logstash API could not be read for the last 5s (ask "},
		{"garbage", func() (*logstash.Client, string) { return api(t, "garbage") }, 1, nil,
			"the Logstash API could not be read: ask "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, addr := tc.src()
			_, o := clock(5 * time.Second)
			var notes []string
			o.Notify = func(m string) { notes = append(notes, m) }
			reads := 0
			read := inputSample(c, addr, udpInput, noUDP)
			err := WaitBackendHost(context.Background(), o, func(ctx context.Context) (HostSample, error) {
				reads++
				return read(ctx)
			})
			if !errors.Is(err, ErrUnreadable) || errors.Is(err, ErrStillServing) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v\nwant ErrUnreadable, containing %q", err, tc.wantErr)
			}
			if reads != tc.reads {
				t.Errorf("%d reads, want %d", reads, tc.reads)
			}
			if len(notes) != min(1, len(tc.notes)) {
				t.Fatalf("told %q, want one note", notes)
			}
			for _, want := range tc.notes {
				if !strings.Contains(notes[0], want) {
					t.Errorf("note %q lacks %q", notes[0], want)
				}
			}
		})
	}
	t.Run("garbage says why it does not wait", func(t *testing.T) {
		c, addr := api(t, "garbage")
		_, o := clock(5 * time.Second)
		err := WaitBackendHost(context.Background(), o, inputSample(c, addr, udpInput, noUDP))
		if !errors.Is(err, logstash.ErrNotNodeStats) || !strings.HasSuffix(err.Error(), "(not waiting: this does not pass by itself)") {
			t.Errorf("err = %v", err)
		}
	})
}

// A Logstash that answers again after a few HTTP 500s is idle once its
// counters stay still; both changes are told.
func TestWaitBackendHostAPIRecovers(t *testing.T) {
	c, addr := api(t, "500", "500", "ok")
	c0, o := clock(5 * time.Second)
	var notes []string
	o.Notify = func(m string) { notes = append(notes, m) }
	if err := WaitBackendHost(context.Background(), o, inputSample(c, addr, udpInput, []string{filepath.Join(t.TempDir(), "none")})); err != nil {
		t.Fatal(err)
	}
	// Answers from the 3rd read (t0+200ms): idle a second later.
	if at := c0.now.Sub(t0); at != 1200*time.Millisecond {
		t.Errorf("returned at t0+%v, want t0+1.2s", at)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "HTTP 500") || notes[1] != "the Logstash API answers again" {
		t.Errorf("notes %q", notes)
	}
}

// The input missing from a real body is not waited for.
func TestWaitBackendHostInputMissing(t *testing.T) {
	c, addr := api(t, "ok")
	_, o := clock(5 * time.Second)
	err := WaitBackendHost(context.Background(), o, inputSample(c, addr, inventory.Service{InputID: "tcp-9999"}, nil))
	if !errors.Is(err, ErrInputMissing) || errors.Is(err, ErrUnreadable) ||
		!strings.HasPrefix(err.Error(), `input missing: `+addr+` input "tcp-9999" not found in pipeline`) || !strings.HasSuffix(err.Error(), "(not waiting: this does not pass by itself)") {
		t.Errorf("err = %v", err)
	}
}
