package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
	"github.com/cloudmirror-io/modelarts-operator/internal/controller"
)

const (
	accountAKSK     = "bench-aksk"
	accountPassword = "bench-password"
	accountWorkload = "bench-workload-identity"
	// benchSA is the ServiceAccount of the workload identity account, in
	// both namespaces; benchIdP and benchAudience configure the simulator's IAM.
	benchSA       = "bench-modelarts"
	benchIdP      = "bench-oidc"
	benchAudience = "sts.bench.example"
)

var accounts = []string{accountAKSK, accountPassword, accountWorkload}

// accountOf spreads objects over the three accounts in turn: AK/SK, a
// password account and a workload identity account (whose IAM tokens must
// be cached: one request, one exchange over the run).
func accountOf(i int) string {
	if tokensOnly {
		return accountAKSK
	}
	return accounts[i%len(accounts)]
}

// tokensOnly (-tokens-only) makes the bench's objects N DevEnvironmentTokens
// on one AK/SK account, and no Workspaces.
var tokensOnly bool

// objectCount is how many objects N per kind makes.
func objectCount(n int) int {
	if tokensOnly {
		return n
	}
	return 2 * n
}

// objectsOf says what N per kind makes, for the log.
func objectsOf(n int) string {
	if tokensOnly {
		return fmt.Sprintf("%d DevEnvironmentTokens", n)
	}
	return fmt.Sprintf("%d+%d objects", n, n)
}

// objectAt is the j-th object to create: tokens and workspaces in turn, or
// only tokens.
func objectAt(ns string, j int, interval time.Duration) client.Object {
	if tokensOnly {
		return newToken(ns, j, interval)
	}
	if j%2 == 1 {
		return newWorkspace(ns, j/2, interval)
	}
	return newToken(ns, j/2, interval)
}

func tokenName(i int) string     { return fmt.Sprintf("tok-%06d", i) }
func workspaceName(i int) string { return fmt.Sprintf("ws-%06d", i) }

// accountObjects are the two credentials Secrets, the ServiceAccount and
// the three CloudAccounts, with a client-side budget sized for the load
// (rps per account).
func accountObjects(ns, simURL string, rps int32) []client.Object {
	secret := func(name string, data map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	}
	account := func(name, secretName string) *v1alpha1.CloudAccount {
		return &v1alpha1.CloudAccount{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.CloudAccountSpec{
				CloudConnection: v1alpha1.CloudConnection{
					Cloud: "HuaweiCloud", Region: "cn-north-4", ProjectID: cloudsim.DefaultProjectID,
					Endpoints:         &v1alpha1.CloudEndpoints{IAM: simURL, ModelArts: simURL, ROMA: simURL},
					AllowInsecureHTTP: true,
					RequestsPerSecond: &rps, Burst: &rps,
				},
				CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: secretName},
			},
		}
	}
	workload := account(accountWorkload, "")
	workload.Spec.CredentialsSecretRef = nil
	workload.Spec.WorkloadIdentity = &v1alpha1.WorkloadIdentity{ServiceAccountName: benchSA, IdentityProviderID: benchIdP, Audience: benchAudience}
	return []client.Object{
		secret("bench-credentials-aksk", map[string]string{
			cloudclient.KeyAccessKey: cloudsim.DefaultAccessKey, cloudclient.KeySecretKey: cloudsim.DefaultSecretKey}),
		secret("bench-credentials-password", map[string]string{
			cloudclient.KeyUserName: cloudsim.DefaultUserName, cloudclient.KeyPassword: cloudsim.DefaultPassword,
			cloudclient.KeyDomainName: cloudsim.DefaultDomainName}),
		account(accountAKSK, "bench-credentials-aksk"),
		account(accountPassword, "bench-credentials-password"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: benchSA}},
		workload,
	}
}

// cloudConfigs are the same accounts as cloudclient configurations (the floor).
func cloudConfigs(simURL string, rps int32) map[string]cloudclient.Config {
	base := cloudclient.Config{
		Region: "cn-north-4", ProjectID: cloudsim.DefaultProjectID, AllowInsecureHTTP: true,
		Endpoints:         cloudclient.Endpoints{IAM: simURL, ModelArts: simURL, ROMA: simURL},
		RequestsPerSecond: float64(rps), Burst: int(rps),
	}
	aksk, password, workload := base, base, base
	workload.WorkloadIdentity = &cloudclient.WorkloadIdentity{Namespace: floorNS, ServiceAccount: benchSA, Audience: benchAudience,
		ExpirationSeconds: 3600, IdentityProviderID: benchIdP}
	aksk.Credentials = cloudclient.Credentials{AccessKey: cloudsim.DefaultAccessKey, SecretKey: cloudsim.DefaultSecretKey}
	password.Credentials = cloudclient.Credentials{UserName: cloudsim.DefaultUserName, Password: cloudsim.DefaultPassword,
		DomainName: cloudsim.DefaultDomainName}
	return map[string]cloudclient.Config{accountAKSK: aksk, accountPassword: password, accountWorkload: workload}
}

