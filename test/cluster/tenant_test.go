package cluster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"

	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

// The sample objects the checks lean on (config/samples).
const (
	tokenName       = "notebook-token" // DevEnvironmentToken and its Secret
	tokenInstanceID = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
	consumerName    = "notebook-client" // config/samples/pod_mounting_token.yaml
	tokenMountPath  = "/var/run/modelarts/token"
	// config/samples/deployment_reload.yaml: reads the templated token
	// (notebook-env) from an env var, and is rolled when it changes.
	reloadName     = "notebook-client"
	reloadSecret   = "notebook-env"
	reloadTokenKey = "NOTEBOOK_TOKEN"
	// The workload identity sample (modelarts_v1alpha1_cloudaccount.yaml).
	workloadIdentitySA       = "modelarts-demo"
	workloadIdentityIdP      = "demo-cce-oidc"
	workloadIdentityAudience = "sts.demo.example"
	// Namespaces with this label may use the ClusterCloudAccount sample.
	sharedAccountLabel = "modelarts.cloudmirror.io/account"
)

// tenant is a namespace holding config/samples, pointed at the simulator.
type tenant struct {
	namespace string
	objects   []*unstructured.Unstructured // every sample, Secrets included
	appliedAt time.Time
	logs      []string // operator logs collected so far
	// When rotateAndFollow last saw the token Secret change.
	secretChangedAt time.Time
	seen            map[string]bool // every secret value seen, for the log scan
}

// applySamples creates the tenant namespace (restricted) and config/samples in
// it, as a user would, with the accounts' endpoints at the in-cluster simulator
// over TLS (its CA in caBundle, no allowInsecureHTTP).
func applySamples(ctx context.Context, namespace string, sim *simulator) *tenant {
	restrictedNamespace(ctx, namespace)
	out, err := kubectl(ctx, "kustomize", filepath.Join(repoRoot, "config", "samples"))
	Expect(err).NotTo(HaveOccurred())
	t := &tenant{namespace: namespace, appliedAt: time.Now(), seen: map[string]bool{}}
	objs, err := testutil.DecodeObjects([]byte(out))
	Expect(err).NotTo(HaveOccurred())
	for _, obj := range objs {
		obj.SetNamespace(namespace)
		switch obj.GetKind() {
		case "ClusterCloudAccount":
			// Cluster-scoped: its credentials live in this tenant, which its selector picks.
			obj.SetNamespace("")
			Expect(unstructured.SetNestedField(obj.Object, namespace, "spec", "credentialsSecretRef", "namespace")).To(Succeed())
			selector, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "namespaceSelector", "matchLabels")
			Expect(selector).To(HaveKey(sharedAccountLabel))
			ns := &corev1.Namespace{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: namespace}, ns)).To(Succeed())
			ns.Labels[sharedAccountLabel] = selector[sharedAccountLabel]
			Expect(k8s.Update(ctx, ns)).To(Succeed())
			fallthrough
		case "CloudAccount":
			endpoints := map[string]any{"iam": sim.apiURL, "modelarts": sim.apiURL, "roma": sim.apiURL}
			Expect(unstructured.SetNestedMap(obj.Object, endpoints, "spec", "endpoints")).To(Succeed())
			Expect(unstructured.SetNestedField(obj.Object, string(sim.caPEM), "spec", "caBundle")).To(Succeed())
			unstructured.RemoveNestedField(obj.Object, "spec", "allowInsecureHTTP")
			// The simulator plays the node's metadata service too.
			if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "instanceMetadata"); found {
				Expect(unstructured.SetNestedField(obj.Object, sim.apiURL, "spec", "instanceMetadata", "endpoint")).To(Succeed())
			}
		}
		Expect(k8s.Create(ctx, obj)).To(Succeed(), "creating %s %s", obj.GetKind(), obj.GetName())
		t.objects = append(t.objects, obj)
	}
	return t
}

func (t *tenant) waitAllReady(ctx context.Context) {
	for _, obj := range t.objects {
		if obj.GetKind() == "Secret" || obj.GetKind() == "ServiceAccount" {
			continue
		}
		Eventually(func(g Gomega) {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(obj.GroupVersionKind())
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), live)).To(Succeed())
			conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
			var ready string
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
					ready = fmt.Sprintf("%v: %v", m["status"], m["message"])
				}
			}
			g.Expect(ready).To(HavePrefix("True"), "%s %s", obj.GetKind(), client.ObjectKeyFromObject(obj))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	}
}

