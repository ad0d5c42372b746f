package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// installation is the operator installed one way, in its own namespace.
type installation struct {
	name      string // how it was installed, for messages
	namespace string // where the manager runs
	tenant    string // where the samples and the consumer live
	uninstall func(ctx context.Context)
}

var sim *simulator

var _ = Describe("The operator in a real cluster", Ordered, func() {
	BeforeAll(func(ctx SpecContext) {
		sim = deploySimulator(ctx, "team-kubectl", "team-helm")
		DeferCleanup(func(ctx SpecContext) { deleteNamespace(ctx, simNamespace) })
	})

	Context("installed with dist/install.yaml", Ordered, func() {
		in := &installation{name: "install.yaml", namespace: "modelarts-operator-system", tenant: "team-kubectl"}
		BeforeAll(func(ctx SpecContext) {
			manifest := filepath.Join(repoRoot, "bin", "cluster", "install.yaml")
			checkInstallerIsDist(manifest)
			start := time.Now()
			_, err := kubectl(ctx, "apply", "--server-side", "-f", manifest)
			Expect(err).NotTo(HaveOccurred())
			// Two replicas: one leads, one stands by (the leader handover check needs both).
			_, err = kubectl(ctx, "-n", in.namespace, "scale", "deployment/modelarts-operator-controller-manager", "--replicas=2")
			Expect(err).NotTo(HaveOccurred())
			waitOperatorReady(ctx, in, 2)
			measured("install.yaml: operator Ready (2 replicas) in %s", time.Since(start).Round(time.Second))
			in.uninstall = func(ctx context.Context) {
				_, err := kubectl(ctx, "delete", "--wait", "--timeout=3m", "-f", manifest)
				Expect(err).NotTo(HaveOccurred())
			}
		})
		proveInstallation(in)
	})

	Context("installed with the Helm chart", Ordered, func() {
		in := &installation{name: "helm", namespace: "modelarts-helm", tenant: "team-helm"}
		BeforeAll(func(ctx SpecContext) {
			repo, tag, _ := strings.Cut(operatorImage, ":")
			restrictedNamespace(ctx, in.namespace)
			start := time.Now()
			_, err := helm(ctx, "install", "modelarts-operator", filepath.Join(repoRoot, "charts", "modelarts-operator"),
				"--namespace", in.namespace, "--set", "image.repository="+repo, "--set", "image.tag="+tag,
				"--set", "replicaCount=2", "--wait", "--timeout", "3m")
			Expect(err).NotTo(HaveOccurred())
			waitOperatorReady(ctx, in, 2)
			measured("helm: operator Ready (2 replicas) in %s", time.Since(start).Round(time.Second))
			in.uninstall = func(ctx context.Context) {
				_, err := helm(ctx, "uninstall", "modelarts-operator", "--namespace", in.namespace, "--wait", "--timeout", "3m")
				Expect(err).NotTo(HaveOccurred())
				// Helm leaves the CRDs of crds/ in place on uninstall; this cluster is a test's, so remove them.
				crds := &apiextensionsv1.CustomResourceDefinitionList{}
				Expect(k8s.List(ctx, crds)).To(Succeed())
				for i := range crds.Items {
					if crds.Items[i].Spec.Group == "modelarts.cloudmirror.io" {
						Expect(client.IgnoreNotFound(k8s.Delete(ctx, &crds.Items[i]))).To(Succeed())
					}
				}
				deleteNamespace(ctx, in.namespace)
			}
		})
		proveInstallation(in)
	})
})

// checkInstallerIsDist makes sure the manifest installed is dist/install.yaml with only the image changed.
func checkInstallerIsDist(manifest string) {
	installed, err := os.ReadFile(manifest)
	Expect(err).NotTo(HaveOccurred())
	dist, err := os.ReadFile(filepath.Join(repoRoot, "dist", "install.yaml"))
	Expect(err).NotTo(HaveOccurred(), "run make build-installer first")
	imageLine := func(b []byte) (string, string) {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "image: ") {
				return l, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "image: "))
			}
		}
		return "", ""
	}
	distLine, _ := imageLine(dist)
	installedLine, image := imageLine(installed)
	Expect(image).To(Equal(operatorImage))
	Expect(string(installed)).To(Equal(strings.Replace(string(dist), distLine, installedLine, 1)),
		"bin/cluster/install.yaml differs from dist/install.yaml beyond the image")
}

