// Package gcp is a TEST DOUBLE for the few Compute Engine APIs gennaker uses. It
// is not Google Cloud, it does not talk to Google Cloud, and passing tests
// against it proves only that code behaves against this model of it.
//
// A *Sim is an http.Handler serving the real REST/JSON paths under
// /compute/v1/projects/..., so the official cloud.google.com/go/compute/apiv1
// REST clients work against it unchanged with option.WithEndpoint(url). It also
// serves the OAuth 2.0 token endpoint a service-account key's token_uri names
// (POST /token, the JWT-bearer grant) and IAM Credentials' generateAccessToken
// (POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken), so a
// service-account JSON key and impersonation work end to end.
//
// What is modelled:
//   - Global instance templates: insert, get, delete (refused while a managed
//     instance group uses one).
//   - Managed instance groups, regional and zonal: insert, get, resize,
//     listManagedInstances, delete. Target size drives instances through
//     PROVISIONING/CREATING -> RUNNING/NONE and STOPPING/DELETING; a group
//     that is a backend of a backend service cannot be deleted.
//   - Global backend services, made up front with AddBackendService: get,
//     patch and update (read-modify-write with the fingerprint: a stale one is
//     412 conditionNotMet) and getHealth (an instance of a backend group turns
//     HEALTHY a delay after it runs, unless its group is NeverHealthy).
//   - Zone, region and global operations: every mutation returns one, which
//     goes PENDING -> RUNNING -> DONE over polls (GET), or on its own once
//     half of Options.OperationDelay and all of it have passed; a failed one
//     ends DONE with an error. An inserted resource appears when its operation
//     leaves PENDING (its name is taken at once: a second insert is 409).
//     A request carrying a requestId already seen gets that request's
//     operation back, whatever became of it, and changes nothing.
//   - Global images: insert, get, getFromFamily and list with a filter,
//     order and pages, and AddImage to seed them (images.go).
//   - Faults on demand: 429 rateLimitExceeded, 503 backendError, operations
//     that fail, and concurrent changes to a backend service that make the
//     next patch's fingerprint stale.
//   - Every request must carry a bearer token the sim issued (or one of
//     Options.Tokens); requests are counted by method.
//
// What is not: everything else, including autoscalers, instance templates'
// regional flavour, regional backend services, health checks as objects,
// target pools, stateful policies, update policies and IAM policies. JWT
// signatures are not verified; only the issuer must be a known service
// account.
//
// Time never passes on its own: every request (and every inspection method)
// first brings the model up to Options.Now.
package gcp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Defaults applied by New for zero Options fields.
const (
	DefaultProject        = "gennaker-sim"
	DefaultBootDelay      = 2 * time.Second
	DefaultHealthyDelay   = 3 * time.Second
	DefaultStopDelay      = 2 * time.Second
	DefaultOperationDelay = 2 * time.Second
)

// SelfLinkBase is the prefix of every selfLink the sim writes, as the real API's.
const SelfLinkBase = "https://www.googleapis.com/compute/v1/"

// Options configures a Sim.
type Options struct {
	// Projects the sim knows; empty means DefaultProject.
	Projects []string
	// Tokens are bearer tokens accepted as they are, standing for the caller
	// named by their value; the sim's own tokens (from /token) are accepted too.
	Tokens []string
	// BootDelay is how long a new instance takes to run; HealthyDelay how long
	// a running instance of a backend group takes to pass health checks;
	// StopDelay how long a deleted instance is still listed; OperationDelay how
	// long an operation nobody polls takes to end. Zero means the Default*
	// value; a negative value means none.
	BootDelay, HealthyDelay, StopDelay, OperationDelay time.Duration
	// Now is the sim clock; nil means time.Now.
	Now func() time.Time
}

// Sim is an in-memory model of the Compute Engine APIs listed in the package
// comment. It is safe for concurrent use. Create it with New.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu              sync.Mutex
	projects        map[string]bool
	accounts        map[string]bool            // service accounts whose keys /token accepts
	impersonable    map[string]bool            // service accounts any caller may impersonate
	tokens          map[string]string          // access token -> who it is
	templates       map[string]*template       // project/name
	groups          map[string]*group          // project/scope/name, scope regions/R or zones/Z
	backendServices map[string]*backendService // project/name
	operations      map[string]*operation      // selfLink
	requests        map[string]*operation      // requestId
	neverHealthy    map[string]bool
	calls           map[string]int
	created         map[string]int // resources made, by collection
	faults          []*activeFault
	seq             uint64
	images          map[string]*gceImage // project/name (images.go)
	imagePageLimit  int
}

// New returns a Sim configured by opts.
func New(opts Options) *Sim {
	if len(opts.Projects) == 0 {
		opts.Projects = []string{DefaultProject}
	}
	opts.BootDelay = delayOrDefault(opts.BootDelay, DefaultBootDelay)
	opts.HealthyDelay = delayOrDefault(opts.HealthyDelay, DefaultHealthyDelay)
	opts.StopDelay = delayOrDefault(opts.StopDelay, DefaultStopDelay)
	opts.OperationDelay = delayOrDefault(opts.OperationDelay, DefaultOperationDelay)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sim{
		opts:            opts,
		projects:        map[string]bool{},
		accounts:        map[string]bool{},
		impersonable:    map[string]bool{},
		tokens:          map[string]string{},
		templates:       map[string]*template{},
		groups:          map[string]*group{},
		backendServices: map[string]*backendService{},
		operations:      map[string]*operation{},
		requests:        map[string]*operation{},
		neverHealthy:    map[string]bool{},
		calls:           map[string]int{},
		created:         map[string]int{},
		images:          map[string]*gceImage{},
	}
	for _, p := range opts.Projects {
		s.projects[p] = true
	}
	for _, t := range opts.Tokens {
		s.tokens[t] = t
	}
	s.mux = s.routes()
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

// AddServiceAccount makes /token accept JWTs issued by this service account
// e-mail (the client_email of its key).
func (s *Sim) AddServiceAccount(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[email] = true
}

// AllowImpersonation lets any authenticated caller impersonate the service
// account; others are refused with 403.
func (s *Sim) AllowImpersonation(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.impersonable[email] = true
}

// NeverHealthy makes the instances of the group of this name (in any scope,
// now or made later) fail their backend services' health checks for good,
// while they run: a broken application on working VMs.
func (s *Sim) NeverHealthy(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.neverHealthy[group] = true
}

// Calls returns how many requests each method received, keyed as the API
// names it (regionInstanceGroupManagers.insert, backendServices.patch,
// zoneOperations.get, oauth2.token, ...). Refused and faulted requests count.
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

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.mux.ServeHTTP(w, r)
}

// maxBody bounds request bodies; real requests from the operator are small.
const maxBody = 1 << 20

// nextID returns a decimal resource ID. IDs come from a counter so runs are
// reproducible. Callers hold s.mu.
func (s *Sim) nextID() uint64 {
	s.seq++
	return 1000000 + s.seq
}

// suffix returns a short name suffix (instance names, operation names).
// Callers hold s.mu.
func (s *Sim) suffix() string {
	s.seq++
	return fmt.Sprintf("%04x", s.seq&0xffff)
}

// randomToken returns an unguessable access token, since the sim may be
// reachable by other local processes.
func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "ya29.sim-" + hex.EncodeToString(b[:])
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// trimLink reduces a resource URL or partial path to what follows
// "projects/", so that full URLs, paths and the SDK's forms compare equal.
func trimLink(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

// lastPart is the last path segment of a URL (a name).
func lastPart(link string) string {
	return link[strings.LastIndex(link, "/")+1:]
}
