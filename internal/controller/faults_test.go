package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// The fault matrix: each case asserts the conditions, the data kept and the
// number of cloud calls. (404, ModelArts.6309, 401/403/500/malformed keeping
// data, 429 Retry-After, sync-now and paused are in mirror_test.go.)
var _ = Describe("Fault matrix", func() {
	ctx := context.Background()
	// wsID: the spec's own copy of the default workspace, so that its call
	// counts leave out objects earlier specs left behind (mirror_test.go).
	var ns, wsID, instanceID string
	BeforeEach(func() {
		ns = newNamespace()
		wsID, instanceID = ownWorkspaceID(), ownDevEnvInstanceID()
		sim.ClearFaults()
	})
	AfterEach(func() {
		sim.ClearFaults()
		for _, o := range []client.Object{&v1alpha1.Workspace{}, &v1alpha1.AuthorizationSet{}, &v1alpha1.ServiceAppAuth{},
			&v1alpha1.RomaApp{}, &v1alpha1.DevEnvironmentToken{}} {
			Expect(k8sClient.DeleteAllOf(ctx, o, client.InNamespace(ns))).To(Succeed())
		}
	})

	wsCalls := func() int { return sim.RequestsFor(cloudsim.APIWorkspace, wsID) }
	tokCalls := func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }
	newWorkspace := func(name string, interval time.Duration) *v1alpha1.Workspace {
		ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, name), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: wsID}}
		if interval > 0 {
			ws.Spec.RefreshInterval = &metav1.Duration{Duration: interval}
		}
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		Eventually(condition(ws, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		return ws
	}
	newToken := func(name string, interval time.Duration) *v1alpha1.DevEnvironmentToken {
		tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, name), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: instanceID}}
		if interval > 0 {
			tok.Spec.RefreshInterval = &metav1.Duration{Duration: interval}
		}
		Expect(k8sClient.Create(ctx, tok)).To(Succeed())
		Eventually(condition(tok, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		return tok
	}
	// expectKept checks that ws still shows the mirrored data and is Ready.
	expectKept := func(ws *v1alpha1.Workspace) {
		fetch(ws)
		Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		Expect(ws.Status.Name).To(Equal("test-workspace"))
		Expect(ws.Status.ID).To(Equal(wsID))
	}
	expectTokenSecret := func(name string) {
		Expect(secretData(ns, name)).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}))
	}

	Context("with an AK/SK account", func() {
		BeforeEach(func() { readyAccount(ns, akskData()) })

		It("recovers by itself after the cloud answers 500 for a while", func() {
			ws := newWorkspace("ws", time.Minute)
			before := wsCalls()
			sim.InjectFault(cloudsim.APIWorkspace, cloudsim.Fault{Status: 500, Times: 2})
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(And(
				haveCondition(metav1.ConditionFalse, v1alpha1.ReasonCloudError), HaveField("Message", ContainSubstring("HTTP 500"))))
			expectKept(ws)
			// No sync-now: backoff (2s, then 4s) brings the retry that succeeds.
			Eventually(condition(ws, v1alpha1.ConditionSynced), 15*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(wsCalls()-before).To(Equal(3), "two failed calls and one that succeeds")
			Consistently(wsCalls, 2*time.Second, 200*time.Millisecond).Should(Equal(before+3), "back to the refresh interval")
		})

		It("backs off exponentially while the cloud keeps failing, without rewriting status", func() {
			ws := newWorkspace("ws", time.Minute)
			sim.InjectFault(cloudsim.APIWorkspace, cloudsim.Fault{Status: 500})
			before := wsCalls()
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonCloudError))
			rv := ws.ResourceVersion

			// Record when each call arrives for 9s.
			var times []time.Time
			last, start := before, time.Now()
			for time.Since(start) < 9*time.Second {
				if n := wsCalls(); n != last {
					for ; last < n; last++ {
						times = append(times, time.Now())
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Calls at ~0, 2 and 6s (±10% jitter; the next at ~14s): 3 in the window, never a hot loop.
			Expect(times).To(HaveLen(3))
			gap1, gap2 := times[1].Sub(times[0]), times[2].Sub(times[1])
			Expect(gap1).To(BeNumerically("~", 2*time.Second, 700*time.Millisecond))
			Expect(gap2).To(BeNumerically("~", 4*time.Second, time.Second))
			Expect(fetch(ws).GetResourceVersion()).To(Equal(rv), "a persistent failure writes status once")
			expectKept(ws)
		})

		It("times out a hanging request and leaves no worker stuck", func() {
			// More objects than the controller has workers (4).
			var wss []*v1alpha1.Workspace
			for _, name := range []string{"ws-a", "ws-b", "ws-c", "ws-d", "ws-e", "ws-f"} {
				wss = append(wss, newWorkspace(name, time.Minute))
			}
			tok := newToken("tok", 0)
			sim.InjectFault(cloudsim.APIWorkspace, cloudsim.Fault{Hang: true})
			before := wsCalls()
			start := time.Now()
			for _, ws := range wss {
				annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			}
			By("another kind keeps syncing meanwhile")
			tb := tokCalls()
			annotate(tok, v1alpha1.AnnotationSyncNow, "1")
			Eventually(tokCalls, 2*time.Second).Should(Equal(tb + 1))

			By("every request is cut at the 3s deadline: CloudError, data kept")
			for _, ws := range wss {
				Eventually(condition(ws, v1alpha1.ConditionSynced), 15*time.Second).Should(And(
					haveCondition(metav1.ConditionFalse, v1alpha1.ReasonCloudError),
					HaveField("Message", ContainSubstring("no response"))))
				expectKept(ws)
			}
			elapsed := time.Since(start)
			Expect(elapsed).To(BeNumerically(">=", 3*time.Second))
			// Each object's calls are at least the 3s deadline plus a backoff
			// (≥1.8s) apart: no hot loop while the cloud hangs.
			Expect(wsCalls() - before).To(And(BeNumerically(">=", 6), BeNumerically("<=", 6*(1+int(elapsed/(4*time.Second))))))

			By("when the cloud answers again, every object recovers without help")
			sim.ClearFaults()
			for _, ws := range wss {
				Eventually(condition(ws, v1alpha1.ConditionSynced), 20*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
		})

		DescribeTable("reports InvalidResponse and keeps the last data and Secrets",
			func(fault cloudsim.Fault) {
				saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(), ServiceID: cloudsim.DefaultServiceID, SecretName: "svc-apps"}}
				roma := &v1alpha1.RomaApp{ObjectMeta: objMeta(ns, "roma"), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID, SecretName: "roma-key"}}
				ws := newWorkspace("ws", time.Minute)
				for _, o := range []v1alpha1.Mirrored{saa, roma} {
					Expect(k8sClient.Create(ctx, o)).To(Succeed())
					Eventually(condition(o, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
				}
				svcSecret, romaSecret := secretData(ns, "svc-apps"), secretData(ns, "roma-key")
				before := wsCalls()
				for _, api := range []cloudsim.API{cloudsim.APIWorkspace, cloudsim.APIServiceAPIAuths, cloudsim.APIRomaApp} {
					sim.InjectFault(api, fault)
				}
				for _, o := range []client.Object{ws, saa, roma} {
					annotate(o, v1alpha1.AnnotationSyncNow, "1")
				}
				for _, o := range []v1alpha1.Mirrored{ws, saa, roma} {
					Eventually(condition(o, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonInvalidResponse))
					Expect(meta.IsStatusConditionTrue(o.Sync().Conditions, v1alpha1.ConditionReady)).To(BeTrue())
				}
				expectKept(ws)
				Expect(saa.Status.AppCount).To(HaveValue(BeEquivalentTo(1)))
				Expect(roma.Status.Name).To(Equal("AppName"))
				Expect(secretData(ns, "svc-apps")).To(Equal(svcSecret))
				Expect(secretData(ns, "roma-key")).To(Equal(romaSecret))
				Expect(wsCalls()-before).To(BeNumerically("<=", 2), "one call, at most one backoff retry so far")

				sim.ClearFaults()
				for _, o := range []v1alpha1.Mirrored{ws, saa, roma} {
					Eventually(condition(o, v1alpha1.ConditionSynced), 10*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
				}
			},
			Entry("wrong field types", cloudsim.Fault{WrongTypes: true}),
			Entry("malformed JSON", cloudsim.Fault{Malformed: true}),
		)

		// An account that stops being usable turns its objects AccountNotReady
		// at once (their 5m interval is far off), without a cloud call.
		It("stops calling the cloud when the credentials Secret is deleted, keeping the data, and resumes when it is back", func() {
			ws := newWorkspace("ws", 0)
			tok := newToken("tok", 0)
			var creds corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &creds)).To(Succeed())
			Expect(k8sClient.Delete(ctx, &creds)).To(Succeed())
			Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound))
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(And(
					haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady), HaveField("Message", ContainSubstring("SecretNotFound"))))
			}
			wb, tb := wsCalls(), tokCalls()
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			expectSyncNowHandled(ws, "1")
			Consistently(func() []int { return []int{wsCalls(), tokCalls()} }, 2*time.Second, 200*time.Millisecond).Should(Equal([]int{wb, tb}))
			expectKept(ws)
			expectTokenSecret("tok")

			createSecret(ns, "creds", akskData())
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
			expectTokenSecret("tok")
		})

		It("reports Unauthorized as soon as the credentials change to wrong ones, and recovers as soon as they are fixed", func() {
			ws := newWorkspace("ws", 0)
			var creds corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &creds)).To(Succeed())
			creds.Data[v1alpha1.CredentialSecretKey] = []byte("not-the-secret-key")
			Expect(k8sClient.Update(ctx, &creds)).To(Succeed())
			// The account registers the new keys without a status change (AK/SK
			// is not checked against the cloud); its objects sync with them at
			// once, with no sync-now and long before their 5m interval.
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonUnauthorized))
			expectKept(ws)
			before := wsCalls()
			annotate(ws, v1alpha1.AnnotationSyncNow, "again")
			expectSyncNowHandled(ws, "again")
			Expect(wsCalls()-before).To(Equal(1), "AK/SK: a 401 is not retried")

			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &creds)).To(Succeed())
			creds.Data = akskData()
			Expect(k8sClient.Update(ctx, &creds)).To(Succeed())
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		})

		It("syncs its objects once, at once, when the account's endpoint changes while it stays Ready", func() {
			ws := newWorkspace("ws", 0)
			tok := newToken("tok", 0)
			wb, tb := wsCalls(), tokCalls()
			// Its status changes only in observedGeneration, which no dependent
			// watches: the registry's change notice is what reaches them.
			var account v1alpha1.CloudAccount
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &account)).To(Succeed())
			patch := client.MergeFrom(account.DeepCopy())
			// The same simulator under another name: a new endpoint.
			account.Spec.Endpoints.ModelArts = strings.Replace(simServer.URL, "127.0.0.1", "localhost", 1)
			Expect(k8sClient.Patch(ctx, &account, patch)).To(Succeed())
			delta := func() []int { return []int{wsCalls() - wb, tokCalls() - tb} }
			Eventually(delta).Should(Equal([]int{1, 1}), "each object synced with the new configuration, long before its 5m interval")
			Consistently(delta, 2*time.Second, 200*time.Millisecond).Should(Equal([]int{1, 1}), "once")
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Expect(meta.FindStatusCondition(fetch(o).(v1alpha1.Mirrored).Sync().Conditions, v1alpha1.ConditionSynced)).To(
					haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
		})

		It("stops calling the cloud when the account is deleted, keeping data and Secrets", func() {
			ws := newWorkspace("ws", 0)
			tok := newToken("tok", 0)
			Expect(k8sClient.Delete(ctx, &v1alpha1.CloudAccount{ObjectMeta: objMeta(ns, "acct")})).To(Succeed())
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Eventually(condition(o, v1alpha1.ConditionSynced), 15*time.Second).Should(And(
					haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady), HaveField("Message", ContainSubstring("not found"))))
			}
			wb, tb := wsCalls(), tokCalls()
			annotate(tok, v1alpha1.AnnotationSyncNow, "1")
			expectSyncNowHandled(tok, "1")
			Consistently(func() []int { return []int{wsCalls(), tokCalls()} }, 2*time.Second, 200*time.Millisecond).Should(Equal([]int{wb, tb}))
			expectKept(ws)
			expectTokenSecret("tok")

			Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		})
	})

	Context("with an IAM password account", func() {
		It("re-authenticates exactly once after a 401 in the middle of a run", func() {
			readyAccount(ns, passwordData())
			ws := newWorkspace("ws", 0)
			issued, before := sim.IssuedTokens(), wsCalls()
			sim.RevokeTokens()
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(wsCalls).Should(Equal(before + 2))
			Eventually(func() int { return sim.IssuedTokens() }).Should(Equal(issued + 1))
			Consistently(wsCalls, time.Second, 100*time.Millisecond).Should(Equal(before + 2))
			Expect(meta.FindStatusCondition(fetch(ws).(*v1alpha1.Workspace).Status.Conditions, v1alpha1.ConditionSynced)).To(
				haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(eventNotes(ns, "ws")).NotTo(ContainElement(HavePrefix(v1alpha1.ReasonUnauthorized)))

			annotate(ws, v1alpha1.AnnotationSyncNow, "2")
			Eventually(wsCalls).Should(Equal(before + 3))
			Expect(sim.IssuedTokens()).To(Equal(issued+1), "the new token is cached")
		})

		It("coalesces a re-authentication storm: twenty objects rejected at once cost one IAM request", func() {
			readyAccount(ns, passwordData())
			// Resources of their own, so that every object's cloud calls are counted apart.
			const n = 10 // objects of each kind; 4 workers per kind sync 8 at a time
			wsID := func(i int) string { return fmt.Sprintf("5707a0000000000000000000000000%02d", i) }
			instID := func(i int) string { return fmt.Sprintf("5707b000-0000-4000-8000-0000000000%02d", i) }
			tokValue := func(i int) string { return fmt.Sprintf("storm-devenv-token-%02d", i) }
			sim.Update(func(f *cloudsim.Fixture) {
				p := f.Projects[cloudsim.DefaultProjectID]
				for i := range n {
					p.Workspaces = append(p.Workspaces, cloudsim.Workspace{ID: wsID(i), Name: fmt.Sprintf("storm-%02d", i),
						Status: "NORMAL", Owner: "testUser", AuthType: "PUBLIC", CreateTime: 1470000000000, UpdateTime: 1470000000000,
						Grants: []cloudsim.Grant{}})
					p.DevEnvInstances[instID(i)] = cloudsim.DevEnvInstance{Token: tokValue(i)}
				}
			})
			DeferCleanup(func() {
				sim.Update(func(f *cloudsim.Fixture) {
					p := f.Projects[cloudsim.DefaultProjectID]
					kept := p.Workspaces[:0]
					for _, w := range p.Workspaces {
						if !strings.HasPrefix(w.ID, "5707a") {
							kept = append(kept, w)
						}
					}
					p.Workspaces = kept
					for i := range n {
						delete(p.DevEnvInstances, instID(i))
					}
				})
			})

			var wss []*v1alpha1.Workspace
			var toks []*v1alpha1.DevEnvironmentToken
			var objs []v1alpha1.Mirrored
			for i := range n {
				ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, fmt.Sprintf("ws-%02d", i)), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: wsID(i)}}
				tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, fmt.Sprintf("tok-%02d", i)), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: instID(i)}}
				ws.Spec.RefreshInterval = &metav1.Duration{Duration: 10 * time.Minute}
				tok.Spec.RefreshInterval = &metav1.Duration{Duration: 10 * time.Minute}
				wss, toks, objs = append(wss, ws), append(toks, tok), append(objs, ws, tok)
			}
			for _, o := range objs {
				Expect(k8sClient.Create(ctx, o)).To(Succeed())
			}
			for _, o := range objs {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
			// calls is every object's cloud calls so far, in the order of objs.
			calls := func() []int {
				out := make([]int, 0, len(objs))
				for i := range n {
					out = append(out, sim.RequestsFor(cloudsim.APIWorkspace, wsID(i)), sim.RequestsFor(cloudsim.APIDevEnvToken, instID(i)))
				}
				return out
			}
			// expectKept: status data, Secret and Ready all still there, and Synced never False.
			expectKept := func() {
				for i := range n {
					fetch(wss[i])
					fetch(toks[i])
					Expect(wss[i].Status.ID).To(Equal(wsID(i)))
					Expect(wss[i].Status.Name).To(Equal(fmt.Sprintf("storm-%02d", i)))
					Expect(secretData(ns, toks[i].Name)).To(Equal(map[string][]byte{"token": []byte(tokValue(i))}))
					for _, o := range []v1alpha1.Mirrored{wss[i], toks[i]} {
						Expect(meta.IsStatusConditionTrue(o.Sync().Conditions, v1alpha1.ConditionReady)).To(BeTrue(), o.GetName())
						Expect(meta.IsStatusConditionTrue(o.Sync().Conditions, v1alpha1.ConditionSynced)).To(BeTrue(), o.GetName())
					}
				}
			}
			expectKept()

			// Slow answers keep each worker's request in flight together, and
			// the one IAM request open while the other 401s arrive.
			sim.InjectFault(cloudsim.APIWorkspace, cloudsim.Fault{Latency: 200 * time.Millisecond})
			sim.InjectFault(cloudsim.APIDevEnvToken, cloudsim.Fault{Latency: 200 * time.Millisecond})
			sim.InjectFault(cloudsim.APIIAMToken, cloudsim.Fault{Latency: 500 * time.Millisecond})
			iamBefore, issuedBefore, before := sim.Requests(cloudsim.APIIAMToken), sim.IssuedTokens(), calls()
			sim.RevokeTokens()
			for _, o := range objs {
				annotate(o, v1alpha1.AnnotationSyncNow, "storm")
			}

			By("every object syncs again; data, Secrets, Ready and Synced hold throughout")
			deadline := time.Now().Add(30 * time.Second)
			for {
				expectKept()
				handled := 0
				for _, o := range objs {
					if o.Sync().SyncNowHandled == "storm" {
						handled++
					}
				}
				if handled == len(objs) {
					break
				}
				Expect(time.Now()).To(BeTemporally("<", deadline), "%d of %d objects synced", handled, len(objs))
				time.Sleep(100 * time.Millisecond)
			}
			sim.ClearFaults()

			By("one IAM request for all of them; at most the 401 and its retry per object")
			after := calls()
			total := 0
			for i := range objs {
				d := after[i] - before[i]
				Expect(d).To(BeNumerically(">=", 1), objs[i].GetName())
				Expect(d).To(BeNumerically("<=", 2), "%s: the 401 and one retry", objs[i].GetName())
				total += d
			}
			rejected := total - len(objs)
			GinkgoWriter.Printf("storm: %d cloud calls, %d rejected with 401, %d IAM requests\n",
				total, rejected, sim.Requests(cloudsim.APIIAMToken)-iamBefore)
			Expect(rejected).To(BeNumerically(">=", 2), "several objects were rejected with the revoked token at once")
			Expect(sim.Requests(cloudsim.APIIAMToken)-iamBefore).To(Equal(1), "the 401s share one re-authentication")
			Expect(sim.IssuedTokens() - issuedBefore).To(Equal(1))
			Consistently(func() []int { return append(calls(), sim.Requests(cloudsim.APIIAMToken)) }, time.Second, 100*time.Millisecond).Should(
				Equal(append(after, iamBefore+1)), "the storm is over")
			for _, o := range objs {
				Expect(eventNotes(ns, o.GetName())).NotTo(ContainElement(HavePrefix(v1alpha1.ReasonUnauthorized)))
			}
			Expect(accountReady(ns, "acct")(Default)).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		})

		It("reports Unauthorized when the password changes to a wrong one, without a hot loop, and recovers when it is fixed", func() {
			readyAccount(ns, passwordData())
			ws := newWorkspace("ws", 10*time.Minute)
			tok := newToken("tok", 10*time.Minute)
			setPassword := func(password string) {
				var creds corev1.Secret
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &creds)).To(Succeed())
				creds.Data[v1alpha1.CredentialPassword] = []byte(password)
				Expect(k8sClient.Update(ctx, &creds)).To(Succeed())
			}
			iam := func() int { return sim.Requests(cloudsim.APIIAMToken) }
			iamBefore, wb, tb := iam(), wsCalls(), tokCalls()

			By("a wrong password, and the cached token no longer works")
			setPassword("not-the-password")
			sim.RevokeTokens()
			Eventually(accountReady(ns, "acct")).Should(And(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonUnauthorized),
				HaveField("Message", ContainSubstring("IAM token request failed"))))
			// Objects notice at their next sync; the account is not used, so it costs no cloud call.
			for _, o := range []client.Object{ws, tok} {
				annotate(o, v1alpha1.AnnotationSyncNow, "1")
			}
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(And(
					haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady),
					HaveField("Message", ContainSubstring("is not Ready (Unauthorized)"))))
				Expect(meta.FindStatusCondition(o.Sync().Conditions, v1alpha1.ConditionReady)).To(
					haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced), "data present")
			}
			expectKept(ws)
			expectTokenSecret("tok")

			By("no hot loop: one IAM attempt with the wrong password, no cloud call with the revoked token")
			Consistently(func() []int { return []int{iam(), wsCalls(), tokCalls()} }, 3*time.Second, 100*time.Millisecond).Should(
				Equal([]int{iamBefore + 1, wb, tb}))
			annotate(tok, v1alpha1.AnnotationSyncNow, "2")
			Eventually(func() string { return fetch(tok).(*v1alpha1.DevEnvironmentToken).Status.SyncNowHandled }).Should(Equal("2"))
			Consistently(func() []int { return []int{iam(), wsCalls(), tokCalls()} }, time.Second, 100*time.Millisecond).Should(
				Equal([]int{iamBefore + 1, wb, tb}), "a sync-now while the account is unusable costs nothing")
			expectTokenSecret("tok")

			By("the right password again: the account is Ready and the objects sync without help")
			iamFixed, issuedFixed := iam(), sim.IssuedTokens()
			setPassword(cloudsim.DefaultPassword)
			Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
			for _, o := range []v1alpha1.Mirrored{ws, tok} {
				Eventually(condition(o, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			}
			expectKept(ws)
			expectTokenSecret("tok")
			// The account found the (revoked) token cached; the first sync's 401
			// brings the one re-authentication.
			GinkgoWriter.Printf("wrong password: %d IAM requests; recovery: %d IAM requests, %d workspace and %d token calls\n",
				iamFixed-iamBefore, iam()-iamFixed, wsCalls()-wb, tokCalls()-tb)
			Expect(iam() - iamFixed).To(Equal(1))
			Expect(sim.IssuedTokens() - issuedFixed).To(Equal(1))
			Expect(wsCalls()-wb).To(BeNumerically("~", 1.5, 0.5), "one call, or a 401 and its retry")
			Expect(tokCalls()-tb).To(BeNumerically("~", 1.5, 0.5), "one call, or a 401 and its retry")
			Expect(wsCalls()-wb+tokCalls()-tb).To(BeNumerically(">=", 3), "the first call was rejected")
		})

		It("keeps using the cached token while IAM is down, until it expires", func() {
			// A user of its own, so that the token cache has no older token for it.
			const user, password = "outage-user", "outage-password-0001"
			sim.Update(func(f *cloudsim.Fixture) {
				f.Users = append(f.Users, cloudsim.User{DomainName: cloudsim.DefaultDomainName, UserName: user, Password: password,
					Projects: []string{cloudsim.DefaultProjectID}})
			})
			const ttl = 12 * time.Second
			sim.SetTokenTTL(ttl)
			DeferCleanup(sim.SetTokenTTL, cloudsim.DefaultTokenTTL)
			data := passwordData()
			data[v1alpha1.CredentialUserName], data[v1alpha1.CredentialPassword] = []byte(user), []byte(password)
			readyAccount(ns, data)
			// The token's expiry as the account reports it (truncated to the
			// second, so the real one is up to 1s later) times the steps below.
			var account v1alpha1.CloudAccount
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &account)).To(Succeed())
			Expect(account.Status.TokenExpiresAt).NotTo(BeNil())
			expiresAt := account.Status.TokenExpiresAt.Time
			ws := newWorkspace("ws", 0)

			sim.InjectFault(cloudsim.APIIAMToken, cloudsim.Fault{Status: 500})
			iamBefore, before := sim.Requests(cloudsim.APIIAMToken), wsCalls()
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(wsCalls).Should(Equal(before + 1))
			Expect(sim.Requests(cloudsim.APIIAMToken)).To(Equal(iamBefore), "a fresh cached token needs no IAM")

			By("past the renewal point (half the lifetime) the renewal fails, the cached token still serves")
			time.Sleep(time.Until(expiresAt.Add(-ttl/2 + 1500*time.Millisecond)))
			annotate(ws, v1alpha1.AnnotationSyncNow, "2")
			Eventually(wsCalls).Should(Equal(before + 2))
			Consistently(condition(ws, v1alpha1.ConditionSynced), time.Second, 100*time.Millisecond).Should(
				haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(sim.Requests(cloudsim.APIIAMToken)-iamBefore).To(Equal(1), "one renewal attempt, then a pause")

			By("once it has expired, syncs fail with CloudError and keep the data")
			time.Sleep(time.Until(expiresAt.Add(2 * time.Second)))
			annotate(ws, v1alpha1.AnnotationSyncNow, "3")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonCloudError))
			Expect(wsCalls()).To(Equal(before+2), "the expired token is never sent")
			expectKept(ws)

			sim.ClearFaults()
			Eventually(condition(ws, v1alpha1.ConditionSynced), 10*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		})
	})
})
