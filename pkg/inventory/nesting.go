package inventory

import (
	"bytes"
	"fmt"
)

// tooDeep scans the raw TOML for arrays and inline tables nested deeper
// than MaxNesting, outside strings and comments, and returns the first
// place the limit is passed (nil when there is none). It only counts:
// syntax errors are left to the decoder.
func tooDeep(file string, data []byte) *Problem {
	depth, line, lineStart := 0, 1, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
			lineStart = i + 1
		case '#':
			nl := bytes.IndexByte(data[i:], '\n')
			if nl < 0 {
				return nil
			}
			i += nl - 1 // the newline is counted next
		case '"', '\'':
			end, lines, last := skipString(data, i)
			if lines > 0 {
				line += lines
				lineStart = last
			}
			i = end - 1
		case '[', '{':
			if depth++; depth > MaxNesting {
				return &Problem{File: file, Line: line, Col: i - lineStart + 1,
					Message: fmt.Sprintf("arrays or inline tables nested more than %d deep: an inventory needs at most 2", MaxNesting)}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// skipString returns the index just past the string starting at data[i]
// (basic or literal, single- or multi-line), the newlines inside it and
// the index after the last of them. An unterminated single-line string
// ends at the newline, as the decoder will report.
func skipString(data []byte, i int) (end, lines, lastStart int) {
	q := data[i]
	multi := bytes.HasPrefix(data[i:], []byte{q, q, q})
	j := i + 1
	if multi {
		j = i + 3
	}
	for j < len(data) {
		c := data[j]
		switch {
		case c == '\\' && q == '"':
			j++ // the escaped byte (a newline after it is counted below)
			if j < len(data) && data[j] == '\n' {
				lines++
				lastStart = j + 1
			}
		case c == '\n':
			if !multi {
				return j, lines, lastStart
			}
			lines++
			lastStart = j + 1
		case c == q && !multi:
			return j + 1, lines, lastStart
		case c == q && bytes.HasPrefix(data[j:], []byte{q, q, q}):
			// Up to two more quotes may end the content ("""a"""").
			j += 3
			for k := 0; k < 2 && j < len(data) && data[j] == q; k++ {
				j++
			}
			return j, lines, lastStart
		}
		j++
	}
	return len(data), lines, lastStart
}
