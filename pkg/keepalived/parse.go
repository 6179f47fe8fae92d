package keepalived

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Limits that keep a hostile or broken file from exhausting memory or
// recursing forever.
const (
	// MaxFileSize is the largest file read (keepalived.conf or an included one).
	MaxFileSize = 4 << 20
	// MaxTotalSize bounds the bytes one Load reads across a file and all
	// it includes (the largest inventory hala reads is as large): 40
	// includes of one 4 MiB file must not mean 160 MiB in memory.
	MaxTotalSize = 4 << 20
	// MaxDepth is the deepest nesting of blocks.
	MaxDepth = 32
	// MaxIncludeDepth bounds include chains (a file including itself included).
	MaxIncludeDepth = 8
	// MaxFiles bounds how many files one Load reads.
	MaxFiles = 256
)

// Pos is where a statement starts.
type Pos struct {
	File string
	Line int
}

// String formats the position as "file:line".
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Node is one statement: a keyword, its arguments and, for a block, the
// statements inside its braces.
type Node struct {
	Name     string
	Args     []string
	Children []*Node
	// Block is true when the statement had braces (possibly empty).
	Block bool
	Pos   Pos
}

// Arg returns the i-th argument, or "" when there is none.
func (n *Node) Arg(i int) string {
	if i < len(n.Args) {
		return n.Args[i]
	}
	return ""
}

// String formats the statement's keyword and arguments as in the file.
func (n *Node) String() string {
	if len(n.Args) == 0 {
		return n.Name
	}
	return n.Name + " " + strings.Join(n.Args, " ")
}

// Note is a part of the file the parser read but did not evaluate.
type Note struct {
	Pos     Pos
	Message string
}

// String formats the note as "file:line: message".
func (n Note) String() string { return n.Pos.String() + ": " + n.Message }

// Config is a parsed keepalived.conf with its includes expanded.
type Config struct {
	Nodes []*Node
	// Notes lists what was read but not evaluated ('@' conditionals, '$'
	// parameters), in file order.
	Notes []Note
	// Files lists every file read, the main one first.
	Files []string
}

// ErrSyntax is wrapped by every error about the file's syntax.
var ErrSyntax = errors.New("syntax error")

// Load reads the keepalived.conf at path and every file it includes.
func Load(path string) (*Config, error) {
	p := &parser{readFile: readFile, glob: filepath.Glob}
	return p.run(path, nil)
}

// Parse parses data as the keepalived.conf called name. An include is
// followed relative to name's directory only when follow is true; otherwise
// it is reported as a Note.
func Parse(name string, data []byte, follow bool) (*Config, error) {
	p := &parser{}
	if follow {
		p.readFile, p.glob = readFile, filepath.Glob
	}
	return p.run(name, data)
}

// readFile reads a regular file of at most limit bytes. A read always
// ends: the file is opened non-blocking (a read of /proc/kmsg would wait
// for the kernel's next message for ever), and a file that yields more or
// fewer bytes than its size says (/proc and /sys files say 0) is refused
// rather than read to its end.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fs := kernelFile(f); fs != "" {
		return nil, fmt.Errorf("%s is a file of the kernel's %s file system, not a configuration file", path, fs)
	}
	size := fi.Size()
	if size > limit {
		return nil, fmt.Errorf("%s (%d bytes) is larger than %d bytes", path, size, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, size+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is it a file of the kernel's, such as /proc/kmsg?)", path, err)
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("%s says it has %d bytes but gave %d: not a file keepalived.conf can be read from (a /proc or /sys file?)", path, size, len(data))
	}
	return data, nil
}

type parser struct {
	readFile func(string, int64) ([]byte, error)
	glob     func(string) ([]string, error)
	cfg      Config
	lines    []line
	// total counts the bytes read, against MaxTotalSize.
	total int64
}

// budget is what is left of MaxTotalSize, at most MaxFileSize.
func (p *parser) budget() int64 {
	return min(MaxFileSize, MaxTotalSize-p.total)
}

// line is one logical line's tokens.
type line struct {
	pos  Pos
	toks []token
}

type token struct {
	text   string
	quoted bool
	// def: a whole "$NAME=value" parameter definition.
	def bool
}

