// Package controllers wires one reconciler per Gennaker kind into a manager. The reconcilers live in
// the subpackages named after their kind; engine/, stages/ and cloud/ hold what they share.
package controllers

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
	azurecloud "github.com/gennaker/gennaker/controllers/cloud/azure"
	gcpcloud "github.com/gennaker/gennaker/controllers/cloud/gcp"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/execution"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/pipeline"
	"github.com/gennaker/gennaker/controllers/servergroup"
	"github.com/gennaker/gennaker/controllers/stages"
	"github.com/gennaker/gennaker/controllers/trigger"
)

// Options tune the reconcilers; the zero value is what the operator ships with.
type Options struct {
	// Providers are the clouds, by name; nil means every cloud this version supports.
	Providers map[v1alpha1.Provider]cloud.Provider
	// ServerGroupPoll is how often a converging server group is looked at (default 5s).
	ServerGroupPoll time.Duration
	// ServerGroupResync is how often a converged server group is looked at, so that a change made in the
	// cloud shows (default 5m).
	ServerGroupResync time.Duration
	// CloudMaxBackoff bounds the wait after a transient cloud error (default 1m).
	CloudMaxBackoff time.Duration
	// CloudSlowBackoff is the first wait after a cloud error only a person can fix, such as AccessDenied
	// or NotOwned; it doubles up to 20 times that (default 30s, up to 10m).
	CloudSlowBackoff time.Duration
	// CloudTimeout bounds the cloud calls of one ServerGroup or CloudAccount reconcile (default 30s).
	CloudTimeout time.Duration
	// CloudOperationTimeout is how long a long-running cloud operation is waited for before the group is
	// observed afresh (default servergroup.DefaultOperationTimeout).
	CloudOperationTimeout time.Duration
	// ExecutionWorkers is how many Executions are reconciled at once (default execution.DefaultWorkers).
	ExecutionWorkers int
	// ServerGroupWorkers is how many ServerGroups are reconciled at once (default
	// servergroup.DefaultWorkers).
	ServerGroupWorkers int
	// WebhookProxy, if set, is the proxy every webhook stage's request goes through; the proxy environment
	// variables are never used for them (see stages.NewWebhookClient).
	WebhookProxy *url.URL
	// WebhookTimeout bounds each webhook stage request, reading the answer included (default
	// remote.DefaultTimeout, 30s).
	WebhookTimeout time.Duration
	// TriggerListener, if set, is where the webhook triggers' endpoint (/triggers/<namespace>/<pipeline>/
	// <trigger>) is served; nil turns it off.
	TriggerListener net.Listener
	// RegistryTransport reaches the container registries of image triggers (default: the webhook stages'
	// transport without a proxy, which refuses link-local and cloud metadata addresses at dial time and
	// ignores the proxy environment, since a Pipeline's author names the registry, and the registry its
	// redirects and token realm).
	RegistryTransport http.RoundTripper
	// TriggerMaxBody bounds a webhook trigger call's body (default trigger.DefaultMaxBody, 1 MiB).
	TriggerMaxBody int64
	// TriggerMaxInFlight bounds the webhook trigger calls served at once (default
	// trigger.DefaultMaxInFlight); beyond it a call gets 503.
	TriggerMaxInFlight int
	// TriggerReadTimeout bounds reading a webhook trigger call, its body included (default
	// trigger.ServerReadTimeout); a caller on a slow link with large bodies may need more.
	TriggerReadTimeout time.Duration
	// Sharded says the manager's cache holds only its shard's objects (WithWatchSelector). CloudAccounts
	// are shared by the shards, so their ServerGroups are then counted from the API server.
	Sharded bool
	// SkipCloudAccounts leaves CloudAccounts (their checks, usage and finalizer) to another manager: with
	// shards, exactly one looks after them, so that no account is checked once per shard.
	SkipCloudAccounts bool
}

// Providers returns every cloud this version supports, with the SDKs' default settings.
func Providers() map[v1alpha1.Provider]cloud.Provider {
	return map[v1alpha1.Provider]cloud.Provider{
		v1alpha1.ProviderAWS:   &awscloud.Provider{},
		v1alpha1.ProviderAzure: &azurecloud.Provider{},
		v1alpha1.ProviderGCP:   &gcpcloud.Provider{},
	}
}

// SetupWithManager registers every reconciler with mgr. The manager binary and the tests both call it,
// so the tests run exactly what ships.
func SetupWithManager(mgr ctrl.Manager, o Options) error {
	if err := index.Setup(context.Background(), mgr); err != nil {
		return err
	}
	if o.RegistryTransport == nil {
		o.RegistryTransport = stages.NewWebhookClient(nil).Transport
	}
	if o.Providers == nil {
		o.Providers = Providers()
	}
	c := mgr.GetClient()
	// One client cache for both reconcilers: the account's check and its groups share connections and
	// an assumed role's session.
	clients := &cloud.Clients{Reader: c, APIReader: mgr.GetAPIReader(), Providers: o.Providers}
	reconcilers := []interface{ SetupWithManager(ctrl.Manager) error }{
		&servergroup.Reconciler{Client: c, Clients: clients, Poll: o.ServerGroupPoll, Resync: o.ServerGroupResync, MaxBackoff: o.CloudMaxBackoff,
			SlowBackoff: o.CloudSlowBackoff, Timeout: o.CloudTimeout, OperationTimeout: o.CloudOperationTimeout, Workers: o.ServerGroupWorkers},
		&pipeline.Reconciler{Client: c, Images: &trigger.Images{Cache: c, Secrets: mgr.GetAPIReader(), Transport: o.RegistryTransport, Clouds: clients}},
		execution.New(mgr, o.ExecutionWorkers, execution.WithWebhookHTTP(stages.NewWebhookClient(o.WebhookProxy)),
			func(d *stages.Deps) { d.WebhookTimeout = o.WebhookTimeout }),
	}
	if !o.SkipCloudAccounts {
		accounts := &cloudaccount.Reconciler{Client: c, Clients: clients, MaxBackoff: o.CloudMaxBackoff, SlowBackoff: o.CloudSlowBackoff, Timeout: o.CloudTimeout}
		if o.Sharded {
			accounts.EveryShard = mgr.GetAPIReader()
		}
		reconcilers = append(reconcilers, accounts)
	}
	for _, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if o.TriggerListener != nil {
		hooks := &trigger.Webhooks{Client: c, Secrets: mgr.GetAPIReader(), MaxBody: o.TriggerMaxBody,
			Recorder: mgr.GetEventRecorder("webhook-trigger")}
		server := &trigger.Server{Listener: o.TriggerListener, Handler: hooks.Handler(),
			MaxInFlight: o.TriggerMaxInFlight, ReadTimeout: o.TriggerReadTimeout}
		if err := mgr.Add(server); err != nil {
			return err
		}
	}
	return nil
}