// deleteClusterScoped deletes the samples that the namespace's deletion does not take along.
func (t *tenant) deleteClusterScoped(ctx context.Context) {
	for _, obj := range t.objects {
		if obj.GetNamespace() == "" {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, obj))).To(Succeed())
		}
	}
}

func (t *tenant) secretValue(ctx context.Context, name, key string) string {
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: name}, s)).To(Succeed())
	Expect(s.Data).To(HaveKey(key))
	t.seen[string(s.Data[key])] = true
	return string(s.Data[key])
}

// startConsumer runs config/samples/pod_mounting_token.yaml with the consumer image.
func (t *tenant) startConsumer(ctx context.Context) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", "pod_mounting_token.yaml"))
	Expect(err).NotTo(HaveOccurred())
	pod := &corev1.Pod{}
	Expect(utilyaml.Unmarshal(raw, pod)).To(Succeed())
	pod.Namespace = t.namespace
	pod.Spec.Containers[0].Image = consumerImage
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	Expect(k8s.Create(ctx, pod)).To(Succeed(), "the sample consumer Pod must pass the restricted Pod Security Standard")
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		g.Expect(podReady(pod)).To(BeTrue(), podSummary(pod))
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
}

func (t *tenant) exec(ctx context.Context, script string) string {
	out, err := kubectl(ctx, "-n", t.namespace, "exec", consumerName, "--", "sh", "-c", script)
	Expect(err).NotTo(HaveOccurred())
	return out
}

func (t *tenant) mountedToken(ctx context.Context) string {
	return t.exec(ctx, "cat "+tokenMountPath)
}

func (t *tenant) envAppKey(ctx context.Context) string {
	return t.exec(ctx, `printf %s "$ROMA_APP_KEY"`)
}

// rotateAndFollow rotates the sample token in the simulator, asks for a sync
// at once (sync-now), and returns how long the Secret took to change and how
// much longer the consumer's mounted file took to show the new token.
func (t *tenant) rotateAndFollow(ctx context.Context, sim *simulator) (secretAfter, fileAfter time.Duration) {
	before := t.secretValue(ctx, tokenName, "token")
	start := time.Now()
	sim.rotateToken(ctx, tokenInstanceID)
	// Both sample tokens read this instance: ask each for a sync now.
	tokens := &v1alpha1.DevEnvironmentTokenList{}
	Expect(k8s.List(ctx, tokens, client.InNamespace(t.namespace))).To(Succeed())
	for i := range tokens.Items {
		tok := &tokens.Items[i]
		patch := client.MergeFrom(tok.DeepCopy())
		if tok.Annotations == nil {
			tok.Annotations = map[string]string{}
		}
		tok.Annotations[v1alpha1.AnnotationSyncNow] = time.Now().Format(time.RFC3339Nano)
		Expect(k8s.Patch(ctx, tok, patch)).To(Succeed())
	}

	var after string
	Eventually(func() string {
		after = t.secretValue(ctx, tokenName, "token")
		return after
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).ShouldNot(Equal(before))
	secretAfter = time.Since(start)
	t.secretChangedAt = time.Now()

	if !t.consumerRunning(ctx) {
		return secretAfter, 0
	}
	changed := time.Now()
	Eventually(func() string { return t.mountedToken(ctx) }).
		WithContext(ctx).WithTimeout(3 * kubeletSyncPeriod).WithPolling(500 * time.Millisecond).Should(Equal(after))
	return secretAfter, time.Since(changed)
}

// startReloadDeployment runs config/samples/deployment_reload.yaml with the consumer image.
func (t *tenant) startReloadDeployment(ctx context.Context) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "samples", "deployment_reload.yaml"))
	Expect(err).NotTo(HaveOccurred())
	deploy := &appsv1.Deployment{}
	Expect(utilyaml.Unmarshal(raw, deploy)).To(Succeed())
	deploy.Namespace = t.namespace
	deploy.Spec.Template.Spec.Containers[0].Image = consumerImage
	deploy.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	Expect(k8s.Create(ctx, deploy)).To(Succeed())
	t.reloadPod(ctx)
}

// reloadPod waits for the reload Deployment's rollout to finish and returns its one Pod.
func (t *tenant) reloadPod(ctx context.Context) string {
	var name string
	Eventually(func(g Gomega) {
		deploy := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: reloadName}, deploy)).To(Succeed())
		g.Expect(deploy.Status.ObservedGeneration).To(Equal(deploy.Generation))
		g.Expect(deploy.Status.UpdatedReplicas).To(BeEquivalentTo(1))
		g.Expect(deploy.Status.ReadyReplicas).To(BeEquivalentTo(1))
		pods := &corev1.PodList{}
		g.Expect(k8s.List(ctx, pods, client.InNamespace(t.namespace), client.MatchingLabels{"app": reloadName})).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(1), "the old Pod is still there")
		g.Expect(podReady(&pods.Items[0])).To(BeTrue(), podSummary(&pods.Items[0]))
		name = pods.Items[0].Name
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	return name
}

