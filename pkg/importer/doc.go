// Package importer turns a parsed keepalived.conf (pkg/keepalived) into a
// hala inventory in TOML, for hala import. What it cannot map is written
// into the inventory as a comment naming the file and line, and why.
//
// It imports pkg/keepalived only; the TOML it writes is checked by the
// caller (hala validate) like any hand-written inventory.
package importer
