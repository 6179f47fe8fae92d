// Package drain keeps drain records: one small JSON file per backend
// address in a local directory (DefaultDir, or $HALA_DRAIN_DIR), written
// by hala drain and read by hala check and hala director, so that a
// backend can be taken out of rotation before its Logstash restarts.
//
// A record is written atomically (temporary file, fsync, rename, fsync of
// the directory), so a reader never sees half of one and it survives a
// reboot. Files are mode 0644 in a 0755 directory, set explicitly whatever
// the caller's umask: keepalived's script user and the director's user
// read them, only root writes them. CheckReadable tells a writer whether
// a given user can read a record, from the modes down to it.
//
// Readers must treat an error from Lookup as "not drained" and warn: a
// record that cannot be read must never take a backend down.
//
// It imports only the standard library.
package drain
