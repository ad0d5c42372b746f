package controller

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// ServiceAccountTokens asks the API server for ServiceAccount tokens through
// the TokenRequest API (serviceaccounts/token, create): the operator's only
// permission on ServiceAccounts. A token the API server itself would accept
// is refused (TokenReview). The token is handed to IAM and never kept.
// Errors are fixed texts that name no token.
func ServiceAccountTokens(clientset kubernetes.Interface) cloudclient.ServiceAccountTokenFunc {
	return func(ctx context.Context, namespace, name, audience string, expirationSeconds int64) (string, error) {
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			Audiences:         []string{audience},
			ExpirationSeconds: &expirationSeconds,
		}}
		resp, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
		switch {
		case err == nil:
			return refuseAPIAudience(ctx, clientset, namespace, name, resp.Status.Token)
		case apierrors.IsNotFound(err):
			return "", &cloudclient.Error{API: cloudclient.APIServiceAccountToken, Reason: cloudclient.ReasonNotFound,
				Message: "ServiceAccount " + namespace + "/" + name + " not found"}
		case apierrors.IsForbidden(err):
			return "", &cloudclient.Error{API: cloudclient.APIServiceAccountToken, Reason: cloudclient.ReasonForbidden,
				Message: "the operator may not create tokens for ServiceAccount " + namespace + "/" + name}
		default:
			return "", &cloudclient.Error{API: cloudclient.APIServiceAccountToken, Reason: cloudclient.ReasonCloudError,
				Message: "the TokenRequest for ServiceAccount " + namespace + "/" + name + " failed", Err: err}
		}
	}
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create

// refuseAPIAudience returns token unless the Kubernetes API server itself
// accepts it (a TokenReview with no audiences checks the API server's own):
// an account's audience must never make the operator hand a credential for
// the cluster to a cloud endpoint, which a user may have overridden.
func refuseAPIAudience(ctx context.Context, clientset kubernetes.Interface, namespace, name, token string) (string, error) {
	review, err := clientset.AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return "", &cloudclient.Error{API: cloudclient.APIServiceAccountToken, Reason: cloudclient.ReasonCloudError,
			Message: "the TokenReview of the ServiceAccount token failed", Err: err}
	}
	if review.Status.Authenticated {
		return "", &cloudclient.Error{API: cloudclient.APIServiceAccountToken, Reason: cloudclient.ReasonForbidden,
			Message: "the audience of ServiceAccount " + namespace + "/" + name + "'s token is accepted by the Kubernetes API server; choose the identity provider's own client ID"}
	}
	return token, nil
}
