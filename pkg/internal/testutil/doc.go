// Package testutil holds helpers for hala's tests: skipping (or failing) when
// a tool or kernel feature is missing, throwaway network namespaces joined by
// a bridge, a built hala binary, and polling with a deadline.
//
// Real-kernel tests live in *_linux_test.go files with the build constraint
// "linux && integration", are named TestIntegration…, and call RequireKernel
// first. They run as root inside the qemu test VM (scripts/vmtest-suite),
// where HALA_REQUIRE_KERNEL=1 turns every skip into a failure so a missing
// feature can't pass silently.
//
// Every namespace a helper creates is removed at test cleanup, after the
// processes left inside it are killed, even when the test fails. The host's
// own network namespace is never changed.
//
// This package is imported only by tests and imports no other hala package.
package testutil
