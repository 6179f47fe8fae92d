package announce

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// router is a second GoBGP speaker standing in for the router: it accepts
// the director's session on 127.0.0.2 and keeps what it learns. (FRR, the
// router of the end-to-end suite, needs a network namespace.)
type router struct {
	s    *server.BgpServer
	port int
}

func freePort(t *testing.T, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Skipf("no loopback address %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRouter(t *testing.T, password string) *router {
	t.Helper()
	port := freePort(t, "127.0.0.2")
	s := server.NewBgpServer()
	go s.Serve()
	t.Cleanup(s.Stop)
	ctx := context.Background()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65000, RouterId: "127.0.0.2", ListenPort: int32(port), ListenAddresses: []string{"127.0.0.2"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "127.0.0.1", PeerAsn: 65001, AuthPassword: password},
		Transport: &api.Transport{PassiveMode: true, LocalAddress: "127.0.0.2"},
	}}); err != nil {
		t.Fatal(err)
	}
	return &router{s: s, port: port}
}

// routes returns the router's best routes as "prefix via nexthop".
func (r *router) routes(t *testing.T) []string {
	t.Helper()
	var out []string
	err := r.s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: bgp.RF_IPv4_UC},
		func(prefix bgp.NLRI, paths []*apiutil.Path) {
			for _, p := range paths {
				for _, a := range p.Attrs {
					if nh, ok := a.(*bgp.PathAttributeNextHop); ok {
						out = append(out, prefix.String()+" via "+nh.Value.String())
					}
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds; the bound only stops a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func speakerConfig(r *router, pwFile string, changes chan<- PeerState) Config {
	return Config{
		ASN: 65001, RouterID: netip.MustParseAddr("127.0.0.1"), Local: netip.MustParseAddr("127.0.0.1"),
		ListenPort: -1, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
		Peers:  []Peer{{Address: netip.MustParseAddr("127.0.0.2"), ASN: 65000, Port: r.port, PasswordFile: pwFile}},
		Logger: slog.New(slog.DiscardHandler),
		OnChange: func(p PeerState) {
			select {
			case changes <- p:
			default:
			}
		},
	}
}

func TestAnnounceWithdraw(t *testing.T) {
	for _, md5 := range []bool{false, true} {
		name := "plain"
		if md5 {
			name = "tcp-md5"
		}
		t.Run(name, func(t *testing.T) {
			pw, pwFile := "", ""
			if md5 {
				pw = "s3cret-bgp"
				pwFile = filepath.Join(t.TempDir(), "pw")
				if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := startRouter(t, pw)
			changes := make(chan PeerState, 8)
			sp, err := Start(context.Background(), speakerConfig(r, pwFile, changes))
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Stop()

			select {
			case p := <-changes:
				if !p.Up || p.Address.String() != "127.0.0.2" {
					t.Fatalf("first change %+v, want the session up", p)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the session did not come up")
			}
			if ps := sp.Peers(); len(ps) != 1 || !ps[0].Up || ps[0].State != "established" {
				t.Fatalf("peers %+v", ps)
			}

			vip := netip.MustParseAddr("10.99.0.10")
			if err := sp.Announce(vip); err != nil {
				t.Fatal(err)
			}
			want := "10.99.0.10/32 via 127.0.0.1"
			waitFor(t, want, func() bool { return strings.Join(r.routes(t), ",") == want })
			if got := sp.Announced(); len(got) != 1 || got[0].String() != "10.99.0.10/32" {
				t.Errorf("announced %v", got)
			}
			if err := sp.Announce(vip); err != nil { // idempotent
				t.Fatal(err)
			}
			if err := sp.Withdraw(vip); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the route withdrawn", func() bool { return len(r.routes(t)) == 0 })
			if err := sp.Withdraw(vip); err != nil {
				t.Fatal(err)
			}
			if err := sp.Announce(netip.MustParseAddr("2001:db8::1")); err == nil {
				t.Error("an IPv6 VIP over an IPv4 director was announced")
			}

			// Announced before a session exists: sent when it comes up.
			if err := sp.Announce(vip); err != nil {
				t.Fatal(err)
			}
			sp.Stop()
			waitFor(t, "the router dropping the route of a stopped speaker", func() bool { return len(r.routes(t)) == 0 })
		})
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if pw, err := ReadPassword(write("ok", "pw1\n", 0o600)); err != nil || pw != "pw1" {
		t.Errorf("ReadPassword = %q, %v", pw, err)
	}
	for _, tc := range []struct {
		name, body, want string
		mode             os.FileMode
	}{
		{"world", "pw\n", "lets others read the password; chmod 600", 0o644},
		{"group", "pw\n", "lets others read the password", 0o640},
		{"empty", "\n", "empty", 0o600},
		{"long", strings.Repeat("x", 81), "at most 80", 0o400},
	} {
		_, err := ReadPassword(write(tc.name, tc.body, tc.mode))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadPassword(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was read")
	}
}

// The password is really used: a router without it never sees the
// session (the kernel drops segments signed with an unexpected MD5
// option), while the same pair with it comes up (TestAnnounceWithdraw).
func TestPasswordMismatchKeepsSessionDown(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-bgp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, "") // no password
	changes := make(chan PeerState, 8)
	sp, err := Start(context.Background(), speakerConfig(r, pwFile, changes))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	select {
	case p := <-changes:
		if p.Up {
			t.Fatalf("session up with a password the router does not have: %+v", p)
		}
	case <-time.After(3 * time.Second):
	}
}
