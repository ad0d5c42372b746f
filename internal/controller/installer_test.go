package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudmirror-io/modelarts-operator/internal/testutil"
)

// installerPath is what `make build-installer` writes; `make test` builds it first.
var installerPath = filepath.Join("..", "..", "dist", "install.yaml")

// readInstaller decodes every document of dist/install.yaml.
func readInstaller() []*unstructured.Unstructured {
	raw, err := os.ReadFile(installerPath)
	if errors.Is(err, os.ErrNotExist) {
		Fail(installerPath + " is missing: run `make build-installer` (make test does it) before the tests")
	}
	Expect(err).NotTo(HaveOccurred())
	objs, err := testutil.DecodeObjects(raw)
	Expect(err).NotTo(HaveOccurred(), "decoding %s", installerPath)
	Expect(objs).NotTo(BeEmpty(), "%s holds no objects", installerPath)
	return objs
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func convert(u *unstructured.Unstructured, into any) {
	ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() != "" {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

var _ = Describe("installer dist/install.yaml", func() {
	var objs []*unstructured.Unstructured

	BeforeEach(func() {
		objs = readInstaller()
	})

	It("applies to the API server (server-side apply, dry run)", func(ctx context.Context) {
		namespaces := ofKind(objs, "Namespace")
		Expect(namespaces).To(HaveLen(1))
		Expect(namespaces[0].GetName()).To(Equal("modelarts-operator-system"))
		// Namespaced objects can only be dry-run applied into a namespace that exists.
		ns := namespaces[0].DeepCopy()
		if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred(), "creating the installer's Namespace")
		}

		kinds := map[string]int{}
		for _, o := range objs {
			if o.GetNamespace() != "" {
				Expect(o.GetNamespace()).To(Equal("modelarts-operator-system"), describe(o))
			}
			err := k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
				client.DryRunAll, client.FieldOwner("installer-test"), client.ForceOwnership)
			Expect(err).NotTo(HaveOccurred(), "server-side dry-run apply of %s", describe(o))
			kinds[o.GetKind()]++
		}
		Expect(kinds).To(HaveKeyWithValue("CustomResourceDefinition", 7))
		Expect(kinds).To(HaveKeyWithValue("Deployment", 1))
		Expect(kinds).To(HaveKeyWithValue("ServiceAccount", 1))
		Expect(kinds).To(HaveKeyWithValue("Service", 1))
		Expect(kinds).To(HaveKey("ClusterRole"))
		Expect(kinds).To(HaveKey("ClusterRoleBinding"))
		Expect(kinds).To(HaveKey("Role"))
		Expect(kinds).To(HaveKey("RoleBinding"))
	})

	It("runs the manager hardened, probed, bounded and with leader election", func() {
		deployments := ofKind(objs, "Deployment")
		Expect(deployments).To(HaveLen(1))
		var d appsv1.Deployment
		convert(deployments[0], &d)
		pod := d.Spec.Template.Spec

		Expect(pod.SecurityContext).NotTo(BeNil())
		Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
		Expect(pod.SecurityContext.SeccompProfile).NotTo(BeNil())
		Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
		Expect(pod.ServiceAccountName).NotTo(BeEmpty())
		Expect(pod.AutomountServiceAccountToken).To(Or(BeNil(), HaveValue(BeTrue())), "the manager needs its token")

		var sas []string
		for _, sa := range ofKind(objs, "ServiceAccount") {
			sas = append(sas, sa.GetName())
		}
		Expect(sas).To(ContainElement(pod.ServiceAccountName))

		Expect(pod.Containers).To(HaveLen(1))
		c := pod.Containers[0]
		Expect(c.Image).NotTo(HavePrefix("controller:"), "the image is set by `kustomize edit set image controller=$(IMG)`")

		sc := c.SecurityContext
		Expect(sc).NotTo(BeNil())
		Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()))
		Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()))
		Expect(sc.Privileged).To(Or(BeNil(), HaveValue(BeFalse())))
		Expect(sc.RunAsNonRoot).To(HaveValue(BeTrue()))
		Expect(sc.Capabilities).NotTo(BeNil())
		Expect(sc.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")))
		Expect(sc.Capabilities.Add).To(BeEmpty())

		Expect(c.Args).To(ContainElement("--leader-elect"))
		Expect(c.Args).To(ContainElement("--health-probe-bind-address=:8081"))
		Expect(c.Args).To(ContainElement("--metrics-bind-address=:8443"))

		Expect(c.LivenessProbe).NotTo(BeNil())
		Expect(c.LivenessProbe.HTTPGet).NotTo(BeNil())
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
		Expect(c.LivenessProbe.HTTPGet.Port.IntValue()).To(Equal(8081))
		Expect(c.ReadinessProbe).NotTo(BeNil())
		Expect(c.ReadinessProbe.HTTPGet).NotTo(BeNil())
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(c.ReadinessProbe.HTTPGet.Port.IntValue()).To(Equal(8081))

		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			Expect(c.Resources.Requests).To(HaveKey(r))
			Expect(c.Resources.Limits).To(HaveKey(r))
			req, limit := c.Resources.Requests[r], c.Resources.Limits[r]
			Expect(req.Cmp(limit)).To(BeNumerically("<=", 0), "request of %s above its limit", r)
		}

		// The metrics Service fronts the Deployment's pods on the metrics port.
		services := ofKind(objs, "Service")
		Expect(services).To(HaveLen(1))
		var svc corev1.Service
		convert(services[0], &svc)
		Expect(svc.Spec.Ports).To(ContainElement(HaveField("Port", BeEquivalentTo(8443))))
		for k, v := range svc.Spec.Selector {
			Expect(d.Spec.Template.Labels).To(HaveKeyWithValue(k, v), "Service selector %s=%s", k, v)
		}
	})

	It("grants least privilege: no wildcards, bounded Secret verbs, bindings to roles it ships", func() {
		type namedRules struct {
			name  string
			rules []rbacv1.PolicyRule
		}
		var roles []namedRules
		roleNames := map[string]bool{}
		var manager *rbacv1.ClusterRole
		for _, o := range ofKind(objs, "ClusterRole") {
			var cr rbacv1.ClusterRole
			convert(o, &cr)
			Expect(cr.AggregationRule).To(BeNil(), "ClusterRole %s aggregates", cr.Name)
			roles = append(roles, namedRules{"ClusterRole " + cr.Name, cr.Rules})
			roleNames["ClusterRole/"+cr.Name] = true
			if cr.Name == "modelarts-operator-manager-role" {
				manager = cr.DeepCopy()
			}
		}
		for _, o := range ofKind(objs, "Role") {
			var r rbacv1.Role
			convert(o, &r)
			roles = append(roles, namedRules{"Role " + r.Namespace + "/" + r.Name, r.Rules})
			roleNames["Role/"+r.Name] = true
		}
		Expect(roles).NotTo(BeEmpty())
		for _, r := range roles {
			for i, rule := range r.rules {
				where := func(field string) string { return fmt.Sprintf("%s rule %d %s", r.name, i, field) }
				Expect(rule.Verbs).NotTo(BeEmpty(), where("verbs"))
				Expect(rule.Verbs).NotTo(ContainElement(rbacv1.VerbAll), where("verbs"))
				Expect(rule.Resources).NotTo(ContainElement(rbacv1.ResourceAll), where("resources"))
				Expect(rule.APIGroups).NotTo(ContainElement(rbacv1.APIGroupAll), where("apiGroups"))
				Expect(rule.NonResourceURLs).NotTo(ContainElement(rbacv1.NonResourceAll), where("nonResourceURLs"))
			}
		}

		Expect(manager).NotTo(BeNil(), "the generated manager-role is missing from the installer")
		// delete: a Secret left under an old secretName, only if the object controls it.
		allowed := []string{"get", "list", "watch", "create", "update", "delete"}
		secretRules := 0
		for _, rule := range manager.Rules {
			if !slices.Contains(rule.APIGroups, "") || !slices.Contains(rule.Resources, "secrets") {
				continue
			}
			secretRules++
			for _, v := range rule.Verbs {
				Expect(allowed).To(ContainElement(v), "manager-role may not %s secrets", v)
			}
		}
		Expect(secretRules).To(BeNumerically(">", 0), "manager-role grants nothing on secrets; the controllers need them")

		// Every binding points at a role shipped in the same file.
		for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
			for _, o := range ofKind(objs, kind) {
				var ref rbacv1.RoleRef
				var subjects []rbacv1.Subject
				if kind == "ClusterRoleBinding" {
					var b rbacv1.ClusterRoleBinding
					convert(o, &b)
					ref, subjects = b.RoleRef, b.Subjects
				} else {
					var b rbacv1.RoleBinding
					convert(o, &b)
					ref, subjects = b.RoleRef, b.Subjects
				}
				Expect(roleNames).To(HaveKey(ref.Kind+"/"+ref.Name), "%s refers to a role not in the installer", describe(o))
				for _, s := range subjects {
					Expect(s.Kind).To(Equal(rbacv1.ServiceAccountKind), describe(o))
					Expect(s.Namespace).To(Equal("modelarts-operator-system"), describe(o))
				}
			}
		}
	})
})
