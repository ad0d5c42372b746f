package controller

import (
	"context"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// The API server refuses bad manifests with a message naming the field.
var _ = Describe("Schema validation", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	// Valid objects of each kind; a table entry breaks exactly one thing in one of them.
	account := func(mutate func(*v1alpha1.CloudAccount)) client.Object {
		a := &v1alpha1.CloudAccount{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "acct-"},
			Spec: v1alpha1.CloudAccountSpec{
				CloudConnection:      v1alpha1.CloudConnection{Region: "eu-de", ProjectID: "abc-123"},
				CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: "creds"},
			},
		}
		if mutate != nil {
			mutate(a)
		}
		return a
	}
	mirror := v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: "acct"}}
	meta := func() metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, GenerateName: "x-"} }
	workspace := func(mutate func(*v1alpha1.WorkspaceSpec)) client.Object {
		o := &v1alpha1.Workspace{ObjectMeta: meta(), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror, WorkspaceID: "0"}}
		if mutate != nil {
			mutate(&o.Spec)
		}
		return o
	}
	authSet := func(mutate func(*v1alpha1.AuthorizationSetSpec)) client.Object {
		o := &v1alpha1.AuthorizationSet{ObjectMeta: meta(), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror}}
		if mutate != nil {
			mutate(&o.Spec)
		}
		return o
	}
	appAuth := func(mutate func(*v1alpha1.ServiceAppAuthSpec)) client.Object {
		o := &v1alpha1.ServiceAppAuth{ObjectMeta: meta(), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror, ServiceID: "svc-1"}}
		if mutate != nil {
			mutate(&o.Spec)
		}
		return o
	}
	romaApp := func(mutate func(*v1alpha1.RomaAppSpec)) client.Object {
		o := &v1alpha1.RomaApp{ObjectMeta: meta(), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror, InstanceID: "inst-1", AppID: "app-1"}}
		if mutate != nil {
			mutate(&o.Spec)
		}
		return o
	}
	devToken := func(mutate func(*v1alpha1.DevEnvironmentTokenSpec)) client.Object {
		o := &v1alpha1.DevEnvironmentToken{ObjectMeta: meta(), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror, InstanceID: "inst-1"}}
		if mutate != nil {
			mutate(&o.Spec)
		}
		return o
	}

	// The typed client cannot leave a required key out (it sends "" or {}) nor send a
	// value of the wrong type, so these turn a typed object into plain JSON and edit that.
	manifest := func(obj client.Object, edit func(map[string]any)) client.Object {
		gvk, err := apiutil.GVKForObject(obj, testScheme)
		Expect(err).NotTo(HaveOccurred())
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		Expect(err).NotTo(HaveOccurred())
		edit(m)
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
		return u
	}
	// omit sends obj without the key at path.
	omit := func(obj client.Object, path ...string) client.Object {
		return manifest(obj, func(m map[string]any) {
			_, found, err := unstructured.NestedFieldNoCopy(m, path...)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue(), "no key %v to omit", path)
			unstructured.RemoveNestedField(m, path...)
		})
	}
	// set sends obj with value, of any JSON type, at path.
	set := func(obj client.Object, value any, path ...string) client.Object {
		return manifest(obj, func(m map[string]any) {
			Expect(unstructured.SetNestedField(m, value, path...)).To(Succeed())
		})
	}

	const idPattern = "should match '^[A-Za-z0-9-]+$'"
	long := func(n int) string { return strings.Repeat("a", n) }

	DescribeTable("refuses",
		func(obj func() client.Object, wantField, wantText string) {
			err := k8sClient.Create(ctx, obj())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
			// What the user reads names the field ...
			Expect(err.Error()).To(ContainSubstring(wantField + ": "))
			// ... and the one complaint about that field says what is wrong with it, so the
			// field and the text cannot come from two different complaints.
			var status apierrors.APIStatus
			Expect(errors.As(err, &status)).To(BeTrue())
			Expect(status.Status().Details).NotTo(BeNil(), "%v", err)
			Expect(status.Status().Details.Causes).To(ContainElement(And(
				HaveField("Field", wantField),
				HaveField("Message", ContainSubstring(wantText)),
			)), "%v", err)
		},

		// CloudAccount: required keys left out entirely.
		Entry("a CloudAccount without spec", func() client.Object {
			return omit(account(nil), "spec")
		}, "spec", "Required value"),
		Entry("a CloudAccount without the region key", func() client.Object {
			return omit(account(nil), "spec", "region")
		}, "spec.region", "Required value"),
		Entry("a CloudAccount without the projectID key", func() client.Object {
			return omit(account(nil), "spec", "projectID")
		}, "spec.projectID", "Required value"),
		Entry("a CloudAccount without any credential source", func() client.Object {
			return omit(account(nil), "spec", "credentialsSecretRef")
		}, "spec", "exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata must be set"),
		Entry("a CloudAccount with two credential sources", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.InstanceMetadata = &v1alpha1.InstanceMetadata{} })
		}, "spec", "exactly one of credentialsSecretRef, workloadIdentity, instanceMetadata must be set"),
		Entry("a workloadIdentity token shorter than 600s", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.CredentialsSecretRef = nil
				a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "sa", IdentityProviderID: "idp",
					Audience: "aud", ExpirationSeconds: ptr.To[int64](599)}
			})
		}, "spec.workloadIdentity.expirationSeconds", "greater than or equal to 600"),
		Entry("a workloadIdentity without audience", func() client.Object {
			return omit(account(func(a *v1alpha1.CloudAccount) {
				a.Spec.CredentialsSecretRef = nil
				a.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: "sa", IdentityProviderID: "idp", Audience: "aud"}
			}), "spec", "workloadIdentity", "audience")
		}, "spec.workloadIdentity.audience", "Required value"),
		Entry("a ClusterCloudAccount workloadIdentity without serviceAccountNamespace", func() client.Object {
			return &v1alpha1.ClusterCloudAccount{ObjectMeta: metav1.ObjectMeta{GenerateName: "cacct-"},
				Spec: v1alpha1.ClusterCloudAccountSpec{CloudConnection: v1alpha1.CloudConnection{Region: "eu-de", ProjectID: "p1"},
					WorkloadIdentity: &v1alpha1.ClusterWorkloadIdentity{WorkloadIdentity: v1alpha1.WorkloadIdentity{
						ServiceAccountName: "sa", IdentityProviderID: "idp", Audience: "aud"}}}}
		}, "spec.workloadIdentity.serviceAccountNamespace", "at least 1 chars long"),
		Entry("a ClusterCloudAccount credentialsSecretRef without namespace", func() client.Object {
			return &v1alpha1.ClusterCloudAccount{ObjectMeta: metav1.ObjectMeta{GenerateName: "cacct-"},
				Spec: v1alpha1.ClusterCloudAccountSpec{CloudConnection: v1alpha1.CloudConnection{Region: "eu-de", ProjectID: "p1"},
					CredentialsSecretRef: &v1alpha1.SecretReference{Name: "creds"}}}
		}, "spec.credentialsSecretRef.namespace", "at least 1 chars long"),
		Entry("an accountRef of an unknown kind", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.AccountRef.Kind = "Secret" })
		}, "spec.accountRef.kind", "Unsupported value"),
		Entry("a credentialsSecretRef without the name key", func() client.Object {
			return omit(account(nil), "spec", "credentialsSecretRef", "name")
		}, "spec.credentialsSecretRef.name", "Required value"),

		// CloudAccount: region and projectID.
		Entry("an empty region", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "" })
		}, "spec.region", "at least 2 chars long"),
		Entry("a one-letter region", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "e" })
		}, "spec.region", "at least 2 chars long"),
		Entry("a region longer than 64", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = long(65) })
		}, "spec.region", "Too long"),
		Entry("an upper-case region", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "EU-DE" })
		}, "spec.region", "should match"),
		Entry("a region with an underscore", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "eu_de" })
		}, "spec.region", "should match"),
		Entry("a region that would change the endpoint host (dots)", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "eu-de.attacker.example" })
		}, "spec.region", "should match"),
		Entry("a region that would change the endpoint path (slash)", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "eu-de/x" })
		}, "spec.region", "should match"),
		Entry("a region with a trailing hyphen", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "eu-" })
		}, "spec.region", "should match"),
		Entry("a projectID with invalid characters", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.ProjectID = "abc/123" })
		}, "spec.projectID", idPattern),
		Entry("an empty projectID", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.ProjectID = "" })
		}, "spec.projectID", "at least 1 chars long"),
		Entry("a projectID longer than 64", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.ProjectID = long(65) })
		}, "spec.projectID", "Too long: may not be more than 64"),

		// CloudAccount: enum.
		Entry("an unknown cloud", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Cloud = "AWS" })
		}, "spec.cloud", "Unsupported value"),
		Entry("a cloud in the wrong case", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Cloud = "huaweicloud" })
		}, "spec.cloud", `supported values: "HuaweiCloud", "OpenTelekomCloud"`),

		// CloudAccount: credentialsSecretRef.
		Entry("an empty credentials Secret name", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Name = "" })
		}, "spec.credentialsSecretRef.name", "at least 1 chars long"),
		Entry("a credentials Secret name that is not a DNS subdomain", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Name = "My_Creds" })
		}, "spec.credentialsSecretRef.name", "should match"),
		Entry("a credentials Secret name longer than 253", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Name = long(254) })
		}, "spec.credentialsSecretRef.name", "Too long: may not be more than 253"),

		// CloudAccount: endpoints and caBundle.
		Entry("an http:// modelarts endpoint without allowInsecureHTTP", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "http://127.0.0.1:8443"}
			})
		}, "spec.endpoints.modelarts", "allowInsecureHTTP"),
		Entry("an http:// iam endpoint without allowInsecureHTTP", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{IAM: "http://127.0.0.1:8443"}
			})
		}, "spec.endpoints.iam", "allowInsecureHTTP"),
		Entry("an http:// roma endpoint without allowInsecureHTTP", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ROMA: "http://127.0.0.1:8443"}
			})
		}, "spec.endpoints.roma", "allowInsecureHTTP"),
		Entry("an iam endpoint that is not a URL", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Endpoints = &v1alpha1.CloudEndpoints{IAM: "iam.example.com"} })
		}, "spec.endpoints.iam", "should match"),
		Entry("a modelarts endpoint with a query", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "https://modelarts.example.com/?x=1"}
			})
		}, "spec.endpoints.modelarts", "should match"),
		Entry("an iam endpoint carrying user info", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{IAM: "https://user:password@iam.example.com"}
			})
		}, "spec.endpoints.iam", "should match"),
		Entry("a roma endpoint with another scheme", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ROMA: "ftp://roma.example.com"}
			})
		}, "spec.endpoints.roma", "should match"),
		Entry("an endpoint longer than 2048", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "https://modelarts.example.com/" + long(2048)}
			})
		}, "spec.endpoints.modelarts", "Too long: may not be more than 2048"),
		Entry("a caBundle larger than 256 KiB", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.CABundle = long(262145) })
		}, "spec.caBundle", "Too long: may not be more than 262144"),
		Entry("allowInsecureHTTP that is not a boolean", func() client.Object {
			return set(account(nil), "yes", "spec", "allowInsecureHTTP")
		}, "spec.allowInsecureHTTP", "must be of type boolean"),

		// CloudAccount: rate limits.
		Entry("burst without requestsPerSecond", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Burst = ptr.To[int32](5) })
		}, "spec.burst", "requires requestsPerSecond"),
		Entry("requestsPerSecond of zero", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.RequestsPerSecond = ptr.To[int32](0) })
		}, "spec.requestsPerSecond", "greater than or equal to 1"),
		Entry("requestsPerSecond above 10000", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.RequestsPerSecond = ptr.To[int32](10001) })
		}, "spec.requestsPerSecond", "less than or equal to 10000"),
		Entry("requestsPerSecond beyond int32", func() client.Object {
			return set(account(nil), int64(1)<<40, "spec", "requestsPerSecond")
		}, "spec.requestsPerSecond", "less than or equal to 10000"),
		Entry("requestsPerSecond that is not an integer", func() client.Object {
			return set(account(nil), "fast", "spec", "requestsPerSecond")
		}, "spec.requestsPerSecond", "must be of type integer"),
		Entry("burst of zero", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.RequestsPerSecond = ptr.To[int32](5)
				a.Spec.Burst = ptr.To[int32](0)
			})
		}, "spec.burst", "greater than or equal to 1"),
		Entry("burst above 10000", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.RequestsPerSecond = ptr.To[int32](5)
				a.Spec.Burst = ptr.To[int32](10001)
			})
		}, "spec.burst", "less than or equal to 10000"),

		// Every mirrored kind: accountRef and refreshInterval.
		Entry("a Workspace without the accountRef key", func() client.Object {
			return omit(workspace(nil), "spec", "accountRef")
		}, "spec.accountRef", "Required value"),
		Entry("an AuthorizationSet without the accountRef key", func() client.Object {
			return omit(authSet(nil), "spec", "accountRef")
		}, "spec.accountRef", "Required value"),
		Entry("a ServiceAppAuth without the accountRef key", func() client.Object {
			return omit(appAuth(nil), "spec", "accountRef")
		}, "spec.accountRef", "Required value"),
		Entry("a RomaApp without the accountRef key", func() client.Object {
			return omit(romaApp(nil), "spec", "accountRef")
		}, "spec.accountRef", "Required value"),
		Entry("a DevEnvironmentToken without the accountRef key", func() client.Object {
			return omit(devToken(nil), "spec", "accountRef")
		}, "spec.accountRef", "Required value"),
		Entry("an accountRef without the name key", func() client.Object {
			return omit(authSet(nil), "spec", "accountRef", "name")
		}, "spec.accountRef.name", "Required value"),
		Entry("an empty accountRef name", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.AccountRef.Name = "" })
		}, "spec.accountRef.name", "at least 1 chars long"),
		Entry("an accountRef name that is not a DNS subdomain", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.AccountRef.Name = "Acct_1" })
		}, "spec.accountRef.name", "should match"),
		Entry("an accountRef name longer than 253", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.AccountRef.Name = long(254) })
		}, "spec.accountRef.name", "Too long: may not be more than 253"),
		Entry("a refreshInterval under 10s", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.RefreshInterval = &metav1.Duration{Duration: 5 * time.Second} })
		}, "spec.refreshInterval", "at least 10s"),
		Entry("a refreshInterval too long for a duration", func() client.Object {
			// Matches the pattern but overflows; refused, or the manager could not decode the object.
			return set(authSet(nil), "2562048h", "spec", "refreshInterval")
		}, "spec.refreshInterval", "type conversion error"),
		Entry("a refreshInterval that is not a duration", func() client.Object {
			return set(appAuth(nil), "10 minutes", "spec", "refreshInterval")
		}, "spec.refreshInterval", "should match"),
		Entry("a negative refreshInterval", func() client.Object {
			return set(authSet(nil), "-1m", "spec", "refreshInterval")
		}, "spec.refreshInterval", "should match"),

		// Workspace.
		Entry("a Workspace without the workspaceID key", func() client.Object {
			return omit(workspace(nil), "spec", "workspaceID")
		}, "spec.workspaceID", "Required value"),
		Entry("an empty workspaceID", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.WorkspaceID = "" })
		}, "spec.workspaceID", "at least 1 chars long"),
		Entry("a malformed workspaceID", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.WorkspaceID = "a b" })
		}, "spec.workspaceID", idPattern),
		Entry("a workspaceID longer than 64", func() client.Object {
			return workspace(func(s *v1alpha1.WorkspaceSpec) { s.WorkspaceID = long(65) })
		}, "spec.workspaceID", "Too long: may not be more than 64"),

		// AuthorizationSet: enums.
		Entry("an unknown sortBy", func() client.Object {
			return authSet(func(s *v1alpha1.AuthorizationSetSpec) { s.SortBy = "name" })
		}, "spec.sortBy", `supported values: "user_name", "create_time"`),
		Entry("an unknown order", func() client.Object {
			return authSet(func(s *v1alpha1.AuthorizationSetSpec) { s.Order = "up" })
		}, "spec.order", `supported values: "asc", "desc"`),
		Entry("an order in the wrong case", func() client.Object {
			return authSet(func(s *v1alpha1.AuthorizationSetSpec) { s.Order = "DESC" })
		}, "spec.order", "Unsupported value"),

		// ServiceAppAuth.
		Entry("a ServiceAppAuth without the serviceID key", func() client.Object {
			return omit(appAuth(nil), "spec", "serviceID")
		}, "spec.serviceID", "Required value"),
		Entry("an empty serviceID", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.ServiceID = "" })
		}, "spec.serviceID", "at least 1 chars long"),
		Entry("a serviceID that would climb the cloud URL path", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.ServiceID = "../services" })
		}, "spec.serviceID", idPattern),
		Entry("a serviceID longer than 64", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.ServiceID = long(65) })
		}, "spec.serviceID", "Too long: may not be more than 64"),
		Entry("an empty ServiceAppAuth workspaceID", func() client.Object {
			// The typed client drops an empty workspaceID (omitempty); a manifest can still send "".
			return set(appAuth(nil), "", "spec", "workspaceID")
		}, "spec.workspaceID", "at least 1 chars long"),
		Entry("a ServiceAppAuth workspaceID that would add a query", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.WorkspaceID = "0&limit=1" })
		}, "spec.workspaceID", idPattern),
		Entry("a ServiceAppAuth workspaceID longer than 64", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.WorkspaceID = long(65) })
		}, "spec.workspaceID", "Too long: may not be more than 64"),
		Entry("a ServiceAppAuth secretName that is not a DNS subdomain", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.SecretName = "Not_Valid" })
		}, "spec.secretName", "should match"),
		Entry("a ServiceAppAuth secretName longer than 253", func() client.Object {
			return appAuth(func(s *v1alpha1.ServiceAppAuthSpec) { s.SecretName = long(254) })
		}, "spec.secretName", "Too long: may not be more than 253"),

		// RomaApp.
		Entry("a RomaApp without the instanceID key", func() client.Object {
			return omit(romaApp(nil), "spec", "instanceID")
		}, "spec.instanceID", "Required value"),
		Entry("a RomaApp without the appID key", func() client.Object {
			return omit(romaApp(nil), "spec", "appID")
		}, "spec.appID", "Required value"),
		Entry("an empty RomaApp appID", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.AppID = "" })
		}, "spec.appID", "at least 1 chars long"),
		Entry("a RomaApp instanceID with a slash", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.InstanceID = "inst/1" })
		}, "spec.instanceID", idPattern),
		Entry("a RomaApp instanceID longer than 64", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.InstanceID = long(65) })
		}, "spec.instanceID", "Too long: may not be more than 64"),
		Entry("a RomaApp appID with a space", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.AppID = "app 1" })
		}, "spec.appID", idPattern),
		Entry("a RomaApp appID longer than 64", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.AppID = long(65) })
		}, "spec.appID", "Too long: may not be more than 64"),
		Entry("a RomaApp secretName that is not a DNS subdomain", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.SecretName = "roma.key." })
		}, "spec.secretName", "should match"),
		Entry("a RomaApp secretName longer than 253", func() client.Object {
			return romaApp(func(s *v1alpha1.RomaAppSpec) { s.SecretName = long(254) })
		}, "spec.secretName", "Too long: may not be more than 253"),

		// DevEnvironmentToken.
		Entry("a DevEnvironmentToken without the instanceID key", func() client.Object {
			return omit(devToken(nil), "spec", "instanceID")
		}, "spec.instanceID", "Required value"),
		Entry("an empty DevEnvironmentToken instanceID", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.InstanceID = "" })
		}, "spec.instanceID", "at least 1 chars long"),
		Entry("a DevEnvironmentToken instanceID with an escaped dot-dot", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.InstanceID = "%2e%2e" })
		}, "spec.instanceID", idPattern),
		Entry("a DevEnvironmentToken instanceID longer than 64", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.InstanceID = long(65) })
		}, "spec.instanceID", "Too long: may not be more than 64"),
		Entry("a DevEnvironmentToken secretName that is not a DNS subdomain", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretName = "-token" })
		}, "spec.secretName", "should match"),
		Entry("a DevEnvironmentToken secretName longer than 253", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretName = long(254) })
		}, "spec.secretName", "Too long: may not be more than 253"),
		Entry("an invalid secretKey", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretKey = "bad/key" })
		}, "spec.secretKey", "should match"),
		Entry("a secretKey longer than 253", func() client.Object {
			return devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretKey = long(254) })
		}, "spec.secretKey", "Too long: may not be more than 253"),
	)

	// The table's starting points are valid, so each entry tests the one thing it breaks;
	// they are sent as plain JSON too, so omit and set change nothing but their key.
	It("accepts the valid objects the table starts from", func() {
		for _, obj := range []func() client.Object{
			func() client.Object { return account(nil) },
			func() client.Object { return workspace(nil) },
			func() client.Object { return authSet(nil) },
			func() client.Object { return appAuth(nil) },
			func() client.Object { return romaApp(nil) },
			func() client.Object { return devToken(nil) },
		} {
			typed := obj()
			Expect(k8sClient.Create(ctx, typed)).To(Succeed())
			Expect(k8sClient.Create(ctx, manifest(obj(), func(map[string]any) {}))).To(Succeed(), "as JSON: %T", typed)
		}
	})

	It("accepts values at their bounds", func() {
		Expect(k8sClient.Create(ctx, account(func(a *v1alpha1.CloudAccount) {
			a.Spec.Region = "eu"
			a.Spec.ProjectID = long(64)
			a.Spec.RequestsPerSecond = ptr.To[int32](10000)
			a.Spec.Burst = ptr.To[int32](10000)
			a.Spec.CABundle = long(262144)
		}))).To(Succeed())
		Expect(k8sClient.Create(ctx, account(func(a *v1alpha1.CloudAccount) {
			a.Spec.Region = long(64)
			a.Spec.RequestsPerSecond = ptr.To[int32](1)
			a.Spec.Burst = ptr.To[int32](1)
		}))).To(Succeed())
		Expect(k8sClient.Create(ctx, workspace(func(s *v1alpha1.WorkspaceSpec) {
			s.WorkspaceID = long(64)
			s.RefreshInterval = &metav1.Duration{Duration: 10 * time.Second}
		}))).To(Succeed())
		Expect(k8sClient.Create(ctx, devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) {
			s.SecretName = long(253)
			s.SecretKey = long(253)
		}))).To(Succeed())
	})

	// spec.secretKey becomes a key of a Secret the operator writes, so the CRD must refuse
	// exactly what the API server refuses in a Secret's data; otherwise the object is
	// accepted and then fails on every sync.
	It("refuses a secretKey a Secret would refuse, and accepts one it would accept", func() {
		for _, key := range []string{".", "..", "..token"} {
			secret := &corev1.Secret{ObjectMeta: meta(), Data: map[string][]byte{key: []byte("t")}}
			Expect(apierrors.IsInvalid(k8sClient.Create(ctx, secret))).To(BeTrue(), "a Secret with key %q", key)

			err := k8sClient.Create(ctx, devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretKey = key }))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "secretKey %q: want 422 Invalid, got %v", key, err)
			Expect(err.Error()).To(ContainSubstring("spec.secretKey: "))
			Expect(err.Error()).To(ContainSubstring("must not be '.' or start with '..'"))
		}
		for _, key := range []string{".token", "a..b", "token.."} {
			Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: meta(), Data: map[string][]byte{key: []byte("t")}})).To(Succeed())
			Expect(k8sClient.Create(ctx, devToken(func(s *v1alpha1.DevEnvironmentTokenSpec) { s.SecretKey = key }))).To(Succeed(), "secretKey %q", key)
		}
	})

	It("accepts an http:// endpoint with allowInsecureHTTP", func() {
		Expect(k8sClient.Create(ctx, account(func(a *v1alpha1.CloudAccount) {
			a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "http://127.0.0.1:8443"}
			a.Spec.AllowInsecureHTTP = true
		}))).To(Succeed())
	})
})
