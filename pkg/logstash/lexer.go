package logstash

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does, so a hostile body cannot
// exhaust the stack.
const maxDepth = 10000

// errBodyTooLarge is returned by lexer reads once more than the limit was read.
var errBodyTooLarge = errors.New("body too large")

// syntaxError is a JSON syntax problem at a byte offset of the body.
type syntaxError struct {
	msg string
	off int64
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

// lexer is a validating, streaming JSON reader over a fixed buffer. It reads
// the body once, keeps no more than one buffer and the current string, and
// skips unwanted values without allocating. It accepts exactly what
// encoding/json accepts (the fuzz test holds it to that).
type lexer struct {
	r        io.Reader
	buf      []byte
	pos, end int
	off      int64 // body offset of buf[0]
	err      error // sticky read error (io.EOF at the end)
	limit    int64 // maximum body size; 0 = none
	depth    int
	scratch  []byte
}

func newLexer(r io.Reader, limit int64) *lexer {
	return &lexer{r: r, buf: buffers.Get().(*[32 << 10]byte)[:], limit: limit}
}

// buffers recycles read buffers: hala director parses a body per backend
// every interval, and a fresh 32 KiB buffer each time is most of what it
// allocates. Nothing parsed refers to the buffer (strings are copies).
var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// release returns the lexer's buffer to the pool; the lexer is unusable
// afterwards.
func (l *lexer) release() {
	if len(l.buf) == 32<<10 {
		buffers.Put((*[32 << 10]byte)(l.buf))
	}
	l.buf = nil
}

// fill reads more input into buf; it reports false at the end or on error.
func (l *lexer) fill() bool {
	if l.err != nil {
		return false
	}
	l.off += int64(l.end)
	l.pos, l.end = 0, 0
	for l.end == 0 {
		n, err := l.r.Read(l.buf)
		l.end = n
		if l.limit > 0 && l.off+int64(n) > l.limit {
			l.err = errBodyTooLarge
			l.end = 0
			return false
		}
		if err != nil {
			l.err = err
			return n > 0
		}
	}
	return true
}

// offset is the body offset of the next unread byte.
func (l *lexer) offset() int64 { return l.off + int64(l.pos) }

// endOfBody reports whether the read error only means the body ended
// (cleanly, or cut short by a closed connection).
func (l *lexer) endOfBody() bool {
	return l.err == nil || l.err == io.EOF || l.err == io.ErrUnexpectedEOF
}

func (l *lexer) syntax(msg string) error {
	if !l.endOfBody() {
		return l.err
	}
	return &syntaxError{msg: msg, off: l.offset()}
}

func (l *lexer) eof() error {
	if !l.endOfBody() {
		return l.err
	}
	return &syntaxError{msg: "unexpected end of body", off: l.offset()}
}

// peek skips white space and returns the next byte without consuming it.
func (l *lexer) peek() (byte, error) {
	for {
		for l.pos < l.end {
			c := l.buf[l.pos]
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				l.pos++
				continue
			}
			return c, nil
		}
		if !l.fill() {
			return 0, l.eof()
		}
	}
}

// next skips white space and consumes and returns the next byte.
func (l *lexer) next() (byte, error) {
	c, err := l.peek()
	if err == nil {
		l.pos++
	}
	return c, err
}

func (l *lexer) expect(want byte) error {
	c, err := l.next()
	if err != nil {
		return err
	}
	if c != want {
		l.pos--
		return l.syntax(fmt.Sprintf("invalid character %s, want %q", quoteChar(c), want))
	}
	return nil
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// atEnd reports whether only white space remains in the body.
func (l *lexer) atEnd() error {
	c, err := l.peek()
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return nil // clean end of body
		}
		return err
	}
	return l.syntax(fmt.Sprintf("invalid character %s after top-level value", quoteChar(c)))
}

// beginObject consumes '{'. Use with more().
func (l *lexer) beginObject() error {
	if err := l.expect('{'); err != nil {
		return err
	}
	return l.push()
}

func (l *lexer) beginArray() error {
	if err := l.expect('['); err != nil {
		return err
	}
	return l.push()
}

