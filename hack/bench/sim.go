package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudsim"
)

func devEnvInstanceID(i int) string { return fmt.Sprintf("bench-devenv-%06d", i) }
func workspaceID(i int) string      { return fmt.Sprintf("benchws%06d", i) }

// writeFixture writes the default fixture plus n dev-environment instances
// and n workspaces, so that every object reads a resource of its own.
func writeFixture(path string, n int) error {
	f := cloudsim.DefaultFixture()
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
