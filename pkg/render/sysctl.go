package render

import (
	"fmt"

	"github.com/hala-lb/hala/pkg/inventory"
)

// Sysctl renders the sysctl.d file of the host called name, exactly as Node
// renders it (Path "<host>/sysctl.d/90-hala.conf"), without the host's other
// files: hala sysctl apply sets what this file holds. ok is false when the
// host needs no kernel settings (a Logstash host behind NAT only).
func Sysctl(inv *inventory.Inventory, name string) (f File, ok bool, err error) {
	r, err := newRenderer(inv)
	if err != nil {
		return File{}, false, err
	}
	h, err := r.lookup(name)
	if err != nil {
		return File{}, false, err
	}
	local := r.localVIPs(h)
	if !needsSysctl(h, local) {
		return File{}, false, nil
	}
	data, err := r.sysctl(h, local)
	if err != nil {
		return File{}, false, fmt.Errorf("render %s/%s: %w", h.name, SysctlPath, err)
	}
	return File{Path: h.name + "/" + SysctlPath, Data: data, Mode: 0o644}, true, nil
}

// needsSysctl reports whether host h gets a sysctl file (and setup.sh):
// directors, and real servers that hold VIPs themselves (DR/TUN).
func needsSysctl(h host, local []localVIP) bool {
	return h.director != nil || len(local) > 0
}
