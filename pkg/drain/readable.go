package drain

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// Reader is a user that must be able to read drain records: keepalived's
// script user (hala check) or hala director's.
type Reader struct {
	// Name is the user's name, as errors show it.
	Name string
	// UID and GIDs are the user's ids; UID -1 stands for any user that
	// owns nothing and is in no group (only the "other" bits count).
	UID  int
	GIDs []int
}

// LookupReader returns the user called name from the user database
// (/etc/passwd and /etc/group). A user that does not exist on this host
// is checked as any other user: the record must then be readable by all.
func LookupReader(name string) Reader {
	u, err := user.Lookup(name)
	if err != nil {
		return Reader{Name: name + " (no such user here, so any user)", UID: -1}
	}
	r := Reader{Name: name}
	r.UID, _ = strconv.Atoi(u.Uid)
	gids, err := u.GroupIds()
	if err != nil {
		gids = []string{u.Gid}
	}
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil {
			r.GIDs = append(r.GIDs, n)
		}
	}
	return r
}

// ErrUnreadable is wrapped by CheckReadable when a reader cannot read a
// record.
var ErrUnreadable = errors.New("drain record not readable")

// CheckReadable returns nil when r can read addr's record in dir, as the
// file system's modes and owners decide: search permission on every
// directory from / down, read permission on the record. (POSIX ACLs and
// security modules are not consulted.) Otherwise the error names the
// first path that stops r, its mode and owner.
func CheckReadable(dir string, addr netip.Addr, r Reader) error {
	p, err := filepath.Abs(path(dir, addr))
	if err != nil {
		return err
	}
	if r.UID == 0 {
		return nil
	}
	// Every directory from / down, then the record itself.
	var chain []string
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		chain = append(chain, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	slices.Reverse(chain)
	for _, d := range chain {
		if err := allowed(d, r, 0o1); err != nil {
			return err
		}
	}
	return allowed(p, r, 0o4)
}

// allowed checks one permission bit (4 read, 1 search) of p for r.
func allowed(p string, r Reader, bit fs.FileMode) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil // no owners to compare on this system
	}
	perm := fi.Mode().Perm()
	var have fs.FileMode
	switch {
	case r.UID >= 0 && int(st.Uid) == r.UID:
		have = perm >> 6
	case slices.Contains(r.GIDs, int(st.Gid)):
		have = perm >> 3
	default:
		have = perm
	}
	if have&bit != 0 {
		return nil
	}
	what := "read"
	if bit == 0o1 {
		what = "enter"
	}
	return fmt.Errorf("%w: user %s cannot %s %s (mode %04o, owner %d:%d)", ErrUnreadable, r.Name, what, p, perm, st.Uid, st.Gid)
}
