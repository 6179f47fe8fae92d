//go:build linux

package reconcile

import (
	"fmt"
	"os"
	"syscall"
)

// StatePathFor returns the default ownership state file for the network
// namespace at nsPath: DefaultStatePath for "" and for the caller's own
// namespace, else one file per namespace named by the namespace's inode
// (as ip netns identify and lsns show it), so services owned in one
// namespace are never pruned on behalf of another.
func StatePathFor(nsPath string) (string, error) {
	if nsPath == "" {
		return DefaultStatePath, nil
	}
	ino, err := nsInode(nsPath)
	if err != nil {
		return "", err
	}
	if self, err := nsInode("/proc/self/ns/net"); err == nil && self == ino {
		return DefaultStatePath, nil
	}
	return fmt.Sprintf("%s-netns-%d.json", DefaultStatePath[:len(DefaultStatePath)-len(".json")], ino), nil
}

func nsInode(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("network namespace %s: no inode", path)
	}
	return st.Ino, nil
}
