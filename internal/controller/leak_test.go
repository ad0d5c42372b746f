package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// tokenRecorder serves the simulator and remembers every IAM token and
// dev-environment token it hands out, so the scan can look for them.
type tokenRecorder struct {
	mu     sync.Mutex
	values []string
}

func (t *tokenRecorder) add(v string) {
	if v == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.values = append(t.values, v)
}

func (t *tokenRecorder) all() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.values...)
}

type headerSpy struct {
	http.ResponseWriter
	rec *tokenRecorder
}

func (h headerSpy) WriteHeader(code int) {
	h.rec.add(h.Header().Get("X-Subject-Token"))
	h.ResponseWriter.WriteHeader(code)
}

func (h headerSpy) Write(p []byte) (int, error) {
	h.rec.add(h.Header().Get("X-Subject-Token"))
	return h.ResponseWriter.Write(p)
}

// The leak scan runs scenarios that put every kind of secret value through
// the operator (both credential methods, IAM tokens, token rotation, a 401
// and re-authentication, error bodies that echo credentials, malformed
// answers) with debug logging, then searches the logs of the whole suite so
// far, every event, every object and the metrics output for those values.
var _ = Describe("Leak scan", Ordered, func() {
	ctx := context.Background()
	var ns string
	tokens := leakTokens
	var proxy *httptest.Server

	BeforeAll(func() {
		Expect(logs.String()).NotTo(BeEmpty())
		ns = newNamespace()
		proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			recordKeyless(tokens, w, r)
		}))
		DeferCleanup(proxy.Close)
	})
	AfterAll(func() {
		sim.ClearFaults()
		for _, o := range []client.Object{&v1alpha1.Workspace{}, &v1alpha1.AuthorizationSet{}, &v1alpha1.ServiceAppAuth{},
			&v1alpha1.RomaApp{}, &v1alpha1.DevEnvironmentToken{}} {
			Expect(k8sClient.DeleteAllOf(ctx, o, client.InNamespace(ns))).To(Succeed())
		}
	})

	It("runs every kind through successes and failures with both credential methods", func() {
		// A password account whose IAM traffic goes through the recorder,
		// under a user of its own so that a fresh token is issued.
		const user, password = "leak-user", "leak-password-Zq81x"
		sim.Update(func(f *cloudsim.Fixture) {
			f.Users = append(f.Users, cloudsim.User{DomainName: cloudsim.DefaultDomainName, UserName: user, Password: password,
				Projects: []string{cloudsim.DefaultProjectID}})
		})
		createSecret(ns, "pw-creds", map[string][]byte{
			v1alpha1.CredentialUserName: []byte(user), v1alpha1.CredentialPassword: []byte(password),
			v1alpha1.CredentialDomainName: []byte(cloudsim.DefaultDomainName)})
		pw := simAccount(ns, "pw", "pw-creds")
		pw.Spec.Endpoints = &v1alpha1.CloudEndpoints{IAM: proxy.URL, ModelArts: proxy.URL, ROMA: proxy.URL}
		Expect(k8sClient.Create(ctx, pw)).To(Succeed())
		readyAccount(ns, akskData()) // "acct"
		Eventually(accountReady(ns, "pw")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		Expect(tokens.all()).NotTo(BeEmpty(), "the IAM token was recorded")

		var objs []v1alpha1.Mirrored
		for _, account := range []string{"acct", "pw"} {
			m := v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: account}}
			objs = append(objs,
				&v1alpha1.Workspace{ObjectMeta: objMeta(ns, account+"-ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: m, WorkspaceID: cloudsim.DefaultWorkspaceID}},
				&v1alpha1.AuthorizationSet{ObjectMeta: objMeta(ns, account+"-auths"), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: m}},
				&v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, account+"-svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: m, ServiceID: cloudsim.DefaultServiceID, SecretName: account + "-svc-apps"}},
				&v1alpha1.RomaApp{ObjectMeta: objMeta(ns, account+"-roma"), Spec: v1alpha1.RomaAppSpec{MirrorSpec: m, InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID, SecretName: account + "-roma-key"}},
				&v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, account+"-tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: m, InstanceID: cloudsim.DefaultDevEnvInstance}},
			)
		}
		for _, o := range objs {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		ready := func() {
			for _, o := range objs {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
		}
		ready()
		round := 0
		syncAll := func() {
			round++
			for _, o := range objs {
				annotate(o, v1alpha1.AnnotationSyncNow, strings.Repeat("x", round))
			}
		}

		By("the cloud echoes the request's credentials and token in error bodies")
		// Each account's objects in turn (the others are not due meanwhile):
		// a cloud may echo what a request carried, never another account's secrets.
		for i, echo := range [][]string{{cloudsim.DefaultSecretKey}, append([]string{password}, tokens.all()...)} {
			for _, api := range cloudsim.ResourceAPIs {
				sim.InjectFault(api, cloudsim.Fault{Status: 400, Code: "ModelArts.0101", Message: "invalid request from " + strings.Join(echo, " ")})
			}
			round++
			for _, o := range objs[i*5 : i*5+5] {
				annotate(o, v1alpha1.AnnotationSyncNow, strings.Repeat("x", round))
			}
			for _, o := range objs[i*5 : i*5+5] {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(HaveField("Status", metav1.ConditionFalse))
			}
			sim.ClearFaults()
			// Faults are global: these objects' backoff retry (~2s) must not
			// meet the next round's fault, which echoes another account's
			// secrets that their client cannot redact. Sync them back first.
			round++
			for _, o := range objs[i*5 : i*5+5] {
				annotate(o, v1alpha1.AnnotationSyncNow, strings.Repeat("x", round))
			}
			for _, o := range objs[i*5 : i*5+5] {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
		}

		By("tokens are revoked: a 401 and one re-authentication")
		sim.RevokeTokens()
		syncAll()
		ready()

		By("malformed and wrong-typed answers, and throttling")
		for _, f := range []cloudsim.Fault{{Malformed: true, Times: 2}, {WrongTypes: true, Times: 2}, {Status: 429, RetryAfter: time.Second, Times: 1}} {
			for _, api := range cloudsim.ResourceAPIs {
				sim.InjectFault(api, f)
			}
			syncAll()
			// Every use of every fault answered a request: each error path ran.
			Eventually(sim.Faults, 15*time.Second).Should(BeEmpty())
			sim.ClearFaults()
		}
		syncAll()
		ready()

		By("the dev-environment token rotates")
		DeferCleanup(func() {
			sim.Update(func(f *cloudsim.Fixture) {
				f.Projects[cloudsim.DefaultProjectID].DevEnvInstances[cloudsim.DefaultDevEnvInstance] = cloudsim.DevEnvInstance{Token: cloudsim.DefaultDevEnvToken}
			})
		})
		rotated, err := sim.RotateDevEnvToken(cloudsim.DefaultProjectID, cloudsim.DefaultDevEnvInstance)
		Expect(err).NotTo(HaveOccurred())
		tokens.add(rotated)
		syncAll()
		Eventually(func() []byte { return secretData(ns, "pw-tok")["token"] }).Should(Equal([]byte(rotated)))
		ready()
	})

	It("runs workload identity and instance metadata accounts through errors and re-authentication", func() {
		idp := workloadIdentityFor(ns, "leak-sa")
		eps := &v1alpha1.CloudEndpoints{IAM: proxy.URL, ModelArts: proxy.URL, ROMA: proxy.URL}
		wi := keylessAccount(ns, "wi")
		wi.Spec.Endpoints = eps
		wi.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "leak-sa", IdentityProviderID: idp, Audience: wiAudience}
		im := keylessAccount(ns, "im")
		im.Spec.Endpoints = eps
		im.Spec.InstanceMetadata = &v1alpha1.InstanceMetadata{Endpoint: proxy.URL}
		seen := len(tokens.all())
		for _, a := range []*v1alpha1.CloudAccount{wi, im} {
			Expect(k8sClient.Create(ctx, a)).To(Succeed())
			Eventually(accountReady(ns, a.Name)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		}
		// The JWT, the IAM token, the session token and the temporary AK, SK and security token.
		Expect(len(tokens.all()) - seen).To(BeNumerically(">=", 6))

		var objs []v1alpha1.Mirrored
		for _, account := range []string{"wi", "im"} {
			m := v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: account}}
			objs = append(objs,
				&v1alpha1.Workspace{ObjectMeta: objMeta(ns, account+"-ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: m, WorkspaceID: cloudsim.DefaultWorkspaceID}},
				&v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, account+"-tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: m, InstanceID: cloudsim.DefaultDevEnvInstance}},
			)
		}
		for _, o := range objs {
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
		}
		round := 0
		syncAll := func(want metav1.ConditionStatus) {
			round++
			for _, o := range objs {
				annotate(o, v1alpha1.AnnotationSyncNow, "k"+strings.Repeat("x", round))
			}
			for _, o := range objs {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(HaveField("Status", want))
			}
		}
		syncAll(metav1.ConditionTrue)

		By("the cloud echoes what each account's requests carried in error bodies")
		// The workload identity objects carry the IAM token, the metadata ones
		// the temporary AK, SK and security token.
		var jwts, iamTokens, tempKeys []string
		for _, v := range tokens.all()[seen:] {
			switch {
			case strings.HasPrefix(v, "eyJ"):
				jwts = append(jwts, v)
			case strings.HasPrefix(v, "MII"):
				iamTokens = append(iamTokens, v)
			case !strings.HasPrefix(v, "meta-"):
				tempKeys = append(tempKeys, v)
			}
		}
		Expect(jwts).NotTo(BeEmpty())
		Expect(iamTokens).NotTo(BeEmpty())
		Expect(tempKeys).To(HaveLen(3))
		for i, echo := range [][]string{iamTokens, tempKeys} {
			for _, api := range []cloudsim.API{cloudsim.APIWorkspace, cloudsim.APIDevEnvToken} {
				sim.InjectFault(api, cloudsim.Fault{Status: 400, Code: "ModelArts.0101", Message: "invalid request from " + strings.Join(echo, " ")})
			}
			round++
			for _, o := range objs[i*2 : i*2+2] {
				annotate(o, v1alpha1.AnnotationSyncNow, "k"+strings.Repeat("x", round))
			}
			for _, o := range objs[i*2 : i*2+2] {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(HaveField("Status", metav1.ConditionFalse))
			}
			sim.ClearFaults()
			// As above: synced back before the next account's echo fault.
			round++
			for _, o := range objs[i*2 : i*2+2] {
				annotate(o, v1alpha1.AnnotationSyncNow, "k"+strings.Repeat("x", round))
			}
			for _, o := range objs[i*2 : i*2+2] {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(HaveField("Status", metav1.ConditionTrue))
			}
		}
		syncAll(metav1.ConditionTrue)

		By("IAM tokens are revoked: a 401, and IAM echoes the JWT once before a new exchange succeeds")
		sim.InjectFault(cloudsim.APIIAMIDToken, cloudsim.Fault{Status: 500, Message: "cannot verify " + jwts[0], Times: 1})
		sim.RevokeTokens()
		syncAll(metav1.ConditionTrue)
		Eventually(sim.Faults).Should(BeEmpty())
	})

	It("finds no secret value in the logs, events, any object or the metrics", func() {
		secrets := append([]string{cloudsim.DefaultAccessKey, "leak-password-Zq81x"}, fixtureSecrets...)
		secrets = append(secrets, tokens.all()...)
		Expect(len(secrets)).To(BeNumerically(">", len(fixtureSecrets)+2))

		scan := func(what, text string) {
			GinkgoHelper()
			Expect(text).NotTo(BeEmpty(), what)
			for _, v := range secrets {
				Expect(strings.Contains(text, v)).To(BeFalse(), "%s contains the secret value %q…", what, v[:min(4, len(v))])
			}
		}

		By("logs, at debug level, of the whole suite so far")
		Expect(logs.String()).To(ContainSubstring("DEBUG"), "the suite logs at debug level")
		scan("the logs", logs.String())

		By("events in every namespace")
		var ev eventsv1.EventList
		Expect(k8sClient.List(ctx, &ev)).To(Succeed())
		var coreEv corev1.EventList
		Expect(k8sClient.List(ctx, &coreEv)).To(Succeed())
		scan("the events", toJSON(&ev)+toJSON(&coreEv))

		By("every object of every kind in every namespace")
		lists := []client.ObjectList{&v1alpha1.CloudAccountList{}, &v1alpha1.ClusterCloudAccountList{}, &v1alpha1.WorkspaceList{}, &v1alpha1.AuthorizationSetList{},
			&v1alpha1.ServiceAppAuthList{}, &v1alpha1.RomaAppList{}, &v1alpha1.DevEnvironmentTokenList{}}
		var all strings.Builder
		for _, l := range lists {
			Expect(k8sClient.List(ctx, l)).To(Succeed())
			all.WriteString(toJSON(l))
		}
		scan("the custom resources", all.String())

		By("the metrics output")
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		Expect(rec.Body.String()).To(ContainSubstring("modelarts_operator_cloud_requests_total"))
		scan("the metrics", rec.Body.String())
	})
})

func toJSON(o runtime.Object) string {
	raw, err := json.Marshal(o)
	Expect(err).NotTo(HaveOccurred())
	return string(raw)
}

// After every spec has run (whatever the order), the whole suite's debug log
// is scanned once more for the fixture's secret values and every token the
// leak scan saw issued.
var _ = ReportAfterSuite("no secret value in the suite's logs", func(Report) {
	text := logs.String()
	for _, v := range append(append([]string{cloudsim.DefaultAccessKey, "leak-password-Zq81x"}, fixtureSecrets...), leakTokens.all()...) {
		Expect(strings.Contains(text, v)).To(BeFalse(), "the suite's logs contain the secret value %q…", v[:min(4, len(v))])
	}
})

var leakTokens = &tokenRecorder{}

// recordKeyless serves r from the simulator and records the keyless
// secrets passing by: the ServiceAccount JWT sent to IAM, the metadata
// session token and the temporary AK, SK and security token, and (through
// headerSpy) every IAM token.
func recordKeyless(tokens *tokenRecorder, w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v3.0/OS-AUTH/id-token/tokens":
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Auth struct {
				IDToken struct {
					ID string `json:"id"`
				} `json:"id_token"`
			} `json:"auth"`
		}
		_ = json.Unmarshal(body, &req)
		tokens.add(req.Auth.IDToken.ID)
		r.Body = io.NopCloser(bytes.NewReader(body))
	case "/meta-data/latest/api/token", "/openstack/latest/securitykey":
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		if r.URL.Path == "/meta-data/latest/api/token" {
			tokens.add(rec.Body.String())
		} else {
			var resp struct{ Credential map[string]string }
			_ = json.Unmarshal(rec.Body.Bytes(), &resp)
			for _, k := range []string{"access", "secret", "securitytoken"} {
				tokens.add(resp.Credential[k])
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	sim.ServeHTTP(headerSpy{w, tokens}, r)
}
