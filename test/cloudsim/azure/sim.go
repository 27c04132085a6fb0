// Package azure is a TEST DOUBLE for the part of Azure Resource Manager gennaker uses. It is not Azure, it
// does not talk to Azure, and passing tests against it proves only that code behaves against this model
// of Azure.
//
// A *Sim is an http.Handler that speaks ARM's wire protocol: JSON resources under
// /subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.Compute/..., the api-version query
// parameter (APIVersion, that of armcompute/v8), {"error":{"code","message"}} errors, and the
// long-running operation protocol: a mutation answers 201 (PUT), 200 (PATCH) or 202 (DELETE, POST) with
// Azure-AsyncOperation, Location and Retry-After headers, and the operation it names is InProgress, then
// Succeeded or Failed. It also serves, on the same address, the Microsoft Entra ID endpoints a
// client-secret or workload-identity credential of azidentity uses (OpenID configuration and the token
// endpoint), and every ARM request must carry a bearer token it issued. MSAL insists on https for the
// authority, so serve the Sim over TLS (httptest.NewTLSServer) and trust its certificate.
//
// What is modelled:
//   - a subscription get (the CloudAccount's readiness call);
//   - virtual machine scale sets: PUT (create or replace, If-None-Match: * refused with 412 when the set
//     exists), PATCH (a JSON merge of the body, lists replaced whole), GET, DELETE, and POST manualupgrade
//     (updateInstances); an etag that changes with every write, and If-Match on PUT and PATCH refused
//     with 412 when it is not the current one (SetTag writes as someone else would); tags (names
//     checked as Azure does); sku.capacity drives instances;
//   - their virtual machines, listed with $expand=instanceView: provisioningState Creating -> Succeeded
//     after ProvisionDelay, the Application Health extension's vmHealth Initializing -> Healthy after
//     HealthyDelay (no vmHealth without the extension), PowerState/running once provisioned and
//     PowerState/deallocated (and unhealthy) once StopInstance stopped it, latestModelApplied and the
//     NIC configuration each instance actually runs with, which changes only when manualupgrade applies
//     the model to it;
//   - load balancer backend pools made up front with AddBackendPool: a NIC IP configuration naming any
//     other pool is refused; PoolMembers says which instances a pool holds;
//   - a mutation while another operation of the same scale set is in progress is refused with 409;
//   - compute gallery image versions, listed a few a page (images.go), seeded with AddImage;
//   - faults on demand (Inject): throttling with Retry-After, server errors, conflicts, and operations that
//     end Failed.
//
// What is not: everything else, including token signatures (a token is an opaque random string the Sim
// issued), role assignments, autoscale settings, rolling upgrades, zones and fault domains, flexible
// orchestration, and any resource but scale sets, their instances and gallery image versions.
//
// Time never passes on its own: every request (and every inspection method) first brings the model up to
// Options.Now, so a test that drives a fake clock gets deterministic results.
package azure

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// APIVersion is the Microsoft.Compute api-version the Sim serves (armcompute/v8's).
const APIVersion = "2026-04-01"

// Defaults applied by New for zero Options fields; a negative delay means none.
const (
	DefaultSubscriptionID = "00000000-0000-0000-0000-00000000a2e0"
	DefaultTenantID       = "00000000-0000-0000-0000-0000000e7e00"
	DefaultResourceGroup  = "gennaker"
	DefaultProvisionDelay = 2 * time.Second
	DefaultHealthyDelay   = 2 * time.Second
	DefaultDeleteDelay    = 2 * time.Second
	DefaultOperationDelay = time.Second
	DefaultRetryAfter     = time.Second
)

