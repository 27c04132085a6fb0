package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/impersonate"
	"cloud.google.com/go/auth/httptransport"
	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Defaults of the Provider's retry settings, as the AWS provider's: one call with its retries takes at
// most MaxCallDuration, inside the deadline of a reconcile.
const (
	DefaultMaxAttempts    = 4
	DefaultMaxBackoff     = 2 * time.Second
	DefaultAttemptTimeout = 5 * time.Second
)

// DefaultEndpoint is the Compute Engine API's.
const DefaultEndpoint = "https://compute.googleapis.com"

// Scope is the OAuth scope the operator asks for: Compute Engine only.
const Scope = "https://www.googleapis.com/auth/compute"

// Provider builds GCP Clients. The zero value is ready to use.
type Provider struct {
	// HTTPClient's transport carries the requests (compute, token and impersonation calls); nil means
	// http.DefaultTransport.
	HTTPClient *http.Client
	// MaxAttempts is how many times a request is tried on 429 and 5xx answers; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the backoff between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// AttemptTimeout bounds each HTTP attempt; 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// IAMCredentialsEndpoint replaces https://iamcredentials.googleapis.com, where impersonation gets its
	// tokens and which the auth library does not let an option change: for tests against a simulator.
	IAMCredentialsEndpoint string
}

// MaxCallDuration is the longest one call can take: every attempt timing out, with the longest backoff
// between them.
func (p *Provider) MaxCallDuration() time.Duration {
	attempts, backoff, timeout := p.settings()
	return time.Duration(attempts)*timeout + time.Duration(attempts-1)*backoff
}

func (p *Provider) settings() (attempts int, backoff, timeout time.Duration) {
	attempts, backoff, timeout = p.MaxAttempts, p.MaxBackoff, p.AttemptTimeout
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	return attempts, backoff, timeout
}

var _ cloud.Provider = (*Provider)(nil)

// serviceAccountKey is what Connect reads of a service-account JSON key before the auth library does,
// to name what is wrong without quoting it. It has no String method: nothing formats it.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// checkURL refuses a URL the operator would send a token or a signed key assertion to in the clear.
func checkURL(field, raw string) error {
	if _, _, err := cloud.ParseEndpoint(field, raw); err != nil {
		return cloud.Invalid("Connect", err.Error())
	}
	return nil
}

// Connect builds a Client for the account without calling Compute Engine: a Secret account's key is a
// service-account JSON key, a Workload account uses Application Default Credentials (GKE workload
// identity), and impersonateServiceAccount impersonates on top of either.
func (p *Provider) Connect(ctx context.Context, account *v1alpha1.CloudAccount, creds cloud.Credentials) (cloud.Client, error) {
	const op = "Connect"
	if account == nil || account.Spec.GCP == nil {
		return nil, cloud.Invalid(op, "spec.gcp is required for a gcp account")
	}
	spec := account.Spec.GCP
	if spec.Project == "" {
		return nil, cloud.Invalid(op, "spec.gcp.project is required")
	}
	if spec.Endpoint != "" {
		if err := checkURL("spec.gcp.endpoint", string(spec.Endpoint)); err != nil {
			return nil, err
		}
	}
	attempts, backoff, timeout := p.settings()
	base := http.DefaultTransport
	if p.HTTPClient != nil && p.HTTPClient.Transport != nil {
		base = p.HTTPClient.Transport
	}
	tokenClient := &http.Client{Transport: base, Timeout: timeout}

	var ac *auth.Credentials
	identity := "Application Default Credentials"
	var err error
	if creds.Empty() {
		ac, err = credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{Scope}, Client: tokenClient})
		if err != nil {
			return nil, &cloud.Error{Reason: cloud.ReasonInvalidCredentials, Op: op, Err: errors.New("no Application Default Credentials: " + err.Error())}
		}
	} else {
		var key serviceAccountKey
		if err := json.Unmarshal(creds.Bytes(), &key); err != nil {
			return nil, cloud.Invalid(op, "the Secret's key is not a service-account JSON key: it is not JSON")
		}
		switch {
		case key.Type != "service_account":
			return nil, cloud.Invalid(op, "the Secret's key is not a service-account JSON key: its type is not service_account")
		case key.ClientEmail == "" || key.PrivateKey == "":
			return nil, cloud.Invalid(op, "the Secret's service-account key has no client_email or no private_key")
		}
		if key.TokenURI != "" {
			if err := checkURL("the Secret's service-account key's token_uri", key.TokenURI); err != nil {
				return nil, err
			}
		}
		identity = key.ClientEmail
		ac, err = credentials.NewCredentialsFromJSON(credentials.ServiceAccount, creds.Bytes(),
			&credentials.DetectOptions{Scopes: []string{Scope}, Client: tokenClient})
		if err != nil {
			return nil, cloud.Invalid(op, "the Secret's service-account key cannot be used: "+redactKeyError(err))
		}
	}
	if sa := spec.ImpersonateServiceAccount; sa != "" {
		iam, err := p.authorized(ac, base, timeout, p.IAMCredentialsEndpoint)
		if err != nil {
			return nil, wrap(op, err)
		}
		ac, err = impersonate.NewCredentials(&impersonate.CredentialsOptions{TargetPrincipal: sa, Scopes: []string{Scope}, Client: iam})
		if err != nil {
			return nil, cloud.Invalid(op, "spec.gcp.impersonateServiceAccount: "+err.Error())
		}
		identity = sa
	}
	hc, err := p.authorized(ac, base, timeout, "")
	if err != nil {
		return nil, wrap(op, err)
	}

	endpoint := DefaultEndpoint
	if spec.Endpoint != "" {
		endpoint = strings.TrimSuffix(string(spec.Endpoint), "/")
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc), option.WithEndpoint(endpoint)}
	c := &Client{project: spec.Project, identity: identity, reported: map[string]bool{}, last: map[string]requestLink{},
		callOpts: []gax.CallOption{gax.WithRetry(func() gax.Retryer {
			return &retryer{left: attempts - 1, backoff: gax.Backoff{Initial: 100 * time.Millisecond, Max: backoff, Multiplier: 2}}
		})}}
	// No constructor below calls the API: each only builds a REST client on hc.
	if c.projects, err = compute.NewProjectsRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.templates, err = compute.NewInstanceTemplatesRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.regionMIGs, err = compute.NewRegionInstanceGroupManagersRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.zoneMIGs, err = compute.NewInstanceGroupManagersRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.backends, err = compute.NewBackendServicesRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.images, err = compute.NewImagesRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	if c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...); err != nil {
		return nil, wrap(op, err)
	}
	return c, nil
}