// proveInstallation holds every check the operator must pass however it was installed.
func proveInstallation(in *installation) {
	var samples *tenant

	BeforeAll(func(ctx SpecContext) {
		samples = applySamples(ctx, in.tenant, sim)
	})
	AfterAll(func(ctx SpecContext) {
		if samples != nil {
			samples.deleteClusterScoped(ctx)
		}
		deleteNamespace(ctx, in.tenant)
		if in.uninstall != nil {
			in.uninstall(ctx)
		}
	})

	It("runs the manager Ready, without restarts, under the restricted Pod Security Standard", func(ctx SpecContext) {
		ns := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: in.namespace}, ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
		for _, pod := range operatorPods(ctx, in) {
			Expect(podReady(&pod)).To(BeTrue(), podSummary(&pod))
			Expect(restarts(&pod)).To(BeZero(), podSummary(&pod))
		}
	})

	It("brings every sample to Ready", func(ctx SpecContext) {
		samples.waitAllReady(ctx)
		measured("%s: all %d samples Ready %s after they were applied", in.name, len(samples.objects), time.Since(samples.appliedAt).Round(time.Second))
	})

	It("gives a consumer Pod the token as a mounted file and the ROMA key as an env var", func(ctx SpecContext) {
		samples.startConsumer(ctx)
		Expect(samples.mountedToken(ctx)).To(Equal(samples.secretValue(ctx, "notebook-token", "token")))
		Expect(samples.envAppKey(ctx)).To(Equal(samples.secretValue(ctx, "roma-app-key", "app_key")))
		samples.startReloadDeployment(ctx)
		pod := samples.reloadPod(ctx)
		Expect(samples.reloadEnvToken(ctx, pod)).To(Equal(samples.secretValue(ctx, reloadSecret, reloadTokenKey)))
	})

	It("shows a rotated token in the mounted file within the kubelet's sync period, and rolls the workload that reads it from env", func(ctx SpecContext) {
		oldPod := samples.reloadPod(ctx)
		secretAfter, fileAfter := samples.rotateAndFollow(ctx, sim)
		measured("%s: token rotated: Secret updated after %s, mounted file after %s more (kubelet syncFrequency %s)",
			in.name, secretAfter.Round(time.Millisecond), fileAfter.Round(100*time.Millisecond), kubeletSyncPeriod)
		// The kubelet resyncs each Pod every syncFrequency plus up to 50 % jitter,
		// then refreshes its volumes; 10s more covers that refresh on a loaded
		// machine (measured: 20.6–30.0s with a 20s period).
		Expect(fileAfter).To(BeNumerically("<=", kubeletSyncPeriod*3/2+10*time.Second))
		rolled := samples.followRollout(ctx, oldPod)
		measured("%s: the reload-secrets Deployment's new Pod, with the new token in its env, was Ready within %s of the Secret's change", in.name, max(rolled, 0).Truncate(time.Second)+time.Second)
	})

	It("serves metrics over HTTPS only to ServiceAccounts bound to the metrics-reader role", func(ctx SpecContext) {
		proveMetricsAccess(ctx, in)
	})

	It("hands over to the standby within the lease duration when the leader Pod is deleted, and keeps syncing", func(ctx SpecContext) {
		samples.collectOperatorLogs(ctx, in) // the leader's logs go with its Pod
		handover := deleteLeader(ctx, in)
		measured("%s: leader Pod deleted, another replica took the lease after %s (lease duration 15s)", in.name, handover.Round(100*time.Millisecond))
		Expect(handover).To(BeNumerically("<", 15*time.Second))
		secretAfter, _ := samples.rotateAndFollow(ctx, sim)
		measured("%s: after the handover a rotated token reached its Secret in %s", in.name, secretAfter.Round(time.Millisecond))
		waitOperatorReady(ctx, in, 2)
	})

	It("deletes a DevEnvironmentToken's Secret through the garbage collector", func(ctx SpecContext) {
		samples.deleteTokenAndWaitForGC(ctx)
	})

	It("never writes a credential or token value to its logs", func(ctx SpecContext) {
		for _, pod := range operatorPods(ctx, in) {
			Expect(restarts(&pod)).To(BeZero(), podSummary(&pod))
		}
		samples.collectOperatorLogs(ctx, in)
		samples.expectNoSecretInLogs()
	})
}

func operatorPods(ctx context.Context, in *installation) []corev1.Pod {
	pods := &corev1.PodList{}
	Expect(k8s.List(ctx, pods, client.InNamespace(in.namespace), client.MatchingLabels{"control-plane": "controller-manager"})).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

func waitOperatorReady(ctx context.Context, in *installation, replicas int) {
	Eventually(func(g Gomega) {
		pods := operatorPods(ctx, in)
		g.Expect(pods).To(HaveLen(replicas))
		for _, p := range pods {
			g.Expect(podReady(&p)).To(BeTrue(), podSummary(&p))
		}
	}).WithContext(ctx).WithTimeout(3 * time.Minute).Should(Succeed())
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

func podSummary(p *corev1.Pod) string {
	var b strings.Builder
	b.WriteString(p.Namespace + "/" + p.Name + " phase " + string(p.Status.Phase))
	for _, c := range p.Status.ContainerStatuses {
		b.WriteString("; " + c.Name)
		if c.State.Waiting != nil {
			b.WriteString(" waiting: " + c.State.Waiting.Reason + " " + c.State.Waiting.Message)
		}
		if c.LastTerminationState.Terminated != nil {
			b.WriteString(" last terminated: " + c.LastTerminationState.Terminated.Reason)
		}
	}
	return b.String()
}