// Options configures a Sim.
type Options struct {
	// SubscriptionID is the one subscription the Sim has.
	SubscriptionID string
	// TenantID is the Entra tenant that issues tokens.
	TenantID string
	// ResourceGroups that exist; default DefaultResourceGroup.
	ResourceGroups []string
	// Clients maps application (client) IDs to their client secrets.
	Clients map[string]string
	// Federated maps client IDs to the one federated token (the JWT a workload identity's token file
	// holds) accepted as their client assertion. It is compared as a string, not verified.
	Federated map[string]string
	// ProvisionDelay is how long a new instance stays Creating.
	ProvisionDelay time.Duration
	// HealthyDelay is how long a provisioned instance's vmHealth stays Initializing.
	HealthyDelay time.Duration
	// DeleteDelay is how long a deleted instance or scale set stays Deleting.
	DeleteDelay time.Duration
	// OperationDelay is how long a PUT, PATCH or manualupgrade operation stays InProgress.
	OperationDelay time.Duration
	// RetryAfter is the Retry-After of operation answers.
	RetryAfter time.Duration
	// ImagePageSize is how many gallery image versions a list page holds; 0 means DefaultImagePageSize.
	ImagePageSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Sim is the simulated Resource Manager. It is safe for concurrent use.
type Sim struct {
	opts Options

	mu         sync.Mutex
	groups     map[string]bool // lower-case resource group names
	scaleSets  map[string]*scaleSet
	operations map[string]*operation
	pools      map[string]bool // lower-case backend pool IDs
	images     map[string]*imageDefinition
	tokens     map[string]time.Time
	never      map[string]bool // scale sets whose instances never turn healthy
	faults     []*Fault
	calls      map[string]int
	callTimes  map[string][]time.Time
	seq        int
}

// New returns a Sim with opts, defaults applied.
func New(opts Options) *Sim {
	if opts.SubscriptionID == "" {
		opts.SubscriptionID = DefaultSubscriptionID
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if len(opts.ResourceGroups) == 0 {
		opts.ResourceGroups = []string{DefaultResourceGroup}
	}
	opts.ProvisionDelay = delay(opts.ProvisionDelay, DefaultProvisionDelay)
	opts.HealthyDelay = delay(opts.HealthyDelay, DefaultHealthyDelay)
	opts.DeleteDelay = delay(opts.DeleteDelay, DefaultDeleteDelay)
	opts.OperationDelay = delay(opts.OperationDelay, DefaultOperationDelay)
	opts.RetryAfter = delay(opts.RetryAfter, DefaultRetryAfter)
	if opts.ImagePageSize <= 0 {
		opts.ImagePageSize = DefaultImagePageSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sim{
		opts:       opts,
		groups:     map[string]bool{},
		scaleSets:  map[string]*scaleSet{},
		operations: map[string]*operation{},
		pools:      map[string]bool{},
		images:     map[string]*imageDefinition{},
		tokens:     map[string]time.Time{},
		never:      map[string]bool{},
		calls:      map[string]int{},
		callTimes:  map[string][]time.Time{},
	}
	for _, g := range opts.ResourceGroups {
		s.groups[strings.ToLower(g)] = true
	}
	return s
}

func delay(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	}
	return d
}

// SubscriptionID is the Sim's subscription.
func (s *Sim) SubscriptionID() string { return s.opts.SubscriptionID }

// TenantID is the Sim's tenant.
func (s *Sim) TenantID() string { return s.opts.TenantID }

// AddBackendPool makes a load balancer backend pool that NIC IP configurations may name, by its resource
// ID (/subscriptions/.../loadBalancers/{lb}/backendAddressPools/{pool}).
func (s *Sim) AddBackendPool(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools[strings.ToLower(id)] = true
}

// NeverHealthy makes the instances of the named scale set (made now or later) never turn healthy.
func (s *Sim) NeverHealthy(scaleSet string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.never[strings.ToLower(scaleSet)] = true
}

// Calls counts the requests the Sim answered, faults included, by operation: Token,
// Subscriptions.Get, VirtualMachineScaleSets.CreateOrUpdate / Update / Get / Delete / UpdateInstances,
// VirtualMachineScaleSetVMs.List, GalleryImageVersions.ListByGalleryImage, Operations.Get (polls of
// Azure-AsyncOperation) and OperationResults.Get (of Location).
func (s *Sim) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// CallTimes returns when the Sim received each request of an operation, on its clock.
func (s *Sim) CallTimes(op string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.callTimes[op]...)
}

// ResetCalls zeroes the counters.
func (s *Sim) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.callTimes = map[string][]time.Time{}
}