// authorized is an HTTP client that sends ac's token with every request, each attempt bounded by timeout.
// A non-empty iamEndpoint takes the requests meant for IAM Credentials.
func (p *Provider) authorized(ac *auth.Credentials, base http.RoundTripper, timeout time.Duration, iamEndpoint string) (*http.Client, error) {
	if iamEndpoint != "" {
		u, err := url.Parse(iamEndpoint)
		if err != nil {
			return nil, cloud.Invalid("Connect", "the IAM Credentials endpoint is not a URL")
		}
		base = redirect{to: u, next: base}
	}
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials:      ac,
		BaseRoundTripper: base,
		// The account's endpoint is checked by the CloudAccount's schema; the universe check would ask the
		// metadata server for every Workload account.
		InternalOptions: &httptransport.InternalOptions{SkipUniverseDomainValidation: true},
	})
	if err != nil {
		return nil, err
	}
	hc.Timeout = timeout
	return hc, nil
}

// redirect sends the requests for iamcredentials.googleapis.com to another endpoint.
type redirect struct {
	to   *url.URL
	next http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "iamcredentials.googleapis.com" {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host, req.Host = r.to.Scheme, r.to.Host, r.to.Host
	}
	return r.next.RoundTrip(req)
}

// redactKeyError keeps the auth library's words about a key, which name fields, not values; anything
// that looks like PEM is cut.
func redactKeyError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "-----"); i >= 0 {
		msg = msg[:i] + "[redacted]"
	}
	return msg
}

// Client acts on one GCP project's server groups. It is safe for concurrent use.
type Client struct {
	project  string
	identity string
	callOpts []gax.CallOption

	projects   *compute.ProjectsClient
	templates  *compute.InstanceTemplatesClient
	regionMIGs *compute.RegionInstanceGroupManagersClient
	zoneMIGs   *compute.InstanceGroupManagersClient
	backends   *compute.BackendServicesClient
	images     *compute.ImagesClient // read by MachineImages (images.go)
	globalOps  *compute.GlobalOperationsClient
	regionOps  *compute.RegionOperationsClient
	zoneOps    *compute.ZoneOperationsClient

	mu sync.Mutex
	// reported holds the selfLinks of the failed operations Operation has reported, so that an insert or
	// delete answered with one again goes on to the next requestId (see call) instead of reporting it
	// once more.
	reported map[string]bool
	// last holds, by ServerGroup UID, action and object, the requestId call last used and the operation
	// it was answered with, where the next call starts walking the chain; a new process starts at its head.
	last map[string]requestLink
}

type requestLink struct{ requestID, operation string }

var _ cloud.Client = (*Client)(nil)

// String describes the client without its credentials.
func (c *Client) String() string { return "gcp.Client{project: " + c.project + "}" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Verify reads the project (projects.get) and says whom the account acts as.
func (c *Client) Verify(ctx context.Context) (string, error) {
	_, err := c.projects.Get(ctx, &computepb.GetProjectRequest{Project: c.project}, c.callOpts...)
	if err := c.done("projects.get", err); err != nil {
		return "", err
	}
	return c.identity, nil
}

// done records a call in the request metrics and classifies its error.
func (c *Client) done(op string, err error) error {
	cloud.ObserveRequest("gcp", "compute", op, err, reasonOf)
	return wrap(op, err)
}

// retryer retries 429 and 5xx answers with exponential backoff, a few times: the SDK retries only Gets
// on 503/504 by default, and for up to ten minutes.
type retryer struct {
	left    int
	backoff gax.Backoff
}

func (r *retryer) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	switch code := httpCode(err); {
	case code == http.StatusTooManyRequests, code >= 500:
		r.left--
		return r.backoff.Pause(), true
	}
	return 0, false
}
