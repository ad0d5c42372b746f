package controller

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// The API server refuses bad manifests with a message naming the field.
var _ = Describe("Schema validation", func() {
	ctx := context.Background()
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	account := func(mutate func(*v1alpha1.CloudAccount)) client.Object {
		a := &v1alpha1.CloudAccount{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "acct-"},
			Spec: v1alpha1.CloudAccountSpec{
				Region: "eu-de", ProjectID: "abc-123",
				CredentialsSecretRef: v1alpha1.LocalObjectReference{Name: "creds"},
			},
		}
		mutate(a)
		return a
	}
	mirror := v1alpha1.MirrorSpec{AccountRef: v1alpha1.LocalObjectReference{Name: "acct"}}
	meta := func() metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, GenerateName: "x-"} }

	DescribeTable("refuses",
		func(obj func() client.Object, wantField, wantText string) {
			err := k8sClient.Create(ctx, obj())
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(And(ContainSubstring(wantField), ContainSubstring(wantText)))
		},
		Entry("a projectID with invalid characters", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.ProjectID = "abc/123" })
		}, "spec.projectID", "should match"),
		Entry("a projectID longer than 64", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.ProjectID = strings.Repeat("a", 65) })
		}, "spec.projectID", "64"),
		Entry("an unknown cloud", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Cloud = "AWS" })
		}, "spec.cloud", "Unsupported value"),
		Entry("a missing region", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Region = "" })
		}, "spec.region", ""),
		Entry("a missing credentials Secret name", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Name = "" })
		}, "spec.credentialsSecretRef.name", ""),
		Entry("an http:// endpoint without allowInsecureHTTP", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) {
				a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "http://127.0.0.1:8443"}
			})
		}, "spec.endpoints.modelarts", "allowInsecureHTTP"),
		Entry("an endpoint that is not a URL", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Endpoints = &v1alpha1.CloudEndpoints{IAM: "iam.example.com"} })
		}, "spec.endpoints.iam", "should match"),
		Entry("burst without requestsPerSecond", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.Burst = ptr.To[int32](5) })
		}, "spec.burst", "requires requestsPerSecond"),
		Entry("requestsPerSecond of zero", func() client.Object {
			return account(func(a *v1alpha1.CloudAccount) { a.Spec.RequestsPerSecond = ptr.To[int32](0) })
		}, "spec.requestsPerSecond", "greater than or equal to 1"),
		Entry("a refreshInterval under 10s", func() client.Object {
			s := mirror
			s.RefreshInterval = &metav1.Duration{Duration: 5 * time.Second}
			return &v1alpha1.Workspace{ObjectMeta: meta(), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: s, WorkspaceID: "0"}}
		}, "spec.refreshInterval", "at least 10s"),
		Entry("a missing workspaceID", func() client.Object {
			return &v1alpha1.Workspace{ObjectMeta: meta(), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror}}
		}, "spec.workspaceID", ""),
		Entry("a malformed workspaceID", func() client.Object {
			return &v1alpha1.Workspace{ObjectMeta: meta(), Spec: v1alpha1.WorkspaceSpec{MirrorSpec: mirror, WorkspaceID: "a b"}}
		}, "spec.workspaceID", "should match"),
		Entry("a missing accountRef name", func() client.Object {
			return &v1alpha1.Workspace{ObjectMeta: meta(), Spec: v1alpha1.WorkspaceSpec{WorkspaceID: "0"}}
		}, "spec.accountRef.name", ""),
		Entry("an unknown sortBy", func() client.Object {
			return &v1alpha1.AuthorizationSet{ObjectMeta: meta(), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror, SortBy: "name"}}
		}, "spec.sortBy", "Unsupported value"),
		Entry("an unknown order", func() client.Object {
			return &v1alpha1.AuthorizationSet{ObjectMeta: meta(), Spec: v1alpha1.AuthorizationSetSpec{MirrorSpec: mirror, Order: "up"}}
		}, "spec.order", "Unsupported value"),
		Entry("a missing serviceID", func() client.Object {
			return &v1alpha1.ServiceAppAuth{ObjectMeta: meta(), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror}}
		}, "spec.serviceID", ""),
		Entry("an invalid secretName", func() client.Object {
			return &v1alpha1.ServiceAppAuth{ObjectMeta: meta(), Spec: v1alpha1.ServiceAppAuthSpec{MirrorSpec: mirror, ServiceID: "s", SecretName: "Not_Valid"}}
		}, "spec.secretName", "should match"),
		Entry("a RomaApp without appID", func() client.Object {
			return &v1alpha1.RomaApp{ObjectMeta: meta(), Spec: v1alpha1.RomaAppSpec{MirrorSpec: mirror, InstanceID: "i"}}
		}, "spec.appID", ""),
		Entry("an invalid secretKey", func() client.Object {
			return &v1alpha1.DevEnvironmentToken{ObjectMeta: meta(), Spec: v1alpha1.DevEnvironmentTokenSpec{MirrorSpec: mirror, InstanceID: "i", SecretKey: "bad/key"}}
		}, "spec.secretKey", "should match"),
	)

	It("accepts an http:// endpoint with allowInsecureHTTP", func() {
		Expect(k8sClient.Create(ctx, account(func(a *v1alpha1.CloudAccount) {
			a.Spec.Endpoints = &v1alpha1.CloudEndpoints{ModelArts: "http://127.0.0.1:8443"}
			a.Spec.AllowInsecureHTTP = true
		}))).To(Succeed())
	})
})
