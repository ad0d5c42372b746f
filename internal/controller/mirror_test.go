package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// Every secret value the default fixture holds; none may leave a Secret.
var fixtureSecrets = []string{
	cloudsim.DefaultSecretKey, cloudsim.DefaultPassword, cloudsim.DefaultCredentialSK,
	cloudsim.DefaultDevEnvToken, cloudsim.DefaultRomaAppKey,
	"151f1f4dfb20445b97326bde3db0c515", "0080fa74e6214d0c8d1b2cb01d9d7708",
	"1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a",
}

// readyAccount creates a Ready CloudAccount "acct" pointing at the simulator.
func readyAccount(ns string, data map[string][]byte) {
	createSecret(ns, "creds", data)
	Expect(k8sClient.Create(context.Background(), simAccount(ns, "acct", "creds"))).To(Succeed())
	Eventually(accountReady(ns, "acct")).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
}

func mirror() v1alpha1.MirrorSpec {
	return v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: "acct"}}
}

func objMeta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// condition re-reads obj and returns its condition of type t.
func condition(obj v1alpha1.Mirrored, t string) func(g Gomega) *metav1.Condition {
	return func(g Gomega) *metav1.Condition {
		g.Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		return meta.FindStatusCondition(obj.Sync().Conditions, t)
	}
}

// expectSyncNowHandled waits until obj's last sync answered sync-now value.
func expectSyncNowHandled(obj v1alpha1.Mirrored, value string) {
	Eventually(func() string { return fetch(obj).(v1alpha1.Mirrored).Sync().SyncNowHandled }).Should(Equal(value))
}

