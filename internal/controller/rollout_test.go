package controller

import (
	"context"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// Rollouts on their own, against the API server, with workload patches
// failed by an interceptor.
var _ = Describe("Rollouts", func() {
	ctx := context.Background()

	It("retries a rollout whose patch failed, with backoff, and rolls once", func() {
		ns := newNamespace()
		createSecret(ns, "s", map[string][]byte{"k": []byte("v1")})
		d := deployment(ns, "flaky", map[string]string{v1alpha1.AnnotationReloadSecrets: "s"})
		Expect(k8sClient.Create(ctx, d)).To(Succeed())
		gen := fetch(d).GetGeneration()

		watchClient, err := client.NewWithWatch(cfg, client.Options{Scheme: testScheme})
		Expect(err).NotTo(HaveOccurred())
		var patches, failures atomic.Int32
		failures.Store(2)
		c := interceptor.NewClient(watchClient, interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				patches.Add(1)
				if failures.Add(-1) >= 0 {
					return apierrors.NewServiceUnavailable("injected")
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
		})
		recorder := events.NewFakeRecorder(10)
		w := &Rollouts{Client: c, Reader: k8sClient, Recorder: recorder, RetryBase: 200 * time.Millisecond}
		tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok")}
		tok.UID = "uid"

		w.SecretChanged(ctx, tok, ns, "s")
		Expect(patches.Load()).To(BeEquivalentTo(1))
		Eventually(func() string {
			return fetch(d).(*appsv1.Deployment).Spec.Template.Annotations[v1alpha1.AnnotationSecretsDigest]
		}, 5*time.Second).ShouldNot(BeEmpty())
		Expect(patches.Load()).To(BeEquivalentTo(3), "two failures, then the retry that succeeds")
		Expect(fetch(d).GetGeneration()).To(Equal(gen + 1))
		Eventually(recorder.Events).Should(Receive(ContainSubstring("RolloutTriggered")))
		Consistently(patches.Load, time.Second).Should(BeEquivalentTo(3), "no retry after success")

		By("the same data again changes nothing and records nothing")
		w.SecretChanged(ctx, tok, ns, "s")
		Expect(fetch(d).GetGeneration()).To(Equal(gen + 1))
		Consistently(recorder.Events, 500*time.Millisecond).ShouldNot(Receive())
	})
})
