package importer

import (
	"fmt"
	"path"
	"strings"
)

// Check is a MISC_CHECK command that import recognises: which Logstash
// host and input it checks, and how.
type Check struct {
	// Kind is "hala" (hala check) or "inputstatus" (the original
	// inputstatus.py script).
	Kind    string
	Address string
	InputID string
	// Program is the hala binary's path (Kind "hala").
	Program string
	// Flags holds hala check's flags by name without dashes ("port",
	// "dynamic-weight"); a flag without a value maps to "".
	Flags map[string]string
}

// halaValueFlags are hala check's flags that take a value.
var halaValueFlags = map[string]bool{
	"port": true, "timeout": true, "pipeline": true, "scheme": true, "ca": true,
	"auth-file": true, "max-idle": true, "probe-port": true, "state-dir": true,
}

// halaBoolFlags are hala check's flags without a value.
var halaBoolFlags = map[string]bool{
	"require-running": true, "probe": true, "dynamic-weight": true, "explain": true,
}

// ParseCheck recognises a misc_path command line: hala's own
// "hala check [flags] [--] IP ID" or "python inputstatus.py IP ID". It
// says why when it does not.
func ParseCheck(miscPath string) (Check, error) {
	args, err := splitCommand(miscPath)
	if err != nil {
		return Check{}, err
	}
	if len(args) == 0 {
		return Check{}, fmt.Errorf("empty command")
	}
	switch {
	case path.Base(args[0]) == "hala" && len(args) > 1 && args[1] == "check":
		return parseHalaCheck(args)
	case strings.HasPrefix(path.Base(args[0]), "python") && len(args) > 1 && path.Base(args[1]) == "inputstatus.py":
		if len(args) != 4 {
			return Check{}, fmt.Errorf("inputstatus.py takes an address and an input id, got %d arguments", len(args)-2)
		}
		return Check{Kind: "inputstatus", Address: args[2], InputID: args[3]}, nil
	case path.Base(args[0]) == "inputstatus.py":
		if len(args) != 3 {
			return Check{}, fmt.Errorf("inputstatus.py takes an address and an input id, got %d arguments", len(args)-1)
		}
		return Check{Kind: "inputstatus", Address: args[1], InputID: args[2]}, nil
	}
	return Check{}, fmt.Errorf("%s is neither hala check nor inputstatus.py", args[0])
}

func parseHalaCheck(args []string) (Check, error) {
	c := Check{Kind: "hala", Program: args[0], Flags: map[string]string{}}
	var pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case halaValueFlags[name]:
			if !hasValue {
				if i+1 >= len(rest) {
					return Check{}, fmt.Errorf("hala check flag --%s needs a value", name)
				}
				i++
				value = rest[i]
			}
			c.Flags[name] = value
		case halaBoolFlags[name]:
			c.Flags[name] = ""
		default:
			return Check{}, fmt.Errorf("hala check flag %s is not one import knows", a)
		}
	}
	if len(pos) != 2 {
		return Check{}, fmt.Errorf("hala check takes an address and an input id, got %d arguments", len(pos))
	}
	c.Address, c.InputID = pos[0], pos[1]
	return c, nil
}

// splitCommand splits a command line at blanks, honouring single and
// double quotes and backslash escapes, as keepalived does for misc_path.
func splitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}
