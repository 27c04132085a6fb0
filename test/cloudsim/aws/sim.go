// Package aws is a TEST DOUBLE for the handful of AWS APIs gennaker uses. It is
// not AWS, it does not talk to AWS, and passing tests against it proves only
// that code behaves against this model of AWS.
//
// A *Sim is an http.Handler that speaks the real wire protocols (the AWS Query
// protocol for EC2 Auto Scaling, Elastic Load Balancing v2 and STS, and the EC2
// Query protocol for EC2), so the official aws-sdk-go-v2 clients work against it
// unchanged when their aws.Config has BaseEndpoint set to the server URL. All
// services share one endpoint: requests are dispatched on the form fields
// Action and Version.
//
// What is modelled:
//   - STS GetCallerIdentity and AssumeRole (temporary credentials that the sim
//     then accepts until they expire on the sim clock).
//   - Auto Scaling groups built from launch templates: desired capacity drives
//     instances through Pending -> InService -> Terminating, scale-in, deletion
//     that takes time, the Launch, Terminate and AddToLoadBalancer processes
//     being suspended, target group attachment, tags (CreateOrUpdateTags) and
//     SetDesiredCapacity (also a Go method and an admin endpoint, standing in
//     for a scaling policy).
//   - ELBv2 target health of the instances that groups register in target
//     groups created up front with AddTargetGroup.
//   - EC2 launch templates and versions, with ClientToken idempotency; of a
//     version's data, the image, instance type, user data, key name and
//     security group IDs are kept and described, the rest is dropped; tags
//     (CreateTags on launch templates).
//   - EC2 machine images (AMIs): RegisterImage, DescribeImages with owners,
//     filters and pages, and AddImage to seed them (images.go).
//   - Faults injected per service and operation: throttling, server errors,
//     slow answers and a missing IAM permission (AccessDenied).
//
// What is not: everything else, including signature verification. A request
// must carry a SigV4 Authorization header whose credential scope names a known
// access key and the right service, and the region in that scope selects which
// regional state the request sees, but the signature itself is not checked, so
// the sim is no test of signing. There are no scaling policies, health-check
// replacement, lifecycle hooks, instance refresh, warm pools, launch
// configurations, mixed instances policies or IAM policies.
//
// Time never passes on its own: every request (and every inspection method)
// first brings the model up to Options.Now, so a test that drives a fake clock
// gets deterministic results without sleeps or background goroutines.
package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Service names as they appear in Calls keys, Fault.Service and the SigV4
// credential scope. They are the IAM action prefixes of the real services.
const (
	ServiceAutoScaling = "autoscaling"
	ServiceELBv2       = "elasticloadbalancing"
	ServiceEC2         = "ec2"
	ServiceSTS         = "sts"
)

// Defaults applied by New for zero Options fields.
const (
	DefaultAccountID          = "123456789012"
	DefaultLaunchDelay        = 2 * time.Second
	DefaultTargetHealthyDelay = 3 * time.Second
	DefaultTerminateDelay     = 2 * time.Second
	DefaultDeleteDelay        = 3 * time.Second
)

// Options configures a Sim.
type Options struct {
	// AccountID is the account that owns every resource and user.
	AccountID string
	// Keys maps access key IDs to secret access keys. The secrets are only
	// stored: signatures are not verified.
	Keys map[string]string
	// LaunchDelay is how long a new instance stays Pending.
	// TargetHealthyDelay is how long a registered target stays "initial".
	// TerminateDelay is how long a terminating instance is still listed.
	// DeleteDelay is how long a deleted group is listed as "Delete in progress".
	// Zero means the Default* value; a negative value means no delay.
	LaunchDelay, TargetHealthyDelay, TerminateDelay, DeleteDelay time.Duration
	// Now is the sim clock; nil means time.Now. Tests pass a fake clock, such
	// as the Now method of a Clock.
	Now func() time.Time
}

// Sim is an in-memory model of the AWS APIs listed in the package comment. It is
// safe for concurrent use. Create it with New.
type Sim struct {
	opts Options

	mu           sync.Mutex
	keys         map[string]string    // long-term access key ID -> secret
	temp         map[string]*tempCred // temporary access key ID -> credential
	roles        map[string]string    // assumable role ARN -> required external ID
	targetGroups map[string]*targetGroup
	regions      map[string]*regionState
	neverHealthy map[string]bool // group name -> targets never pass health checks
	calls        map[string]int
	faults       []*activeFault
	seq          uint64 // source of instance and resource IDs

	images         map[string][]*image // region -> AMIs in creation order (images.go)
	imagePageLimit int
}

// New returns a Sim configured by opts.
func New(opts Options) *Sim {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	opts.LaunchDelay = delayOrDefault(opts.LaunchDelay, DefaultLaunchDelay)
	opts.TargetHealthyDelay = delayOrDefault(opts.TargetHealthyDelay, DefaultTargetHealthyDelay)
	opts.TerminateDelay = delayOrDefault(opts.TerminateDelay, DefaultTerminateDelay)
	opts.DeleteDelay = delayOrDefault(opts.DeleteDelay, DefaultDeleteDelay)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sim{
		opts:         opts,
		keys:         map[string]string{},
		temp:         map[string]*tempCred{},
		roles:        map[string]string{},
		targetGroups: map[string]*targetGroup{},
		regions:      map[string]*regionState{},
		neverHealthy: map[string]bool{},
		calls:        map[string]int{},
		images:       map[string][]*image{},
	}
	for id, secret := range opts.Keys {
		s.keys[id] = secret
	}
	s.opts.Keys = nil // the map is the caller's; s.keys is the sim's copy
	return s
}

func delayOrDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// AddKey makes the sim accept a long-term access key.
func (s *Sim) AddKey(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = secret
}

// AddRole makes roleARN assumable by any known caller. If externalID is not
// empty, AssumeRole must pass exactly that ExternalId. Roles not added are
// refused with AccessDenied.
func (s *Sim) AddRole(roleARN, externalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = externalID
}

// AddTargetGroup creates an instance-type target group. The ARN should look like
// arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID; the region in
// it decides which region's requests can see the group (an ARN without one is
// visible from every region).
func (s *Sim) AddTargetGroup(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.targetGroups[arn]; !ok {
		s.targetGroups[arn] = newTargetGroup(arn)
	}
}

// NeverHealthy makes the targets of the group with this name (in any region,
// now or created later) fail their health checks for good: they go from
// "initial" to "unhealthy" in target groups while staying InService/Healthy in
// the group, which is what a broken application behind a working EC2 instance
// looks like.
func (s *Sim) NeverHealthy(groupName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.neverHealthy[groupName] = true
}

// Calls returns how many requests each operation received, keyed
// "service:Action" (for example "autoscaling:CreateAutoScalingGroup"). Every
// request that names an Action counts, including refused and faulted ones and
// SDK retries; requests with an unknown Version count as "unknown:Action".
func (s *Sim) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the counters returned by Calls.
func (s *Sim) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// opFunc implements one operation. It runs with s.mu held and the model already
// advanced to c.now, and returns the result body or an *apiError.
type opFunc func(s *Sim, c *call) (any, error)

type service struct {
	name    string // Calls prefix and SigV4 signing name
	version string
	xmlns   string
	ec2     bool // EC2 Query protocol rather than AWS Query
	ops     map[string]opFunc
}

// call is the per-request context handed to operations.
type call struct {
	svc       *service
	action    string
	form      url.Values
	region    string
	caller    *identity
	now       time.Time
	requestID string
}

// servicesByVersion dispatches requests: all services share one endpoint and
// their API versions tell them apart.
var servicesByVersion = func() map[string]*service {
	m := map[string]*service{}
	for _, svc := range []*service{autoscalingService, elbv2Service, ec2Service, stsService} {
		m[svc.version] = svc
	}
	return m
}()

// maxBody bounds request bodies; real requests from the operator are tiny.
const maxBody = 1 << 20

// ServeHTTP implements http.Handler for the AWS APIs.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, nil, requestID, errf(http.StatusBadRequest, "MalformedQueryString", "The request body could not be parsed."))
		return
	}
	action, version := r.Form.Get("Action"), r.Form.Get("Version")
	svc := servicesByVersion[version]
	s.count(svc, action)

	if action == "" {
		writeError(w, svc, requestID, errf(http.StatusBadRequest, "MissingAction", "Request is missing Action parameter."))
		return
	}
	if svc == nil {
		writeError(w, nil, requestID, errf(http.StatusBadRequest, "NoSuchVersion", "The requested version (%s) is not supported by this simulator.", version))
		return
	}
	caller, region, err := s.authenticate(r, svc)
	if err != nil {
		writeError(w, svc, requestID, err)
		return
	}
	op := svc.ops[action]
	if op == nil {
		writeError(w, svc, requestID, errf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	if f, ok := s.takeFault(svc.name, action); ok {
		if err := f.apply(r.Context(), svc, action, caller); err != nil {
			writeError(w, svc, requestID, err)
			return
		}
	}

	s.mu.Lock()
	now := s.opts.Now()
	s.advance(now)
	res, err := op(s, &call{svc: svc, action: action, form: r.Form, region: region, caller: caller, now: now, requestID: requestID})
	s.mu.Unlock()
	if err != nil {
		writeError(w, svc, requestID, err)
		return
	}
	writeResult(w, svc, action, requestID, res)
}

func (s *Sim) count(svc *service, action string) {
	if action == "" {
		return
	}
	name := "unknown"
	if svc != nil {
		name = svc.name
	}
	s.mu.Lock()
	s.calls[name+":"+action]++
	s.mu.Unlock()
}

// region returns the state of a region, creating it on first use. Callers hold
// s.mu.
func (s *Sim) region(name string) *regionState {
	rs := s.regions[name]
	if rs == nil {
		rs = newRegionState(name)
		s.regions[name] = rs
	}
	return rs
}

// sortedRegions returns region names in a stable order so that anything that
// allocates IDs while walking regions stays deterministic.
func (s *Sim) sortedRegions() []string {
	names := make([]string, 0, len(s.regions))
	for n := range s.regions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// nextID returns a hex suffix for resource IDs. IDs come from a counter rather
// than randomness so that runs are reproducible. Callers hold s.mu.
func (s *Sim) nextID(width int) string {
	s.seq++
	return fmt.Sprintf("%0*x", width, s.seq)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomString returns n characters from alphabet using crypto/rand. It is used
// for temporary credentials, which must not be guessable from one another even
// in a test double, since the sim may be reachable by other local processes.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// sleepCtx waits for d or until ctx is done, so a slow fault never outlives the
// client that is waiting for it.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// splitTrim splits a comma-separated list, dropping empty items.
func splitTrim(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
