// Package keepalived parses keepalived.conf into a tree of statements, for
// hala import. It knows the syntax (blocks, quoted strings, '#' and '!'
// comments, include with globs relative to the including file), not the
// meaning of keywords. '@' conditionals and '$' parameters are not
// evaluated: each is reported as a Note with its file and line. As in
// keepalived, "${NAME}" is part of a word (its braces open no block),
// "$NAME=value" defines a parameter (the line is left out), and "\!" or
// "\#" inside a word is that character, not a comment.
//
// Reads are bounded: MaxTotalSize across a file and its includes, and a
// file whose size changes while it is read (/proc files) is refused.
//
// It imports no other hala package.
package keepalived
