package inventory

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one finding in an inventory: where it is (file, line, column,
// key path) and what is wrong. Load and Parse return errors that join
// *Problem values; Inventory.Warnings holds non-fatal ones.
type Problem struct {
	// File is the inventory's path as given to Load or Parse.
	File string
	// Line and Col are 1-based; 0 when the position is unknown (a key that
	// is missing together with its whole table).
	Line, Col int
	// Key is the key path with array indexes, e.g. "service[0].vip".
	Key string
	// Path is Key as shown to users, with the names of array elements:
	// `service[0] ("syslog-udp").vip`.
	Path string
	// Message says what is wrong and, where it helps, what to do.
	Message string
	// Context holds extra lines shown after the message (for TOML syntax
	// errors: the offending source lines and a caret).
	Context string
	// Err is a sentinel callers can test with errors.Is (ErrPlaceholder),
	// or nil.
	Err error
}

// ErrPlaceholder marks a value that hala import wrote because the
// keepalived.conf it read did not say (a director's address under
// multicast VRRP): the operator must fill it in.
var ErrPlaceholder = errors.New("placeholder value")

// Unwrap returns the problem's sentinel, if any.
func (p *Problem) Unwrap() error { return p.Err }

// Error formats the problem as "file:line:col: key.path: message".
func (p *Problem) Error() string { return p.String() }

// String formats the problem as "file:line:col: key.path: message", leaving
// out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, "%d:", p.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Context != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(p.Context, "\n"))
	}
	return b.String()
}
