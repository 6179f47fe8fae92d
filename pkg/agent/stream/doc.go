// Package stream is hala agent's wire: the state of an input, the events
// of the stream, the client that reads it and the bearer token file. It
// imports the standard library only, so hala status and hala diagnose
// read agents without linking the agent itself.
package stream
