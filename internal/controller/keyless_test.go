package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

const wiAudience = "sts.modelarts-operator.test"

var (
	trustClusterOnce sync.Once
	clusterIssuer    string
)

// trustCluster makes the simulator's IAM verify ServiceAccount tokens with
// the envtest API server's real keys (/openid/v1/jwks) and issuer.
func trustCluster() string {
	trustClusterOnce.Do(func() {
		ctx := context.Background()
		raw, err := clientset.CoreV1().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
		Expect(err).NotTo(HaveOccurred())
		var disco struct {
			Issuer string `json:"issuer"`
		}
		Expect(json.Unmarshal(raw, &disco)).To(Succeed())
		Expect(disco.Issuer).NotTo(BeEmpty())
		clusterIssuer = disco.Issuer
		sim.SetJWKS(func() ([]byte, error) {
			return clientset.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(context.Background())
		})
	})
	return clusterIssuer
}

// workloadIdentityFor creates ServiceAccount sa in ns and an identity
// provider mapping it to the default project; it returns the provider's ID.
func workloadIdentityFor(ns, sa string) string {
	issuer := trustCluster()
	Expect(k8sClient.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})).To(Succeed())
	idp := "idp-" + ns
	sim.Update(func(f *cloudsim.Fixture) {
		f.IdentityProviders = append(f.IdentityProviders, cloudsim.IdentityProvider{ID: idp, Issuer: issuer, ClientID: wiAudience,
			Subjects: map[string][]string{fmt.Sprintf("system:serviceaccount:%s:%s", ns, sa): {cloudsim.DefaultProjectID}}})
	})
	return idp
}

func keylessAccount(ns, name string) *v1alpha1.CloudAccount {
	a := simAccount(ns, name, "")
	a.Spec.CredentialsSecretRef = nil
	return a
}

func workspaceOf(ns, name string, ref v1alpha1.AccountReference) *v1alpha1.Workspace {
	return &v1alpha1.Workspace{ObjectMeta: objMeta(ns, name),
		Spec: v1alpha1.WorkspaceSpec{MirrorSpec: v1alpha1.MirrorSpec{AccountRef: ref}, WorkspaceID: cloudsim.DefaultWorkspaceID}}
}

func accountStatusOf(ns, name string) func(g Gomega) v1alpha1.CloudAccountStatus {
	return func(g Gomega) v1alpha1.CloudAccountStatus {
		var a v1alpha1.CloudAccount
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &a)).To(Succeed())
		return a.Status
	}
}

