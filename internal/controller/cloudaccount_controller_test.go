package controller

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// readyCondition fetches the account and returns its Ready condition (nil until set).
func accountReady(ns, name string) func(g Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		var a v1alpha1.CloudAccount
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &a)).To(Succeed())
		return meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
	}
}

func haveCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

var _ = Describe("CloudAccount", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	It("is Ready with AK/SK credentials", func() {
		createSecret(ns, "creds", akskData())
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))

		var a v1alpha1.CloudAccount
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &a)).To(Succeed())
		Expect(a.Status.AuthMethod).To(Equal(v1alpha1.AuthMethodAKSK))
		Expect(a.Status.TokenExpiresAt).To(BeNil())
		Expect(a.Status.Endpoints.ModelArts).To(Equal(simServer.URL))
		Expect(a.Status.ObservedGeneration).To(Equal(a.Generation))
		Expect(a.Spec.Cloud).To(Equal(v1alpha1.CloudHuawei), "cloud defaults to HuaweiCloud")
		expectNoSecretValues(&a)
	})

	It("is Ready with password credentials and reports the token's expiry", func() {
		// A user of its own, so that no earlier spec's token is in the cache.
		const user, password = "account-spec-user", "account-spec-password-7"
		sim.Update(func(f *cloudsim.Fixture) {
			f.Users = append(f.Users, cloudsim.User{DomainName: cloudsim.DefaultDomainName, UserName: user, Password: password,
				Projects: []string{cloudsim.DefaultProjectID}})
		})
		data := passwordData()
		data[v1alpha1.CredentialUserName], data[v1alpha1.CredentialPassword] = []byte(user), []byte(password)
		issued := sim.IssuedTokens()
		createSecret(ns, "creds", data)
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))

		var a v1alpha1.CloudAccount
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &a)).To(Succeed())
		Expect(a.Status.AuthMethod).To(Equal(v1alpha1.AuthMethodPassword))
		Expect(a.Status.TokenExpiresAt).NotTo(BeNil())
		Expect(a.Status.TokenExpiresAt.Time).To(BeTemporally("~", time.Now().Add(24*time.Hour), 5*time.Minute))
		Expect(sim.IssuedTokens()-issued).To(Equal(1), "one IAM token for the account")
		expectNoSecretValues(&a)
	})

	It("shares one IAM token among accounts with the same credentials and project", func() {
		createSecret(ns, "creds", passwordData())
		Expect(k8sClient.Create(ctx, simAccount(ns, "first", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "first")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		issued := sim.IssuedTokens()
		Expect(k8sClient.Create(ctx, simAccount(ns, "second", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "second")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		Expect(sim.IssuedTokens()).To(Equal(issued))
	})

	It("is not Ready while the Secret is missing, and becomes Ready when it appears", func() {
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "later"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound))
		cond := accountReady(ns, "acct")(Default)
		Expect(cond.Message).To(ContainSubstring(`"later"`))

		createSecret(ns, "later", akskData())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
	})

	It("names the missing keys, and recovers when the Secret is fixed", func() {
		s := createSecret(ns, "creds", map[string][]byte{v1alpha1.CredentialAccessKey: []byte(cloudsim.DefaultAccessKey)})
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonMissingCredentials))
		cond := accountReady(ns, "acct")(Default)
		Expect(cond.Message).To(ContainSubstring("secret_key"))
		Expect(cond.Message).NotTo(ContainSubstring(cloudsim.DefaultAccessKey))

		s.Data = akskData()
		Expect(k8sClient.Update(ctx, s)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
	})

	It("names the missing password keys", func() {
		createSecret(ns, "creds", map[string][]byte{v1alpha1.CredentialUserName: []byte("someone")})
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonMissingCredentials))
		cond := accountReady(ns, "acct")(Default)
		Expect(cond.Message).To(And(ContainSubstring("password"), ContainSubstring("domain_name")))
	})

	It("is Unauthorized with a wrong password, and Ready once it is corrected", func() {
		data := passwordData()
		data[v1alpha1.CredentialPassword] = []byte("wrong-password-value")
		s := createSecret(ns, "creds", data)
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonUnauthorized))

		var a v1alpha1.CloudAccount
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &a)).To(Succeed())
		raw, _ := json.Marshal(a)
		Expect(string(raw)).NotTo(ContainSubstring("wrong-password-value"))
		Expect(a.Status.TokenExpiresAt).To(BeNil())

		s.Data = passwordData()
		Expect(k8sClient.Update(ctx, s)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
	})

	It("turns not Ready when its Secret is deleted", func() {
		s := createSecret(ns, "creds", akskData())
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		Expect(k8sClient.Delete(ctx, s)).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound))
	})

	It("does not write status again when nothing changed", func() {
		createSecret(ns, "creds", akskData())
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		// The budget controller's first write too (budget_test.go).
		Eventually(budgetOf(ns, "acct")).Should(Equal("0/600 False WithinBudget"))
		var a v1alpha1.CloudAccount
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &a)).To(Succeed())
		rv := a.ResourceVersion

		// An unrelated change to the Secret re-runs the check; the status stays as it is.
		var s corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &s)).To(Succeed())
		before := reconciles("cloudaccount")
		s.Labels = map[string]string{"touched": "yes"}
		Expect(k8sClient.Update(ctx, &s)).To(Succeed())
		// The check ran again (else the window below proves nothing)…
		Eventually(func() float64 { return reconciles("cloudaccount") }).Should(BeNumerically(">", before))
		// …and wrote nothing.
		Consistently(func(g Gomega) string {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &a)).To(Succeed())
			return a.ResourceVersion
		}, 2*time.Second, 200*time.Millisecond).Should(Equal(rv))
	})
})

// reconciles is how many reconciles controller has finished in this process
// (controller-runtime's controller_runtime_reconcile_total).
func reconciles(controller string) float64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// expectNoSecretValues checks that no simulator credential appears in obj's JSON.
func expectNoSecretValues(obj any) {
	raw, err := json.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	for _, v := range []string{cloudsim.DefaultSecretKey, cloudsim.DefaultPassword} {
		Expect(string(raw)).NotTo(ContainSubstring(v))
	}
}
