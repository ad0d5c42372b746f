package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=workspaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=workspaces/status,verbs=patch

// workspaceKind mirrors GET /v1/{project_id}/workspaces/{workspace_id} into a Workspace's status.
type workspaceKind struct{}

func (workspaceKind) Name() string                          { return "workspace" }
func (workspaceKind) New() *v1alpha1.Workspace              { return &v1alpha1.Workspace{} }
func (workspaceKind) DefaultRefreshInterval() time.Duration { return 5 * time.Minute }
func (workspaceKind) SecretName(*v1alpha1.Workspace) string { return "" }

func (workspaceKind) Fetch(ctx context.Context, c *cloudclient.Client, w *v1alpha1.Workspace) (*cloudclient.Workspace, error) {
	return c.GetWorkspace(ctx, w.Spec.WorkspaceID)
}

func (workspaceKind) Apply(w *v1alpha1.Workspace, ws *cloudclient.Workspace, _ map[string][]byte, _ time.Time) Applied {
	var applied Applied
	if prev := w.Status.State; prev != "" && prev != ws.Status {
		eventType := corev1.EventTypeNormal
		if ws.Status != "NORMAL" {
			eventType = corev1.EventTypeWarning
		}
		applied.Events = append(applied.Events, Event{Type: eventType, Reason: "StateChanged",
			Message: fmt.Sprintf("workspace state changed from %s to %s", prev, ws.Status)})
	}
	st := &w.Status
	st.ID, st.Name, st.Description, st.Owner = ws.ID, ws.Name, ws.Description, ws.Owner
	st.CreateTime, st.UpdateTime = epochMillis(ws.CreateTime), epochMillis(ws.UpdateTime)
	st.AuthType, st.State, st.StateInfo = ws.AuthType, ws.Status, ws.StatusInfo
	st.EnterpriseProjectID, st.EnterpriseProjectName = ws.EnterpriseProjectID, ws.EnterpriseProjectName
	st.Grants = nil
	for _, g := range ws.Grants {
		st.Grants = append(st.Grants, v1alpha1.WorkspaceGrant{UserID: g.UserID, UserName: g.UserName})
	}
	return applied
}
