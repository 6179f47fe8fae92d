package inventory

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxQuoted is the most bytes of one input value a message repeats: a
// multi-megabyte value echoed whole would bury the message (and the
// terminal).
const MaxQuoted = 64

// shorten cuts s to MaxQuoted bytes at a character boundary, marking the cut.
func shorten(s string) string { return cutAt(s, MaxQuoted) }

// cutAt cuts s to n bytes at a character boundary, marking the cut.
func cutAt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// quote is strconv.Quote of s shortened: control characters escaped, at
// most MaxQuoted bytes of s.
func quote(s string) string { return strconv.Quote(shorten(s)) }

// userText is a string argument of a finding's message. With %q it is
// quoted and shortened; with %s or %v it is printed as is (those verbs
// carry text composed here, such as lists of names already quoted).
type userText string

func (u userText) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, quote(string(u)))
		return
	}
	fmt.Fprint(f, string(u))
}

// messageArgs wraps the string arguments of a message as userText.
func messageArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = userText(s)
		}
	}
	return args
}

// escapeControl makes text from the input safe to print on a terminal:
// control characters (other than tab) become Go escapes.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\t' && (r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError)
}
