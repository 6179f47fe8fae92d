package render

import (
	"fmt"
	"time"
)

// RouterDir holds the router-side snippets (cluster.ha = "bgp"): a
// starting configuration for the network team, one directory per
// [[bgp.peer]].
const RouterDir = "router"

// Paths of the router snippets.
const (
	RouterFRRPath    = "frr.conf"
	RouterBIRDPath   = "bird.conf"
	RouterSysctlPath = "sysctl.d/90-hala-ecmp.conf"
)

type routerData struct {
	Cluster string
	// Peer is the router's address; ASN its AS number.
	Peer string
	ASN  uint32
	IPv6 bool
	// VIPs are the VIPs' host routes, the only routes accepted.
	VIPs      []string
	Directors []routerNeighbor
	HoldTime  int
	Keepalive int
	BFD       bool
	// BFDInterval is in milliseconds.
	BFDInterval     int
	BFDMultiplier   int
	GracefulRestart bool
	PasswordFile    string
}

type routerNeighbor struct {
	Name    string
	Address string
	ASN     uint32
}

// router renders the router directory: per peer an FRR and a BIRD 2
// snippet, and the ECMP sysctls every router needs.
func (r *renderer) router() ([]File, error) {
	inv := r.inv
	b := inv.BGP
	var files []File
	for _, p := range b.Peers {
		data := routerData{
			Cluster: inv.Cluster.Name, Peer: p.Address.String(), ASN: p.ASN, IPv6: p.Address.Is6(),
			HoldTime: int(b.HoldTime.Duration / time.Second), Keepalive: int(b.Keepalive.Duration / time.Second),
			BFD: b.BFD, BFDInterval: int(b.BFDInterval.Duration / time.Millisecond), BFDMultiplier: b.BFDMultiplier,
			GracefulRestart: b.GracefulRestart, PasswordFile: p.PasswordFile,
		}
		for _, v := range inv.VIPs {
			if a := v.Address.Addr(); a.Is6() == data.IPv6 {
				data.VIPs = append(data.VIPs, hostPrefix(a))
			}
		}
		for _, d := range inv.Directors {
			if d.Address.Is6() == data.IPv6 {
				data.Directors = append(data.Directors, routerNeighbor{Name: d.Name, Address: d.Address.String(), ASN: inv.DirectorASN(d)})
			}
		}
		dir := RouterDir + "/" + data.Peer + "/"
		for _, t := range []struct{ tmpl, path string }{
			{"router-frr.conf.tmpl", RouterFRRPath},
			{"router-bird.conf.tmpl", RouterBIRDPath},
		} {
			out, err := execute(t.tmpl, data, 2048)
			if err != nil {
				return nil, fmt.Errorf("render %s%s: %w", dir, t.path, err)
			}
			files = append(files, File{Path: dir + t.path, Data: out, Mode: 0o644})
		}
	}
	out, err := execute("router-sysctl.conf.tmpl", routerData{Cluster: inv.Cluster.Name}, 1024)
	if err != nil {
		return nil, fmt.Errorf("render %s/%s: %w", RouterDir, RouterSysctlPath, err)
	}
	files = append(files, File{Path: RouterDir + "/" + RouterSysctlPath, Data: out, Mode: 0o644})
	return files, nil
}
