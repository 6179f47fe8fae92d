package render

import (
	"fmt"
	"net"
	"sort"
	"strconv"
)

type inputsData struct {
	Cluster     string
	Host        string
	Pipeline    string
	InstallPath string
	Inputs      []inputData
}

type inputData struct {
	Service string
	Note    string
	Plugin  string
	ID      string
	Host    string
	Port    int
}

type ymlData struct {
	Cluster  string
	Name     string
	Host     string
	HostPort string
	Port     int
	HTTPS    bool
	Auth     bool
}

type renderedInputs struct {
	path string
	data []byte
}

// inputKey is the socket a Logstash input listens on.
type inputKey struct {
	plugin, host string
	port         int
}

// logstashInputs renders host h's Logstash inputs: one per service that has
// h as a backend, with the id hala check looks for, grouped by pipeline.
// Services that share one input (same pipeline, id, plugin, address and
// port) get it once; one id with two sockets in a pipeline, or one socket
// with two inputs, is an error Logstash would report at start.
func (r *renderer) logstashInputs(h host) ([]renderedInputs, error) {
	l := h.logstash
	byPipeline := map[string][]inputData{"": nil}
	// Logstash needs ids unique within a pipeline; a socket is bound once
	// per host, whatever the pipeline.
	idOwner := map[[2]string]inputData{}
	sockOwner := map[inputKey]inputData{}
	for _, s := range r.inv.Services {
		if !backendOf(s, h.name) {
			continue
		}
		in := inputData{Service: s.Name, Plugin: s.Protocol, ID: s.InputID, Host: l.Address.String(), Port: s.BackendPort}
		if s.Forwarding == "dr" || s.Forwarding == "tun" {
			v, ok := r.inv.VIP(s.VIP)
			if !ok {
				continue
			}
			in.Host = v.Address.Addr().String()
			in.Note = "bound to the VIP, which " + s.Forwarding + " forwarding delivers unchanged"
		}
		p := s.Pipeline
		if p == "main" {
			p = ""
		}
		key := inputKey{in.Plugin, in.Host, in.Port}
		if prev, ok := idOwner[[2]string{p, in.ID}]; ok {
			if (inputKey{prev.Plugin, prev.Host, prev.Port}) != key {
				return nil, fmt.Errorf("services %q and %q use input id %q on different sockets (%s %s:%d, %s %s:%d)",
					prev.Service, s.Name, in.ID, prev.Plugin, prev.Host, prev.Port, in.Plugin, in.Host, in.Port)
			}
			continue
		}
		if prev, ok := sockOwner[key]; ok {
			return nil, fmt.Errorf("services %q and %q need one %s input on %s:%d with two ids (%q, %q)",
				prev.Service, s.Name, in.Plugin, in.Host, in.Port, prev.ID, in.ID)
		}
		idOwner[[2]string{p, in.ID}] = in
		sockOwner[key] = in
		byPipeline[p] = append(byPipeline[p], in)
	}
	pipelines := make([]string, 0, len(byPipeline))
	for p := range byPipeline {
		pipelines = append(pipelines, p)
	}
	sort.Strings(pipelines)
	out := make([]renderedInputs, 0, len(pipelines))
	dirs := map[string]string{}
	for _, p := range pipelines {
		rel, install := InputsPath, "/etc/logstash/conf.d/hala-inputs.conf"
		if p != "" {
			dir := "pipeline-" + sanitize(p)
			if other, ok := dirs[dir]; ok {
				return nil, fmt.Errorf("pipelines %q and %q map to the same directory %s", other, p, dir)
			}
			dirs[dir] = p
			rel = joinPath("logstash", dir, "hala-inputs.conf")
			install = "hala-inputs.conf in a directory of pipeline " + strconv.Quote(comment(p)) + "'s path.config"
		}
		data, err := execute("logstash-inputs.conf.tmpl", inputsData{
			Cluster:     r.inv.Cluster.Name,
			Host:        h.name,
			Pipeline:    p,
			InstallPath: install,
			Inputs:      byPipeline[p],
		}, 512+128*len(byPipeline[p]))
		if err != nil {
			return nil, err
		}
		out = append(out, renderedInputs{path: rel, data: data})
	}
	return out, nil
}

func (r *renderer) logstashYML(h host) ([]byte, error) {
	c := r.inv.Cluster
	return execute("logstash.yml.snippet.tmpl", ymlData{
		Cluster:  c.Name,
		Name:     h.name,
		Host:     h.logstash.Address.String(),
		HostPort: net.JoinHostPort(h.logstash.Address.String(), strconv.Itoa(h.logstash.APIPort)),
		Port:     h.logstash.APIPort,
		HTTPS:    c.APIScheme == "https",
		Auth:     c.APIAuthFile != "",
	}, 1024)
}