func (p *parser) run(path string, data []byte) (*Config, error) {
	if data == nil {
		if p.readFile == nil {
			return nil, fmt.Errorf("read %s: no reader", path)
		}
		var err error
		if data, err = p.readFile(path, MaxFileSize); err != nil {
			return nil, fmt.Errorf("read keepalived config: %w", err)
		}
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, MaxFileSize)
	}
	p.total = int64(len(data))
	p.cfg.Files = append(p.cfg.Files, path)
	if err := p.file(path, data, 0); err != nil {
		return nil, err
	}
	nodes, err := p.tree()
	if err != nil {
		return nil, err
	}
	p.cfg.Nodes = nodes
	return &p.cfg, nil
}

// file splits one file into lines, expanding includes in place.
func (p *parser) file(path string, data []byte, depth int) error {
	lines, err := lex(path, data)
	if err != nil {
		return err
	}
	for _, l := range lines {
		first := l.toks[0]
		switch {
		case !first.quoted && first.text == "include":
			if err := p.include(l, depth); err != nil {
				return err
			}
			continue
		case !first.quoted && strings.HasPrefix(first.text, "@"):
			p.note(l.pos, "conditional %q is not evaluated: the line is left out", first.text)
			continue
		case first.def:
			p.note(l.pos, "parameter definition %q is not evaluated: the line is left out", strings.SplitN(first.text, "=", 2)[0])
			continue
		case !first.quoted && strings.HasPrefix(first.text, "~"):
			p.note(l.pos, "sequence %q is not evaluated: the line is left out", first.text)
			continue
		}
		for _, t := range l.toks {
			if strings.Contains(t.text, "$") && !t.quoted {
				p.note(l.pos, "parameter in %q is not substituted", t.text)
				break
			}
		}
		p.lines = append(p.lines, l)
	}
	return nil
}

