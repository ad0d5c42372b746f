package controller

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// deployment is a minimal Deployment; no controller runs in envtest, so
// only its pod template (generation) is observed.
func deployment(ns, name string, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

var _ = Describe("Secret shaping and rollouts", func() {
	ctx := context.Background()
	// instanceID: the spec's own dev-environment instance, so that its call
	// counts and rotations concern its objects alone (mirror_test.go).
	var ns, instanceID string
	BeforeEach(func() {
		ns = newNamespace()
		instanceID = ownDevEnvInstanceID()
		sim.ClearFaults()
		readyAccount(ns, akskData())
	})
	AfterEach(func() {
		for _, o := range []client.Object{&v1alpha1.ServiceAppAuth{}, &v1alpha1.RomaApp{}, &v1alpha1.DevEnvironmentToken{}} {
			Expect(k8sClient.DeleteAllOf(ctx, o, client.InNamespace(ns))).To(Succeed())
		}
	})
	token := func(name string, target *v1alpha1.SecretTarget) *v1alpha1.DevEnvironmentToken {
		t := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, name), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, Target: target}}
		Expect(k8sClient.Create(ctx, t)).To(Succeed())
		return t
	}
	ready := func(o v1alpha1.Mirrored) {
		Eventually(condition(o, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
	}
	getSecret := func(name string) *corev1.Secret {
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
		return &s
	}
	rotate := func() string {
		rotated, err := sim.RotateDevEnvToken(cloudsim.DefaultProjectID, instanceID)
		Expect(err).NotTo(HaveOccurred())
		return rotated
	}

	It("renders templates over every kind's values, with the Secret's type and metadata", func() {
		tok := token("tok", &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{
			Type:     string(corev1.SecretTypeDockerConfigJson),
			Metadata: &v1alpha1.SecretTemplateMetadata{Labels: map[string]string{"team": "ml"}, Annotations: map[string]string{"note": "templated"}},
			Data: map[string]string{
				".dockerconfigjson": `{{ dict "auths" (dict "swr.example.com" (dict "auth" (printf "user:%s" .token | b64enc))) | toJson }}`,
			},
		}})
		saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(),
			ServiceID: cloudsim.DefaultServiceID, SecretName: "svc-apps", Target: &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{
				Data: map[string]string{
					"app.env":   "APP_KEY={{ .app_key }}\nAPP_SECRET={{ .app_secret }}\nAPP_CODE={{ index .data \"app_code\" }}\n",
					"apps.json": `{{ toJson .apps }}`,
					"names":     `{{ range .apps }}{{ .name | upper }}{{ end }}`,
				}}}}}
		roma := &v1alpha1.RomaApp{ObjectMeta: objMeta(ns, "roma"), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror(),
			InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID, SecretName: "roma-key",
			Target: &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{"ROMA_KEY_B64": `{{ .app_key | b64enc }}`}}}}}
		Expect(k8sClient.Create(ctx, saa)).To(Succeed())
		Expect(k8sClient.Create(ctx, roma)).To(Succeed())
		for _, o := range []v1alpha1.Mirrored{tok, saa, roma} {
			ready(o)
			Expect(o.GetFinalizers()).To(BeEmpty(), "Owner and Delete need no finalizer")
		}

		s := getSecret("tok")
		Expect(s.Type).To(Equal(corev1.SecretTypeDockerConfigJson))
		Expect(s.Labels).To(HaveKeyWithValue("team", "ml"))
		Expect(s.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue))
		Expect(s.Annotations).To(HaveKeyWithValue("note", "templated"))
		Expect(s.Data).To(HaveLen(1), "template.data defines the whole data")
		Expect(string(s.Data[".dockerconfigjson"])).To(MatchJSON(`{"auths":{"swr.example.com":{"auth":"` +
			b64("user:"+cloudsim.DefaultDevEnvToken) + `"}}}`))

		data := secretData(ns, "svc-apps")
		Expect(data).To(HaveLen(3))
		Expect(string(data["app.env"])).To(Equal("APP_KEY=151f1f4dfb20445b97326bde3db0c515\nAPP_SECRET=0080fa74e6214d0c8d1b2cb01d9d7708\n" +
			"APP_CODE=1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a\n"))
		Expect(string(data["apps.json"])).To(MatchJSON(`[{"id":"` + cloudsim.DefaultServiceAppID + `","name":"app_for_9332aab245ea4d56871e75d6966aa274",` +
			`"app_key":"151f1f4dfb20445b97326bde3db0c515","app_secret":"0080fa74e6214d0c8d1b2cb01d9d7708",` +
			`"app_codes":["1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a"]}]`))
		Expect(string(data["names"])).To(Equal("APP_FOR_9332AAB245EA4D56871E75D6966AA274"))
		Expect(secretData(ns, "roma-key")).To(Equal(map[string][]byte{"ROMA_KEY_B64": []byte(b64(cloudsim.DefaultRomaAppKey))}))
		expectNoLeaks(ns, tok, saa, roma)

		By("a token rotation reaches the template and is still reported")
		rotated := rotate()
		annotate(tok, v1alpha1.AnnotationSyncNow, "1")
		Eventually(func() string { return string(secretData(ns, "tok")[".dockerconfigjson"]) }).Should(ContainSubstring(b64("user:" + rotated)))
		Eventually(func() []string { return eventNotes(ns, "tok") }).Should(ContainElement(HavePrefix("TokenRotated:")))

		By("changing the type replaces the Secret")
		edit(tok, func() {
			tok.Spec.Target.Template.Type = ""
		})
		Eventually(func(g Gomega) corev1.SecretType {
			var s corev1.Secret
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &s)).To(Succeed()) // gone for a moment
			return s.Type
		}).Should(Equal(corev1.SecretTypeOpaque))
		Expect(getSecret("tok").Labels).To(HaveKeyWithValue("team", "ml"))
	})

	It("refuses a template that does not parse or does not render, naming the key and never a value", func() {
		calls := func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }
		before := calls()
		bad := token("bad", &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{
			"good": "{{ .token }}", "broken": "{{ .token | upperr }}"}}})
		Eventually(condition(bad, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec))
		msg := meta.FindStatusCondition(bad.Status.Conditions, v1alpha1.ConditionSynced).Message
		Expect(msg).To(ContainSubstring(`template.data["broken"]`))
		Expect(msg).To(ContainSubstring(`function "upperr" not defined`))
		Expect(calls()).To(Equal(before), "no cloud call for a spec that cannot work")
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bad"}, &corev1.Secret{}))).To(BeTrue())

		failing := token("failing", &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{
			"quoted": "{{ fail .token }}"}}})
		Eventually(condition(failing, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec))
		Expect(meta.FindStatusCondition(failing.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring(`template.data["quoted"]`))
		Eventually(func() []string { return eventNotes(ns, "failing") }).Should(ContainElement(HavePrefix("InvalidSpec:")))
		expectNoLeaks(ns, bad, failing)
		Expect(logs.String()).NotTo(ContainSubstring(cloudsim.DefaultDevEnvToken))

		By("fixing the template syncs at once")
		edit(bad, func() {
			bad.Spec.Target.Template.Data["broken"] = "{{ .token | upper }}"
		})
		ready(bad)
		Expect(secretData(ns, "bad")).To(HaveKeyWithValue("broken", []byte(strings.ToUpper(cloudsim.DefaultDevEnvToken))))

		By("admission refuses keys that are not Secret keys, and type or metadata with Merge")
		invalid := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "invalid"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, Target: &v1alpha1.SecretTarget{
				Template: &v1alpha1.SecretTemplate{Data: map[string]string{"no/slash": "x"}}}}}
		Expect(k8sClient.Create(ctx, invalid)).To(MatchError(ContainSubstring("template.data keys must be valid Secret keys")))
		invalid.Spec.Target = &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge, Template: &v1alpha1.SecretTemplate{Type: "Opaque"}}
		Expect(k8sClient.Create(ctx, invalid)).To(MatchError(ContainSubstring("apply only with creationPolicy Owner")))
	})

	It("merges only its keys into a Secret something else owns, and takes them back out", func() {
		owner := &corev1.ConfigMap{ObjectMeta: objMeta(ns, "app-config")}
		Expect(k8sClient.Create(ctx, owner)).To(Succeed())
		foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-env",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}},
			Data: map[string][]byte{"DATABASE_URL": []byte("theirs")}}

		merge := &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge, Template: &v1alpha1.SecretTemplate{
			Data: map[string]string{"NOTEBOOK_TOKEN": "{{ .token }}", "NOTEBOOK_AUTH": "Bearer {{ .token }}"}}}
		tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, SecretName: "app-env", Target: merge}}
		Expect(k8sClient.Create(ctx, tok)).To(Succeed())
		By("Merge waits for the Secret to exist")
		Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound))
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		annotate(tok, v1alpha1.AnnotationSyncNow, "1")
		ready(tok)
		Expect(tok.Finalizers).To(ContainElement(v1alpha1.FinalizerSecretPolicy))

		s := getSecret("app-env")
		Expect(s.Data).To(Equal(map[string][]byte{"DATABASE_URL": []byte("theirs"),
			"NOTEBOOK_TOKEN": []byte(cloudsim.DefaultDevEnvToken), "NOTEBOOK_AUTH": []byte("Bearer " + cloudsim.DefaultDevEnvToken)}))
		Expect(s.OwnerReferences).To(HaveLen(1))
		Expect(s.OwnerReferences[0].UID).To(Equal(owner.UID), "never taken over")
		Expect(s.Labels).NotTo(HaveKey(v1alpha1.LabelManagedBy))
		Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationMergedBy, "DevEnvironmentToken/tok"))
		Expect(s.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationMergedKeys, "NOTEBOOK_AUTH,NOTEBOOK_TOKEN"))

		By("a sync that finds the same values writes nothing")
		updated := tok.Status.TokenUpdateTime
		time.Sleep(1100 * time.Millisecond) // TokenUpdateTime has seconds
		annotate(tok, v1alpha1.AnnotationSyncNow, "2")
		expectSyncNowHandled(tok, "2")
		Expect(getSecret("app-env").ResourceVersion).To(Equal(s.ResourceVersion))
		Expect(tok.Status.TokenUpdateTime).To(Equal(updated))

		By("another object may not merge into the same Secret")
		other := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "other"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, SecretName: "app-env",
			Target: &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge}}}
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		Eventually(condition(other, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict))
		Expect(k8sClient.Delete(ctx, other)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(other), other))
		}).Should(BeTrue())

		By("a key dropped from the template leaves the Secret; theirs stay")
		edit(tok, func() {
			delete(tok.Spec.Target.Template.Data, "NOTEBOOK_AUTH")
		})
		Eventually(func() map[string][]byte { return secretData(ns, "app-env") }).Should(Equal(map[string][]byte{
			"DATABASE_URL": []byte("theirs"), "NOTEBOOK_TOKEN": []byte(cloudsim.DefaultDevEnvToken)}))

		By("deleting the object takes its keys back out and leaves the Secret")
		Expect(k8sClient.Delete(ctx, tok)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(tok), tok)) }).Should(BeTrue())
		s = getSecret("app-env")
		Expect(s.Data).To(Equal(map[string][]byte{"DATABASE_URL": []byte("theirs")}))
		Expect(s.Annotations).NotTo(HaveKey(v1alpha1.AnnotationMergedBy))
		Expect(s.Annotations).NotTo(HaveKey(v1alpha1.AnnotationMergedKeys))
		Expect(s.OwnerReferences[0].UID).To(Equal(owner.UID))

		By("switching from Merge to Owner backs out too")
		tok2 := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok2"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, SecretName: "app-env",
			Target: &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge}}}
		Expect(k8sClient.Create(ctx, tok2)).To(Succeed())
		Eventually(func() map[string][]byte { return secretData(ns, "app-env") }).Should(HaveKey("token"))
		edit(tok2, func() {
			tok2.Spec.Target = nil
		})
		Eventually(condition(tok2, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict))
		Eventually(func() map[string][]byte { return secretData(ns, "app-env") }).Should(Equal(map[string][]byte{"DATABASE_URL": []byte("theirs")}))
		Eventually(func() []string { return fetch(tok2).GetFinalizers() }).Should(BeEmpty())
	})

	It("never overwrites a key it did not merge, never merges into another object's Secret, and keeps a Secret whose new type is refused", func() {
		By("a foreign Secret that already holds the key Merge would write")
		foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-creds"},
			Data: map[string][]byte{"token": []byte("theirs")}}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, SecretName: "app-creds",
			Target: &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge}}}
		Expect(k8sClient.Create(ctx, tok)).To(Succeed())
		Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict))
		Expect(meta.FindStatusCondition(tok.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring(`key "token"`))
		s := getSecret("app-creds")
		Expect(s.Data).To(Equal(map[string][]byte{"token": []byte("theirs")}))
		Expect(s.Annotations).NotTo(HaveKey(v1alpha1.AnnotationMergedBy))
		Expect(k8sClient.Delete(ctx, tok)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(tok), tok)) }).Should(BeTrue())
		Expect(getSecret("app-creds").Data).To(Equal(map[string][]byte{"token": []byte("theirs")}), "backing out must not delete their key")

		By("a Secret another object of the operator owns")
		owned := token("owned", nil)
		ready(owned)
		before := getSecret("owned")
		intruder := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "intruder"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: mirror(), InstanceID: instanceID, SecretName: "owned",
			Target: &v1alpha1.SecretTarget{CreationPolicy: v1alpha1.CreationPolicyMerge, Template: &v1alpha1.SecretTemplate{
				Data: map[string]string{"extra": "{{ .token }}"}}}}}
		Expect(k8sClient.Create(ctx, intruder)).To(Succeed())
		Eventually(condition(intruder, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict))
		Expect(getSecret("owned").ResourceVersion).To(Equal(before.ResourceVersion), "the owner's Secret is left alone")

		By("a type the API server refuses for the data: the Secret stays as it was")
		edit(owned, func() {
			owned.Spec.Target = &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{
				Type: string(corev1.SecretTypeDockerConfigJson), Data: map[string]string{"token": "{{ .token }}"}}}
		})
		Eventually(condition(owned, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec))
		after := getSecret("owned")
		Expect(after.UID).To(Equal(before.UID), "never deleted")
		Expect(after.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(after.Data).To(Equal(before.Data))
		expectNoLeaks(ns, owned, intruder)
	})

	It("keeps the Secret, without its ownerReference, on delete with Retain", func() {
		tok := token("tok", &v1alpha1.SecretTarget{DeletionPolicy: v1alpha1.DeletionPolicyRetain})
		ready(tok)
		Expect(controllerutil.ContainsFinalizer(fetch(tok), v1alpha1.FinalizerSecretPolicy)).To(BeTrue())
		Expect(metav1.GetControllerOf(getSecret("tok"))).NotTo(BeNil())

		Expect(k8sClient.Delete(ctx, tok)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(tok), tok)) }).Should(BeTrue())
		s := getSecret("tok")
		Expect(s.OwnerReferences).To(BeEmpty())
		Expect(s.Labels).NotTo(HaveKey(v1alpha1.LabelManagedBy))
		Expect(s.Data).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}))
	})

	It("rolls opted-in workloads once per change, never in steady state, and leaves the others alone", func() {
		rolled := deployment(ns, "rolled", map[string]string{v1alpha1.AnnotationReloadSecrets: "unrelated, tok"})
		untouched := deployment(ns, "untouched", nil)
		sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sts",
			Annotations: map[string]string{v1alpha1.AnnotationReloadSecrets: "tok"}},
			Spec: appsv1.StatefulSetSpec{Selector: rolled.Spec.Selector, Template: rolled.Spec.Template}}
		for _, o := range []client.Object{rolled, untouched, sts} {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		ten := &metav1.Duration{Duration: 10 * time.Second}
		tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: v1alpha1.MirrorSpec{AccountRef: mirror().AccountRef, RefreshInterval: ten}, InstanceID: instanceID,
			Target: &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{".env": "TOKEN={{ .token }}\n"}}}}}
		Expect(k8sClient.Create(ctx, tok)).To(Succeed())
		ready(tok)
		podDigest := func(o client.Object) func() string {
			return func() string {
				switch w := fetch(o).(type) {
				case *appsv1.Deployment:
					return w.Spec.Template.Annotations[v1alpha1.AnnotationSecretsDigest]
				case *appsv1.StatefulSet:
					return w.Spec.Template.Annotations[v1alpha1.AnnotationSecretsDigest]
				}
				return ""
			}
		}
		By("creating the Secret rolls nothing: no pod had its values yet")
		Consistently(podDigest(rolled), 2*time.Second).Should(BeEmpty())
		gen := fetch(rolled).GetGeneration()

		By("a rotation rolls each opted-in workload once")
		rotate()
		annotate(tok, v1alpha1.AnnotationSyncNow, "1")
		Eventually(podDigest(rolled)).ShouldNot(BeEmpty())
		Eventually(podDigest(sts)).ShouldNot(BeEmpty())
		first := podDigest(rolled)()
		Expect(first).To(HaveLen(64))
		Expect(fetch(rolled).GetGeneration()).To(Equal(gen + 1))
		Eventually(func() []string { return eventNotes(ns, "rolled") }).Should(ConsistOf(HavePrefix("RolloutTriggered:")))
		Expect(fetch(untouched).(*appsv1.Deployment).Spec.Template.Annotations).To(BeEmpty())
		Expect(fetch(untouched).GetGeneration()).To(BeEquivalentTo(1))

		By("steady state: refreshes and sync-now write nothing and roll nothing")
		rvs := func() []string {
			return []string{fetch(rolled).GetResourceVersion(), fetch(sts).GetResourceVersion(), fetch(untouched).GetResourceVersion(),
				fetch(tok).GetResourceVersion(), getSecret("tok").ResourceVersion}
		}
		steady := rvs()
		calls := func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }
		before := calls()
		annotate(tok, v1alpha1.AnnotationSyncNow, "2")
		expectSyncNowHandled(tok, "2")
		steady[3] = fetch(tok).GetResourceVersion() // the annotation itself
		Eventually(func() bool { return calls() >= before+3 }, 30*time.Second, time.Second).Should(BeTrue(), "a sync-now and two refreshes")
		Expect(rvs()).To(Equal(steady))
		Expect(eventNotes(ns, "rolled")).To(HaveLen(1))

		By("the next rotation rolls again, once")
		rotate()
		annotate(tok, v1alpha1.AnnotationSyncNow, "3")
		Eventually(podDigest(rolled)).ShouldNot(Equal(first))
		Expect(fetch(rolled).GetGeneration()).To(Equal(gen + 2))
		Eventually(func() []string { return eventNotes(ns, "rolled") }).Should(HaveLen(2))
		Expect(fetch(untouched).GetResourceVersion()).To(Equal(steady[2]))
		Expect(strings.Join(eventNotes(ns, "rolled"), "\n")).NotTo(ContainSubstring(cloudsim.DefaultDevEnvToken))
	})
})

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
