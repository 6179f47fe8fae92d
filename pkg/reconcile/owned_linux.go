//go:build linux

package reconcile

import (
	"fmt"

	"github.com/hala-lb/hala/pkg/ipvs"
)

// StatePathFor returns the default ownership state file for the network
// namespace at nsPath: DefaultStatePath for "" and for the caller's own
// namespace, else one file per namespace named by the namespace's inode
// (as ip netns identify and lsns show it), so services owned in one
// namespace are never pruned on behalf of another. A path that is not a
// network namespace is an error naming it (see ipvs.NamespaceID).
func StatePathFor(nsPath string) (string, error) {
	if nsPath == "" {
		return DefaultStatePath, nil
	}
	ino, err := ipvs.NamespaceID(nsPath)
	if err != nil {
		return "", err
	}
	if self, err := ipvs.NamespaceID("/proc/self/ns/net"); err == nil && self == ino {
		return DefaultStatePath, nil
	}
	return fmt.Sprintf("%s-netns-%d.json", DefaultStatePath[:len(DefaultStatePath)-len(".json")], ino), nil
}