func fetch(obj client.Object) client.Object {
	Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

func secretData(ns, name string) map[string][]byte {
	var s corev1.Secret
	Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
	return s.Data
}

// eventNotes lists the reason and note of every event about name in ns.
func eventNotes(ns, name string) []string {
	var list eventsv1.EventList
	Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

// edit applies change to the newest obj and updates it, again on a conflict:
// the operator writes status and finalizers at any moment, so the copy a spec
// read may already be stale when the test updates it.
func edit(obj client.Object, change func()) {
	Eventually(func() error {
		fetch(obj)
		change()
		return k8sClient.Update(context.Background(), obj)
	}).Should(Succeed())
}

var ownWorkspaces atomic.Int32

// ownWorkspaceID adds a copy of the simulator's default workspace under a
// new ID and returns the ID: a spec's own, so no other spec's calls (of
// objects left behind, or still waiting on a rate limiter) count in it.
func ownWorkspaceID() string {
	id := newWorkspaceID()
	addWorkspaceCopy(id)
	return id
}

// newWorkspaceID is a workspace ID no spec has used; the simulator does not
// have it until addWorkspaceCopy(id).
func newWorkspaceID() string { return fmt.Sprintf("5a1e%028x", ownWorkspaces.Add(1)) }

// addWorkspaceCopy adds a copy of the simulator's default workspace as id.
func addWorkspaceCopy(id string) {
	sim.Update(func(f *cloudsim.Fixture) {
		p := f.Projects[cloudsim.DefaultProjectID]
		for _, w := range p.Workspaces {
			if w.ID == cloudsim.DefaultWorkspaceID {
				w.ID = id
				w.Grants = append([]cloudsim.Grant(nil), w.Grants...)
				p.Workspaces = append(p.Workspaces, w)
				return
			}
		}
	})
}

var ownInstances atomic.Int32

// ownDevEnvInstanceID adds a dev-environment instance with the default
// token under a new ID and returns the ID.
func ownDevEnvInstanceID() string {
	id := fmt.Sprintf("6fa459ea-ee8a-3ca4-894e-%012x", ownInstances.Add(1))
	sim.Update(func(f *cloudsim.Fixture) {
		p := f.Projects[cloudsim.DefaultProjectID]
		p.DevEnvInstances[id] = p.DevEnvInstances[cloudsim.DefaultDevEnvInstance]
	})
	return id
}

func annotate(obj client.Object, key, value string) {
	edit(obj, func() {
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[key] = value
		obj.SetAnnotations(a)
	})
}

func expectNoLeaks(ns string, objs ...client.Object) {
	var blob strings.Builder
	for _, o := range objs {
		raw, err := json.Marshal(fetch(o))
		Expect(err).NotTo(HaveOccurred())
		blob.Write(raw)
		blob.WriteString(strings.Join(eventNotes(ns, o.GetName()), "\n"))
	}
	for _, v := range fixtureSecrets {
		Expect(blob.String()).NotTo(ContainSubstring(v))
	}
}

var _ = Describe("Mirrored kinds", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		sim.ClearFaults()
	})
	AfterEach(func() {
		sim.ClearFaults()
		// envtest runs no namespace controller: delete the objects so they stop syncing.
		for _, o := range []client.Object{&v1alpha1.Workspace{}, &v1alpha1.AuthorizationSet{}, &v1alpha1.ServiceAppAuth{},
			&v1alpha1.RomaApp{}, &v1alpha1.DevEnvironmentToken{}} {
			Expect(k8sClient.DeleteAllOf(ctx, o, client.InNamespace(ns))).To(Succeed())
		}
	})

	DescribeTable("mirror every documented field",
		func(creds func() map[string][]byte) {
			readyAccount(ns, creds())
			ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: cloudsim.DefaultWorkspaceID}}
			auths := &v1alpha1.AuthorizationSet{ObjectMeta: objMeta(ns, "auths"), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror(), SortBy: "user_name", Order: "asc"}}
			saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(), ServiceID: cloudsim.DefaultServiceID, SecretName: "svc-apps"}}
			roma := &v1alpha1.RomaApp{ObjectMeta: objMeta(ns, "roma"), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID, SecretName: "roma-key"}}
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "notebook"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance}}
			objs := []v1alpha1.Mirrored{ws, auths, saa, roma, tok}
			for _, o := range objs {
				Expect(k8sClient.Create(ctx, o)).To(Succeed())
			}
			for _, o := range objs {
				Eventually(condition(o, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
				Expect(meta.IsStatusConditionTrue(o.Sync().Conditions, v1alpha1.ConditionSynced)).To(BeTrue())
				Expect(o.Sync().ObservedGeneration).To(Equal(o.GetGeneration()))
				Expect(o.Sync().LastSyncTime).NotTo(BeNil())
				Expect(o.Sync().LastSuccessfulSyncTime).NotTo(BeNil())
			}

			By("Workspace")
			w := ws.Status
			Expect(w.ID).To(Equal(cloudsim.DefaultWorkspaceID))
			Expect([]string{w.Name, w.Description, w.Owner, w.AuthType, w.State, w.StateInfo, w.EnterpriseProjectID, w.EnterpriseProjectName}).To(
				Equal([]string{"test-workspace", "", "testUser", "INTERNAL", "NORMAL", "", cloudsim.DefaultEnterpriseProj, "test-eps"}))
			Expect(w.CreateTime.UTC().Format(time.RFC3339)).To(Equal("2016-07-31T21:20:20Z"))
			Expect(w.UpdateTime.UTC().Format(time.RFC3339)).To(Equal("2016-07-31T21:20:30Z"))
			Expect(w.Grants).To(Equal([]v1alpha1.WorkspaceGrant{{UserID: cloudsim.DefaultGrantUserID, UserName: "test-iam-user"}}))

			By("AuthorizationSet")
			Expect(auths.Status.TotalCount).To(HaveValue(BeEquivalentTo(2)))
			Expect(auths.Status.Authorizations).To(HaveLen(2))
			a0, a1 := auths.Status.Authorizations[0], auths.Status.Authorizations[1]
			Expect([]string{a0.UserID, a0.UserName, a0.Type, a0.Content}).To(Equal([]string{cloudsim.DefaultAgencyUserID, "iam-user01", "agency", "modelarts_agency"}))
			Expect(a0.CreateTime.UTC().Format(time.RFC3339)).To(Equal(time.UnixMilli(15657747821288).UTC().Format(time.RFC3339)))
			Expect([]string{a1.UserID, a1.UserName, a1.Type, a1.Content}).To(Equal([]string{cloudsim.DefaultCredentialUser, "iam-user02", "credential", cloudsim.DefaultCredentialAK}))
			Expect(meta.IsStatusConditionFalse(auths.Status.Conditions, ConditionTruncated)).To(BeTrue())

			By("ServiceAppAuth")
			Expect(*saa.Status.EnableAppAuth).To(BeTrue())
			Expect(saa.Status.APIID).To(Equal(cloudsim.DefaultServiceAPIID))
			Expect(saa.Status.AppCount).To(HaveValue(BeEquivalentTo(1)))
			Expect(saa.Status.SecretName).To(Equal("svc-apps"))
			app := saa.Status.Apps[0]
			Expect([]string{app.AppID, app.AppName, app.AppRemark, app.AppType, app.ProjectID, app.UserID}).To(Equal([]string{
				cloudsim.DefaultServiceAppID, "app_for_9332aab245ea4d56871e75d6966aa274", "app for user op_svc_modelarts_container0",
				"APIG", cloudsim.DefaultProjectID, "9332aab245ea4d56871e75d6966aa274"}))
			Expect(app.BoundedAPICount).To(BeZero())
			Expect(app.AppCodeCount).To(BeEquivalentTo(1))
			Expect(app.CreatedAt.UTC().Format(time.RFC3339)).To(Equal("2019-11-28T13:16:38Z"))
			data := secretData(ns, "svc-apps")
			prefix := cloudsim.DefaultServiceAppID + "."
			for _, p := range []string{"", prefix} {
				Expect(string(data[p+"app_key"])).To(Equal("151f1f4dfb20445b97326bde3db0c515"))
				Expect(string(data[p+"app_secret"])).To(Equal("0080fa74e6214d0c8d1b2cb01d9d7708"))
				Expect(string(data[p+"app_code"])).To(Equal("1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a"))
			}

			By("RomaApp")
			r := roma.Status
			Expect([]string{r.ID, r.Name, r.Remark}).To(Equal([]string{cloudsim.DefaultRomaAppID, "AppName", "example"}))
			Expect(r.Roles).To(Equal([]string{"read", "access", "delete", "modify", "admin"}))
			Expect(r.CreateTime.UTC().Format(time.RFC3339)).To(Equal("2019-12-06T06:49:04Z"))
			Expect(r.UpdateTime.UTC().Format(time.RFC3339)).To(Equal("2019-12-06T06:49:04Z"))
			Expect(*r.CreatedUser).To(Equal(v1alpha1.UserRef{UserID: cloudsim.DefaultRomaUserID, UserName: cloudsim.DefaultUserName}))
			Expect(*r.LastUpdatedUser).To(Equal(v1alpha1.UserRef{UserID: cloudsim.DefaultRomaUserID, UserName: cloudsim.DefaultUserName}))
			Expect(*r.Owner && *r.Favorite).To(BeTrue())
			Expect(secretData(ns, "roma-key")).To(Equal(map[string][]byte{"app_key": []byte(cloudsim.DefaultRomaAppKey)}))

			By("DevEnvironmentToken")
			Expect(tok.Status.SecretName).To(Equal("notebook"))
			Expect(tok.Status.TokenUpdateTime).NotTo(BeNil())
			Expect(secretData(ns, "notebook")).To(Equal(map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}))

			By("owned Secrets: controller reference and label")
			for owner, name := range map[v1alpha1.Mirrored]string{saa: "svc-apps", roma: "roma-key", tok: "notebook"} {
				var s corev1.Secret
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
				Expect(s.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue))
				ref := metav1.GetControllerOf(&s)
				Expect(ref).NotTo(BeNil())
				Expect(ref.UID).To(Equal(owner.GetUID()))
			}

			By("no secret value in any object's JSON or events")
			expectNoLeaks(ns, ws, auths, saa, roma, tok)
		},
		Entry("with AK/SK signing", akskData),
		Entry("with an IAM password token", passwordData),
	)

	Context("with a Ready account", func() {
		// The spec's own copy of the default workspace: a spec that counts
		// calls counts only its own objects', not the refreshes of objects
		// earlier specs left behind (envtest never deletes a namespace).
		var wsID string
		BeforeEach(func() {
			readyAccount(ns, akskData())
			wsID = ownWorkspaceID()
		})

		workspace := func(id string) *v1alpha1.Workspace {
			ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: id}}
			Expect(k8sClient.Create(ctx, ws)).To(Succeed())
			return ws
		}
		readyWorkspace := func() *v1alpha1.Workspace {
			ws := workspace(wsID)
			Eventually(condition(ws, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			return ws
		}
		calls := func() int { return sim.RequestsFor(cloudsim.APIWorkspace, wsID) }

		It("reports NotFound for a 404", func() {
			ws := workspace("ffffffffffffffffffffffffffffffff")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotFound))
			Expect(meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionReady)).To(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotFound))
			Eventually(func() []string { return eventNotes(ns, "ws") }).Should(ContainElement(ContainSubstring("NotFound")))
		})

		It("reports NotFound for ModelArts.6309 at HTTP 400", func() {
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: "no-such-instance"}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotFound))
			Expect(meta.FindStatusCondition(tok.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring("ModelArts.6309"))
		})

		It("reports NotFound for ModelArts.6309 in the old APIs' error_message spelling", func() {
			sim.InjectFault(cloudsim.APIDevEnvToken, cloudsim.Fault{Status: 400, Code: "ModelArts.6309",
				Message: "The instance does not exist.", OldMessageField: true})
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotFound))
			Expect(meta.FindStatusCondition(tok.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring("ModelArts.6309"))
		})

		DescribeTable("keeps the last data when a sync fails",
			func(fault cloudsim.Fault, reason string) {
				ws := readyWorkspace()
				tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance}}
				Expect(k8sClient.Create(ctx, tok)).To(Succeed())
				Eventually(condition(tok, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))

				sim.InjectFault(cloudsim.APIWorkspace, fault)
				sim.InjectFault(cloudsim.APIDevEnvToken, fault)
				annotate(ws, v1alpha1.AnnotationSyncNow, "1")
				annotate(tok, v1alpha1.AnnotationSyncNow, "1")
				Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, reason))
				Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, reason))

				Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
				Expect(ws.Status.Name).To(Equal("test-workspace"))
				Expect(ws.Status.State).To(Equal("NORMAL"))
				Expect(secretData(ns, "tok")).To(HaveKeyWithValue("token", []byte(cloudsim.DefaultDevEnvToken)))
				Eventually(func() []string { return eventNotes(ns, "ws") }).Should(ContainElement(HavePrefix(reason + ":")))

				sim.ClearFaults()
				annotate(ws, v1alpha1.AnnotationSyncNow, "2")
				Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			},
			Entry("HTTP 500", cloudsim.Fault{Status: 500}, v1alpha1.ReasonCloudError),
			Entry("HTTP 401", cloudsim.Fault{Status: 401}, v1alpha1.ReasonUnauthorized),
			Entry("HTTP 403", cloudsim.Fault{Status: 403}, v1alpha1.ReasonForbidden),
			Entry("a malformed body", cloudsim.Fault{Malformed: true}, v1alpha1.ReasonInvalidResponse),
		)

		It("honours Retry-After on 429, for every object of the account", func() {
			ws := readyWorkspace()
			other := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws-other"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: wsID}}
			Expect(k8sClient.Create(ctx, other)).To(Succeed())
			Eventually(condition(other, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			before := calls()
			// Long enough that the quiet window below exists however slow the steps before it are.
			const retryAfter = 8 * time.Second
			sim.InjectFault(cloudsim.APIWorkspace, cloudsim.Fault{Status: 429, RetryAfter: retryAfter, Times: 1})
			throttledAt := time.Now()
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonThrottled))
			// The other object of the account waits too, without a call.
			annotate(other, v1alpha1.AnnotationSyncNow, "1")
			Eventually(condition(other, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonThrottled))
			Expect(calls()).To(Equal(before + 1))
			Expect(meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring("ModelArts.2799"))
			Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "the data is kept while throttled")
			Expect(ws.Status.Name).To(Equal("test-workspace"))
			wait := retryAfter - time.Since(throttledAt) - 300*time.Millisecond
			Expect(wait).To(BeNumerically(">", time.Second), "too slow to observe the quiet window")
			Consistently(calls, wait, 100*time.Millisecond).Should(Equal(before+1), "no call before Retry-After elapses")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Eventually(condition(other, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(time.Since(throttledAt)).To(BeNumerically(">=", retryAfter))
			Expect(calls()).To(Equal(before+3), "one throttled call, then one retry per object after Retry-After")
		})

		It("syncs at once on sync-now and not at all while paused", func() {
			ws := readyWorkspace()
			before := calls()
			annotate(ws, v1alpha1.AnnotationSyncNow, "a")
			Eventually(calls).Should(Equal(before + 1))

			annotate(ws, v1alpha1.AnnotationPaused, "true")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonPaused))
			Expect(ws.Status.Name).To(Equal("test-workspace"))
			annotate(ws, v1alpha1.AnnotationSyncNow, "b")
			Consistently(calls, 2*time.Second).Should(Equal(before + 1))

			annotate(ws, v1alpha1.AnnotationPaused, "false")
			Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(calls()).To(Equal(before + 2))
		})

		It("syncs at once on a spec change", func() {
			ws := readyWorkspace()
			edit(ws, func() {
				ws.Spec.WorkspaceID = "0"
			})
			Eventually(func() string { return fetch(ws).(*v1alpha1.Workspace).Status.Name }).Should(Equal("default"))
		})

		It("records a workspace state change as an event", func() {
			ws := readyWorkspace()
			DeferCleanup(func() {
				Expect(sim.SetWorkspaceStatus(cloudsim.DefaultProjectID, wsID, "NORMAL")).To(Succeed())
			})
			Expect(sim.SetWorkspaceStatus(cloudsim.DefaultProjectID, wsID, "DELETING")).To(Succeed())
			annotate(ws, v1alpha1.AnnotationSyncNow, "1")
			Eventually(func() string { return fetch(ws).(*v1alpha1.Workspace).Status.State }).Should(Equal("DELETING"))
			Eventually(func() []string { return eventNotes(ns, "ws") }).Should(ContainElement("StateChanged: workspace state changed from NORMAL to DELETING"))
		})

		It("updates the token Secret when the token rotates, never logging the value", func() {
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance, SecretName: "nb-token", SecretKey: "NOTEBOOK_TOKEN"}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Expect(secretData(ns, "nb-token")).To(HaveKeyWithValue("NOTEBOOK_TOKEN", []byte(cloudsim.DefaultDevEnvToken)))
			DeferCleanup(func() {
				sim.Update(func(f *cloudsim.Fixture) {
					f.Projects[cloudsim.DefaultProjectID].DevEnvInstances[cloudsim.DefaultDevEnvInstance] = cloudsim.DevEnvInstance{Token: cloudsim.DefaultDevEnvToken}
				})
			})
			rotated, err := sim.RotateDevEnvToken(cloudsim.DefaultProjectID, cloudsim.DefaultDevEnvInstance)
			Expect(err).NotTo(HaveOccurred())
			annotate(tok, v1alpha1.AnnotationSyncNow, "1")
			Eventually(func() []byte { return secretData(ns, "nb-token")["NOTEBOOK_TOKEN"] }).Should(Equal([]byte(rotated)))
			Eventually(func() []string { return eventNotes(ns, "tok") }).Should(ContainElement(HavePrefix("TokenRotated:")))
			Expect(strings.Join(eventNotes(ns, "tok"), "\n")).NotTo(ContainSubstring(rotated))
			Expect(logs.String()).NotTo(ContainSubstring(rotated))
		})

		It("does not touch a Secret that something else controls", func() {
			createSecret(ns, "taken", map[string][]byte{"token": []byte("theirs")})
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance, SecretName: "taken"}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretConflict))
			Expect(meta.FindStatusCondition(tok.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring(`"taken"`))
			Expect(secretData(ns, "taken")).To(Equal(map[string][]byte{"token": []byte("theirs")}))
		})

		It("restores an owned Secret that someone edits, unlabels or deletes, without waiting for the interval", func() {
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(tok, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			want := map[string][]byte{"token": []byte(cloudsim.DefaultDevEnvToken)}

			var s corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &s)).To(Succeed())
			s.Data = map[string][]byte{"token": []byte("tampered")}
			Expect(k8sClient.Update(ctx, &s)).To(Succeed())
			Eventually(func() map[string][]byte { return secretData(ns, "tok") }).Should(Equal(want))

			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &s)).To(Succeed())
			delete(s.Labels, v1alpha1.LabelManagedBy)
			Expect(k8sClient.Update(ctx, &s)).To(Succeed())
			Eventually(func() map[string]string {
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &s)).To(Succeed())
				return s.Labels
			}).Should(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue))
			Expect(meta.IsStatusConditionTrue(fetch(tok).(*v1alpha1.DevEnvironmentToken).Status.Conditions, v1alpha1.ConditionSynced)).To(BeTrue())

			Expect(k8sClient.Delete(ctx, &s)).To(Succeed())
			Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &s) }).Should(Succeed())
			Expect(s.Data).To(Equal(want))
		})

		It("keeps owning its Secret when the service has no apps left", func() {
			saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(), ServiceID: cloudsim.DefaultServiceID, SecretName: "svc-apps"}}
			Expect(k8sClient.Create(ctx, saa)).To(Succeed())
			Eventually(condition(saa, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			var app cloudsim.AuthedApp
			sim.Update(func(f *cloudsim.Fixture) {
				app = f.Projects[cloudsim.DefaultProjectID].Services[cloudsim.DefaultServiceID].AppAuthAPI.AuthedApps[0]
			})
			Expect(sim.RemoveServiceApp(cloudsim.DefaultProjectID, cloudsim.DefaultServiceID, cloudsim.DefaultServiceAppID)).To(Succeed())
			DeferCleanup(func() {
				Expect(sim.AddServiceApp(cloudsim.DefaultProjectID, cloudsim.DefaultServiceID, app)).To(Succeed())
			})

			annotate(saa, v1alpha1.AnnotationSyncNow, "1")
			Eventually(func() *int32 { return fetch(saa).(*v1alpha1.ServiceAppAuth).Status.AppCount }).Should(HaveValue(BeZero()))
			Eventually(func() map[string][]byte { return secretData(ns, "svc-apps") }).Should(BeEmpty())
			Eventually(func() []string { return eventNotes(ns, "svc") }).Should(ContainElement("AppsChanged: authorized apps changed: 0 added, 1 removed"))

			Expect(sim.AddServiceApp(cloudsim.DefaultProjectID, cloudsim.DefaultServiceID, app)).To(Succeed())
			annotate(saa, v1alpha1.AnnotationSyncNow, "2")
			Eventually(func() []byte { return secretData(ns, "svc-apps")["app_key"] }).Should(Equal([]byte("151f1f4dfb20445b97326bde3db0c515")))
			Expect(meta.FindStatusCondition(fetch(saa).(*v1alpha1.ServiceAppAuth).Status.Conditions, v1alpha1.ConditionSynced)).To(
				haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		})

		It("deletes the Secret it used before secretName changed or was removed, and only its own", func() {
			gone := func(name string) func() bool {
				return func() bool {
					return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &corev1.Secret{}))
				}
			}
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultDevEnvInstance, SecretName: "first"}}
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(gone("first")).Should(BeFalse())
			Expect(secretData(ns, "first")).To(HaveKey("token"))

			edit(tok, func() {
				tok.Spec.SecretName = "second"
			})
			Eventually(func() string { return fetch(tok).(*v1alpha1.DevEnvironmentToken).Status.SecretName }).Should(Equal("second"))
			Expect(secretData(ns, "second")).To(HaveKeyWithValue("token", []byte(cloudsim.DefaultDevEnvToken)))
			Eventually(gone("first")).Should(BeTrue())
			Eventually(func() []string { return eventNotes(ns, "tok") }).Should(ContainElement(`StaleSecretDeleted: Secret "first" is no longer used and was deleted`))

			// A Secret someone else took over under the old name is theirs to keep.
			var s corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "second"}, &s)).To(Succeed())
			s.OwnerReferences = nil
			Expect(k8sClient.Update(ctx, &s)).To(Succeed())
			edit(tok, func() {
				tok.Spec.SecretName = "third"
			})
			Eventually(func() string { return fetch(tok).(*v1alpha1.DevEnvironmentToken).Status.SecretName }).Should(Equal("third"))
			Consistently(gone("second"), "2s").Should(BeFalse())

			saa := &v1alpha1.ServiceAppAuth{ObjectMeta: objMeta(ns, "svc"), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror(), ServiceID: cloudsim.DefaultServiceID, SecretName: "svc-apps"}}
			Expect(k8sClient.Create(ctx, saa)).To(Succeed())
			Eventually(gone("svc-apps")).Should(BeFalse())
			Expect(secretData(ns, "svc-apps")).To(HaveKey("app_key"))
			// Removing secretName deletes the Secret even while the cloud refuses the read.
			sim.InjectFault(cloudsim.APIServiceAPIAuths, cloudsim.Fault{Status: 403})
			DeferCleanup(sim.ClearFaults)
			edit(saa, func() {
				saa.Spec.SecretName = ""
			})
			Eventually(gone("svc-apps")).Should(BeTrue())
			Eventually(condition(saa, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonForbidden))
		})

		It("writes nothing while the cloud returns the same data", func() {
			ten := &metav1.Duration{Duration: 10 * time.Second}
			ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: wsID}}
			ws.Spec.RefreshInterval = ten
			instanceID := ownDevEnvInstanceID()
			tok := &v1alpha1.DevEnvironmentToken{ObjectMeta: objMeta(ns, "tok"), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror(), InstanceID: instanceID}}
			tok.Spec.RefreshInterval = ten
			Expect(k8sClient.Create(ctx, ws)).To(Succeed())
			Expect(k8sClient.Create(ctx, tok)).To(Succeed())
			Eventually(condition(ws, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			Eventually(condition(tok, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
			var secret corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tok"}, &secret)).To(Succeed())
			wsRV, tokRV, secretRV := ws.ResourceVersion, tok.ResourceVersion, secret.ResourceVersion
			tokCalls := func() int { return sim.RequestsFor(cloudsim.APIDevEnvToken, instanceID) }
			wsBefore, tokBefore := calls(), tokCalls()

			Eventually(func() bool { return calls() >= wsBefore+2 && tokCalls() >= tokBefore+2 }, 40*time.Second, time.Second).Should(BeTrue(),
				"two refreshes of each object")
			Expect(fetch(ws).GetResourceVersion()).To(Equal(wsRV))
			Expect(fetch(tok).GetResourceVersion()).To(Equal(tokRV))
			Expect(fetch(&secret).GetResourceVersion()).To(Equal(secretRV))
			Expect(calls()-wsBefore).To(BeNumerically("<=", 3), "one cloud call per refresh interval")
		})
	})

	It("waits with AccountNotReady and syncs as soon as the account is Ready", func() {
		Expect(k8sClient.Create(ctx, simAccount(ns, "acct", "creds"))).To(Succeed())
		ws := &v1alpha1.Workspace{ObjectMeta: objMeta(ns, "ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: cloudsim.DefaultWorkspaceID}}
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(And(
			haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady),
			HaveField("Message", ContainSubstring("SecretNotFound"))))

		createSecret(ns, "creds", passwordData())
		Eventually(condition(ws, v1alpha1.ConditionReady), 10*time.Second).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
	})

	It("says ROMA Connect is not offered on Open Telekom Cloud without an endpoint", func() {
		createSecret(ns, "creds", akskData())
		acct := simAccount(ns, "acct", "creds")
		acct.Spec.Cloud, acct.Spec.Region = v1alpha1.CloudOpenTelekom, "eu-de"
		acct.Spec.Endpoints.ROMA = ""
		Expect(k8sClient.Create(ctx, acct)).To(Succeed())
		roma := &v1alpha1.RomaApp{ObjectMeta: objMeta(ns, "roma"), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror(), InstanceID: cloudsim.DefaultRomaInstanceID, AppID: cloudsim.DefaultRomaAppID}}
		Expect(k8sClient.Create(ctx, roma)).To(Succeed())
		Eventually(condition(roma, v1alpha1.ConditionSynced)).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonNotOffered))
		Expect(meta.FindStatusCondition(roma.Status.Conditions, v1alpha1.ConditionSynced).Message).To(ContainSubstring("endpoints.roma"))
	})

	It("reads every page of a large authorization list and bounds what status holds", func() {
		const bigProject = "b1b2b3b4b5b6b7b8b9b0b1b2b3b4b5b6"
		sim.Update(func(f *cloudsim.Fixture) {
			f.AccessKeys[0].Projects = append(f.AccessKeys[0].Projects, bigProject)
			f.Projects[bigProject] = &cloudsim.Project{}
		})
		sim.GenerateAuthorizations(bigProject, 2300)
		createSecret(ns, "creds", akskData())
		acct := simAccount(ns, "acct", "creds")
		acct.Spec.ProjectID = bigProject
		Expect(k8sClient.Create(ctx, acct)).To(Succeed())
		before := sim.RequestsFor(cloudsim.APIAuthorizations, bigProject)
		auths := &v1alpha1.AuthorizationSet{ObjectMeta: objMeta(ns, "auths"), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror()}}
		Expect(k8sClient.Create(ctx, auths)).To(Succeed())
		Eventually(condition(auths, v1alpha1.ConditionReady)).Should(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonSynced))
		Expect(auths.Status.TotalCount).To(HaveValue(BeEquivalentTo(2300)))
		Expect(auths.Status.Authorizations).To(HaveLen(DefaultMaxAuthorizations))
		Expect(meta.FindStatusCondition(auths.Status.Conditions, ConditionTruncated)).To(haveCondition(metav1.ConditionTrue, "LimitReached"))
		Expect(sim.RequestsFor(cloudsim.APIAuthorizations, bigProject)-before).To(Equal(3), "three pages of 1000")
		raw, _ := json.Marshal(auths)
		Expect(len(raw)).To(BeNumerically("<", 256*1024))
		Expect(string(raw)).NotTo(ContainSubstring("secret_key"))
	})
})
