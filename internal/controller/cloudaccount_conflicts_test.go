package controller

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// The CloudAccount controller's status writes, failed by an interceptor
// around a fake client (as for the mirrored kinds in conflicts_test.go); its
// credentials Secret is read, through the usual watch, from envtest.
var _ = Describe("CloudAccount status write conflicts and failures", func() {
	ctx := context.Background()
	var (
		key      types.NamespacedName
		c        client.Client
		r        *CloudAccountReconciler
		mu       sync.Mutex
		failWith []error // the next status updates fail with these, in order
	)
	reconcile := func() (ctrl.Result, error) { return r.Reconcile(ctx, ctrl.Request{NamespacedName: key}) }
	ready := func() *metav1.Condition {
		var a v1alpha1.CloudAccount
		Expect(c.Get(ctx, key, &a)).To(Succeed())
		return meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
	}
	statusTimeout := apierrors.NewServerTimeout(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "cloudaccounts"}, "update", 1)
	conflict := apierrors.NewConflict(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "cloudaccounts"}, "acct", nil)

	failingStatusUpdate := func(ctx context.Context, cl client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
		mu.Lock()
		var err error
		if len(failWith) > 0 {
			err, failWith = failWith[0], failWith[1:]
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		return cl.SubResource(sub).Update(ctx, obj, opts...)
	}

	BeforeEach(func() {
		failWith = nil
		ns := newNamespace() // the Secret is in envtest, the account in the fake client
		createSecret(ns, "creds", akskData())
		key = types.NamespacedName{Namespace: ns, Name: "acct"}
		account := simAccount(ns, "acct", "creds")
		account.Generation = 1
		c = interceptor.NewClient(
			fake.NewClientBuilder().WithScheme(testScheme).WithObjects(account).WithStatusSubresource(account).Build(),
			interceptor.Funcs{SubResourceUpdate: failingStatusUpdate})
		secrets := NewReferencedSecrets(clientset, NewCloudAccountEvent)
		DeferCleanup(secrets.Forget, key)
		r = &CloudAccountReconciler{Client: c, Secrets: secrets,
			Accounts: NewAccounts(cloudclient.NewPool(cloudclient.Options{HTTPTimeout: 3 * time.Second}))}
	})

	It("requeues a conflict after 1s, without an error, and writes on the retry", func() {
		failWith = []error{conflict}
		res, err := reconcile()
		Expect(err).NotTo(HaveOccurred(), "a conflict is a requeue, not an error")
		Expect(res.RequeueAfter).To(Equal(time.Second))
		Expect(ready()).To(BeNil(), "nothing written yet")

		_, err = reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(ready()).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
	})

	It("backs off while status writes keep failing, then starts afresh", func() {
		failWith = []error{statusTimeout, statusTimeout, statusTimeout}
		for i, want := range []time.Duration{backoffBase, 2 * backoffBase, 4 * backoffBase} {
			res, err := reconcile()
			Expect(err).NotTo(HaveOccurred(), "retried by the controller's own backoff, not the workqueue's")
			Expect(res.RequeueAfter).To(BeNumerically("~", want, want/5), "retry %d", i+1)
		}
		_, err := reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(ready()).To(haveCondition(metav1.ConditionTrue, v1alpha1.ReasonCredentialsValid))
		Expect(r.Accounts.Registered(key)).To(BeTrue())

		By("a later failure backs off from the start again")
		var a v1alpha1.CloudAccount
		Expect(c.Get(ctx, key, &a)).To(Succeed())
		a.Status.Conditions = nil // something the next check rewrites
		Expect(c.Status().Update(ctx, &a)).To(Succeed())
		failWith = []error{statusTimeout}
		res, err := reconcile()
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(BeNumerically("~", backoffBase, backoffBase/5))
	})
})
