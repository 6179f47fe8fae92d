// Package status is hala status: the whole cluster as one director sees
// it. For every service and backend of the inventory it asks the
// backend's Logstash API (all backends at once, bounded by the check
// timeout), judges the service's input with pkg/check, derives events/s
// from two samples and the load from the pipeline's flow metrics, and
// looks the destination up in the local IPVS table (read through
// reconcile.Observe, never written); it also shows which VIPs the
// director holds (pkg/vip, read only).
//
// Collect never fails: a backend that does not answer, an IPVS table that
// cannot be read (no root, no IPVS in the kernel) or VIPs that cannot be
// read are reported in their cells and notes, and the rest still works.
//
// status imports check, reconcile, inventory, ipvs, logstash and vip; it
// opens no kernel handle itself: the caller passes them in.
package status
