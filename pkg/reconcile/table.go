package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
)

// Target is the kernel's IPVS table as reconcile sees it: one read of the
// whole table and one pipelined write of a list of changes. *ipvs.Handle
// satisfies it; tests use a fake that records the requests.
type Target interface {
	// Entries reads every service with its destinations.
	Entries(ctx context.Context) ([]ipvs.Entry, error)
	// Batch makes reqs in order and returns one result per request, as
	// ipvs.Handle.Batch does: nil when made, ipvs.ErrNotAttempted when
	// not sent, else why it failed.
	Batch(ctx context.Context, reqs []ipvs.Request) []error
}

// Entry is one virtual service with its destinations.
type Entry struct {
	// Name is the inventory's [[service]] name, "" when unknown.
	Name         string
	Service      ipvs.Service
	Destinations []ipvs.Destination
	// Owned is set by Show: hala manages this service (it is in the
	// inventory or the state file). Foreign services are never touched.
	Owned bool
	// TableWeight, on an mh service, is the weight a destination wanted
	// at weight 0 is added with before it is set to 0, so that it keeps
	// its place in mh's table (see Ordered; Desired sets it to the
	// service's weight).
	TableWeight int

	// added is, for an ordered service read by Observe, its destinations
	// in the order the kernel added them (nil otherwise).
	added []netip.AddrPort
}

// String returns the service, named when the name is known.
func (e Entry) String() string {
	if e.Name == "" {
		return e.Service.String()
	}
	return e.Name + " " + e.Service.String()
}

// Table is a set of services sorted by ipvs.ServiceKey.Compare, each with
// its destinations sorted by address and port.
type Table []Entry

func (t Table) sort() {
	// The kernel lists services in hash order. Sorting indices by keys
	// computed once, then placing the entries, beats sorting the entries
	// themselves: each comparison built two keys and each swap moved two
	// large entries.
	keys := make([]ipvs.ServiceKey, len(t))
	for i, e := range t {
		keys[i] = e.Service.Key()
	}
	if !slices.IsSortedFunc(keys, ipvs.ServiceKey.Compare) {
		idx := make([]int, len(t))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return keys[a].Compare(keys[b]) })
		sorted := make(Table, len(t))
		for i, j := range idx {
			sorted[i] = t[j]
		}
		copy(t, sorted)
	}
	for _, e := range t {
		sortDestinations(e.Destinations)
	}
}

// sortDestinations sorts by address and port. The kernel lists a
// service's destinations newest first, so a table hala wrote in order
// reads back in reverse: reversing it is linear, where the sort moved
// every (large) Destination many times, a tenth of a no-op reconcile of
// 1,000 × 10 in the test VM.
func sortDestinations(ds []ipvs.Destination) {
	byKey := func(a, b ipvs.Destination) int { return a.Key().Compare(b.Key()) }
	if slices.IsSortedFunc(ds, byKey) {
		return
	}
	if slices.IsSortedFunc(ds, func(a, b ipvs.Destination) int { return byKey(b, a) }) {
		slices.Reverse(ds)
		return
	}
	slices.SortFunc(ds, byKey)
}

func (t Table) index() map[ipvs.ServiceKey]int {
	m := make(map[ipvs.ServiceKey]int, len(t))
	for i, e := range t {
		m[e.Service.Key()] = i
	}
	return m
}

// Desired returns the IPVS table the inventory asks for on director node:
// one service per [[service]] on its VIP's address, with one destination
// per backend. Every director carries the whole table, as keepalived's
// virtual_server blocks do, so that the one holding a VIP can balance it;
// node, when not "", must name a [[director]].
//
// It reads the inventory alone, never the kernel. The inventory is expected
// to be validated (inventory.Load does); what the kernel cannot represent
// is still reported, every problem at once.
func Desired(inv *inventory.Inventory, node string) (Table, error) {
	if node != "" {
		if _, ok := inv.Director(node); !ok {
			names := make([]string, 0, len(inv.Directors))
			for _, d := range inv.Directors {
				names = append(names, d.Name)
			}
			return nil, fmt.Errorf("node %q is not a [[director]] in the inventory (directors: %s)", node, strings.Join(names, ", "))
		}
	}
	var (
		errs  []error
		table Table
		seen  = make(map[ipvs.ServiceKey]string, len(inv.Services))
	)
	table = make(Table, 0, len(inv.Services))
	for i, s := range inv.Services {
		where := func() string { return fmt.Sprintf("service[%d] (%s)", i, s.Name) }
		e, err := desiredEntry(inv, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where(), err))
			continue
		}
		key := e.Service.Key()
		if other, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: same IPVS service %s as %s", where(), key, other))
			continue
		}
		seen[key] = s.Name
		table = append(table, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	table.sort()
	return table, nil
}

