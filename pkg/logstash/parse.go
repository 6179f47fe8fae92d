package logstash

import (
	"errors"
	"fmt"
	"io"
)

// DefaultMaxBody is the default limit on a response body: larger bodies are
// an error, never an out-of-memory kill.
const DefaultMaxBody = 8 << 20

// ErrNotNodeStats means the body is not JSON, or JSON without the pipeline
// fields of a node stats body.
var ErrNotNodeStats = errors.New("response is not Logstash node stats JSON")

// ErrBodyTooLarge means the response body exceeded the configured limit.
var ErrBodyTooLarge = errors.New("response body too large")

// ParseNodeStats reads a /_node/stats body (any of /_node/stats,
// /_node/stats/pipeline, /_node/stats/pipelines[/<id>]) of any Logstash
// version from 5.x on. It streams: memory use does not grow with the size of
// the parts it skips. maxBody > 0 limits the bytes read (ErrBodyTooLarge).
// Malformed JSON, JSON without pipelines and pipelines that have neither
// events nor plugins (a /_node or /_node/pipelines body) give
// ErrNotNodeStats; errors from
// r (such as a timeout) are returned as they are.
func ParseNodeStats(r io.Reader, maxBody int64) (*NodeStats, error) {
	return parseBody(r, maxBody, false)
}

// ParseNodeStatsPlugins is ParseNodeStats that also keeps what hala
// diagnose needs: every pipeline's filters and outputs with their events
// and flow, its settings (workers, batch size), queue sizes, dead letter
// queue and last reload error. hala check uses ParseNodeStats, which skips
// all of that.
func ParseNodeStatsPlugins(r io.Reader, maxBody int64) (*NodeStats, error) {
	return parseBody(r, maxBody, true)
}

func parseBody(r io.Reader, maxBody int64, plugins bool) (*NodeStats, error) {
	l := newLexer(r, maxBody)
	defer l.release()
	s, err := parseNodeStats(l, plugins)
	if err == nil {
		err = l.atEnd()
	}
	if err != nil {
		return nil, classify(err, maxBody)
	}
	return s, nil
}

func classify(err error, maxBody int64) error {
	var se *syntaxError
	switch {
	case errors.Is(err, errBodyTooLarge):
		return fmt.Errorf("%w (over %s)", ErrBodyTooLarge, FormatBytes(maxBody))
	case errors.As(err, &se):
		return fmt.Errorf("%w (%w)", ErrNotNodeStats, se)
	}
	return err
}

