package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Defaults of the Provider's retry settings. One call with its retries takes at most MaxCallDuration
// (about 26 s with these), inside the deadline of a reconcile.
const (
	DefaultMaxRetries    = 3
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 2 * time.Second
	DefaultTryTimeout    = 5 * time.Second
)

// subscriptionsAPIVersion is the Microsoft.Resources api-version of Verify's subscription get.
const subscriptionsAPIVersion = "2022-12-01"

// Provider builds Azure Clients. The zero value is ready to use.
type Provider struct {
	// HTTPClient sends the requests, to Resource Manager and to Entra ID alike; nil means the SDK's
	// default. Tests set one that trusts the simulator's certificate.
	HTTPClient *http.Client
	// MaxRetries is how many times a request is retried (429, 5xx, 408, connection errors); 0 means
	// DefaultMaxRetries, negative none.
	MaxRetries int32
	// RetryDelay is the first backoff, doubled on each retry; 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// MaxRetryDelay caps the backoff, and a Retry-After beyond it is not waited for (the error goes to
	// the caller, which retries later); 0 means DefaultMaxRetryDelay.
	MaxRetryDelay time.Duration
	// TryTimeout bounds each attempt; 0 means DefaultTryTimeout.
	TryTimeout time.Duration
	// AuthorityHost, FOR TESTS ONLY, replaces the cloud's Microsoft Entra ID authority
	// (https://login.microsoftonline.com/ for AzurePublic), where the client secret or federated token
	// is sent, with a simulator's (https: MSAL takes nothing else); instance discovery is then off.
	// Empty, as in production, is the account's cloud's own authority: a CloudAccount's spec.azure.endpoint
	// never moves it, so whoever may edit a CloudAccount cannot send the secret to a process of their
	// choice.
	AuthorityHost string
}

// settings are the Provider's retry settings, defaults applied.
func (p *Provider) settings() policy.RetryOptions {
	o := policy.RetryOptions{MaxRetries: p.MaxRetries, RetryDelay: p.RetryDelay, MaxRetryDelay: p.MaxRetryDelay, TryTimeout: p.TryTimeout}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.TryTimeout <= 0 {
		o.TryTimeout = DefaultTryTimeout
	}
	return o
}

// MaxCallDuration is the longest one call can take with the Provider's settings: every attempt timing
// out, with the longest wait between them.
func (p *Provider) MaxCallDuration() time.Duration {
	o := p.settings()
	tries := max(o.MaxRetries, 0) + 1
	return time.Duration(tries)*o.TryTimeout + time.Duration(tries-1)*o.MaxRetryDelay
}

var _ cloud.Provider = (*Provider)(nil)

// Connect builds a Client for the account without calling Azure.
func (p *Provider) Connect(_ context.Context, account *v1alpha1.CloudAccount, creds cloud.Credentials) (cloud.Client, error) {
	const op = "Connect"
	if account == nil || account.Spec.Azure == nil {
		return nil, cloud.Invalid(op, "spec.azure is required for an azure account")
	}
	spec := account.Spec.Azure
	for field, v := range map[string]string{"subscriptionID": spec.SubscriptionID, "tenantID": spec.TenantID, "clientID": spec.ClientID, "resourceGroup": spec.ResourceGroup} {
		if v == "" {
			return nil, cloud.Invalid(op, "spec.azure."+field+" is required")
		}
	}
	env, loopback, err := environment(spec)
	if err != nil {
		return nil, err
	}
	testAuthority := p.AuthorityHost != ""
	if testAuthority {
		env.ActiveDirectoryAuthorityHost = strings.TrimSuffix(p.AuthorityHost, "/") + "/"
	}
	opts := policy.ClientOptions{
		Cloud: env,
		Retry: p.settings(),
		// Only a simulator on this machine may be spoken to without TLS; environment refused the rest.
		InsecureAllowCredentialWithHTTP: loopback && strings.HasPrefix(env.Services[azcloud.ResourceManager].Endpoint, "http://"),
		PerCallPolicies:                 []policy.Policy{countRequests{}},
		Logging:                         policy.LogOptions{IncludeBody: false},
	}
	if p.HTTPClient != nil {
		opts.Transport = p.HTTPClient
	}

	var cred azcore.TokenCredential
	if creds.Empty() {
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: spec.ClientID, TenantID: spec.TenantID, DisableInstanceDiscovery: testAuthority,
		})
	} else {
		secret := strings.TrimSpace(string(creds.Bytes()))
		cred, err = azidentity.NewClientSecretCredential(spec.TenantID, spec.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: opts, DisableInstanceDiscovery: testAuthority,
		})
	}
	if err != nil {
		return nil, &cloud.Error{Reason: cloud.InvalidRequest, Op: op, Err: err}
	}
	armOpts := &arm.ClientOptions{ClientOptions: opts}
	sets, err := armcompute.NewVirtualMachineScaleSetsClient(spec.SubscriptionID, cred, armOpts)
	if err != nil {
		return nil, wrap(op, err)
	}
	vms, err := armcompute.NewVirtualMachineScaleSetVMsClient(spec.SubscriptionID, cred, armOpts)
	if err != nil {
		return nil, wrap(op, err)
	}
	versions, err := armcompute.NewGalleryImageVersionsClient(spec.SubscriptionID, cred, armOpts)
	if err != nil {
		return nil, wrap(op, err)
	}
	raw, err := arm.NewClient("gennaker", "v0.1.0", cred, armOpts)
	if err != nil {
		return nil, wrap(op, err)
	}
	return &Client{
		subscription: spec.SubscriptionID, clientID: spec.ClientID, group: spec.ResourceGroup,
		sets: sets, vms: vms, versions: versions, raw: raw,
	}, nil
}

