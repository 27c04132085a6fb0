package aws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// AdminPrefix is the path under which AdminHandler serves.
const AdminPrefix = "/_sim/"

// AdminHandler returns a small JSON API for inspecting the sim and injecting
// faults from outside the process (demos, shell scripts):
//
//	GET    /_sim/calls                   -> {"autoscaling:CreateAutoScalingGroup": 1, ...}
//	DELETE /_sim/calls                   resets the counters
//	GET    /_sim/groups                  -> [GroupView, ...]
//	GET    /_sim/launch-templates        -> [LaunchTemplateView, ...]
//	GET    /_sim/images                  -> [ImageView, ...]
//	POST   /_sim/images                  {"region":"us-east-1","name":"web-1.2.0","tags":{"app":"web"}}
//	                                     -> {"id":"ami-..."}; seeds an AMI (see Image)
//	POST   /_sim/faults                  {"service":"autoscaling","action":"CreateAutoScalingGroup",
//	                                      "kind":"Throttle","count":2,"delay":"500ms"}
//	DELETE /_sim/faults                  clears faults
//	POST   /_sim/never-healthy?group=NAME
//	POST   /_sim/desired?group=NAME&capacity=N   sets a group's desired capacity, as a scaling policy would
//
// It has no authentication: serve it only where the AWS handler itself is
// reachable by nobody but the tests, that is on loopback. It never returns
// secrets.
func (s *Sim) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/groups", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Groups())
	})
	mux.HandleFunc("GET /_sim/launch-templates", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.LaunchTemplates())
	})
	mux.HandleFunc("GET /_sim/images", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Images())
	})
	mux.HandleFunc("POST /_sim/images", s.addImageHandler)
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := decodeFault(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/never-healthy", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("group")
		if name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing ?group=NAME"})
			return
		}
		s.NeverHealthy(name)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/desired", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, err := strconv.ParseInt(q.Get("capacity"), 10, 32)
		if q.Get("group") == "" || err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want ?group=NAME&capacity=N"})
			return
		}
		if err := s.SetDesiredCapacity(q.Get("group"), int32(n)); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// SetDesiredCapacity changes the desired capacity of the group with this name
// (the first region's, in name order, when several have one), as a scaling
// policy or a person in the console would: within the group's bounds, and not
// counted in Calls.
func (s *Sim) SetDesiredCapacity(group string, desired int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	for _, rn := range s.sortedRegions() {
		rs := s.regions[rn]
		if g := rs.groups[group]; g != nil && !g.deleting {
			return s.scale(rs, g, desired, now)
		}
	}
	return fmt.Errorf("no Auto Scaling group %s", group)
}

// faultJSON is the wire form of a Fault: the kind by name and the delay as a
// Go duration string, which read better in shell scripts than numbers.
type faultJSON struct {
	Service string `json:"service"`
	Action  string `json:"action"`
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Delay   string `json:"delay"`
}

func decodeFault(r *http.Request) (Fault, error) {
	var fj faultJSON
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return Fault{}, fmt.Errorf("bad fault JSON: %w", err)
	}
	kind, err := ParseFaultKind(fj.Kind)
	if err != nil {
		return Fault{}, err
	}
	f := Fault{Service: fj.Service, Action: fj.Action, Kind: kind, Count: fj.Count}
	if f.Count < 0 {
		return Fault{}, fmt.Errorf("count must not be negative")
	}
	if fj.Delay != "" {
		if f.Delay, err = time.ParseDuration(fj.Delay); err != nil {
			return Fault{}, fmt.Errorf("bad delay: %w", err)
		}
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
