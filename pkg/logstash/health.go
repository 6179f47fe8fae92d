package logstash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNoHealthReport means the node has no /_health_report (Logstash < 8.16).
var ErrNoHealthReport = errors.New("node has no /_health_report (Logstash 8.16+)")

// HealthReport is the part of GET /_health_report (8.16+) that hala uses.
type HealthReport struct {
	Version string
	// Status is the node's overall status: green, yellow, red or unknown.
	Status string
	// Pipelines maps a pipeline id to its indicator.
	Pipelines map[string]PipelineHealth
}

// PipelineHealth is one pipeline's indicator in the health report.
type PipelineHealth struct {
	Status  string
	Symptom string
	// State is details.status.state: LOADING, RUNNING, FINISHED, TERMINATED or UNKNOWN.
	State string
	// Diagnoses are the diagnosis ids (why the indicator is not green).
	Diagnoses []string
}

// String is `RUNNING (green)`.
func (p PipelineHealth) String() string {
	return fmt.Sprintf("%s (%s)", p.State, p.Status)
}

type healthJSON struct {
	Version    string `json:"version"`
	Status     string `json:"status"`
	Indicators struct {
		Pipelines struct {
			Indicators map[string]struct {
				Status    string `json:"status"`
				Symptom   string `json:"symptom"`
				Diagnosis []struct {
					ID string `json:"id"`
				} `json:"diagnosis"`
				Details struct {
					Status struct {
						State string `json:"state"`
					} `json:"status"`
				} `json:"details"`
			} `json:"indicators"`
		} `json:"pipelines"`
	} `json:"indicators"`
}

// ParseHealthReport reads a /_health_report body. The body is small (one
// entry per pipeline), so it is decoded whole, within maxBody.
func ParseHealthReport(r io.Reader, maxBody int64) (*HealthReport, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	lr := &io.LimitedReader{R: r, N: maxBody + 1}
	var h healthJSON
	if err := json.NewDecoder(lr).Decode(&h); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w (over %s)", ErrBodyTooLarge, FormatBytes(maxBody))
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("response is not a Logstash health report: %w", err)
		}
		return nil, err
	}
	rep := &HealthReport{Version: h.Version, Status: h.Status, Pipelines: map[string]PipelineHealth{}}
	for id, ind := range h.Indicators.Pipelines.Indicators {
		ph := PipelineHealth{Status: ind.Status, Symptom: ind.Symptom, State: ind.Details.Status.State}
		for _, d := range ind.Diagnosis {
			ph.Diagnoses = append(ph.Diagnoses, d.ID)
		}
		rep.Pipelines[id] = ph
	}
	return rep, nil
}

// HealthReport fetches GET /_health_report. Elastic warns the endpoint is
// expensive when called often: callers should cache the result. A node
// without the endpoint gives ErrNoHealthReport.
func (c *Client) HealthReport(ctx context.Context) (*HealthReport, error) {
	var rep *HealthReport
	err := c.get(ctx, "/_health_report", func(body io.Reader) error {
		r, err := ParseHealthReport(body, c.maxBody)
		rep = r
		return err
	})
	if errors.Is(err, errFallback) {
		return nil, ErrNoHealthReport
	}
	return rep, err
}
