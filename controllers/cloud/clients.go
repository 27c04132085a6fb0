package cloud

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Clients builds a Client per CloudAccount and keeps it while neither the account's spec nor its Secret
// changes: SDK clients hold connection pools and credential caches (an assumed role's session) that are
// worth keeping across reconciles, and a rotated key must take effect without a restart.
type Clients struct {
	// Reader reads Secrets' metadata from the manager's cache: a metadata-only informer, so no Secret's
	// data is ever cached by the operator.
	Reader client.Reader
	// APIReader reads a Secret's data from the API server, only when its resourceVersion changed.
	APIReader client.Reader
	// Providers by cloud; a CloudAccount of a cloud without one is reported as not supported.
	Providers map[v1alpha1.Provider]Provider

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	version string
	client  Client
}

// For returns the client of account.
func (c *Clients) For(ctx context.Context, account *v1alpha1.CloudAccount) (Client, error) {
	p, ok := c.Providers[account.Spec.Provider]
	if !ok {
		return nil, &Error{Reason: ReasonProviderUnsupported, Op: "Connect",
			Err: fmt.Errorf("provider %s is not supported by this version of the operator", account.Spec.Provider)}
	}
	version, err := c.Version(ctx, account)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	if e, ok := c.cache[account.Name]; ok && e.version == version {
		c.mu.Unlock()
		return e.client, nil
	}
	c.mu.Unlock()

	creds, err := c.credentials(ctx, account)
	if err != nil {
		return nil, err
	}
	cl, err := p.Connect(ctx, account, creds)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidCredentials, Op: "Connect", Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = map[string]cached{}
	}
	c.cache[account.Name] = cached{version: version, client: cl}
	return cl, nil
}

// Version identifies what a client of the account is built from: the account's UID and generation, and
// the resourceVersion of its Secret (read from the cache's metadata). A change of Version is a change of
// credentials or settings. A Secret that cannot be read is an error naming it.
func (c *Clients) Version(ctx context.Context, account *v1alpha1.CloudAccount) (string, error) {
	version := string(account.UID) + "/" + strconv.FormatInt(account.Generation, 10)
	ref := account.Spec.Credentials.SecretRef
	if account.Spec.Credentials.Source == v1alpha1.CredentialSourceSecret && ref != nil {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := c.Reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, meta); err != nil {
			return "", secretError(ref, err)
		}
		version += "/" + meta.ResourceVersion
	}
	return version, nil
}

// Forget drops the client of a deleted account.
func (c *Clients) Forget(account string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cache, account)
}
