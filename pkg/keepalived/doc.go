// Package keepalived parses keepalived.conf into a tree of statements, for
// hala import. It knows the syntax (blocks, quoted strings, '#' and '!'
// comments, include with globs relative to the including file), not the
// meaning of keywords. '@' conditionals and '$' parameters are not
// evaluated: each is reported as a Note with its file and line.
//
// It imports no other hala package.
package keepalived
