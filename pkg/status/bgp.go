package status

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// BGP is what the local hala director reports of its BGP side (its /bgp).
type BGP struct {
	Peers []Peer `json:"peers"`
	// Announced are the VIPs announced now, by name.
	Announced map[string]netip.Addr `json:"announced"`
	// Drained is set by hala drain --director.
	Drained bool `json:"drained"`
}

// Peer is one BGP session.
type Peer struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	Up      bool       `json:"up"`
	State   string     `json:"state"`
	Since   time.Time  `json:"since"`
	BFD     string     `json:"bfd,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

func (s *Status) writeBGP(b *strings.Builder, color bool) {
	if s.BGP == nil && s.BGPNote == "" {
		return
	}
	b.WriteString("\nBGP:\n")
	if s.BGP == nil {
		b.WriteString("  " + s.BGPNote + "\n")
		return
	}
	for _, p := range s.BGP.Peers {
		state := p.State
		c := red
		if p.Up {
			c = green
		}
		if color {
			state = c + state + reset
		}
		line := fmt.Sprintf("  peer %s AS%d  %s", p.Address, p.ASN, state)
		if !p.Since.IsZero() {
			line += " since " + p.Since.Format(time.RFC3339)
		}
		if p.BFD != "" {
			line += "  bfd " + p.BFD
		}
		if !p.Up && p.Reason != "" {
			line += "  (" + p.Reason + ")"
		}
		b.WriteString(line + "\n")
	}
	names := make([]string, 0, len(s.BGP.Announced))
	for n := range s.BGP.Announced {
		names = append(names, n)
	}
	slices.Sort(names)
	var ann []string
	for _, n := range names {
		ann = append(ann, fmt.Sprintf("%s (%s)", n, s.BGP.Announced[n]))
	}
	switch {
	case len(ann) > 0:
		b.WriteString("  announced: " + strings.Join(ann, ", ") + "\n")
	default:
		b.WriteString("  announced: none\n")
	}
	if s.BGP.Drained {
		b.WriteString("  director drained (hala undrain --director to announce again)\n")
	}
}