// FormatBytes prints a byte count the way messages show it: "8 MiB", "512 B".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func parseNodeStats(l *lexer, full bool) (*NodeStats, error) {
	c, err := l.peek()
	if err != nil {
		return nil, err
	}
	if c != '{' {
		// Validate the rest so a syntax error wins over "not node stats".
		if err := l.skip(); err != nil {
			return nil, err
		}
		if err := l.atEnd(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w (top level is not an object)", ErrNotNodeStats)
	}
	s := &NodeStats{}
	var single *Pipeline // 5.x .pipeline, when it holds stats
	hasPipelines := false
	str := func(dst *string) error {
		v, _, err := l.stringValue()
		*dst = v
		return err
	}
	_, err = l.objectFields(func(k []byte) error {
		switch string(k) {
		case "host":
			return str(&s.Host)
		case "version":
			return str(&s.Version)
		case "http_address":
			return str(&s.HTTPAddress)
		case "id":
			return str(&s.ID)
		case "name":
			return str(&s.Name)
		case "ephemeral_id":
			return str(&s.EphemeralID)
		case "status":
			return str(&s.Status)
		case "pipelines":
			s.Pipelines = s.Pipelines[:0]
			ok, err := l.objectFields(func(k []byte) error {
				id := string(k)
				p, isObj, err := parsePipeline(l, id, full)
				if err != nil {
					return err
				}
				for i := range s.Pipelines {
					if s.Pipelines[i].ID == id { // a repeated key: the last wins
						if isObj {
							s.Pipelines[i] = p
						} else {
							s.Pipelines = append(s.Pipelines[:i], s.Pipelines[i+1:]...)
						}
						return nil
					}
				}
				if isObj {
					s.Pipelines = append(s.Pipelines, p)
				}
				return nil
			})
			hasPipelines = ok
			return err
		case "pipeline":
			// 5.x: the pipeline's stats. 6.0+: settings (workers, batch_size).
			single = nil
			p, isObj, err := parsePipeline(l, "", full)
			if err != nil {
				return err
			}
			if isObj && !p.statsShaped {
				s.Settings = p.Settings // 6.0+: the node's pipeline defaults
			}
			if isObj && p.statsShaped {
				if p.ID == "" {
					p.ID = "main"
				}
				single = &p
			}
			return nil
		}
		return l.skip()
	})
	if err != nil {
		return nil, err
	}
	switch {
	case hasPipelines && len(s.Pipelines) > 0 && !anyStats(s.Pipelines):
		// /_node and /_node/pipelines list pipelines too, with settings
		// only: reading them as stats would call every pipeline idle.
		return nil, fmt.Errorf("%w (pipelines without events or plugins: a /_node or /_node/pipelines body, not /_node/stats)", ErrNotNodeStats)
	case hasPipelines:
		s.Layout = LayoutPipelines
	case single != nil:
		s.Layout = LayoutSinglePipeline
		s.Pipelines = []Pipeline{*single}
	default:
		s.Pipelines = nil
		// Finish reading so that a syntax error later in the body wins.
		if err := l.atEnd(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w (no pipelines field)", ErrNotNodeStats)
	}
	for i := range s.Pipelines {
		s.Pipelines[i].statsShaped = false
	}
	return s, nil
}

func anyStats(ps []Pipeline) bool {
	for i := range ps {
		if ps[i].statsShaped {
			return true
		}
	}
	return false
}

// parsePipeline reads one pipeline object. isObj is false (and the value
// skipped) when it is not an object.
func parsePipeline(l *lexer, id string, full bool) (p Pipeline, isObj bool, err error) {
	p.ID = id
	isObj, err = l.objectFields(func(k []byte) error {
		if full {
			if done, err := parsePipelineDetail(l, &p, k); done {
				return err
			}
		}
		switch string(k) {
		case "id":
			if id == "" { // 5.x: .pipeline.id
				v, _, err := l.stringValue()
				p.ID = v
				return err
			}
		case "events":
			p.statsShaped = true
			ev, err := parseEvents(l)
			p.Events = ev
			return err
		case "plugins":
			p.statsShaped = true
			p.Inputs = nil
			_, err := l.objectFields(func(k []byte) error {
				if full && (string(k) == "filters" || string(k) == "outputs") {
					filters := string(k) == "filters" // k is reused by the parse
					list, err := parsePlugins(l)
					if filters {
						p.Filters = list
					} else {
						p.Outputs = list
					}
					return err
				}
				if string(k) != "inputs" {
					return l.skip()
				}
				p.Inputs = p.Inputs[:0]
				_, err := l.arrayElems(func() error {
					in, isObj, err := parseInput(l)
					if err == nil && isObj {
						p.Inputs = append(p.Inputs, in)
					}
					return err
				})
				return err
			})
			return err
		case "flow":
			f, err := parseFlow(l)
			p.Flow = f
			return err
		case "queue":
			p.Queue = Queue{}
			_, err := l.objectFields(func(k []byte) error {
				switch string(k) {
				case "type":
					v, _, err := l.stringValue()
					p.Queue.Type = v
					return err
				case "events_count", "events":
					v, _, err := l.int64Value()
					p.Queue.EventsCount = v
					return err
				}
				return l.skip()
			})
			return err
		case "reloads":
			p.Reloads = Reloads{}
			_, err := l.objectFields(func(k []byte) error {
				switch string(k) {
				case "successes":
					v, _, err := l.int64Value()
					p.Reloads.Successes = v
					return err
				case "failures":
					v, _, err := l.int64Value()
					p.Reloads.Failures = v
					return err
				}
				return l.skip()
			})
			return err
		case "ephemeral_id":
			v, _, err := l.stringValue()
			p.EphemeralID = v
			return err
		case "hash":
			v, _, err := l.stringValue()
			p.Hash = v
			return err
		}
		return l.skip()
	})
	return p, isObj, err
}

// parseInput reads one input: the same fields as any plugin.
func parseInput(l *lexer) (Input, bool, error) {
	p, isObj, err := parsePlugin(l)
	return Input{ID: p.ID, Name: p.Name, Events: p.Events, Flow: p.Flow}, isObj, err
}

// parsePlugin reads one plugin object (an input, filter or output).
func parsePlugin(l *lexer) (pl Plugin, isObj bool, err error) {
	isObj, err = l.objectFields(func(k []byte) error {
		switch string(k) {
		case "id":
			v, _, err := l.stringValue()
			pl.ID = v
			return err
		case "name":
			v, _, err := l.stringValue()
			pl.Name = v
			return err
		case "events":
			ev, err := parseEvents(l)
			pl.Events = ev
			return err
		case "flow":
			f, err := parseFlow(l)
			pl.Flow = f
			return err
		case "bulk_requests", "documents":
			return parseCounters(l, string(k), &pl.Counters)
		}
		return l.skip()
	})
	return pl, isObj, err
}

// parseCounters reads an output's own counters (an object of numbers and
// objects of numbers) into dst by dotted path: "bulk_requests.with_errors",
// "bulk_requests.responses.429". Other values are skipped.
func parseCounters(l *lexer, prefix string, dst *map[string]int64) error {
	_, err := l.objectFields(func(k []byte) error {
		key := prefix + "." + string(k)
		c, err := l.peek()
		if err != nil {
			return err
		}
		if c == '{' {
			return parseCounters(l, key, dst)
		}
		v, ok, err := l.int64Value()
		if ok {
			if *dst == nil {
				*dst = map[string]int64{}
			}
			(*dst)[key] = v
		}
		return err
	})
	return err
}

// parseEvents reads an events object; nil when the value is not an object.
func parseEvents(l *lexer) (*Events, error) {
	var ev Events
	ok, err := l.objectFields(func(k []byte) error {
		var dst *int64
		switch string(k) {
		case "in":
			dst = &ev.In
		case "filtered":
			dst = &ev.Filtered
		case "out":
			dst = &ev.Out
		case "duration_in_millis":
			dst = &ev.DurationMillis
		case "queue_push_duration_in_millis":
			dst = &ev.QueuePushDurationMillis
		default:
			return l.skip()
		}
		v, ok, err := l.int64Value()
		*dst = v
		if dst == &ev.QueuePushDurationMillis {
			ev.QueuePushReported = ok
		}
		return err
	})
	if err != nil || !ok {
		return nil, err
	}
	return &ev, nil
}

// parseFlow reads {metric: {window: value}}; non-numeric windows are dropped.
func parseFlow(l *lexer) (Flow, error) {
	var f Flow
	_, err := l.objectFields(func(k []byte) error {
		name := string(k)
		m := FlowMetric{}
		ok, err := l.objectFields(func(k []byte) error {
			w := string(k)
			v, ok, err := l.floatValue()
			if ok {
				m[w] = v
			} else {
				delete(m, w)
			}
			return err
		})
		if err != nil {
			return err
		}
		if f == nil {
			f = Flow{}
		}
		if ok {
			f[name] = m
		} else {
			delete(f, name)
		}
		return nil
	})
	return f, err
}

// parsePipelineDetail reads the pipeline fields only ParseNodeStatsPlugins
// keeps. done is false for keys it leaves to parsePipeline.
func parsePipelineDetail(l *lexer, p *Pipeline, k []byte) (done bool, err error) {
	switch string(k) {
	case "workers", "batch_size", "batch_delay":
		// The 6.0+ top-level .pipeline object: the node's settings.
		return true, parseSetting(l, &p.Settings, string(k))
	case "pipeline": // 8.17.1+: this pipeline's settings
		_, err := l.objectFields(func(k []byte) error { return parseSetting(l, &p.Settings, string(k)) })
		return true, err
	case "queue":
		p.Queue = Queue{}
		_, err := l.objectFields(func(k []byte) error { return parseQueueField(l, &p.Queue, k) })
		return true, err
	case "reloads":
		p.Reloads = Reloads{}
		_, err := l.objectFields(func(k []byte) error {
			switch string(k) {
			case "successes":
				v, _, err := l.int64Value()
				p.Reloads.Successes = v
				return err
			case "failures":
				v, _, err := l.int64Value()
				p.Reloads.Failures = v
				return err
			case "last_error":
				// {"message": ..., "backtrace": [...]}, or null.
				_, err := l.objectFields(func(k []byte) error {
					if string(k) != "message" {
						return l.skip()
					}
					v, _, err := l.stringValue()
					p.Reloads.LastError = v
					return err
				})
				return err
			}
			return l.skip()
		})
		return true, err
	case "dead_letter_queue":
		dlq := &DeadLetterQueue{}
		ok, err := l.objectFields(func(k []byte) error {
			switch string(k) {
			case "queue_size_in_bytes":
				v, _, err := l.int64Value()
				dlq.SizeBytes = v
				return err
			case "max_queue_size_in_bytes":
				v, _, err := l.int64Value()
				dlq.MaxSizeBytes = v
				return err
			case "dropped_events":
				v, _, err := l.int64Value()
				dlq.DroppedEvents = v
				return err
			}
			return l.skip()
		})
		if ok {
			p.DeadLetterQueue = dlq
		}
		return true, err
	}
	return false, nil
}

func parseSetting(l *lexer, s *Settings, k string) error {
	var dst *int64
	switch k {
	case "workers":
		dst = &s.Workers
	case "batch_size":
		dst = &s.BatchSize
	case "batch_delay":
		dst = &s.BatchDelayMillis
	default:
		return l.skip()
	}
	v, _, err := l.int64Value()
	*dst = v
	return err
}

// parseQueueField reads one key of a queue object: 5.x and 6.x keep the
// sizes under "capacity", 7.x and later also at the top.
func parseQueueField(l *lexer, q *Queue, k []byte) error {
	var dst *int64
	switch string(k) {
	case "type":
		v, _, err := l.stringValue()
		q.Type = v
		return err
	case "capacity":
		_, err := l.objectFields(func(k []byte) error { return parseQueueField(l, q, k) })
		return err
	case "events_count", "events":
		dst = &q.EventsCount
	case "queue_size_in_bytes":
		dst = &q.SizeBytes
	case "max_queue_size_in_bytes":
		dst = &q.MaxSizeBytes
	default:
		return l.skip()
	}
	v, ok, err := l.int64Value()
	if ok {
		*dst = v
		if dst == &q.SizeBytes {
			q.SizeReported = true
		}
	}
	return err
}

// parsePlugins reads a filters or outputs array.
func parsePlugins(l *lexer) ([]Plugin, error) {
	var list []Plugin
	_, err := l.arrayElems(func() error {
		pl, isObj, err := parsePlugin(l)
		if err == nil && isObj {
			list = append(list, pl)
		}
		return err
	})
	return list, err
}
