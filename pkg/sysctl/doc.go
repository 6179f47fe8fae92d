// Package sysctl applies kernel settings written in sysctl.d format (the
// "key = value" lines of the sysctl.d/90-hala.conf file that render writes)
// to the running host, through the files under /proc/sys.
//
// render is the single source of the settings: the CLI renders the node's
// files and passes the sysctl file's bytes to Parse, so what `hala sysctl
// apply` sets is exactly what a reboot would load from the rendered file.
// Apply reads every key first and writes only those whose value differs,
// reporting each as "key: old → new" or "key: value (unchanged)".
//
// sysctl imports no other hala package. The root directory (/proc/sys) is a
// parameter, so tests run against a temporary directory.
package sysctl
