//go:build !linux

package agent

import "context"

// Run returns ErrUnsupported: sock_diag is Linux's.
func (a *Agent) Run(ctx context.Context) error { return ErrUnsupported }