// armError is ARM's error body.
type armError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *armError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *armError {
	return &armError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *armError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Round(time.Second)/time.Second)))
	}
	w.Header().Set("x-ms-error-code", e.Code)
	writeJSON(w, e.Status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// route is a parsed request: the operation it is (the Calls key) and the names in its path.
type route struct {
	op       string
	group    string // resource group
	name     string // scale set
	gallery  string
	image    string // image definition
	location string
	id       string // operation ID
	tenant   string
	auth     bool // needs an ARM bearer token
}

// parse maps a request to its route; ARM paths are case-insensitive.
func (s *Sim) parse(r *http.Request) (route, *armError) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	lower := make([]string, len(parts))
	for i, p := range parts {
		lower[i] = strings.ToLower(p)
	}
	n := len(lower)
	switch {
	case n == 4 && lower[1] == "v2.0" && lower[2] == ".well-known" && lower[3] == "openid-configuration" && r.Method == http.MethodGet:
		return route{op: "OpenIDConfiguration", tenant: parts[0]}, nil
	case n == 4 && lower[1] == "oauth2" && lower[2] == "v2.0" && lower[3] == "token" && r.Method == http.MethodPost:
		return route{op: "Token", tenant: parts[0]}, nil
	case n < 2 || lower[0] != "subscriptions":
		return route{}, errorf(http.StatusNotFound, "InvalidResourceType", "no route for %s %s", r.Method, r.URL.Path)
	}
	if !strings.EqualFold(parts[1], s.opts.SubscriptionID) {
		return route{}, errorf(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", parts[1])
	}
	if n == 2 && r.Method == http.MethodGet {
		return route{op: "Subscriptions.Get", auth: true}, nil
	}
	want := APIVersion
	// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}/images/{i}/versions
	galleryVersions := n == 11 && lower[2] == "resourcegroups" && lower[4] == "providers" && lower[5] == "microsoft.compute" &&
		lower[6] == "galleries" && lower[8] == "images" && lower[10] == "versions"
	if galleryVersions {
		want = GalleryAPIVersion
	}
	if r.URL.Query().Get("api-version") != want {
		return route{}, errorf(http.StatusBadRequest, "InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported version is '%s'.", r.URL.Query().Get("api-version"), want)
	}
	if galleryVersions {
		if r.Method != http.MethodGet {
			return route{}, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported on %s", r.Method, r.URL.Path)
		}
		if !s.groups[lower[3]] {
			return route{}, errorf(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", parts[3])
		}
		return route{op: "GalleryImageVersions.ListByGalleryImage", group: parts[3], gallery: parts[7], image: parts[9], auth: true}, nil
	}
	// /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/operations|operationResults/{id}
	if n == 8 && lower[2] == "providers" && lower[3] == "microsoft.compute" && lower[4] == "locations" && r.Method == http.MethodGet {
		switch lower[6] {
		case "operations":
			return route{op: "Operations.Get", location: lower[5], id: parts[7], auth: true}, nil
		case "operationresults":
			return route{op: "OperationResults.Get", location: lower[5], id: parts[7], auth: true}, nil
		}
	}
	// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}[/...]
	if n >= 8 && lower[2] == "resourcegroups" && lower[4] == "providers" && lower[5] == "microsoft.compute" && lower[6] == "virtualmachinescalesets" {
		rt := route{group: parts[3], name: parts[7], auth: true}
		switch {
		case n == 8 && r.Method == http.MethodPut:
			rt.op = "VirtualMachineScaleSets.CreateOrUpdate"
		case n == 8 && r.Method == http.MethodPatch:
			rt.op = "VirtualMachineScaleSets.Update"
		case n == 8 && r.Method == http.MethodGet:
			rt.op = "VirtualMachineScaleSets.Get"
		case n == 8 && r.Method == http.MethodDelete:
			rt.op = "VirtualMachineScaleSets.Delete"
		case n == 9 && lower[8] == "manualupgrade" && r.Method == http.MethodPost:
			rt.op = "VirtualMachineScaleSets.UpdateInstances"
		case n == 9 && lower[8] == "virtualmachines" && r.Method == http.MethodGet:
			rt.op = "VirtualMachineScaleSetVMs.List"
		default:
			return route{}, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported on %s", r.Method, r.URL.Path)
		}
		if !s.groups[strings.ToLower(rt.group)] {
			return route{}, errorf(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", rt.group)
		}
		return rt, nil
	}
	return route{}, errorf(http.StatusNotFound, "InvalidResourceType", "no route for %s %s", r.Method, r.URL.Path)
}

// ServeHTTP answers one ARM or token request.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)

	rt, aerr := s.parse(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.calls[rt.op]++
	s.callTimes[rt.op] = append(s.callTimes[rt.op], now)

	if rt.auth {
		if aerr := s.authorize(r, now); aerr != nil {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="%s/%s", error="invalid_token"`, baseURL(r), s.opts.TenantID))
			writeError(w, aerr)
			return
		}
	}
	f := s.takeFault(rt.op)
	if f != nil && !f.FailOperation {
		writeError(w, f.answer())
		return
	}

	switch rt.op {
	case "OpenIDConfiguration":
		s.openIDConfiguration(w, r, rt)
	case "Token":
		s.token(w, r, rt, now)
	case "Subscriptions.Get":
		writeJSON(w, http.StatusOK, map[string]any{
			"id":             "/subscriptions/" + s.opts.SubscriptionID,
			"subscriptionId": s.opts.SubscriptionID,
			"tenantId":       s.opts.TenantID,
			"displayName":    "Gennaker simulator (not Azure)",
			"state":          "Enabled",
		})
	case "Operations.Get", "OperationResults.Get":
		s.getOperation(w, rt)
	case "GalleryImageVersions.ListByGalleryImage":
		s.listImageVersions(w, r, rt)
	default:
		s.scaleSetRequest(w, r, rt, f, now)
	}
}

// authorize checks the request's bearer token.
func (s *Sim) authorize(r *http.Request, now time.Time) *armError {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return errorf(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	exp, ok := s.tokens[tok]
	if !ok {
		return errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
	}
	if !now.Before(exp) {
		return errorf(http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token has expired.")
	}
	return nil
}

// baseURL is the scheme and host the request came to, for the URLs the Sim hands out.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// newID returns a fresh random ID.
func (s *Sim) newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.seq++
	return fmt.Sprintf("%04d%s", s.seq, hex.EncodeToString(b[:]))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