func (l *lexer) push() error {
	l.depth++
	if l.depth > maxDepth {
		return l.syntax("exceeded max depth")
	}
	return nil
}

// more reports whether the object or array has another member and consumes
// the separator; first is true before the first member. At the end it
// consumes the closing bracket.
func (l *lexer) more(first bool, closing byte) (bool, error) {
	c, err := l.next()
	if err != nil {
		return false, err
	}
	if c == closing {
		l.depth--
		return false, nil
	}
	if first {
		l.pos--
		return true, nil
	}
	if c != ',' {
		l.pos--
		return false, l.syntax(fmt.Sprintf("invalid character %s after %s element", quoteChar(c), map[byte]string{'}': "object", ']': "array"}[closing]))
	}
	return true, nil
}

// key reads an object key and the ':' after it. The returned slice is only
// valid until the next call.
func (l *lexer) key() ([]byte, error) {
	c, err := l.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		return nil, l.syntax(fmt.Sprintf("invalid character %s looking for beginning of object key string", quoteChar(c)))
	}
	k, err := l.str()
	if err != nil {
		return nil, err
	}
	if err := l.expect(':'); err != nil {
		return nil, err
	}
	return k, nil
}

// str reads a string (the next byte must be '"'), unescaped into scratch, with
// invalid UTF-8 replaced as encoding/json does. Valid until the next call.
func (l *lexer) str() ([]byte, error) {
	l.pos++ // opening quote, checked by the caller
	out := l.scratch[:0]
	valid := true
	for {
		start := l.pos
		for l.pos < l.end {
			c := l.buf[l.pos]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			if c >= utf8.RuneSelf {
				valid = false
			}
			l.pos++
		}
		out = append(out, l.buf[start:l.pos]...)
		if l.pos == l.end {
			if !l.fill() {
				l.scratch = out
				return nil, l.eof()
			}
			continue
		}
		c := l.buf[l.pos]
		switch {
		case c == '"':
			l.pos++
			if !valid && !utf8.Valid(out) {
				out = fixUTF8(out)
			}
			l.scratch = out
			return out, nil
		case c < 0x20:
			l.scratch = out
			return nil, l.syntax(fmt.Sprintf("invalid character %s in string literal", quoteChar(c)))
		}
		// Backslash escape.
		l.pos++
		e, err := l.rawByte()
		if err != nil {
			l.scratch = out
			return nil, err
		}
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := l.hex4()
			if err != nil {
				l.scratch = out
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				// A valid pair needs a following \uDC00-\uDFFF escape.
				if r2, ok := l.peekEscapedRune(); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						l.pos += 6
						out = utf8.AppendRune(out, dec)
						continue
					}
				}
				r = utf8.RuneError // a lone surrogate
			}
			out = utf8.AppendRune(out, r)
		default:
			l.pos--
			l.scratch = out
			return nil, l.syntax(fmt.Sprintf("invalid character %s in string escape code", quoteChar(e)))
		}
	}
}

