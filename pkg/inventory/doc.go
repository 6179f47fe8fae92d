// Package inventory reads, completes and validates hala's TOML inventory:
// the single description of a cluster's directors (keepalived + IPVS),
// Logstash hosts (real servers), virtual IPs, services and firewall.
//
// Load and Parse decode strictly (an unknown key is an error), apply every
// default, and validate. When anything is wrong they return every problem at
// once, joined with errors.Join, each a *Problem that names the file, line,
// column and key path:
//
//	examples/x.toml:23:1: service[0] ("syslog-udp").vip: "logz" names no [[vip]] (known: "logs")
//
// A returned *Inventory is complete: consumers (render, reconcile) read
// effective values and never re-derive defaults. Findings that are worth
// saying but do not stop a render are in Inventory.Warnings.
//
// This package imports no other hala package; it is the only one that
// imports the TOML library.
package inventory