// environment is the account's Azure cloud, with its endpoint override for Resource Manager. An override
// must be https, or http to a loopback address. It never changes the Entra authority (see
// Provider.AuthorityHost).
func environment(spec *v1alpha1.AzureAccount) (azcloud.Configuration, bool, error) {
	const op = "Connect"
	var env azcloud.Configuration
	switch spec.Cloud {
	case "", v1alpha1.AzurePublic:
		env = azcloud.AzurePublic
	case v1alpha1.AzureChina:
		env = azcloud.AzureChina
	case v1alpha1.AzureUSGovernment:
		env = azcloud.AzureGovernment
	default:
		return env, false, cloud.Invalid(op, fmt.Sprintf("spec.azure.cloud %q is not one of AzurePublic, AzureChina, AzureUSGovernment", spec.Cloud))
	}
	if spec.Endpoint == "" {
		return env, false, nil
	}
	u, loopback, err := cloud.ParseEndpoint("spec.azure.endpoint", string(spec.Endpoint))
	if err != nil {
		return env, false, cloud.Invalid(op, err.Error())
	}
	endpoint := strings.TrimSuffix(u.String(), "/")
	services := map[azcloud.ServiceName]azcloud.ServiceConfiguration{}
	for k, v := range env.Services {
		services[k] = v
	}
	rm := services[azcloud.ResourceManager]
	rm.Endpoint = endpoint
	services[azcloud.ResourceManager] = rm
	env.Services = services
	return env, loopback, nil
}

// Client acts on one Azure account's resource group. It is safe for concurrent use.
type Client struct {
	subscription, clientID, group string

	sets *armcompute.VirtualMachineScaleSetsClient
	vms  *armcompute.VirtualMachineScaleSetVMsClient
	// versions reads compute gallery image versions, for machineImage triggers (images.go).
	versions *armcompute.GalleryImageVersionsClient
	raw      *arm.Client
}

var _ cloud.Client = (*Client)(nil)

// String describes the client without its credentials.
func (c *Client) String() string {
	return "azure.Client{subscription: " + c.subscription + ", resourceGroup: " + c.group + "}"
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Verify gets the account's subscription (a token from Entra ID, then one ARM read) and says which
// client acts in which subscription.
func (c *Client) Verify(ctx context.Context) (string, error) {
	const op = "Subscriptions.Get"
	ctx = context.WithValue(ctx, runtime.CtxAPINameKey{}, op)
	req, err := runtime.NewRequest(ctx, http.MethodGet, runtime.JoinPaths(c.raw.Endpoint(), "/subscriptions/"+url.PathEscape(c.subscription)))
	if err != nil {
		return "", wrap(op, err)
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", subscriptionsAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := c.raw.Pipeline().Do(req)
	if err != nil {
		return "", wrap(op, err)
	}
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return "", wrap(op, runtime.NewResponseError(resp))
	}
	var sub struct {
		DisplayName string `json:"displayName"`
		State       string `json:"state"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &sub); err != nil {
		return "", wrap(op, err)
	}
	if sub.State != "" && sub.State != "Enabled" {
		return "", &cloud.Error{Reason: cloud.AccessDenied, Op: op, Err: fmt.Errorf("subscription %s is %s", c.subscription, sub.State)}
	}
	return fmt.Sprintf("client %s in subscription %s (%s)", c.clientID, c.subscription, sub.DisplayName), nil
}

// countRequests records each call, after its retries, in gennaker_cloud_requests_total: it runs once per
// call, before the retry policy.
type countRequests struct{}

func (countRequests) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	name, _ := req.Raw().Context().Value(runtime.CtxAPINameKey{}).(string)
	if name == "" {
		name = req.Raw().Method + " poll"
	}
	if err == nil && resp.StatusCode >= 400 {
		cloud.ObserveRequest("azure", "compute", name, runtime.NewResponseError(resp), reasonOf)
	} else {
		cloud.ObserveRequest("azure", "compute", name, err, reasonOf)
	}
	return resp, err
}

// tokenType is the result type a poller resume token was made for, which says what started it.
func tokenType(token string) string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal([]byte(token), &t)
	return t.Type
}
