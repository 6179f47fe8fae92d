package testutil

import (
	"bytes"
	_ "embed"
)

// nodeStats88 is GET /_node/stats as Logstash 8.8.1 answered it (a capture,
// kuskoman/logstash-exporter fixtures/node_stats.json): pipeline "main" with
// one generator input under an auto-generated id, and ".monitoring-logstash"
// without inputs.
//
//go:embed testdata/node_stats-8.8-kuskoman.json
var nodeStats88 []byte

// nodeStats88InputID is the generator input's auto-generated id in nodeStats88.
const nodeStats88InputID = "c75c0c6f97fd2c8605b95a5b2694fdae97189fe49553787a923faeaa3342c54a"

// NodeStats returns a real Logstash 8.8.1 GET /_node/stats body whose one
// input (a generator in pipeline "main") has the id inputID. With inputID ""
// the body is the capture as is, whose input id no test inventory uses: an
// API that answers but lacks the input.
func NodeStats(inputID string) []byte {
	if inputID == "" {
		return bytes.Clone(nodeStats88)
	}
	return bytes.ReplaceAll(nodeStats88, []byte(`"`+nodeStats88InputID+`"`), []byte(`"`+inputID+`"`))
}