// peekEscapedRune decodes a \uXXXX escape at the read position without
// consuming it.
func (l *lexer) peekEscapedRune() (rune, bool) {
	if !l.ensure(6) || l.buf[l.pos] != '\\' || l.buf[l.pos+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range l.buf[l.pos+2 : l.pos+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// ensure makes at least n unread bytes available in buf if the body has them.
func (l *lexer) ensure(n int) bool {
	for l.end-l.pos < n {
		if l.err != nil {
			return false
		}
		// Move the unread tail to the front and read after it.
		k := copy(l.buf, l.buf[l.pos:l.end])
		l.off += int64(l.pos)
		l.pos, l.end = 0, k
		m, err := l.r.Read(l.buf[k:])
		if l.limit > 0 && l.off+int64(k+m) > l.limit {
			l.err = errBodyTooLarge
			return false
		}
		l.end += m
		if err != nil {
			l.err = err
		}
	}
	return true
}

func (l *lexer) rawByte() (byte, error) {
	if l.pos == l.end && !l.fill() {
		return 0, l.eof()
	}
	c := l.buf[l.pos]
	l.pos++
	return c, nil
}

func (l *lexer) hex4() (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		c, err := l.rawByte()
		if err != nil {
			return 0, err
		}
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			l.pos--
			return 0, l.syntax(fmt.Sprintf("invalid character %s in \\u hexadecimal character escape", quoteChar(c)))
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

// fixUTF8 replaces every byte of an invalid UTF-8 sequence with U+FFFD, as
// encoding/json does.
func fixUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// number reads a JSON number into scratch and returns its text.
func (l *lexer) number() ([]byte, error) {
	out := l.scratch[:0]
	get := func() (byte, bool) {
		if l.pos == l.end && !l.fill() {
			return 0, false
		}
		return l.buf[l.pos], true
	}
	digits := func() int {
		n := 0
		for {
			c, ok := get()
			if !ok || c < '0' || c > '9' {
				return n
			}
			out = append(out, c)
			l.pos++
			n++
		}
	}
	bad := func(what string) error {
		l.scratch = out
		if c, ok := get(); ok {
			return l.syntax(fmt.Sprintf("invalid character %s %s", quoteChar(c), what))
		}
		return l.eof()
	}
	if c, ok := get(); ok && c == '-' {
		out = append(out, c)
		l.pos++
	}
	c, ok := get()
	switch {
	case !ok:
		l.scratch = out
		return nil, l.eof()
	case c == '0':
		out = append(out, c)
		l.pos++
	case '1' <= c && c <= '9':
		digits()
	default:
		return nil, bad("in numeric literal")
	}
	if c, ok := get(); ok && c == '.' {
		out = append(out, c)
		l.pos++
		if digits() == 0 {
			return nil, bad("after decimal point in numeric literal")
		}
	}
	if c, ok := get(); ok && (c == 'e' || c == 'E') {
		out = append(out, c)
		l.pos++
		if c, ok := get(); ok && (c == '+' || c == '-') {
			out = append(out, c)
			l.pos++
		}
		if digits() == 0 {
			return nil, bad("in exponent of numeric literal")
		}
	}
	if !l.endOfBody() {
		return nil, l.err
	}
	l.scratch = out
	return out, nil
}

// literal consumes one of true, false, null; the first byte was peeked.
func (l *lexer) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, err := l.rawByte()
		if err != nil {
			return err
		}
		if c != word[i] {
			l.pos--
			return l.syntax(fmt.Sprintf("invalid character %s in literal %s (expecting %q)", quoteChar(c), word, word[i]))
		}
	}
	return nil
}

// skip consumes one value of any type.
func (l *lexer) skip() error {
	c, err := l.peek()
	if err != nil {
		return err
	}
	switch c {
	case '{':
		if err := l.beginObject(); err != nil {
			return err
		}
		for first := true; ; first = false {
			ok, err := l.more(first, '}')
			if err != nil || !ok {
				return err
			}
			if err := l.skipKey(); err != nil {
				return err
			}
			if err := l.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := l.beginArray(); err != nil {
			return err
		}
		for first := true; ; first = false {
			if first {
				// An empty array is "[]"; anything else must be a value.
				c, err := l.peek()
				if err != nil {
					return err
				}
				if c == ']' {
					l.pos++
					l.depth--
					return nil
				}
			} else {
				ok, err := l.more(false, ']')
				if err != nil || !ok {
					return err
				}
			}
			if err := l.skip(); err != nil {
				return err
			}
		}
	case '"':
		return l.skipString()
	case 't':
		return l.literal("true")
	case 'f':
		return l.literal("false")
	case 'n':
		return l.literal("null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			_, err := l.number()
			return err
		}
		return l.syntax(fmt.Sprintf("invalid character %s looking for beginning of value", quoteChar(c)))
	}
}

func (l *lexer) skipKey() error {
	c, err := l.peek()
	if err != nil {
		return err
	}
	if c != '"' {
		return l.syntax(fmt.Sprintf("invalid character %s looking for beginning of object key string", quoteChar(c)))
	}
	if err := l.skipString(); err != nil {
		return err
	}
	return l.expect(':')
}

// skipString validates and consumes a string without keeping it.
func (l *lexer) skipString() error {
	l.pos++
	for {
		for l.pos < l.end {
			c := l.buf[l.pos]
			if c == '"' {
				l.pos++
				return nil
			}
			if c == '\\' || c < 0x20 {
				break
			}
			l.pos++
		}
		if l.pos == l.end {
			if !l.fill() {
				return l.eof()
			}
			continue
		}
		if l.buf[l.pos] < 0x20 {
			return l.syntax(fmt.Sprintf("invalid character %s in string literal", quoteChar(l.buf[l.pos])))
		}
		l.pos++
		e, err := l.rawByte()
		if err != nil {
			return err
		}
		switch e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if _, err := l.hex4(); err != nil {
				return err
			}
		default:
			l.pos--
			return l.syntax(fmt.Sprintf("invalid character %s in string escape code", quoteChar(e)))
		}
	}
}

// int64Value reads a number, or null (as 0, false), clamping to int64.
// Any other type is skipped and reported as absent.
func (l *lexer) int64Value() (int64, bool, error) {
	c, err := l.peek()
	if err != nil {
		return 0, false, err
	}
	if c != '-' && (c < '0' || c > '9') {
		return 0, false, l.skip()
	}
	b, err := l.number()
	if err != nil {
		return 0, false, err
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return n, true, nil
	}
	f, _ := strconv.ParseFloat(string(b), 64)
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64, true, nil
	case f <= math.MinInt64:
		return math.MinInt64, true, nil
	}
	return int64(f), true, nil
}

// floatValue reads a number or one of the strings Logstash writes for
// non-finite flow values ("Infinity", "-Infinity", "NaN"). Anything else
// (null, other strings, objects) is skipped and reported as absent.
func (l *lexer) floatValue() (float64, bool, error) {
	c, err := l.peek()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c == '-' || ('0' <= c && c <= '9'):
		b, err := l.number()
		if err != nil {
			return 0, false, err
		}
		f, _ := strconv.ParseFloat(string(b), 64) // out of range gives ±Inf
		return f, true, nil
	case c == '"':
		s, err := l.str()
		if err != nil {
			return 0, false, err
		}
		switch string(s) {
		case "Infinity", "+Infinity":
			return math.Inf(1), true, nil
		case "-Infinity":
			return math.Inf(-1), true, nil
		case "NaN":
			return math.NaN(), true, nil
		}
		return 0, false, nil
	}
	return 0, false, l.skip()
}

