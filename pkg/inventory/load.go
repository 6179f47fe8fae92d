package inventory

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the inventory file at path; see Parse.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes an inventory from data (file names it in messages),
// strictly: an unknown key or a value of the wrong type is a problem. It then
// applies the defaults (SetDefaults) and validates (Validate).
//
// On failure the inventory is nil and the error joins one *Problem per
// problem found, in file order, each "file:line:col: key.path: message". A
// TOML syntax error stops decoding, so it is reported alone.
func Parse(file string, data []byte) (*Inventory, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, errors.Join(syntaxProblem(file, err))
	}
	inv := &Inventory{File: file, pos: scanPositions(string(data))}
	d := &decoder{}
	d.table("", raw, reflect.ValueOf(inv).Elem())
	inv.SetDefaults()
	fs := d.findings
	for _, f := range inv.validate(d.bad) {
		if !underBad(f.key, d.bad) {
			fs = append(fs, f)
		}
	}
	if err := inv.report(fs); err != nil {
		return nil, err
	}
	return inv, nil
}

// syntaxProblem turns the TOML library's error into a located Problem
// whose context shows the offending line with a caret.
func syntaxProblem(file string, err error) *Problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Problem{File: file, Message: "TOML syntax: " + err.Error()}
	}
	p := &Problem{
		File:    file,
		Line:    pe.Position.Line,
		Col:     pe.Position.Col,
		Message: "TOML syntax: " + pe.Message,
	}
	// ErrorWithPosition repeats the message and position, then shows the
	// source lines; keep the source lines.
	if full := pe.ErrorWithPosition(); full != "" {
		if _, src, ok := strings.Cut(full, ":\n\n"); ok {
			p.Context = src
		}
	}
	return p
}
