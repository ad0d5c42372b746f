package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=devenvironmenttokens,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=devenvironmenttokens/status,verbs=patch

// DefaultDevEnvTokenKey is the Secret key of the token unless spec.secretKey says otherwise.
const DefaultDevEnvTokenKey = "token"

// devEnvTokenKind keeps GET /v1/{project_id}/demanager/instances/{instance_id}/token in a Secret.
type devEnvTokenKind struct{}

func (devEnvTokenKind) Name() string                          { return "devenvironmenttoken" }
func (devEnvTokenKind) New() *v1alpha1.DevEnvironmentToken    { return &v1alpha1.DevEnvironmentToken{} }
func (devEnvTokenKind) DefaultRefreshInterval() time.Duration { return 5 * time.Minute }

func (devEnvTokenKind) SecretName(t *v1alpha1.DevEnvironmentToken) string {
	if t.Spec.SecretName != "" {
		return t.Spec.SecretName
	}
	return t.Name
}

func secretKeyOf(t *v1alpha1.DevEnvironmentToken) string {
	if t.Spec.SecretKey != "" {
		return t.Spec.SecretKey
	}
	return DefaultDevEnvTokenKey
}

func (devEnvTokenKind) Fetch(ctx context.Context, c *cloudclient.Client, t *v1alpha1.DevEnvironmentToken) (string, error) {
	return c.GetDevEnvToken(ctx, t.Spec.InstanceID)
}

func (k devEnvTokenKind) Apply(t *v1alpha1.DevEnvironmentToken, token string, current map[string][]byte, now time.Time) Applied {
	var applied Applied
	key, name := secretKeyOf(t), k.SecretName(t)
	previous, ok := current[key]
	if changed := !ok || string(previous) != token; changed || t.Status.TokenUpdateTime == nil {
		t.Status.TokenUpdateTime = &metav1.Time{Time: now.Truncate(time.Second)}
		if ok && changed {
			applied.Events = append(applied.Events, Event{Type: corev1.EventTypeNormal, Reason: "TokenRotated",
				Message: "the dev-environment token changed; Secret " + name + " was updated"})
		}
	}
	t.Status.SecretName = name
	applied.SecretData = map[string][]byte{key: []byte(token)}
	return applied
}
