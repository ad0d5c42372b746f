package controller

import (
	"context"
	"time"

	"k8s.io/utils/ptr"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=romaapps,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=romaapps/status,verbs=patch

// romaAppKind mirrors GET /v2/{project_id}/instances/{instance_id}/apps/{app_id};
// the app's key goes to the Secret only, under app_key.
type romaAppKind struct{}

func (romaAppKind) Name() string                          { return "romaapp" }
func (romaAppKind) New() *v1alpha1.RomaApp                { return &v1alpha1.RomaApp{} }
func (romaAppKind) DefaultRefreshInterval() time.Duration { return 10 * time.Minute }
func (romaAppKind) SecretName(a *v1alpha1.RomaApp) string { return a.Spec.SecretName }

func (romaAppKind) Fetch(ctx context.Context, c *cloudclient.Client, a *v1alpha1.RomaApp) (*cloudclient.RomaApp, error) {
	return c.GetRomaApp(ctx, a.Spec.InstanceID, a.Spec.AppID)
}

func (romaAppKind) Apply(a *v1alpha1.RomaApp, app *cloudclient.RomaApp, _ map[string][]byte, _ time.Time) Applied {
	st := &a.Status
	st.ID, st.Name, st.Remark = app.ID, app.Name, app.Remark
	st.Roles = append([]string(nil), app.Roles...)
	st.CreateTime, st.UpdateTime = rfc3339(app.CreateTime), rfc3339(app.UpdateTime)
	st.CreatedUser = userRef(app.CreatedUser)
	st.LastUpdatedUser = userRef(app.LastUpdatedUser)
	st.Owner, st.Favorite = ptr.To(app.Owner), ptr.To(app.Favorite)
	st.SecretName = a.Spec.SecretName
	if a.Spec.SecretName == "" {
		return Applied{}
	}
	return Applied{SecretData: map[string][]byte{SecretKeyAppKey: []byte(app.Key)}}
}

func userRef(u cloudclient.RomaUser) *v1alpha1.UserRef {
	if u.UserID == "" && u.UserName == "" {
		return nil
	}
	return &v1alpha1.UserRef{UserID: u.UserID, UserName: u.UserName}
}
