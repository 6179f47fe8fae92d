package inventory

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// MaxFileSize is the largest inventory Load and Parse accept (4 MiB), 60
// times the render benchmark's inventory of 200 directors and 500 Logstash
// hosts (62 KiB): a larger file is a mistake (or hostile), refused before
// parsing.
const MaxFileSize = 4 << 20

// MaxNesting is the deepest nesting of arrays and inline tables Parse
// accepts. An inventory needs 2 ([[service]], a list of strings); deeper
// nesting makes the TOML decoder spend memory out of all proportion to the
// file (40 KB of "[" took 633 MB), so it is refused before decoding.
const MaxNesting = 16

// Load reads the inventory file at path; see Parse. Only a regular file of
// at most MaxFileSize bytes is read: a device (/dev/zero never ends) or a
// FIFO (opening it waits for a writer) is refused before it is opened.
func Load(path string) (*Inventory, error) {
	data, err := readInventory(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readInventory(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // what the user asked for: "stat" would puzzle
		}
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if err := regularFile(path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path have become a FIFO since Stat, opening it
	// must not wait for a writer; the second check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if err := regularFile(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path)
	}
	return data, nil
}

// regularFile refuses anything but a regular file of at most MaxFileSize.
func regularFile(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &Problem{File: path, Message: fmt.Sprintf("not a regular file (%s): an inventory is a TOML file", fileKind(fi.Mode()))}
	}
	if fi.Size() > MaxFileSize {
		return tooLarge(path)
	}
	return nil
}

func tooLarge(path string) error {
	return &Problem{File: path, Message: fmt.Sprintf("larger than %d MiB, the most an inventory may be", MaxFileSize>>20)}
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// Parse decodes an inventory from data (file names it in messages),
// strictly: an unknown key or a value of the wrong type is a problem. It then
// applies the defaults (SetDefaults) and validates (Validate).
//
// On failure the inventory is nil and the error joins one *Problem per
// problem found, in file order, each "file:line:col: key.path: message". A
// TOML syntax error stops decoding, so it is reported alone.
func Parse(file string, data []byte) (*Inventory, error) {
	if len(data) > MaxFileSize {
		return nil, errors.Join(tooLarge(file))
	}
	if p := tooDeep(file, data); p != nil {
		return nil, errors.Join(p)
	}
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
		return &Problem{File: file, Message: "TOML syntax: " + shortMessage(err.Error())}
	}
	msg := pe.Message
	lines := strings.Split(string(data), "\n")
	if l := pe.Position.Line; l >= 1 && l <= len(lines) && secretLine(lines[l-1]) {
		// The library quotes the token it stumbled on: part of the secret.
		msg = quotedRE.ReplaceAllString(msg, `"<redacted>"`) + " (in the vrrp_auth_pass line; its value is not shown)"
	}
	return &Problem{
		File:    file,
		Line:    pe.Position.Line,
		Col:     pe.Position.Col,
		Message: "TOML syntax: " + shortMessage(msg),
		Context: sourceContext(lines, pe.Position.Line, pe.Position.Col, pe.Position.Len),
	}
}

// quotedRE matches a quoted token in the library's messages.
var quotedRE = &lazyRegexp{expr: `"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`}

// secretLine reports whether a source line sets the VRRP password: its
// value must not appear in messages.
func secretLine(line string) bool { return strings.Contains(line, "vrrp_auth_pass") }

// redact replaces what follows the "=" after vrrp_auth_pass.
func redact(line string) string {
	k := strings.Index(line, "vrrp_auth_pass")
	eq := strings.Index(line[k:], "=")
	if eq < 0 {
		return line[:k] + "vrrp_auth_pass <redacted>"
	}
	return line[:k+eq+1] + " <redacted>"
}

// shortMessage keeps a message from the TOML library to one short,
// printable line.
func shortMessage(m string) string {
	return escapeControl(cutAt(m, 4*MaxQuoted))
}

// contextWidth is the most bytes of a source line shown around the caret.
const contextWidth = 2 * MaxQuoted

// sourceContext shows up to two lines before line and line itself, then a
// caret under columns col..col+length-1; "" when line is not in lines.
// Long lines are cut around the caret, control characters are escaped and
// the vrrp_auth_pass value is redacted.
func sourceContext(lines []string, line, col, length int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	// The window of bytes shown: the whole line when short, else around col.
	from := 0
	if col > contextWidth/2 {
		from = col - 1 - contextWidth/2
	}
	show := func(text string) (string, bool) {
		text = strings.TrimRight(text, "\r")
		if secretLine(text) {
			return redact(text), false
		}
		cut := text
		if from > 0 && from < len(cut) {
			cut = "..." + validStart(cut[from:])
		} else if from >= len(cut) {
			cut = ""
		}
		cut = cutAt(cut, contextWidth+3)
		return escapeControl(strings.ReplaceAll(cut, "\t", "    ")), true
	}
	var b strings.Builder
	for n := max(1, line-2); n <= line; n++ {
		text, _ := show(lines[n-1])
		fmt.Fprintf(&b, "% 7d | %s\n", n, text)
	}
	text := strings.TrimRight(lines[line-1], "\r")
	if _, plain := show(text); !plain || col < 1 || col > len(text)+1 {
		return b.String()
	}
	// Columns count bytes; the caret goes under the shown form of the prefix.
	prefix := text[:col-1]
	if from > 0 {
		prefix = "..." + validStart(prefix[min(from, len(prefix)):])
	}
	pad := len(escapeControl(strings.ReplaceAll(prefix, "\t", "    ")))
	width := min(max(1, length), contextWidth)
	fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat(" ", 10), strings.Repeat(" ", pad), strings.Repeat("^", width))
	return b.String()
}

// validStart drops the bytes of a character cut at the start of s.
func validStart(s string) string {
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}