// reloadEnvToken is the token the reload Deployment's Pod got in its environment.
func (t *tenant) reloadEnvToken(ctx context.Context, pod string) string {
	out, err := kubectl(ctx, "-n", t.namespace, "exec", pod, "--", "sh", "-c", `printf %s "$`+reloadTokenKey+`"`)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// followRollout waits until the reload Deployment runs a Pod other than
// oldPod whose env holds the Secret's current token, and returns an upper
// bound of how long after the Secret changed that Pod became Ready
// (condition times have whole seconds).
func (t *tenant) followRollout(ctx context.Context, oldPod string) time.Duration {
	want := t.secretValue(ctx, reloadSecret, reloadTokenKey)
	var name string
	Eventually(func() string {
		name = t.reloadPod(ctx)
		return name
	}).WithContext(ctx).WithTimeout(2*time.Minute).ShouldNot(Equal(oldPod), "the Deployment was not rolled")
	Expect(t.reloadEnvToken(ctx, name)).To(Equal(want))
	pod := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: name}, pod)).To(Succeed())
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Add(time.Second).Sub(t.secretChangedAt)
		}
	}
	ginkgo.Fail("the new Pod has no Ready condition")
	return 0
}

func (t *tenant) consumerRunning(ctx context.Context) bool {
	pod := &corev1.Pod{}
	return k8s.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: consumerName}, pod) == nil && podReady(pod)
}

// deleteTokenAndWaitForGC deletes the DevEnvironmentToken; its Secret must go
// with it through its ownerReference (the controller-manager's garbage collector).
func (t *tenant) deleteTokenAndWaitForGC(ctx context.Context) {
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: t.namespace, Name: tokenName}
	Expect(k8s.Get(ctx, key, secret)).To(Succeed())
	owner := metav1.GetControllerOf(secret)
	Expect(owner).NotTo(BeNil(), "the Secret has no controller ownerReference")
	Expect(owner.Kind).To(Equal("DevEnvironmentToken"))
	Expect(secret.Finalizers).To(BeEmpty())

	tok := &v1alpha1.DevEnvironmentToken{}
	Expect(k8s.Get(ctx, key, tok)).To(Succeed())
	Expect(owner.UID).To(Equal(tok.UID))
	start := time.Now()
	Expect(k8s.Delete(ctx, tok, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, key, &corev1.Secret{}))
	}).WithContext(ctx).WithTimeout(time.Minute).Should(BeTrue(), "the garbage collector did not delete the Secret")
	measured("DevEnvironmentToken deleted: its Secret was garbage-collected after %s", time.Since(start).Round(100*time.Millisecond))
}

// collectOperatorLogs keeps every operator Pod's log (a deleted Pod's log is gone with it).
func (t *tenant) collectOperatorLogs(ctx context.Context, in *installation) {
	for _, pod := range operatorPods(ctx, in) {
		out, err := kubectl(ctx, "-n", in.namespace, "logs", pod.Name, "--all-containers")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(BeEmpty(), "pod %s has an empty log", pod.Name)
		t.logs = append(t.logs, out)
	}
}

// expectNoSecretInLogs scans the logs for every credential and Secret value
// the tenant holds or held: the credentials, app keys, and each token seen.
func (t *tenant) expectNoSecretInLogs() {
	values := maps.Clone(t.seen)
	for _, obj := range t.objects {
		if obj.GetKind() != "Secret" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(obj.Object, "stringData")
		for _, v := range data {
			values[v] = true
		}
	}
	Expect(values).NotTo(BeEmpty())
	checked := 0
	for v := range values {
		if len(v) < 8 { // too short to tell apart from ordinary text
			continue
		}
		checked++
		for _, log := range t.logs {
			Expect(strings.Contains(log, v)).To(BeFalse(), "an operator log holds a secret value")
		}
	}
	Expect(checked).To(BeNumerically(">=", 4))
	measured("log scan: %d secret values, %d operator logs (%d bytes), none found", checked, len(t.logs), totalLen(t.logs))
}

func totalLen(s []string) int {
	n := 0
	for _, x := range s {
		n += len(x)
	}
	return n
}
