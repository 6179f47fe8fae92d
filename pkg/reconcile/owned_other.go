//go:build !linux

package reconcile

// StatePathFor returns the default ownership state file for the network
// namespace at nsPath. Only Linux has network namespaces: any nsPath but ""
// gives DefaultStatePath.
func StatePathFor(nsPath string) (string, error) {
	return DefaultStatePath, nil
}
