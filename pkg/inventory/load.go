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
		return nil, errors.Join(syntaxProblem(file, data, err))
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
// whose context shows the offending lines with a caret. (The library's own
// ErrorWithPosition panics on some positions, so the context is built here.)
func syntaxProblem(file string, data []byte, err error) *Problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Problem{File: file, Message: "TOML syntax: " + err.Error()}
	}
	return &Problem{
		File:    file,
		Line:    pe.Position.Line,
		Col:     pe.Position.Col,
		Message: "TOML syntax: " + pe.Message,
		Context: sourceContext(string(data), pe.Position.Line, pe.Position.Col, pe.Position.Len),
	}
}

// sourceContext shows up to two lines before line and line itself, then a
// caret under columns col..col+length-1; "" when line is not in src.
func sourceContext(src string, line, col, length int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	var b strings.Builder
	for n := max(1, line-2); n <= line; n++ {
		fmt.Fprintf(&b, "% 7d | %s\n", n, strings.ReplaceAll(strings.TrimRight(lines[n-1], "\r"), "\t", "    "))
	}
	text := lines[line-1]
	if col < 1 || col > len(text)+1 {
		return b.String()
	}
	// Columns count bytes; tabs before the caret were widened to 4 spaces.
	pad := col - 1 + 3*strings.Count(text[:col-1], "\t")
	fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat(" ", 10), strings.Repeat(" ", pad), strings.Repeat("^", max(1, length)))
	return b.String()
}
