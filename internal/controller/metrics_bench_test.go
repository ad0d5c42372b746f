package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// BenchmarkObjectCollector is what one Prometheus scrape costs the operator
// for the object counts and stale series (docs/scaling.md): a walk over the
// sync records, with 1 % of the objects stale.
func BenchmarkObjectCollector(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			now := time.Now()
			r := &MirrorReconciler[*v1alpha1.Workspace, *cloudclient.Workspace]{Kind: workspaceKind{}, Now: func() time.Time { return now }}
			r.records = map[types.NamespacedName]*syncRecord{}
			for i := range n {
				last := now.Add(-30 * time.Second)
				if i%100 == 0 {
					last = now.Add(-5 * time.Minute)
				}
				key := types.NamespacedName{Namespace: fmt.Sprintf("team-%d", i%50), Name: fmt.Sprintf("ws-%d", i)}
				r.records[key] = &syncRecord{seen: last, lastSuccess: last, interval: time.Minute}
			}
			recordSources.Store(r, struct{}{})
			b.Cleanup(func() { recordSources.Delete(r) })
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(objectCollector{})
			b.ReportAllocs()
			for b.Loop() {
				families, err := reg.Gather()
				if err != nil || len(families) != 2 {
					b.Fatalf("gather: %v, %d families", err, len(families))
				}
			}
		})
	}
}