func (p *parser) note(pos Pos, format string, args ...any) {
	p.cfg.Notes = append(p.cfg.Notes, Note{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) include(l line, depth int) error {
	if len(l.toks) != 2 {
		return fmt.Errorf("%s: include takes one file or glob: %w", l.pos, ErrSyntax)
	}
	if p.readFile == nil {
		p.note(l.pos, "include %q is not followed", l.toks[1].text)
		return nil
	}
	if strings.Contains(l.toks[1].text, "$") && !l.toks[1].quoted {
		p.note(l.pos, "include %q names a parameter, which is not substituted: the include is not followed", l.toks[1].text)
		return nil
	}
	if depth >= MaxIncludeDepth {
		return fmt.Errorf("%s: include %q: more than %d nested includes (does a file include itself?)", l.pos, l.toks[1].text, MaxIncludeDepth)
	}
	pattern := l.toks[1].text
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(l.pos.File), pattern)
	}
	matches, err := p.glob(pattern)
	if err != nil {
		return fmt.Errorf("%s: include %q: %w", l.pos, l.toks[1].text, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("%s: include %q matches no file", l.pos, l.toks[1].text)
	}
	sort.Strings(matches)
	for _, m := range matches {
		if len(p.cfg.Files) >= MaxFiles {
			return fmt.Errorf("%s: include %q: more than %d files", l.pos, l.toks[1].text, MaxFiles)
		}
		left := p.budget()
		data, err := p.readFile(m, left)
		if err != nil {
			if left < MaxFileSize {
				err = fmt.Errorf("%w: the files read so far and their includes may hold at most %d bytes together", err, MaxTotalSize)
			}
			return fmt.Errorf("%s: include %q: %w", l.pos, l.toks[1].text, err)
		}
		p.total += int64(len(data))
		p.cfg.Files = append(p.cfg.Files, m)
		if err := p.file(m, data, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// lex splits data into logical lines of tokens. Comments run from an
// unquoted '#' or '!' to the end of the line; braces are tokens of their
// own; a backslash at the end of a line continues it.
func lex(path string, data []byte) ([]line, error) {
	var lines []line
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	phys := strings.Split(text, "\n")
	var cur *line
	for i, raw := range phys {
		if cur == nil {
			cur = &line{pos: Pos{File: path, Line: i + 1}}
		}
		cont := false
		s := raw
		for len(s) > 0 {
			c := s[0]
			switch {
			case c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r':
				s = s[1:]
			case c == '#' || c == '!':
				s = ""
			case c == '{' || c == '}':
				cur.toks = append(cur.toks, token{text: string(c)})
				s = s[1:]
			case c == '"':
				var b strings.Builder
				j := 1
				closed := false
				for j < len(s) {
					if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
						b.WriteByte(s[j+1])
						j += 2
						continue
					}
					if s[j] == '"' {
						closed = true
						j++
						break
					}
					b.WriteByte(s[j])
					j++
				}
				if !closed {
					return nil, fmt.Errorf("%s:%d: unterminated quoted string: %w", path, i+1, ErrSyntax)
				}
				cur.toks = append(cur.toks, token{text: b.String(), quoted: true})
				s = s[j:]
			case c == '\\' && strings.TrimSpace(s[1:]) == "":
				cont = true
				s = ""
			case c == '$' && len(cur.toks) == 0 && defRE.MatchString(s):
				// "$NAME=value" defines a parameter: the rest of the line
				// is its value, braces and all (file() notes it).
				def := strings.TrimRight(s, " \t\r")
				cur.toks = append(cur.toks, token{text: def, def: true})
				cont = strings.HasSuffix(def, "\\")
				s = ""
			default:
				w, rest := word(s)
				cur.toks = append(cur.toks, token{text: w})
				s = rest
			}
		}
		if cont && i+1 < len(phys) {
			continue
		}
		if len(cur.toks) > 0 {
			lines = append(lines, *cur)
		}
		cur = nil
	}
	return lines, nil
}

// defRE matches the start of a parameter definition, "$NAME=".
var defRE = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*=`)

// word reads an unquoted word from the start of s and returns it and the
// rest. As keepalived reads it: "${NAME}" is part of the word (its braces
// open no block), and "\!" or "\#" is a literal '!' or '#', not a comment.
func word(s string) (string, string) {
	var b strings.Builder
	j := 0
	for j < len(s) {
		c := s[j]
		switch {
		case c == '\\' && j+1 < len(s) && (s[j+1] == '!' || s[j+1] == '#'):
			b.WriteByte(s[j+1])
			j += 2
			continue
		case c == '$' && j+1 < len(s) && s[j+1] == '{':
			if end := strings.IndexByte(s[j:], '}'); end > 0 && !strings.ContainsAny(s[j+2:j+end], " \t{") {
				b.WriteString(s[j : j+end+1])
				j += end + 1
				continue
			}
		case strings.IndexByte(" \t\f\v\r{}#!\"", c) >= 0:
			return b.String(), s[j:]
		}
		b.WriteByte(c)
		j++
	}
	return b.String(), ""
}

// tree builds the statement tree from the lines. A statement ends at the
// end of its line or at a brace; '{' opens the block of the statement
// before it (on the same line, or alone on the next one).
func (p *parser) tree() ([]*Node, error) {
	type frame struct {
		nodes *[]*Node
		open  *Node
	}
	var top []*Node
	stack := []frame{{nodes: &top}}
	for _, l := range p.lines {
		var stmt *Node
		for _, t := range l.toks {
			cur := &stack[len(stack)-1]
			switch {
			case !t.quoted && t.text == "{":
				target := stmt
				if target == nil {
					// '{' alone: it opens the previous statement's block.
					if n := len(*cur.nodes); n > 0 && !(*cur.nodes)[n-1].Block {
						target = (*cur.nodes)[n-1]
					} else {
						return nil, fmt.Errorf("%s: '{' without a keyword before it: %w", l.pos, ErrSyntax)
					}
				}
				if len(stack) > MaxDepth {
					return nil, fmt.Errorf("%s: blocks nested deeper than %d: %w", l.pos, MaxDepth, ErrSyntax)
				}
				target.Block = true
				stack = append(stack, frame{nodes: &target.Children, open: target})
				stmt = nil
			case !t.quoted && t.text == "}":
				if len(stack) == 1 {
					return nil, fmt.Errorf("%s: '}' closes no block: %w", l.pos, ErrSyntax)
				}
				stack = stack[:len(stack)-1]
				stmt = nil
			case stmt == nil:
				stmt = &Node{Name: t.text, Pos: l.pos}
				*cur.nodes = append(*cur.nodes, stmt)
			default:
				stmt.Args = append(stmt.Args, t.text)
			}
		}
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1].open
		return nil, fmt.Errorf("%s: block %q is never closed: %w", open.Pos, open.Name, ErrSyntax)
	}
	return top, nil
}
