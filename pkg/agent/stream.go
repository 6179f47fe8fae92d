package agent

import "github.com/hala-lb/hala/pkg/agent/stream"

// The stream's types and client live in pkg/agent/stream, which the hala
// binary (hala status, hala diagnose) links without the agent's
// Prometheus metrics.
type (
	// State is one input's state as the agent streams it.
	State = stream.State
	// Event is one line of the stream.
	Event = stream.Event
)

// Re-exported from pkg/agent/stream.
const (
	StreamPath     = stream.StreamPath
	EventState     = stream.EventState
	EventChange    = stream.EventChange
	EventPing      = stream.EventPing
	ReasonClosed   = stream.ReasonClosed
	ReasonUnbound  = stream.ReasonUnbound
	ReasonBound    = stream.ReasonBound
	DefaultPing    = stream.DefaultPing
	CredentialName = stream.CredentialName
)

// Re-exported from pkg/agent/stream.
var (
	Dial      = stream.Dial
	Snapshot  = stream.Snapshot
	NewClient = stream.NewClient
	ReadToken = stream.ReadToken
	DropsText = stream.DropsText
)
