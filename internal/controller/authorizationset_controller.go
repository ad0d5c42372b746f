package controller

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=authorizationsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=modelarts.cloudmirror.io,resources=authorizationsets/status,verbs=patch

// ConditionTruncated says the status holds fewer authorizations than the cloud reports.
const ConditionTruncated = "Truncated"

// DefaultMaxAuthorizations bounds the entries in status (~250 bytes each), far
// below etcd's object size limit.
const DefaultMaxAuthorizations = 500

// authorizationSetKind mirrors GET /v2/{project_id}/authorizations (all pages),
// never storing secret_key.
type authorizationSetKind struct {
	maxEntries int
}

func (authorizationSetKind) Name() string                                 { return "authorizationset" }
func (authorizationSetKind) New() *v1alpha1.AuthorizationSet              { return &v1alpha1.AuthorizationSet{} }
func (authorizationSetKind) DefaultRefreshInterval() time.Duration        { return 10 * time.Minute }
func (authorizationSetKind) SecretName(*v1alpha1.AuthorizationSet) string { return "" }

func (authorizationSetKind) Fetch(ctx context.Context, c *cloudclient.Client, a *v1alpha1.AuthorizationSet) (*cloudclient.AuthorizationList, error) {
	return c.ListAuthorizations(ctx, a.Spec.SortBy, a.Spec.Order)
}

func (k authorizationSetKind) Apply(a *v1alpha1.AuthorizationSet, list *cloudclient.AuthorizationList, _ map[string][]byte, _ time.Time) Applied {
	limit := k.maxEntries
	if limit <= 0 {
		limit = DefaultMaxAuthorizations
	}
	items := list.Items
	total := max(list.TotalCount, int64(len(items)))
	truncated := len(items) > limit
	if truncated {
		items = items[:limit]
	}
	a.Status.TotalCount = ptr.To(total)
	a.Status.Authorizations = make([]v1alpha1.Authorization, 0, len(items))
	for _, it := range items {
		a.Status.Authorizations = append(a.Status.Authorizations, v1alpha1.Authorization{
			UserID: it.UserID, UserName: it.UserName, UserType: it.UserType,
			Type: it.Type, Content: it.Content, CreateTime: epochMillis(it.CreateTime),
		})
	}
	if truncated {
		setCondition(a, ConditionTruncated, metav1.ConditionTrue, "LimitReached",
			fmt.Sprintf("status holds the first %d of %d authorizations", limit, total))
	} else {
		setCondition(a, ConditionTruncated, metav1.ConditionFalse, "Complete", "status holds every authorization")
	}
	return Applied{}
}
