package cloud

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Credentials are the bytes of a Secret-sourced account's key: an AWS credentials block, a GCP
// service-account key, an Azure client secret. They print as [redacted], so no log line, error or
// status can carry them by accident.
type Credentials struct{ secret []byte }

// NewCredentials wraps a Secret's value.
func NewCredentials(b []byte) Credentials { return Credentials{secret: b} }

// Bytes returns the secret. Only a Provider reads it.
func (c Credentials) Bytes() []byte { return c.secret }

// Empty says there is no secret: a Workload account.
func (c Credentials) Empty() bool { return len(c.secret) == 0 }

// String hides the secret from fmt's %v and %s.
func (Credentials) String() string { return "[redacted]" }

// GoString hides the secret from fmt's %#v.
func (Credentials) GoString() string { return "[redacted]" }

// Reasons a CloudAccount's credentials cannot be resolved, before any cloud call.
const (
	ReasonSecretNotFound      Reason = "SecretNotFound"
	ReasonSecretKeyNotFound   Reason = "SecretKeyNotFound"
	ReasonInvalidCredentials  Reason = "InvalidCredentials"
	ReasonProviderUnsupported Reason = "ProviderNotSupported"
)

// credentials reads the account's Secret key; a Workload account has none.
func (c *Clients) credentials(ctx context.Context, account *v1alpha1.CloudAccount) (Credentials, error) {
	ref := account.Spec.Credentials.SecretRef
	if account.Spec.Credentials.Source != v1alpha1.CredentialSourceSecret || ref == nil {
		return Credentials{}, nil
	}
	var s corev1.Secret
	if err := c.APIReader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
		return Credentials{}, secretError(ref, err)
	}
	b, ok := s.Data[ref.Key]
	if !ok || len(b) == 0 {
		return Credentials{}, &Error{Reason: ReasonSecretKeyNotFound, Op: "ReadSecret",
			Err: fmt.Errorf("secret %s/%s has no key %q (spec.credentials.secretRef.key)", ref.Namespace, ref.Name, ref.Key)}
	}
	return NewCredentials(b), nil
}

// secretError names the Secret and the field that points at it, never its content.
func secretError(ref *v1alpha1.SecretKeyRef, err error) error {
	if apierrors.IsNotFound(err) {
		return &Error{Reason: ReasonSecretNotFound, Op: "ReadSecret",
			Err: fmt.Errorf("secret %s/%s not found (spec.credentials.secretRef)", ref.Namespace, ref.Name)}
	}
	return &Error{Reason: Unknown, Op: "ReadSecret", Err: fmt.Errorf("reading secret %s/%s: %w", ref.Namespace, ref.Name, err)}
}
