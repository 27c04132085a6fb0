package bench

import (
	"maps"
	"net/http"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// request is what the counter tells requests apart by.
type request struct {
	// Namespace of the object, "" for cluster-scoped ones.
	Namespace string
	// Verb is create, update, patch, delete or deletecollection for a write; get, list or watch for a read.
	Verb string
	// Resource with its subresource: executions, executions/status, events, pipelines/status...
	Resource string
	// Code is the HTTP status of the answer, 0 when the request got none.
	Code int
}

// write says whether the request changes something on the API server.
func (r request) write() bool {
	switch r.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// counter counts the requests that go through the transports it wraps.
type counter struct {
	mu sync.Mutex
	n  counts
}

// counts are request counts, by request.
type counts map[request]int

// config returns a copy of cfg whose requests the counter counts. Client-side rate limiting is off, as in
// cmd/manager (ctrl.GetConfigOrDie sets QPS -1 and leaves flow control to the API server); envtest's
// config would allow 1000 QPS.
func (c *counter) config(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.QPS, out.Burst = -1, 0
	out.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			r := classify(req.Method, req.URL.Path, req.URL.Query().Get("watch"))
			if resp != nil {
				r.Code = resp.StatusCode
			}
			c.mu.Lock()
			if c.n == nil {
				c.n = counts{}
			}
			c.n[r]++
			c.mu.Unlock()
			return resp, err
		})
	})
	return out
}

// snapshot returns the counts so far.
func (c *counter) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// classify names a request to the Kubernetes API from its method and path:
// /api/v1/namespaces/NS/RESOURCE/NAME/SUB or /apis/GROUP/VERSION/..., cluster-scoped without the namespace.
func classify(method, path, watch string) request {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) >= 2 && seg[0] == "api":
		seg = seg[2:]
	case len(seg) >= 3 && seg[0] == "apis":
		seg = seg[3:]
	default:
		return request{Verb: strings.ToLower(method), Resource: path}
	}
	var r request
	if len(seg) >= 3 && seg[0] == "namespaces" {
		r.Namespace, seg = seg[1], seg[2:]
	}
	if len(seg) == 0 {
		return request{Verb: strings.ToLower(method), Resource: path}
	}
	r.Resource = seg[0]
	named := len(seg) >= 2
	if len(seg) >= 3 {
		r.Resource += "/" + seg[2]
	}
	switch method {
	case http.MethodGet:
		switch {
		case watch == "true" || watch == "1":
			r.Verb = "watch"
		case named:
			r.Verb = "get"
		default:
			r.Verb = "list"
		}
	case http.MethodPost:
		r.Verb = "create"
	case http.MethodPut:
		r.Verb = "update"
	case http.MethodPatch:
		r.Verb = "patch"
	case http.MethodDelete:
		r.Verb = "delete"
		if !named {
			r.Verb = "deletecollection"
		}
	default:
		r.Verb = strings.ToLower(method)
	}
	return r
}

// since returns the counts made after before.
func (c counts) since(before counts) counts {
	out := counts{}
	for r, n := range c {
		if d := n - before[r]; d != 0 {
			out[r] = d
		}
	}
	return out
}

// sum adds up the requests that match.
func (c counts) sum(match func(request) bool) int {
	n := 0
	for r, v := range c {
		if match(r) {
			n += v
		}
	}
	return n
}

// writesTo matches the writes to the given resources in namespace ns, whatever their answer.
func writesTo(ns string, resources ...string) func(request) bool {
	return func(r request) bool {
		if r.Namespace != ns || !r.write() {
			return false
		}
		for _, res := range resources {
			if r.Resource == res {
				return true
			}
		}
		return false
	}
}

// writesIn matches every write in namespace ns.
func writesIn(ns string) func(request) bool {
	return func(r request) bool { return r.Namespace == ns && r.write() }
}

// failed matches the requests in namespace ns whose answer was an error (conflicts included).
func failed(ns string) func(request) bool {
	return func(r request) bool { return r.Namespace == ns && (r.Code == 0 || r.Code >= 400) }
}
