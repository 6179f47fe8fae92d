// Package cli holds hala's cobra commands. Commands are thin: they parse
// flags, call one domain function and print its result. Only this package
// imports cobra, and only Run decides exit codes; nothing imports pkg/cli.
package cli
