package logstash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNotNodePipelines means the body is not a /_node/pipelines body: not
// JSON, or JSON without a pipelines object.
var ErrNotNodePipelines = errors.New("response is not a Logstash /_node/pipelines body")

// ParseNodePipelines reads a GET /_node/pipelines body (6.0+): each
// pipeline's own workers, batch size and batch delay, which node stats
// report only from 8.17.1. The body is small (settings per pipeline), so it
// is decoded whole, within maxBody.
func ParseNodePipelines(r io.Reader, maxBody int64) (map[string]Settings, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	lr := &io.LimitedReader{R: r, N: maxBody + 1}
	var body struct {
		Pipelines map[string]*struct {
			Workers    int64 `json:"workers"`
			BatchSize  int64 `json:"batch_size"`
			BatchDelay int64 `json:"batch_delay"`
		} `json:"pipelines"`
	}
	if err := json.NewDecoder(lr).Decode(&body); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w (over %s)", ErrBodyTooLarge, FormatBytes(maxBody))
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrNotNodePipelines, err)
		}
		return nil, err
	}
	if body.Pipelines == nil {
		return nil, fmt.Errorf("%w (no pipelines field)", ErrNotNodePipelines)
	}
	out := make(map[string]Settings, len(body.Pipelines))
	for id, p := range body.Pipelines {
		if p != nil {
			out[id] = Settings{Workers: p.Workers, BatchSize: p.BatchSize, BatchDelayMillis: p.BatchDelay}
		}
	}
	return out, nil
}

// NodePipelines fetches GET /_node/pipelines: every pipeline's own
// settings. A node without the endpoint (5.x) gives ErrNoNodePipelines.
func (c *Client) NodePipelines(ctx context.Context) (map[string]Settings, error) {
	var out map[string]Settings
	err := c.get(ctx, "/_node/pipelines", func(body io.Reader) error {
		s, err := ParseNodePipelines(body, c.maxBody)
		out = s
		return err
	})
	if errors.Is(err, errFallback) {
		return nil, ErrNoNodePipelines
	}
	return out, err
}

// ErrNoNodePipelines means the node has no /_node/pipelines endpoint (5.x).
var ErrNoNodePipelines = errors.New("the node has no /_node/pipelines endpoint")
