package inventory

import (
	"strconv"
	"strings"
)

// position is where a key (or an array element) starts in the file.
type position struct {
	Line, Col int
}

// positions maps key paths such as "cluster.name", "service[2]" (the
// [[service]] header), "service[2].vip" and "firewall.log_sources[1]" to
// where they are written. The TOML library keeps no per-element positions,
// so this small scanner walks the (already syntax-checked) file itself.
type positions map[string]position

// lookup returns the position of key or, when key is not written in the
// file (a missing key), of the nearest enclosing table or element.
func (ps positions) lookup(key string) position {
	for key != "" {
		if p, ok := ps[key]; ok {
			return p
		}
		key = parentKey(key)
	}
	return position{}
}

// has reports whether key is written in the file.
func (ps positions) has(key string) bool {
	_, ok := ps[key]
	return ok
}

// parentKey strips the last ".name" or "[i]" from a key path.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// joinKey appends a key segment to a path.
func joinKey(parent, seg string) string {
	if parent == "" {
		return seg
	}
	return parent + "." + seg
}

func indexKey(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// scanPositions records the position of every key, table header and array
// element in src. src must be valid TOML (the decoder has accepted it); on
// anything unexpected the scanner stops early and returns what it has, it
// never fails.
func scanPositions(src string) positions {
	s := &scanner{src: src, line: 1, ps: positions{}, arrays: map[string]int{}}
	if strings.HasPrefix(src, "\ufeff") { // byte order mark
		s.i, s.lineStart = 3, 3
	}
	s.document()
	return s.ps
}

type scanner struct {
	src       string
	i         int
	line      int
	lineStart int
	ps        positions
	// arrays counts the [[x]] headers seen per resolved array path.
	arrays map[string]int
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) peek(k int) byte {
	if s.i+k < len(s.src) {
		return s.src[s.i+k]
	}
	return 0
}

func (s *scanner) pos() position {
	return position{Line: s.line, Col: s.i - s.lineStart + 1}
}

// advance moves one byte forward, counting lines.
func (s *scanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.lineStart = s.i + 1
	}
	s.i++
}

// skipSpace skips blanks and, when nl, newlines and comments too.
func (s *scanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.advance()
		case nl && c == '\n':
			s.advance()
		case nl && c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the start of the next line.
func (s *scanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.advance()
	}
	s.advance()
}

func (s *scanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			at := s.pos()
			array := s.peek(1) == '['
			if array {
				s.advance()
			}
			s.advance()
			s.skipSpace(false)
			segs := s.key()
			if len(segs) == 0 {
				return
			}
			table = s.header(segs, array, at)
			s.skipLine()
			continue
		}
		s.keyValue(table)
		// Whatever follows a value on its line is a comment or nothing.
		s.skipSpace(false)
		if !s.eof() && s.src[s.i] == '#' {
			s.skipLine()
		}
		if s.i == start {
			return // no progress: not TOML we understand
		}
	}
}

// header resolves a [table] or [[array]] header to its key path, records
// its position and returns the path that keys below it belong to.
func (s *scanner) header(segs []string, array bool, at position) string {
	path := ""
	last := len(segs)
	if array {
		last--
	}
	for _, seg := range segs[:last] {
		path = s.resolve(joinKey(path, seg))
		if _, ok := s.ps[path]; !ok {
			s.ps[path] = at
		}
	}
	if array {
		base := joinKey(path, segs[last])
		n := s.arrays[base]
		s.arrays[base] = n + 1
		if _, ok := s.ps[base]; !ok {
			s.ps[base] = at
		}
		path = indexKey(base, n)
	}
	s.ps[path] = at
	return path
}

// resolve turns a path that names an array of tables into its current
// (last) element.
func (s *scanner) resolve(path string) string {
	if n, ok := s.arrays[path]; ok && n > 0 {
		return indexKey(path, n-1)
	}
	return path
}

// keyValue scans `key = value` and records positions below table.
func (s *scanner) keyValue(table string) {
	at := s.pos()
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	path := table
	for _, seg := range segs {
		path = joinKey(path, seg)
		if _, ok := s.ps[path]; !ok {
			s.ps[path] = at
		}
	}
	s.skipSpace(false)
	if s.eof() || s.src[s.i] != '=' {
		return
	}
	s.advance()
	s.skipSpace(false)
	s.value(path)
}

// key scans a dotted key (bare, "basic" or 'literal' segments).
func (s *scanner) key() []string {
	var segs []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return segs
		}
		var seg string
		switch c := s.src[s.i]; {
		case c == '"':
			raw := s.basicString()
			if u, err := strconv.Unquote(raw); err == nil {
				seg = u
			} else {
				seg = strings.Trim(raw, `"`)
			}
		case c == '\'':
			seg = strings.Trim(s.literalString(), "'")
		case isBare(c):
			start := s.i
			for !s.eof() && isBare(s.src[s.i]) {
				s.advance()
			}
			seg = s.src[start:s.i]
		default:
			return segs
		}
		segs = append(segs, seg)
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return segs
		}
		s.advance()
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value scans one value, recording array elements and inline-table keys.
func (s *scanner) value(path string) {
	if s.eof() {
		return
	}
	switch s.src[s.i] {
	case '"':
		s.basicString()
	case '\'':
		s.literalString()
	case '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.advance()
				return
			}
			start := s.i
			el := indexKey(path, n)
			s.ps[el] = s.pos()
			s.value(el)
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				return
			}
		}
	case '{':
		s.advance()
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.advance()
				return
			}
			start := s.i
			s.keyValue(path)
			s.skipSpace(true)
			if !s.eof() && s.src[s.i] == ',' {
				s.advance()
			} else if s.i == start {
				return
			}
		}
	default:
		// Number, bool or date-time: up to a delimiter.
		for !s.eof() {
			switch s.src[s.i] {
			case ',', ']', '}', '\n', '#':
				return
			}
			s.advance()
		}
	}
}

// basicString scans a basic string, single- or multi-line, and returns its
// raw text.
func (s *scanner) basicString() string {
	return s.quoted('"', true)
}

// literalString scans a literal string, single- or multi-line, and returns
// its raw text.
func (s *scanner) literalString() string {
	return s.quoted('\'', false)
}

func (s *scanner) quoted(q byte, escapes bool) string {
	start := s.i
	multi := s.peek(1) == q && s.peek(2) == q
	if multi {
		s.advance()
		s.advance()
	}
	s.advance()
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case escapes && c == '\\':
			s.advance()
			s.advance()
			continue
		case c == q && !multi:
			s.advance()
			return s.src[start:s.i]
		case c == q && s.peek(1) == q && s.peek(2) == q:
			// Up to two more quotes may belong to the content.
			for k := 0; k < 2 && s.peek(3) == q; k++ {
				s.advance()
			}
			s.advance()
			s.advance()
			s.advance()
			return s.src[start:s.i]
		case c == '\n' && !multi:
			return s.src[start:s.i]
		}
		s.advance()
	}
	return s.src[start:s.i]
}
