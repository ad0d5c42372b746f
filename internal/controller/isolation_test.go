package controller

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// References never cross namespaces: an object cannot use a CloudAccount,
// nor an account a credentials Secret, of another namespace.
var _ = Describe("Namespace isolation", func() {
	ctx := context.Background()

	It("does not let an object use a CloudAccount of another namespace", func() {
		owner, other := newNamespace(), newNamespace()
		readyAccount(owner, akskData())
		wsID := ownWorkspaceID() // its calls are this spec's alone
		before := sim.RequestsFor(cloudsim.APIWorkspace, wsID)
		ws := &v1alpha1.Workspace{ObjectMeta: objMeta(other, "ws"), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror(), WorkspaceID: wsID}}
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, ws)
		Eventually(condition(ws, v1alpha1.ConditionSynced)).Should(And(
			haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady),
			HaveField("Message", ContainSubstring(`not found in namespace "`+other+`"`))))
		Expect(currentCondition(ws, v1alpha1.ConditionReady)).To(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonAccountNotReady))
		Expect(ws.Status.Name).To(BeEmpty())
		Consistently(func() int { return sim.RequestsFor(cloudsim.APIWorkspace, wsID) }, time.Second).Should(Equal(before))
	})

	It("does not let a CloudAccount use a credentials Secret of another namespace", func() {
		owner, other := newNamespace(), newNamespace()
		createSecret(owner, "creds", akskData())
		Expect(k8sClient.Create(ctx, simAccount(other, "acct", "creds"))).To(Succeed())
		Eventually(accountReady(other, "acct")).Should(And(
			haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound),
			HaveField("Message", ContainSubstring(`not found in namespace "`+other+`"`))))
		Consistently(accountReady(other, "acct"), time.Second).Should(haveCondition(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound))
	})
})

func currentCondition(obj v1alpha1.Mirrored, t string) *metav1.Condition {
	return condition(obj, t)(Default)
}

// The generated RBAC (config/rbac/role.yaml, from the +kubebuilder:rbac
// markers) is least privilege: no wildcards, read-only on the custom
// resources, and exactly the Secret verbs the code uses.
var _ = Describe("Manager RBAC", func() {
	var role rbacv1.ClusterRole
	BeforeEach(func() {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.UnmarshalStrict(raw, &role)).To(Succeed())
		Expect(role.Rules).NotTo(BeEmpty())
	})

	// verbs lists the verbs granted on group/resource.
	verbs := func(group, resource string) []string {
		var out []string
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) {
				out = append(out, r.Verbs...)
			}
		}
		sort.Strings(out)
		return slices.Compact(out)
	}

	It("has no wildcard, no non-resource URL and no escalation verb", func() {
		for _, r := range role.Rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames} {
				Expect(list).NotTo(ContainElement(ContainSubstring("*")), "rule %+v", r)
			}
			Expect(r.NonResourceURLs).To(BeEmpty())
			Expect(r.Verbs).NotTo(ContainElements("escalate", "bind", "impersonate", "deletecollection"))
		}
		Expect(role.AggregationRule).To(BeNil())
	})

	It("only reads the custom resources and writes their status with the one verb it uses", func() {
		for _, kind := range []string{"cloudaccounts", "clustercloudaccounts", "workspaces", "authorizationsets", "serviceappauths", "romaapps", "devenvironmenttokens"} {
			want := []string{"get", "list", "watch"}
			if slices.Contains([]string{"serviceappauths", "romaapps", "devenvironmenttokens"}, kind) {
				// Only to add and remove the secret-policy finalizer (Merge, Retain).
				want = []string{"get", "list", "patch", "watch"}
			}
			Expect(verbs(v1alpha1.GroupVersion.Group, kind)).To(Equal(want), kind)
			// The CloudAccount and budget controllers update status; the sync skeleton merge-patches it.
			wantStatus := []string{"patch"}
			if kind == "cloudaccounts" || kind == "clustercloudaccounts" {
				wantStatus = []string{"update"}
			}
			Expect(verbs(v1alpha1.GroupVersion.Group, kind+"/status")).To(Equal(wantStatus), kind+"/status")
		}
		Expect(verbs("events.k8s.io", "events")).To(Equal([]string{"create", "patch"}))
	})

	It("lists and patches workloads for rollouts, and nothing more", func() {
		for _, kind := range []string{"deployments", "statefulsets", "daemonsets"} {
			Expect(verbs("apps", kind)).To(Equal([]string{"list", "patch"}), kind)
		}
	})

	It("grants exactly the Secret verbs the code uses", func() {
		// Reads: the cache of owned Secrets and the per-Secret informers
		// (get, list, watch). Writes: whatever the controllers call.
		want := []string{"get", "list", "watch"}
		used := writeVerbsInCode()
		for _, v := range []string{"create", "update", "patch", "delete"} {
			if used[v] {
				want = append(want, v)
			}
		}
		sort.Strings(want)
		Expect(verbs("", "secrets")).To(Equal(want), "writes in the code: %v", used)
		// Nothing else in the core group but reading Namespace labels
		// (ClusterCloudAccount selectors) and creating ServiceAccount tokens
		// (workload identity): no read of ServiceAccounts, no other token.
		var core []string
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, "") {
				core = append(core, r.Resources...)
			}
		}
		Expect(core).To(ConsistOf("secrets", "namespaces", "serviceaccounts/token"))
		Expect(verbs("", "namespaces")).To(Equal([]string{"get", "list", "watch"}))
		Expect(verbs("", "serviceaccounts/token")).To(Equal([]string{"create"}))
		Expect(verbs("", "serviceaccounts")).To(BeEmpty())
		// TokenReview: a ServiceAccount token the API server would accept is never sent to a cloud.
		Expect(verbs("authentication.k8s.io", "tokenreviews")).To(Equal([]string{"create"}))
	})
})

// writeVerbsInCode scans the controllers' non-test sources for client writes
// other than status writes. Writes to obj (the reconciled object: its
// finalizer) are not counted; every other object they write is a Secret.
func writeVerbsInCode() map[string]bool {
	files, err := filepath.Glob("*.go")
	Expect(err).NotTo(HaveOccurred())
	call := regexp.MustCompile(`\br\.(Create|Update|Patch|Delete|DeleteAllOf)\(ctx, (\w+)`)
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			if m[2] == "obj" {
				continue
			}
			v := strings.ToLower(m[1])
			if v == "deleteallof" {
				v = "deletecollection"
			}
			used[v] = true
		}
	}
	return used
}
