// Package layers holds no code: its test enforces the import rules of
// hala's package map (STYLE.md, "One-way dependencies", and
// docs/architecture.md) from `go list`, so a change that breaks them fails
// `go test ./...` instead of waiting for a reviewer.
package layers
