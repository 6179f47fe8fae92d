// Package docs holds no code: its tests keep README.md and docs/*.md
// honest. Every relative link resolves, and every inventory key is in the
// inventory reference (docs/inventory.md).
package docs
