package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

// simulator is cloudsim running in the cluster, as docs/usage.md describes:
// its cloud APIs over TLS behind a Service, its admin API on the Pod.
type simulator struct {
	apiURL   string // https://<Service ClusterIP>: what CloudAccounts point at
	adminURL string // http://<Pod IP>:8444: reached from this machine
	caPEM    []byte // the CA that signed the simulator's certificate
}

const simNamespace = "modelarts-sim"

// restrictedNamespace creates a namespace that enforces the restricted Pod Security Standard.
func restrictedNamespace(ctx context.Context, name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, ns))).To(Succeed())
}

// deleteNamespace deletes a namespace and waits until it is gone.
func deleteNamespace(ctx context.Context, name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, ns))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}))
	}).WithTimeout(3*time.Minute).Should(BeTrue(), "namespace %s is not gone", name)
}

// restrictedSecurityContext is what the restricted Pod Security Standard asks of a container.
func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// deploySimulator runs cloudsim in the cluster. Its IAM trusts the cluster's
// ServiceAccount tokens as a CCE cluster's identity provider would be set up:
// the cluster's issuer, keys it fetches from /openid/v1/jwks with its own
// token, and the samples' workload identity ServiceAccount of each tenant
// mapped to the project.
func deploySimulator(ctx context.Context, tenants ...string) *simulator {
	restrictedNamespace(ctx, simNamespace)
	raw, err := clientset.CoreV1().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	var discovery struct {
		Issuer string `json:"issuer"`
	}
	Expect(json.Unmarshal(raw, &discovery)).To(Succeed())
	subjects := map[string][]string{}
	for _, ns := range tenants {
		subjects["system:serviceaccount:"+ns+":"+workloadIdentitySA] = []string{cloudsim.DefaultProjectID}
	}
	fixture := cloudsim.DefaultFixture()
	fixture.IdentityProviders = []cloudsim.IdentityProvider{{ID: workloadIdentityIdP, Issuer: discovery.Issuer,
		ClientID: workloadIdentityAudience, Subjects: subjects}}
	fixtureJSON, err := json.Marshal(fixture)
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cloudsim-fixture", Namespace: simNamespace},
		Data:       map[string]string{"fixture.json": string(fixtureJSON)},
	})).To(Succeed())
	kubernetesSvc := &corev1.Service{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, kubernetesSvc)).To(Succeed())

	labels := map[string]string{"app": "cloudsim"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "cloudsim", Namespace: simNamespace},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)},
		}},
	}
	Expect(k8s.Create(ctx, svc)).To(Succeed())

	// A CA and a serving certificate for the Service's address, as cert-manager would issue them.
	caPEM, certPEM, keyPEM := issueCertificate(svc.Spec.ClusterIP, "cloudsim."+simNamespace+".svc")
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cloudsim-tls", Namespace: simNamespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	})).To(Succeed())

	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cloudsim", Namespace: simNamespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// Its own token reads the cluster's keys (every ServiceAccount may).
					AutomountServiceAccountToken: ptr.To(true),
					Containers: []corev1.Container{{
						Name:            "cloudsim",
						Image:           cloudsimImage,
						ImagePullPolicy: corev1.PullNever,
						Args: []string{"--listen=0.0.0.0:8443", "--admin-listen=0.0.0.0:8444",
							"--tls-cert=/tls/tls.crt", "--tls-key=/tls/tls.key", "--fixture=/fixture/fixture.json",
							// No cluster DNS here: the kubernetes Service by its address.
							"--jwks-url=https://" + kubernetesSvc.Spec.ClusterIP + "/openid/v1/jwks",
							"--jwks-ca-file=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
							"--jwks-token-file=/var/run/secrets/kubernetes.io/serviceaccount/token"},
						Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}, {Name: "admin", ContainerPort: 8444}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/admin/healthz", Port: intstr.FromInt32(8444)},
						}, PeriodSeconds: 2},
						SecurityContext: restrictedSecurityContext(),
						VolumeMounts: []corev1.VolumeMount{
							{Name: "tls", MountPath: "/tls", ReadOnly: true},
							{Name: "fixture", MountPath: "/fixture", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "tls", VolumeSource: corev1.VolumeSource{
							Secret: &corev1.SecretVolumeSource{SecretName: "cloudsim-tls"},
						}},
						{Name: "fixture", VolumeSource: corev1.VolumeSource{
							ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cloudsim-fixture"}},
						}},
					},
				},
			},
		},
	}
	Expect(k8s.Create(ctx, deploy)).To(Succeed())

	var pod corev1.Pod
	Eventually(func(g Gomega) {
		pods := &corev1.PodList{}
		g.Expect(k8s.List(ctx, pods, client.InNamespace(simNamespace), client.MatchingLabels(labels))).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(1))
		pod = pods.Items[0]
		g.Expect(podReady(&pod)).To(BeTrue(), "cloudsim Pod is not Ready: %s", podSummary(&pod))
	}).WithTimeout(2 * time.Minute).Should(Succeed())

	sim := &simulator{
		apiURL:   "https://" + net.JoinHostPort(svc.Spec.ClusterIP, "443"),
		adminURL: "http://" + net.JoinHostPort(pod.Status.PodIP, "8444"),
		caPEM:    caPEM,
	}
	measured("cloudsim serves %s (admin %s)", sim.apiURL, sim.adminURL)
	return sim
}

// rotateToken makes the simulator issue a new token for the sample's dev environment.
func (s *simulator) rotateToken(ctx context.Context, instanceID string) {
	url := fmt.Sprintf("%s/admin/devenv/%s/%s/rotate", s.adminURL, cloudsim.DefaultProjectID, instanceID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
}

// issueCertificate returns a fresh CA and a serving certificate for ip and dnsName, all PEM.
func issueCertificate(ip, dnsName string) (caPEM, certPEM, keyPEM []byte) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloudsim test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	Expect(err).NotTo(HaveOccurred())
	caCert, err := x509.ParseCertificate(caDER)
	Expect(err).NotTo(HaveOccurred())

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP(ip)}, DNSNames: []string{dnsName},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