// stringValue reads a string; other types are skipped and reported absent.
func (l *lexer) stringValue() (string, bool, error) {
	c, err := l.peek()
	if err != nil {
		return "", false, err
	}
	if c != '"' {
		return "", false, l.skip()
	}
	s, err := l.str()
	if err != nil {
		return "", false, err
	}
	return string(s), true, nil
}

// objectFields calls f for each key of an object (f must consume the value).
// A value that is not an object is skipped and ok is false.
func (l *lexer) objectFields(f func(key []byte) error) (ok bool, err error) {
	c, err := l.peek()
	if err != nil {
		return false, err
	}
	if c != '{' {
		return false, l.skip()
	}
	if err := l.beginObject(); err != nil {
		return false, err
	}
	for first := true; ; first = false {
		more, err := l.more(first, '}')
		if err != nil {
			return false, err
		}
		if !more {
			return true, nil
		}
		k, err := l.key()
		if err != nil {
			return false, err
		}
		if err := f(k); err != nil {
			return false, err
		}
	}
}

// arrayElems calls f for each element of an array (f must consume it). A
// value that is not an array is skipped and ok is false.
func (l *lexer) arrayElems(f func() error) (ok bool, err error) {
	c, err := l.peek()
	if err != nil {
		return false, err
	}
	if c != '[' {
		return false, l.skip()
	}
	if err := l.beginArray(); err != nil {
		return false, err
	}
	c, err = l.peek()
	if err != nil {
		return false, err
	}
	if c == ']' {
		l.pos++
		l.depth--
		return true, nil
	}
	for first := true; ; first = false {
		if !first {
			more, err := l.more(false, ']')
			if err != nil {
				return false, err
			}
			if !more {
				return true, nil
			}
		}
		if err := f(); err != nil {
			return false, err
		}
	}
}