func newToken(ns string, i int, interval time.Duration) *v1alpha1.DevEnvironmentToken {
	t := &v1alpha1.DevEnvironmentToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tokenName(i)},
		Spec: v1alpha1.DevEnvironmentTokenSpec{
			MirrorSpec: v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: accountOf(i)},
				RefreshInterval: &metav1.Duration{Duration: interval}},
			InstanceID: devEnvInstanceID(i),
		},
	}
	if i == 0 {
		// One templated Secret (type and metadata too), rolled into reloadDeployment:
		// the steady state must cost it no write either.
		t.Spec.Target = &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{
			Metadata: &v1alpha1.SecretTemplateMetadata{Labels: map[string]string{"bench": "templated"}},
			Data:     map[string]string{"app.env": "TOKEN={{ .token }}\nAUTH={{ printf \"Bearer %s\" .token | b64enc }}\n"},
		}}
	}
	return t
}

// reloadDeployment lists token 0's Secret in reload-secrets; no controller
// runs in the bench, so only its pod template is ever written (by a rollout).
func reloadDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "bench-reload"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bench-reload",
			Annotations: map[string]string{v1alpha1.AnnotationReloadSecrets: tokenName(0)}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

func newWorkspace(ns string, i int, interval time.Duration) *v1alpha1.Workspace {
	return &v1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workspaceName(i)},
		Spec: v1alpha1.WorkspaceSpec{
			MirrorSpec: v1alpha1.MirrorSpec{AccountRef: v1alpha1.AccountReference{Name: accountOf(i)},
				RefreshInterval: &metav1.Duration{Duration: interval}},
			WorkspaceID: workspaceID(i),
		},
	}
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// createObjects creates n DevEnvironmentTokens and n Workspaces, interleaved.
func createObjects(ctx context.Context, c client.Client, ns string, n int, interval time.Duration, workers int) error {
	return parallel(objectCount(n), workers, func(j int) error {
		o := objectAt(ns, j, interval)
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
		return nil
	})
}

// floorClient does what converging costs at least, with a plain client and
// no controller: per DevEnvironmentToken a cloud GET, a Secret create and a
// status update; per Workspace a cloud GET and a status update; each kind on
// `workers` goroutines, as the operator runs `workers` per controller.
type floorClient struct {
	c       client.Client
	ns      string
	n       int
	workers int
	clients map[string]*cloudclient.Client
}

func newFloorClient(c client.Client, clientset kubernetes.Interface, ns string, n, workers int, configs map[string]cloudclient.Config) (*floorClient, error) {
	pool := cloudclient.NewPool(cloudclient.Options{ServiceAccountToken: controller.ServiceAccountTokens(clientset)})
	f := &floorClient{c: c, ns: ns, n: n, workers: workers, clients: map[string]*cloudclient.Client{}}
	for name, cfg := range configs {
		cl, err := pool.Client(cfg)
		if err != nil {
			return nil, err
		}
		f.clients[name] = cl
	}
	return f, nil
}

// createAndConverge is the floor: the same span the convergence clock
// measures, from the first create to the last status write. It creates the
// 2n objects as the bench does (createWorkers at once) and converges each
// as soon as it exists.
func (f *floorClient) createAndConverge(ctx context.Context, interval time.Duration) (time.Duration, error) {
	tokens := make(chan *v1alpha1.DevEnvironmentToken, f.n)
	workspaces := make(chan *v1alpha1.Workspace, f.n)
	start := time.Now()
	created := make(chan error, 1)
	go func() {
		defer close(tokens)
		defer close(workspaces)
		created <- parallel(objectCount(f.n), createWorkers, func(j int) error {
			o := objectAt(f.ns, j, interval)
			if err := f.c.Create(ctx, o); err != nil {
				return err
			}
			switch o := o.(type) {
			case *v1alpha1.DevEnvironmentToken:
				tokens <- o
			case *v1alpha1.Workspace:
				workspaces <- o
			}
			return nil
		})
	}()
	err := f.converge(ctx, tokens, workspaces)
	if cerr := <-created; err == nil {
		err = cerr
	}
	return time.Since(start), err
}

