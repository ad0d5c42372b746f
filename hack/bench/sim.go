package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func devEnvInstanceID(i int) string { return fmt.Sprintf("bench-devenv-%06d", i) }
func workspaceID(i int) string      { return fmt.Sprintf("benchws%06d", i) }

// writeFixture writes the default fixture plus n dev-environment instances
// and n workspaces, so that every object reads a resource of its own, and an
// identity provider trusting issuer for the bench ServiceAccounts.
func writeFixture(path string, n int, issuer string) error {
	f := cloudsim.DefaultFixture()
	f.IdentityProviders = []cloudsim.IdentityProvider{{ID: benchIdP, Issuer: issuer, ClientID: benchAudience,
		Subjects: map[string][]string{
			"system:serviceaccount:" + benchNS + ":" + benchSA: {cloudsim.DefaultProjectID},
			"system:serviceaccount:" + floorNS + ":" + benchSA: {cloudsim.DefaultProjectID},
		}}}
	p := f.Projects[cloudsim.DefaultProjectID]
	if p.DevEnvInstances == nil {
		p.DevEnvInstances = map[string]cloudsim.DevEnvInstance{}
	}
	for i := 0; i < n; i++ {
		p.DevEnvInstances[devEnvInstanceID(i)] = cloudsim.DevEnvInstance{Token: fmt.Sprintf("%032x", 0xbe4c0000+i)}
		p.Workspaces = append(p.Workspaces, cloudsim.Workspace{
			ID: workspaceID(i), Name: fmt.Sprintf("bench-%d", i), Owner: "bench",
			CreateTime: 1470000020000, UpdateTime: 1470000030000, AuthType: "INTERNAL",
			EnterpriseProjectID: cloudsim.DefaultEnterpriseProj, EnterpriseProjectName: "bench-eps",
			Status: cloudsim.DefaultWorkspaceStatus,
			Grants: []cloudsim.Grant{{UserID: cloudsim.DefaultGrantUserID, UserName: "bench-user"}},
		})
	}
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// simCounts is GET /admin/requests.
type simCounts struct {
	APIs map[string]struct {
		Total int `json:"total"`
	} `json:"apis"`
	IssuedTokens int `json:"issued_tokens"`
}

func (c simCounts) total(api cloudsim.API) int { return c.APIs[string(api)].Total }

type simAdmin string

func (a simAdmin) counts() (simCounts, error) {
	var c simCounts
	resp, err := http.Get("http://" + string(a) + "/admin/requests")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET /admin/requests: %s", resp.Status)
	}
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

func (a simAdmin) post(path string, body any) error {
	data, _ := json.Marshal(body)
	resp, err := http.Post("http://"+string(a)+path, "application/json", bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", path, resp.Status, msg)
	}
	return nil
}

func (a simAdmin) resetCounters() error { return a.post("/admin/reset-counters", struct{}{}) }

// issuerKeys returns the control plane's ServiceAccount token issuer and
// writes its public keys (/openid/v1/jwks) to jwksPath for the simulator.
func issuerKeys(ctx context.Context, cfg *rest.Config, jwksPath string) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("OpenID discovery: %w", err)
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &disco); err != nil {
		return "", err
	}
	jwks, err := cs.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("reading /openid/v1/jwks: %w", err)
	}
	return disco.Issuer, os.WriteFile(jwksPath, jwks, 0o644)
}
