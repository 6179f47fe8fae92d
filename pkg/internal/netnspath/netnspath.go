// Package netnspath opens a network namespace named by a path
// (/run/netns/NAME, /proc/PID/ns/net), refusing anything else with
// ErrNotNamespace: setns(2) would only say "invalid argument". pkg/ipvs
// and pkg/vip bind their netlink sockets to what it opens.
//
// It imports the standard library and golang.org/x/sys only, so that leaf
// packages may use it.
package netnspath

import "errors"

// ErrNotNamespace means a path given as a network namespace is not one (a
// regular file, another kind of namespace). ipvs.ErrNotNamespace and
// vip.ErrNotNamespace are this error.
var ErrNotNamespace = errors.New("not a network namespace")
