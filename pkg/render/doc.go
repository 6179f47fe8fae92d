// Package render turns a validated inventory into the files each host needs:
// per director keepalived.conf, sysctl.d/90-hala.conf and setup.sh; per host
// firewalld.sh; per Logstash host the inputs hala checks and the API
// settings. Output is deterministic (same inventory, same bytes) so that
// `hala render --check` can tell config management whether anything changed.
//
// Templates come from the embedded templates package and are executed with
// missingkey=error; every value reaches them already quoted for its target
// syntax (keepalived, shell, Logstash), and a value that cannot be quoted
// safely is an error, never a silently broken file.
//
// Write replaces files atomically (temporary file and rename) and only when
// their bytes or mode changed. Sync does the same and records the files in
// the output directory's manifest, the only list --prune deletes from: a
// listed file no longer rendered is stale; anything unlisted is never
// touched.
//
// render imports inventory, templates and drain (a drained backend is
// rendered with weight 0), and internal/atomicfile; it never reads the
// kernel.
package render
