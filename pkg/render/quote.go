package render

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// keepalivedWord reports whether keepalived reads s as one plain word:
// nothing it would split on or cut as a comment ('#', '!').
func keepalivedWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_.:/@+,=%-", r):
		default:
			return false
		}
	}
	return true
}

// keepalivedQuote returns s as a keepalived value: bare when it is a plain
// word, double-quoted otherwise (keepalived cuts an unquoted '#' or '!' as a
// comment). keepalived has no escape for '"' or line breaks, so those are
// errors rather than a silently different value.
func keepalivedQuote(s string) (string, error) {
	if keepalivedWord(s) {
		return s, nil
	}
	if err := quotable(s, `"`); err != nil {
		return "", fmt.Errorf("keepalived value %q: %w", s, err)
	}
	return `"` + s + `"`, nil
}

// logstashQuote returns s as a double-quoted Logstash config string.
// Logstash does not process escapes by default (config.support_escapes), so
// '"' and '\' cannot be represented.
func logstashQuote(s string) (string, error) {
	if err := quotable(s, `"\`); err != nil {
		return "", fmt.Errorf("logstash value %q: %w", s, err)
	}
	return `"` + s + `"`, nil
}

// shellQuote returns s single-quoted for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// comment makes s safe inside a one-line comment: control characters
// (line breaks above all) become spaces, so a name cannot end the comment.
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// quotable reports why s cannot go between double quotes: an empty value, a
// control character, or one of the forbidden characters.
func quotable(s, forbidden string) error {
	if s == "" {
		return errors.New("empty value")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("contains control character %q", r)
		}
		if strings.ContainsRune(forbidden, r) {
			return fmt.Errorf("contains %q, which cannot be quoted", r)
		}
	}
	return nil
}

// argWord reports why s cannot be one argument of keepalived's misc_path:
// keepalived splits the quoted command line on white space.
func argWord(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("contains white space or control character %q", r)
		}
		if strings.ContainsRune(`"'\`, r) {
			return fmt.Errorf("contains %q", r)
		}
	}
	return nil
}