// convergeExisting is the floor as it was until 2026-12-03: the objects
// exist already (created and read before the clock starts), so the API
// server's time for the 2n creates is left out of it.
func (f *floorClient) convergeExisting(ctx context.Context) (time.Duration, error) {
	var tokenList v1alpha1.DevEnvironmentTokenList
	var workspaceList v1alpha1.WorkspaceList
	if err := f.c.List(ctx, &tokenList, client.InNamespace(f.ns)); err != nil {
		return 0, err
	}
	if err := f.c.List(ctx, &workspaceList, client.InNamespace(f.ns)); err != nil {
		return 0, err
	}
	if len(tokenList.Items)+len(workspaceList.Items) != objectCount(f.n) {
		return 0, fmt.Errorf("floor namespace holds %d tokens and %d workspaces, want %d objects", len(tokenList.Items), len(workspaceList.Items), objectCount(f.n))
	}
	tokens := make(chan *v1alpha1.DevEnvironmentToken, f.n)
	workspaces := make(chan *v1alpha1.Workspace, f.n)
	for i := range tokenList.Items {
		tokens <- &tokenList.Items[i]
	}
	for i := range workspaceList.Items {
		workspaces <- &workspaceList.Items[i]
	}
	close(tokens)
	close(workspaces)
	start := time.Now()
	err := f.converge(ctx, tokens, workspaces)
	return time.Since(start), err
}

// converge handles every object from the two channels until both close.
func (f *floorClient) converge(ctx context.Context, tokens <-chan *v1alpha1.DevEnvironmentToken, workspaces <-chan *v1alpha1.Workspace) error {
	ready := func(conds *[]metav1.Condition, gen int64) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonSynced, Message: "the cloud's data is mirrored", ObservedGeneration: gen})
		meta.SetStatusCondition(conds, metav1.Condition{Type: v1alpha1.ConditionSynced, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonSynced, Message: "the last cloud read succeeded", ObservedGeneration: gen})
	}
	token := func(t *v1alpha1.DevEnvironmentToken) error {
		value, err := f.clients[t.Spec.AccountRef.Name].GetDevEnvToken(ctx, t.Spec.InstanceID)
		if err != nil {
			return err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: t.Name,
				Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}},
			Data: map[string][]byte{"token": []byte(value)},
		}
		if err := controllerutil.SetControllerReference(t, s, f.c.Scheme()); err != nil {
			return err
		}
		if err := f.c.Create(ctx, s); err != nil {
			return err
		}
		before := t.DeepCopy()
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		t.Status.SecretName, t.Status.TokenUpdateTime = s.Name, &now
		t.Status.LastSyncTime, t.Status.LastSuccessfulSyncTime = &now, &now
		t.Status.ObservedGeneration = t.Generation
		ready(&t.Status.Conditions, t.Generation)
		return f.c.Status().Patch(ctx, t, client.MergeFrom(before))
	}
	workspace := func(w *v1alpha1.Workspace) error {
		ws, err := f.clients[w.Spec.AccountRef.Name].GetWorkspace(ctx, w.Spec.WorkspaceID)
		if err != nil {
			return err
		}
		before := w.DeepCopy()
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		st := &w.Status
		st.ID, st.Name, st.Owner, st.AuthType, st.State = ws.ID, ws.Name, ws.Owner, ws.AuthType, ws.Status
		st.EnterpriseProjectID, st.EnterpriseProjectName = ws.EnterpriseProjectID, ws.EnterpriseProjectName
		for _, g := range ws.Grants {
			st.Grants = append(st.Grants, v1alpha1.WorkspaceGrant{UserID: g.UserID, UserName: g.UserName})
		}
		st.LastSyncTime, st.LastSuccessfulSyncTime = &now, &now
		st.ObservedGeneration = w.Generation
		ready(&st.Conditions, w.Generation)
		return f.c.Status().Patch(ctx, w, client.MergeFrom(before))
	}
	errs := make(chan error, 2*f.workers)
	for range f.workers {
		go func() {
			var first error
			for t := range tokens {
				if err := token(t); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
		go func() {
			var first error
			for w := range workspaces {
				if err := workspace(w); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	var first error
	for range 2 * f.workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
