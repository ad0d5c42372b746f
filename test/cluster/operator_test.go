package cluster

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// leaseName is the manager's LeaderElectionID (cmd/main.go).
const leaseName = "modelarts-operator.cloudmirror.io"

// leaderPod names the Pod holding the lease (holder identities are "<pod>_<uuid>").
func leaderPod(ctx context.Context, in *installation) string {
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: leaseName}, lease); err != nil {
		return ""
	}
	holder, _, _ := strings.Cut(ptr.Deref(lease.Spec.HolderIdentity, ""), "_")
	return holder
}

// deleteLeader deletes the leading Pod and returns how long another replica
// took to take the lease. The old leader releases it on shutdown, so the
// standby or the Pod replacing the deleted one, whichever asks first, wins.
func deleteLeader(ctx context.Context, in *installation) time.Duration {
	var leader string
	Eventually(func() string { leader = leaderPod(ctx, in); return leader }).
		WithContext(ctx).WithTimeout(time.Minute).ShouldNot(BeEmpty())
	Expect(operatorPods(ctx, in)).To(HaveLen(2), "no standby replica next to leader %s", leader)

	start := time.Now()
	Expect(k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: in.namespace, Name: leader}})).To(Succeed())
	Eventually(func() string { return leaderPod(ctx, in) }).
		WithContext(ctx).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).
		Should(And(Not(BeEmpty()), Not(Equal(leader))))
	return time.Since(start)
}

// proveMetricsAccess scrapes /metrics over HTTPS on a manager Pod with the
// token of a ServiceAccount bound to the metrics-reader ClusterRole (allowed),
// one that is not (403), and none (401).
func proveMetricsAccess(ctx context.Context, in *installation) {
	reader := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: in.namespace, Name: "metrics-scraper"}}
	stranger := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: in.namespace, Name: "not-a-scraper"}}
	Expect(k8s.Create(ctx, reader)).To(Succeed())
	Expect(k8s.Create(ctx, stranger)).To(Succeed())
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "modelarts-test-metrics-scraper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "modelarts-operator-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: in.namespace, Name: reader.Name}},
	}
	Expect(k8s.Create(ctx, binding)).To(Succeed())
	defer func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, binding))).To(Succeed()) }()

	// The leader's metrics hold the cloud request counters (a standby makes no calls).
	leader := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: leaderPod(ctx, in)}, leader)).To(Succeed())
	url := "https://" + net.JoinHostPort(leader.Status.PodIP, "8443") + "/metrics"
	// The manager serves a self-signed certificate (controller-runtime's default).
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed test endpoint
	}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpc.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(body)
	}
	tokenOf := func(sa *corev1.ServiceAccount) string {
		tr, err := clientset.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}},
			metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}

	readerToken := tokenOf(reader)
	Eventually(func(g Gomega) { // RBAC bindings reach the authorizer's cache within moments
		code, body := scrape(readerToken)
		g.Expect(code).To(Equal(http.StatusOK))
		g.Expect(body).To(ContainSubstring("modelarts_operator_cloud_requests_total"))
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	code, _ := scrape(tokenOf(stranger))
	Expect(code).To(Equal(http.StatusForbidden))
	code, _ = scrape("")
	Expect(code).To(Equal(http.StatusUnauthorized))
	measured("%s: /metrics over HTTPS: metrics-reader 200, other ServiceAccount 403, no token 401", in.name)
}
