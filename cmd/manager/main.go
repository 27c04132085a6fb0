// Command manager runs the Gennaker controllers: one reconciler per kind, leader-elected, with health and
// readiness probes and Prometheus metrics on the controller-runtime registry.
package main

import (
	"errors"
	"flag"
	"net"
	"net/url"
	"os"
	"time"
	_ "time/tzdata" // time zones of cron triggers and windows, also where the image has no zoneinfo

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	azurecloud "github.com/gennaker/gennaker/controllers/cloud/azure"
	"github.com/gennaker/gennaker/controllers/execution"
	"github.com/gennaker/gennaker/controllers/remote"
	"github.com/gennaker/gennaker/controllers/servergroup"
	"github.com/gennaker/gennaker/controllers/trigger"
)

func main() {
	var (
		metricsAddr, probeAddr, leaderNamespace string
		leaderID                                string
		leaderLease, leaderRenew, leaderRetry   time.Duration
		watchSelector                           labels.Selector
		triggerAddr                             string
		leaderElect, secureMetrics              bool
		o                                       controllers.Options
		hooks                                   webhookFlags
	)
	flag.IntVar(&o.ExecutionWorkers, "execution-workers", execution.DefaultWorkers,
		"How many Executions are reconciled at once.")
	flag.IntVar(&o.ServerGroupWorkers, "server-group-workers", servergroup.DefaultWorkers,
		"How many ServerGroups are reconciled at once (each reconcile waits on the cloud's API).")
	flag.DurationVar(&o.CloudTimeout, "cloud-timeout", 0,
		"Bound on the cloud calls of one ServerGroup or CloudAccount reconcile (0: 30s).")
	flag.DurationVar(&o.CloudOperationTimeout, "cloud-operation-timeout", 0,
		"How long a long-running cloud operation (GCP, Azure) is waited for before the server group is observed afresh (0: 1h).")
	flag.DurationVar(&o.CloudSlowBackoff, "cloud-slow-backoff", 0,
		"First wait before retrying a cloud error only a person can fix, such as AccessDenied or NotOwned; it doubles up to 20 times that (0: 30s).")
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0",
		"Address of the Prometheus metrics endpoint, such as :8443 (https) or :8080 (http); 0 turns it off.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over https, authenticated and authorized through the API server (TokenReview, SubjectAccessReview).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&leaderElect, "leader-elect", false,
		"Elect a leader, so that only one of several manager replicas reconciles at a time.")
	flag.StringVar(&leaderNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease; defaults to the pod's namespace, and is required outside a cluster.")
	flag.StringVar(&leaderID, "leader-election-id", "gennaker.delivery.gennaker.io",
		"Name of the leader election Lease: each shard (--watch-label-selector) needs its own.")
	flag.DurationVar(&leaderLease, "leader-election-lease-duration", 15*time.Second,
		"How long a leader that stops renewing (killed, cut off) keeps the lease before another replica takes over.")
	flag.DurationVar(&leaderRenew, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader tries to renew before it gives up leading and exits; less than the lease duration.")
	flag.DurationVar(&leaderRetry, "leader-election-retry-period", 2*time.Second,
		"How often replicas try to take or renew the lease.")
	flag.Func("watch-label-selector",
		"Label selector of the Pipelines, Executions and ServerGroups this manager looks after, such as "+
			"'sharding.gennaker.io/key in (shard1)' or '!sharding.gennaker.io/key'; empty: all of them. "+
			"Each shard runs as its own Deployment with its own --leader-election-id.",
		func(v string) (err error) {
			watchSelector, err = labels.Parse(v)
			return err
		})
	cloudAccounts := true
	flag.BoolVar(&cloudAccounts, "cloud-accounts", true,
		"Look after CloudAccounts: check their credentials, count their ServerGroups (across shards) and hold them while any is used. With shards, leave it on in exactly one and set --cloud-accounts=false in the others.")
	flag.BoolVar(&hooks.selfSigned, "webhook-self-signed", false,
		"Make a CA and a serving certificate for 127.0.0.1 at start and create or update the webhook configurations with url https://127.0.0.1:<webhook-port> and that CA (make dev, a bare API server); needs the RBAC of config/selfsigned. In a cluster, cert-manager and config/default do this.")
	flag.IntVar(&hooks.port, "webhook-port", webhook.DefaultPort, "Port of the admission webhooks' https server.")
	flag.StringVar(&hooks.certDir, "webhook-cert-dir", "",
		"Folder of the webhook server's tls.crt and tls.key (default: controller-runtime's, where config/default mounts cert-manager's certificate; with --webhook-self-signed, a new temporary folder, written at start).")
	flag.DurationVar(&o.WebhookTimeout, "webhook-timeout", remote.DefaultTimeout,
		"Bound on each webhook stage request, the answer's body included; a call not answered within it fails its stage, a poll is made again at the next poll time.")
	flag.Func("webhook-proxy",
		"URL of an http(s) proxy that every webhook stage's request goes through; the proxy must enforce its own egress rules (the operator only refuses metadata and link-local addresses for the proxy itself). Without it webhook stages connect directly: HTTPS_PROXY, HTTP_PROXY and NO_PROXY are ignored for them.",
		func(v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("must be an absolute http or https URL") // the URL may hold credentials: not quoted
			}
			o.WebhookProxy = u
			return nil
		})
	flag.StringVar(&triggerAddr, "trigger-bind-address", "",
		"Address of the webhook triggers' http endpoint, /triggers/<namespace>/<pipeline>/<trigger>, such as :8082; empty turns it off. Calls are authenticated by their HMAC signature; put TLS in front of it (an Ingress) to keep payloads private.")
	flag.Int64Var(&o.TriggerMaxBody, "trigger-max-body", trigger.DefaultMaxBody, "Largest body a webhook trigger call may have, in bytes.")
	flag.IntVar(&o.TriggerMaxInFlight, "trigger-max-in-flight", trigger.DefaultMaxInFlight,
		"Webhook trigger calls served at once; beyond it a call gets 503 with Retry-After. Each may hold a body of --trigger-max-body in memory. Zero means the default.")
	flag.DurationVar(&o.TriggerReadTimeout, "trigger-read-timeout", trigger.ServerReadTimeout,
		"Time a webhook trigger call has to send its headers and body (the headers alone get at most 5s of it); the answer must be written within this plus 15s. Zero means the default.")
	opts := zap.Options{}
	var azureAuthority string
	flag.StringVar(&azureAuthority, "azure-authority-host-for-tests", "",
		"TESTS ONLY: the https URL of a Microsoft Entra ID simulator that gets every Azure account's credentials "+
			"instead of the account's cloud's authority (make dev sets it to the Azure simulator's). Never set it in production.")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if azureAuthority != "" {
		o.Providers = controllers.Providers()
		o.Providers[v1alpha1.ProviderAzure] = &azurecloud.Provider{AuthorityHost: azureAuthority}
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	webhookServer, err := hooks.server()
	if err != nil {
		log.Error(err, "unable to set up the webhook server")
		os.Exit(1)
	}
	if triggerAddr != "" {
		if o.TriggerListener, err = net.Listen("tcp", triggerAddr); err != nil {
			log.Error(err, "unable to listen for webhook triggers", "address", triggerAddr)
			os.Exit(1)
		}
	}
	o.Sharded = watchSelector != nil && !watchSelector.Empty()
	o.SkipCloudAccounts = !cloudAccounts
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		WebhookServer:                 webhookServer,
		Scheme:                        scheme,
		Cache:                         controllers.WithWatchSelector(controllers.CacheOptions(), watchSelector),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              leaderID,
		LeaderElectionNamespace:       leaderNamespace,
		LeaseDuration:                 &leaderLease,
		RenewDeadline:                 &leaderRenew,
		RetryPeriod:                   &leaderRetry,
		LeaderElectionReleaseOnCancel: true, // a stopped manager hands over at once instead of after the lease expires
	})
	if err != nil {
		hooks.cleanup()
		log.Error(err, "unable to create the manager")
		os.Exit(1)
	}
	if err := controllers.SetupWithManager(mgr, o); err != nil {
		hooks.cleanup()
		log.Error(err, "unable to set up the controllers")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	if err := hooks.setup(ctx, mgr, scheme); err != nil {
		hooks.cleanup()
		log.Error(err, "unable to set up the admission webhooks")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info("starting the manager", "watchLabelSelector", selectorString(watchSelector), "cloudAccounts", cloudAccounts, "leaderElection", leaderElect, "leaseName", leaderID)
	err = mgr.Start(ctx)
	hooks.cleanup() // the self-signed key does not outlive the manager
	if err != nil {
		log.Error(err, "the manager stopped with an error")
		os.Exit(1)
	}
}

// selectorString is how the log shows a selector; nil is everything.
func selectorString(sel labels.Selector) string {
	if sel == nil || sel.Empty() {
		return "everything"
	}
	return sel.String()
}
