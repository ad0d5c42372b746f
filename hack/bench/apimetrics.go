package main

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// writeCounts are the API server's requests (apiserver_request_total) by
// "VERB resource[/subresource]", whatever the client.
type writeCounts map[string]float64

var (
	mutatingVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "APPLY": true, "DELETECOLLECTION": true}
	labelPattern  = regexp.MustCompile(`(\w+)="([^"]*)"`)
)

// apiWrites reads the API server's /metrics.
func apiWrites(ctx context.Context, rc rest.Interface) (writeCounts, error) {
	data, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	out := writeCounts{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, m := range labelPattern.FindAllStringSubmatch(line[:end], -1) {
			labels[m[1]] = m[2]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		key := labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += v
	}
	return out, sc.Err()
}

// sub returns after - before per key (keys with no change are left out).
func (after writeCounts) sub(before writeCounts) writeCounts {
	out := writeCounts{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// objectWrites are the writes of status and Secrets: what "steady state is
// free" is about.
func (w writeCounts) objectWrites() float64 {
	t := 0.0
	for k, v := range w {
		verb, resource, _ := strings.Cut(k, " ")
		if mutatingVerbs[verb] && objectResources[resource] {
			t += v
		}
	}
	return t
}

// writes keeps the mutating requests only.
func (w writeCounts) writes() writeCounts {
	out := writeCounts{}
	for k, v := range w {
		if verb, _, _ := strings.Cut(k, " "); mutatingVerbs[verb] {
			out[k] = v
		}
	}
	return out
}

var objectResources = map[string]bool{"secrets": true, "workspaces": true, "workspaces/status": true,
	"devenvironmenttokens": true, "devenvironmenttokens/status": true, "deployments": true}
