package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=serviceappauths,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=serviceappauths/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete

// Secret keys of a ServiceAppAuth's Secret. Per app: "<app_id>.app_key" etc.;
// with exactly one app also the plain keys.
const (
	SecretKeyAppKey    = "app_key"
	SecretKeyAppSecret = "app_secret"
	SecretKeyAppCode   = "app_code"
	// SecretKeyAppCodes holds every app code, one per line.
	SecretKeyAppCodes = "app_codes"
)

// serviceAppAuthKind mirrors GET /v1/{project_id}/services/{service_id}/api-auths;
// app keys, secrets and codes go to the Secret only.
type serviceAppAuthKind struct{}

func (serviceAppAuthKind) Name() string                          { return "serviceappauth" }
func (serviceAppAuthKind) New() *v1alpha1.ServiceAppAuth         { return &v1alpha1.ServiceAppAuth{} }
func (serviceAppAuthKind) DefaultRefreshInterval() time.Duration { return 5 * time.Minute }
func (serviceAppAuthKind) SecretName(s *v1alpha1.ServiceAppAuth) string {
	return s.Spec.SecretName
}

func (serviceAppAuthKind) Fetch(ctx context.Context, c *cloudclient.Client, s *v1alpha1.ServiceAppAuth) (*cloudclient.ServiceAPIAuths, error) {
	return c.GetServiceAPIAuths(ctx, s.Spec.ServiceID, s.Spec.WorkspaceID)
}

func (serviceAppAuthKind) Apply(s *v1alpha1.ServiceAppAuth, auths *cloudclient.ServiceAPIAuths, _ map[string][]byte, _ time.Time) Applied {
	var applied Applied
	added, removed := appDiff(s.Status.Apps, auths.Apps)
	if s.Status.ObservedGeneration != 0 && (added > 0 || removed > 0) {
		applied.Events = append(applied.Events, Event{Type: corev1.EventTypeNormal, Reason: "AppsChanged",
			Message: fmt.Sprintf("authorized apps changed: %d added, %d removed", added, removed)})
	}
	st := &s.Status
	st.EnableAppAuth = ptr.To(auths.EnableAppAuth)
	st.APIID = auths.APIID
	st.AppCount = ptr.To(int32(len(auths.Apps)))
	st.Apps = make([]v1alpha1.AuthorizedApp, 0, len(auths.Apps))
	for _, app := range auths.Apps {
		st.Apps = append(st.Apps, v1alpha1.AuthorizedApp{
			AppID: app.AppID, AppName: app.AppName, AppRemark: app.AppRemark, AppType: app.AppType,
			BoundedAPICount: app.BoundedAPICount, AppCodeCount: int32(len(app.AppCodes)),
			CreatedAt: epochMillis(app.CreatedAt), UpdatedAt: epochMillis(app.UpdatedAt),
			ProjectID: app.ProjectID, UserID: app.UserID,
		})
	}
	st.SecretName = ""
	if s.Spec.SecretName != "" {
		st.SecretName = s.Spec.SecretName
		applied.SecretData = appSecretData(auths.Apps)
		applied.TemplateValues = map[string]any{templateKeyApps: templateApps(auths.Apps)}
	}
	return applied
}

// appSecretData lays out the apps' credentials: per app under "<app_id>.",
// and with exactly one app also under the plain keys.
func appSecretData(apps []cloudclient.AuthedApp) map[string][]byte {
	data := map[string][]byte{}
	put := func(prefix string, app cloudclient.AuthedApp) {
		data[prefix+SecretKeyAppKey] = []byte(app.AppKey)
		data[prefix+SecretKeyAppSecret] = []byte(app.AppSecret)
		// Every key is always there (empty for an app without codes, such as
		// APIC apps), so a Pod's secretKeyRef to app_code does not break.
		code := ""
		if len(app.AppCodes) > 0 {
			code = app.AppCodes[0]
		}
		data[prefix+SecretKeyAppCode] = []byte(code)
		data[prefix+SecretKeyAppCodes] = []byte(strings.Join(app.AppCodes, "\n"))
	}
	for _, app := range apps {
		put(secretKeyPart(app.AppID)+".", app)
	}
	if len(apps) == 1 {
		put("", apps[0])
	}
	return data
}

// templateApps is the templates' .apps: per app its id, name, key, secret
// and codes (a list).
func templateApps(apps []cloudclient.AuthedApp) []map[string]any {
	out := make([]map[string]any, 0, len(apps))
	for _, app := range apps {
		out = append(out, map[string]any{
			"id": app.AppID, "name": app.AppName, SecretKeyAppKey: app.AppKey, SecretKeyAppSecret: app.AppSecret,
			SecretKeyAppCodes: append([]string{}, app.AppCodes...),
		})
	}
	return out
}

func appDiff(old []v1alpha1.AuthorizedApp, cur []cloudclient.AuthedApp) (added, removed int) {
	seen := map[string]bool{}
	for _, a := range old {
		seen[a.AppID] = true
	}
	now := map[string]bool{}
	for _, a := range cur {
		now[a.AppID] = true
		if !seen[a.AppID] {
			added++
		}
	}
	for id := range seen {
		if !now[id] {
			removed++
		}
	}
	return added, removed
}