func desiredEntry(inv *inventory.Inventory, s inventory.Service) (Entry, error) {
	vip, ok := inv.VIP(s.VIP)
	if !ok {
		return Entry{}, fmt.Errorf("vip %q not found", s.VIP)
	}
	proto, err := ipvs.ParseProtocol(s.Protocol)
	if err != nil {
		return Entry{}, err
	}
	fwd, err := ipvs.ParseForwarding(s.Forwarding)
	if err != nil {
		return Entry{}, err
	}
	if s.Port < 1 || s.Port > math.MaxUint16 {
		return Entry{}, fmt.Errorf("port %d out of range 1-65535", s.Port)
	}
	if s.BackendPort < 1 || s.BackendPort > math.MaxUint16 {
		return Entry{}, fmt.Errorf("backend_port %d out of range 1-65535", s.BackendPort)
	}
	addr := vip.Address.Addr()
	svc := ipvs.Service{
		Protocol:  proto,
		Address:   addr,
		Port:      uint16(s.Port),
		Scheduler: s.Scheduler,
		Netmask:   ipvs.DefaultNetmask(addr),
	}
	if s.OnePacket {
		if proto != ipvs.UDP {
			return Entry{}, fmt.Errorf("one_packet works only for udp services, this is %s", s.Protocol)
		}
		svc.Flags |= ipvs.FlagOnePacket
	}
	if s.UsesMH() {
		if s.MHFallback {
			svc.Flags |= ipvs.FlagMHFallback
		}
		if s.MHPort {
			svc.Flags |= ipvs.FlagMHPort
		}
	}
	if p := s.Persistence.Duration; p > 0 {
		secs := (p + time.Second - 1) / time.Second
		if secs > math.MaxUint32/1000 {
			return Entry{}, fmt.Errorf("persistence %v too long", p)
		}
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = uint32(secs)
	}
	if err := svc.Validate(); err != nil {
		return Entry{}, err
	}
	e := Entry{Name: s.Name, Service: svc, Destinations: make([]ipvs.Destination, 0, len(s.Backends))}
	if s.UsesMH() {
		e.TableWeight = s.Weight
	}
	for _, l := range inv.Backends(s) {
		d := ipvs.Destination{
			Address:    l.Address,
			Port:       uint16(s.BackendPort),
			Forwarding: fwd,
			Weight:     s.Weight,
		}
		if err := d.Validate(); err != nil {
			return Entry{}, fmt.Errorf("backend %s: %w", l.Name, err)
		}
		if l.Address.Is4() != addr.Is4() {
			return Entry{}, fmt.Errorf("backend %s: address %s is not of the VIP's family (%s)", l.Name, l.Address, addr)
		}
		e.Destinations = append(e.Destinations, d)
	}
	return e, nil
}

// Observe reads the whole table from the kernel in one Entries call,
// sorted.
func Observe(ctx context.Context, target Target) (Table, error) {
	entries, err := target.Entries(ctx)
	if err != nil {
		return nil, err
	}
	table := make(Table, len(entries))
	for i, e := range entries {
		table[i] = Entry{Service: e.Service, Destinations: e.Destinations}
		kernelOrder(&table[i])
	}
	table.sort()
	return table, nil
}

// Field is one kernel field whose value differs, as shown to users.
type Field struct {
	Name string `json:"field"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// String returns "weight 1 -> 2".
func (f Field) String() string { return f.Name + " " + f.Old + " -> " + f.New }

// serviceFields lists the fields of observed o that differ from desired d.
// Timeout and netmask matter to the kernel only for persistent services,
// so they are compared only when either side is persistent.
func serviceFields(o, d ipvs.Service) []Field {
	var fs []Field
	if o.Scheduler != d.Scheduler {
		fs = append(fs, Field{"scheduler", o.Scheduler, d.Scheduler})
	}
	of, df := o.Flags&^ipvs.FlagHashed, d.Flags&^ipvs.FlagHashed
	if of != df {
		fs = append(fs, Field{"flags", of.String(), df.String()})
	}
	if (of|df)&ipvs.FlagPersistent != 0 {
		if o.Timeout != d.Timeout {
			fs = append(fs, Field{"timeout", fmt.Sprint(o.Timeout), fmt.Sprint(d.Timeout)})
		}
		dm := d.Netmask
		if dm == 0 {
			dm = ipvs.DefaultNetmask(d.Address)
		}
		if o.Netmask != dm {
			fs = append(fs, Field{"netmask", netmask(o), netmask(ipvs.Service{Address: d.Address, Netmask: dm})})
		}
	}
	return fs
}

func netmask(s ipvs.Service) string {
	if s.Address.Is6() {
		return fmt.Sprintf("/%d", s.Netmask)
	}
	m := s.Netmask
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// destinationFields lists the fields of observed o that differ from desired d.
func destinationFields(o, d ipvs.Destination) []Field {
	var fs []Field
	if o.Forwarding != d.Forwarding {
		fs = append(fs, Field{"forwarding", o.Forwarding.String(), d.Forwarding.String()})
	}
	if o.Weight != d.Weight {
		fs = append(fs, Field{"weight", fmt.Sprint(o.Weight), fmt.Sprint(d.Weight)})
	}
	if o.UpperThreshold != d.UpperThreshold {
		fs = append(fs, Field{"upper_threshold", fmt.Sprint(o.UpperThreshold), fmt.Sprint(d.UpperThreshold)})
	}
	if o.LowerThreshold != d.LowerThreshold {
		fs = append(fs, Field{"lower_threshold", fmt.Sprint(o.LowerThreshold), fmt.Sprint(d.LowerThreshold)})
	}
	return fs
}
