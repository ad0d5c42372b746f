package main

import (
	"bufio"
	"bytes"
	"context"
	"math"
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

// apiWrites reads the API server's request counts from its /metrics.
func apiWrites(ctx context.Context, rc rest.Interface) (writeCounts, error) {
	return apiMetric(ctx, rc, "apiserver_request_total")
}

// apiSeconds reads the API server's summed request durations: with
// apiWrites, the mean time each kind of request took (where convergence
// waits).
func apiSeconds(ctx context.Context, rc rest.Interface) (writeCounts, error) {
	return apiMetric(ctx, rc, "apiserver_request_duration_seconds_sum")
}

// meanMillis is the mean duration in ms per key, from request counts and
// summed seconds over the same span.
func meanMillis(requests, seconds writeCounts) map[string]float64 {
	out := map[string]float64{}
	for k, n := range requests {
		if n > 0 {
			out[k] = math.Round(1e4*seconds[k]/n) / 10
		}
	}
	return out
}

// apiMetric sums one counter family of the API server's /metrics by
// "VERB resource[/subresource]".
func apiMetric(ctx context.Context, rc rest.Interface, name string) (writeCounts, error) {
	data, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	out := writeCounts{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
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