var _ = Describe("Keyless accounts", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("exchange a real ServiceAccount token once for every object of a workload identity account", func() {
		idp := workloadIdentityFor(ns, "modelarts")
		subject := "system:serviceaccount:" + ns + ":modelarts"
		a := keylessAccount(ns, "acct")
		a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "modelarts", IdentityProviderID: idp, Audience: wiAudience}
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		st := accountStatusOf(ns, "acct")(Default)
		Expect(st.AuthMethod).To(Equal(v1alpha1.AuthMethodWorkloadIdentity))
		Expect(st.TokenExpiresAt).NotTo(BeNil())
		Expect(fetch(a).(*v1alpha1.CloudAccount).Spec.WorkloadIdentity.ExpirationSeconds).To(Equal(ptr.To[int64](3600)), "defaulted")

		var objs []*v1alpha1.Workspace
		for i := range 5 {
			w := workspaceOf(ns, fmt.Sprintf("ws-%d", i), v1alpha1.AccountReference{Name: "acct"})
			Expect(k8sClient.Create(ctx, w)).To(Succeed())
			objs = append(objs, w)
		}
		for round := range 3 {
			for _, w := range objs {
				annotate(w, v1alpha1.AnnotationSyncNow, fmt.Sprint(round))
			}
			for _, w := range objs {
				expectSyncNowHandled(w, fmt.Sprint(round))
				Expect(condition(w, v1alpha1.ConditionReady)(Default)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
		}
		Expect(sim.FederatedTokensFor(subject)).To(Equal(1), "one IAM exchange for the account over the run")
	})

	It("never requests a token the Kubernetes API server would accept", func() {
		issuer := trustCluster()
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: objMeta(ns, "modelarts")})).To(Succeed())
		subject := "system:serviceaccount:" + ns + ":modelarts"
		idp := "idp-api-" + ns
		// An IAM that would even accept it: the operator must not send it.
		sim.Update(func(f *cloudsim.Fixture) {
			f.IdentityProviders = append(f.IdentityProviders, cloudsim.IdentityProvider{ID: idp, Issuer: issuer, ClientID: issuer,
				Subjects: map[string][]string{subject: {cloudsim.DefaultProjectID}}})
		})
		a := keylessAccount(ns, "acct")
		// The API server's own audience (its --api-audiences default to the issuer).
		a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "modelarts", IdentityProviderID: idp, Audience: issuer}
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(And(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonTokenRequestFailed),
			HaveField("Message", ContainSubstring("accepted by the Kubernetes API server"))))
		Consistently(func() int { return sim.FederatedTokensFor(subject) }, 2*time.Second).Should(BeZero())
	})

	It("becomes Ready once its ServiceAccount is created", func() {
		issuer := trustCluster()
		idp := "idp-late-" + ns
		sim.Update(func(f *cloudsim.Fixture) {
			f.IdentityProviders = append(f.IdentityProviders, cloudsim.IdentityProvider{ID: idp, Issuer: issuer, ClientID: wiAudience,
				Subjects: map[string][]string{"system:serviceaccount:" + ns + ":late": {cloudsim.DefaultProjectID}}})
		})
		a := keylessAccount(ns, "acct")
		a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "late", IdentityProviderID: idp, Audience: wiAudience}
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonTokenRequestFailed))
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: objMeta(ns, "late")})).To(Succeed())
		Eventually(accountReady(ns, "acct"), 30*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
	})

	It("cannot use a ServiceAccount of another namespace", func() {
		other := newNamespace()
		idp := workloadIdentityFor(other, "modelarts") // mapped at IAM, but in another namespace
		a := keylessAccount(ns, "acct")
		a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "modelarts", IdentityProviderID: idp, Audience: wiAudience}
		u := &unstructured.Unstructured{}
		raw, err := json.Marshal(a)
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(raw, &u.Object)).To(Succeed())
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("CloudAccount"))
		Expect(unstructured.SetNestedField(u.Object, other, "spec", "workloadIdentity", "serviceAccountNamespace")).To(Succeed())

		By("the field does not exist: strict validation refuses it")
		err = k8sClient.Create(ctx, u.DeepCopy(), client.FieldValidation("Strict"))
		Expect(err).To(MatchError(ContainSubstring(`unknown field "spec.workloadIdentity.serviceAccountNamespace"`)))

		By("otherwise it is dropped, and the token is asked for in the account's own namespace")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		stored := fetch(&v1alpha1.CloudAccount{ObjectMeta: objMeta(ns, "acct")}).(*v1alpha1.CloudAccount)
		Expect(string(mustJSON(stored.Spec))).NotTo(ContainSubstring("serviceAccountNamespace"))
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonTokenRequestFailed))
		Expect(accountReady(ns, "acct")(Default).Message).To(ContainSubstring(ns + "/modelarts not found"))
		Consistently(func() int {
			return sim.FederatedTokensFor("system:serviceaccount:"+other+":modelarts") + sim.FederatedTokensFor("system:serviceaccount:"+ns+":modelarts")
		}, 2*time.Second).Should(BeZero())
	})

	It("sign with instance metadata credentials and never with expired ones", func() {
		sim.SetTempCredentialLifetime(8*time.Second, 3*time.Second)
		DeferCleanup(func() {
			sim.SetTempCredentialLifetime(cloudsim.DefaultTempCredentialLifetime, cloudsim.DefaultTempCredentialRotateBefore)
		})
		issuedBefore, expiredBefore := sim.TempCredentialsIssued(), sim.ExpiredTempCredentialUses()
		a := keylessAccount(ns, "acct")
		a.Spec.InstanceMetadata = &v1alpha1.InstanceMetadata{Endpoint: simServer.URL}
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		Expect(accountStatusOf(ns, "acct")(Default).AuthMethod).To(Equal(v1alpha1.AuthMethodInstanceMetadata))
		w := workspaceOf(ns, "ws", v1alpha1.AccountReference{Name: "acct"})
		Expect(k8sClient.Create(ctx, w)).To(Succeed())
		Eventually(condition(w, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))

		By("syncing every ~300ms through three credential lifetimes")
		deadline := time.Now().Add(24 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			annotate(w, v1alpha1.AnnotationSyncNow, fmt.Sprint(i))
			expectSyncNowHandled(w, fmt.Sprint(i))
			Expect(condition(w, v1alpha1.ConditionSynced)(Default)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			time.Sleep(300 * time.Millisecond)
		}
		Expect(sim.ExpiredTempCredentialUses()).To(Equal(expiredBefore), "no request signed with expired credentials")
		Expect(sim.TempCredentialsIssued()-issuedBefore).To(BeNumerically(">=", 3), "credentials were rotated")
	})
})

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return raw
}

