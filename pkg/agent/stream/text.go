package stream

import "fmt"

// DropsText says, one line per input, what the kernel dropped at the
// inputs' sockets; nothing when it dropped nothing.
func DropsText(states []State) []string {
	var out []string
	for _, st := range states {
		if st.Drops == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s: the kernel dropped %d packets at the input's socket (receive buffer full; %d bytes queued now): the input does not read as fast as they arrive; a larger receive_buffer_bytes only absorbs bursts",
			st.Key(), st.Drops, st.QueueBytes))
	}
	return out
}
