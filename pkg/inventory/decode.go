package inventory

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// finding is a problem or warning before it is located and labelled.
type finding struct {
	key  string
	msg  string
	warn bool
	// err is a sentinel the Problem unwraps to (ErrPlaceholder), or nil.
	err error
}

// decoder turns the TOML library's generic tables into the typed
// Inventory, key by key, so that every wrong type and unknown key is
// reported (the library's own struct decoding stops at the first one).
type decoder struct {
	findings []finding
	// bad holds keys that failed to decode; validation stays quiet about
	// them instead of adding a second message for the same mistake.
	bad map[string]bool
}

func (d *decoder) errorf(key, format string, args ...any) {
	d.findings = append(d.findings, finding{key: key, msg: fmt.Sprintf(format, messageArgs(args)...)})
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[key] = true
}

var (
	durationType = reflect.TypeOf(Duration{})
	addrType     = reflect.TypeOf(netip.Addr{})
	prefixType   = reflect.TypeOf(netip.Prefix{})
)

// tomlKeys lists a struct type's TOML keys in field order, with the field
// index of each.
func tomlKeys(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// table decodes the TOML table m at key into the struct rv.
func (d *decoder) table(key string, m map[string]any, rv reflect.Value) {
	names, index := tomlKeys(rv.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := joinKey(key, k)
		i, ok := index[k]
		if !ok {
			d.unknown(sub, k, names)
			continue
		}
		d.value(sub, m[k], rv.Field(i))
	}
}

func (d *decoder) unknown(key, name string, known []string) {
	if s := suggest(name, known); s != "" {
		d.errorf(key, "unknown key (did you mean %q?)", s)
		return
	}
	d.errorf(key, "unknown key (known: %s)", strings.Join(known, ", "))
}

// suggest returns the known key closest to name when it is likely a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// value decodes one TOML value v at key into rv.
func (d *decoder) value(key string, v any, rv reflect.Value) {
	switch rv.Type() {
	case durationType:
		s, ok := v.(string)
		if !ok {
			example := "5s"
			if n, isInt := v.(int64); isInt {
				example = fmt.Sprintf("%ds", n)
			}
			d.errorf(key, "must be a duration string such as %q, not %s", example, describe(v))
			return
		}
		var dur Duration
		if err := dur.UnmarshalText([]byte(s)); err != nil {
			d.errorf(key, "%v", err)
			return
		}
		rv.Set(reflect.ValueOf(dur))
		return
	case addrType:
		s, ok := v.(string)
		if !ok {
			d.errorf(key, "must be an IP address string, not %s", describe(v))
			return
		}
		a, err := parseAddr(s)
		if err != nil {
			d.errorf(key, "%v", err)
			return
		}
		rv.Set(reflect.ValueOf(a))
		return
	case prefixType:
		s, ok := v.(string)
		if !ok {
			d.errorf(key, "must be an address/prefix string such as \"192.168.1.230/24\", not %s", describe(v))
			return
		}
		p, err := parsePrefix(s)
		if err != nil {
			d.errorf(key, "%v", err)
			return
		}
		rv.Set(reflect.ValueOf(p))
		return
	}

	switch rv.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			what := describe(v)
			if strings.HasSuffix(key, "vrrp_auth_pass") {
				// A password written unquoted: say its type, not its value.
				what, _, _ = strings.Cut(what, " ")
				what = "a TOML " + what
			}
			d.errorf(key, "must be a string, not %s", what)
			return
		}
		rv.SetString(s)
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			d.errorf(key, "must be an integer, not %s", describe(v))
			return
		}
		if n > math.MaxInt32 || n < math.MinInt32 {
			d.errorf(key, "%d is out of range", n)
			return
		}
		rv.SetInt(n)
	case reflect.Uint32:
		n, ok := v.(int64)
		if !ok {
			d.errorf(key, "must be an integer, not %s", describe(v))
			return
		}
		if n < 0 || n > math.MaxUint32 {
			d.errorf(key, "%d is out of range 0-%d", n, uint32(math.MaxUint32))
			return
		}
		rv.SetUint(uint64(n))
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.errorf(key, "must be true or false, not %s", describe(v))
			return
		}
		rv.SetBool(b)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			if _, isArray := v.([]map[string]any); isArray {
				d.errorf(key, "must be a table: write [%s], not [[%s]]", key, key)
				return
			}
			d.errorf(key, "must be a table, not %s", describe(v))
			return
		}
		d.table(key, m, rv)
	case reflect.Slice:
		d.slice(key, v, rv)
	default:
		// Only reachable when a field of an unsupported type is added to
		// the types; say so instead of ignoring the key.
		d.errorf(key, "cannot decode into %s", rv.Type())
	}
}

func (d *decoder) slice(key string, v any, rv reflect.Value) {
	elem := rv.Type().Elem()
	tables := elem.Kind() == reflect.Struct && elem != durationType && elem != addrType && elem != prefixType
	var items []any
	switch x := v.(type) {
	case []map[string]any:
		for _, m := range x {
			items = append(items, m)
		}
	case []any:
		items = x
	default:
		if _, isTable := v.(map[string]any); isTable && tables {
			d.errorf(key, "must be an array of tables: write [[%s]], not [%s]", key, key)
			return
		}
		d.errorf(key, "must be an array, not %s", describe(v))
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(items), len(items))
	for i, item := range items {
		sub := indexKey(key, i)
		if tables {
			m, ok := item.(map[string]any)
			if !ok {
				d.errorf(sub, "must be a table, not %s", describe(item))
				continue
			}
			d.table(sub, m, out.Index(i))
			continue
		}
		d.value(sub, item, out.Index(i))
	}
	rv.Set(out)
}

// describe names a TOML value's type (and the value, when short) for
// messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "string " + strconv.Quote(x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// parseAddr reads a host address, refusing forms keepalived and IPVS can't
// use.
func parseAddr(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		return netip.Addr{}, fmt.Errorf("%s is not an IP address (write the address without a /prefix)", quote(s))
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s is not an IP address", quote(s))
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s: addresses with a %%zone are not supported", quote(s))
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%s: write the IPv4 address %s instead", quote(s), a.Unmap())
	}
	return a, nil
}

// parsePrefix reads "address/bits"; a bare address means a single host
// (/32 or /128). The address keeps its host bits.
func parsePrefix(s string) (netip.Prefix, error) {
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	a, err := parseAddr(addrPart)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	bits, err := strconv.Atoi(bitsPart)
	if err != nil || strings.HasPrefix(bitsPart, "+") || bitsPart == "" {
		return netip.Prefix{}, fmt.Errorf("%s: invalid prefix length %s", quote(s), quote(bitsPart))
	}
	if bits < 0 || bits > a.BitLen() {
		fam := "IPv4"
		if a.Is6() {
			fam = "IPv6"
		}
		return netip.Prefix{}, fmt.Errorf("%s: prefix length /%d is out of range for %s (0-%d)", quote(s), bits, fam, a.BitLen())
	}
	return netip.PrefixFrom(a, bits), nil
}