var _ = Describe("ClusterCloudAccount", func() {
	ctx := context.Background()

	clusterAccount := func(name string, selector *metav1.LabelSelector, secretNS string) *v1alpha1.ClusterCloudAccount {
		return &v1alpha1.ClusterCloudAccount{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.ClusterCloudAccountSpec{
				CloudConnection:      simAccount("x", "x", "").Spec.CloudConnection,
				CredentialsSecretRef: &v1alpha1.SecretReference{Namespace: secretNS, Name: "creds"},
				NamespaceSelector:    selector,
			}}
	}
	clusterReady := func(name string) func(g Gomega) *metav1.Condition {
		return func(g Gomega) *metav1.Condition {
			var a v1alpha1.ClusterCloudAccount
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &a)).To(Succeed())
			return meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
		}
	}
	setLabels := func(ns string, labels map[string]string) {
		Eventually(func() error {
			var n corev1.Namespace
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
				return err
			}
			n.Labels = labels
			return k8sClient.Update(ctx, &n)
		}).Should(Succeed())
	}
	// Faster than the 30s retry of a refused object: the change itself acts.
	const atOnce = 5 * time.Second

	It("serves only the namespaces its selector selects, and follows label and selector changes at once", func() {
		credsNS, user := newNamespace(), newNamespace()
		createSecret(credsNS, "creds", akskData())
		name := "cca-" + user
		team := map[string]string{"team": name}
		acct := clusterAccount(name, &metav1.LabelSelector{MatchLabels: team}, credsNS)
		Expect(k8sClient.Create(ctx, acct)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, acct))).To(Succeed()) })
		Eventually(clusterReady(name)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))

		wsID := "ws-" + user
		sim.Update(func(f *cloudsim.Fixture) {
			p := f.Projects[cloudsim.DefaultProjectID]
			ws := p.Workspaces[0]
			ws.ID = wsID
			p.Workspaces = append(p.Workspaces, ws)
		})
		w := workspaceOf(user, "ws", v1alpha1.AccountReference{Kind: v1alpha1.KindClusterCloudAccount, Name: name})
		w.Spec.WorkspaceID = wsID
		Expect(k8sClient.Create(ctx, w)).To(Succeed())

		By("an unselected namespace is refused without a cloud call")
		Eventually(condition(w, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed))
		Expect(condition(w, v1alpha1.ConditionReady)(Default)).To(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed))
		Consistently(func() int { return sim.RequestsFor(cloudsim.APIWorkspace, wsID) }, 2*time.Second).Should(BeZero())

		By("labelling the namespace lets it sync")
		setLabels(user, team)
		Eventually(condition(w, v1alpha1.ConditionReady), atOnce).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Expect(sim.RequestsFor(cloudsim.APIWorkspace, wsID)).To(BeNumerically(">", 0))

		By("removing the label refuses it again")
		setLabels(user, nil)
		Eventually(condition(w, v1alpha1.ConditionReady), atOnce).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed))
		calls := sim.RequestsFor(cloudsim.APIWorkspace, wsID)
		annotate(w, v1alpha1.AnnotationSyncNow, "1")
		expectSyncNowHandled(w, "1")
		Expect(sim.RequestsFor(cloudsim.APIWorkspace, wsID)).To(Equal(calls), "sync-now makes no cloud call either")

		By("a selector that matches the namespace's other label lets it sync")
		setLabels(user, map[string]string{"tier": "ml"})
		edit(acct, func() {
			acct.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "ml"}}
		})
		Eventually(condition(w, v1alpha1.ConditionReady), atOnce).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))

		By("an empty selector selects no namespace")
		edit(acct, func() {
			acct.Spec.NamespaceSelector = &metav1.LabelSelector{}
		})
		Eventually(condition(w, v1alpha1.ConditionSynced), atOnce).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotAllowed))
		Expect(condition(w, v1alpha1.ConditionSynced)(Default).Message).To(ContainSubstring("selects no namespace"))
	})

	It("uses workload identity with the ServiceAccount of the namespace it names", func() {
		saNS, user := newNamespace(), newNamespace()
		idp := workloadIdentityFor(saNS, "modelarts")
		name := "cca-wi-" + user
		acct := clusterAccount(name, &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": user}}, "")
		acct.Spec.CredentialsSecretRef = nil
		acct.Spec.WorkloadIdentity = &v1alpha1.ClusterWorkloadIdentity{ServiceAccountNamespace: saNS,
			WorkloadIdentity: v1alpha1.WorkloadIdentity{ServiceAccountName: "modelarts", IdentityProviderID: idp, Audience: wiAudience}}
		Expect(k8sClient.Create(ctx, acct)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, acct))).To(Succeed()) })
		Eventually(clusterReady(name)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		w := workspaceOf(user, "ws", v1alpha1.AccountReference{Kind: v1alpha1.KindClusterCloudAccount, Name: name})
		Expect(k8sClient.Create(ctx, w)).To(Succeed())
		Eventually(condition(w, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
	})
})
