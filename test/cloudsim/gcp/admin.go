package gcp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// AdminPrefix is the path under which AdminHandler serves.
const AdminPrefix = "/_sim/"

// AdminHandler returns a small JSON API for inspecting the sim and injecting
// faults from outside the process (demos, shell scripts):
//
//	GET    /_sim/calls              -> {"regionInstanceGroupManagers.insert": 1, ...}
//	DELETE /_sim/calls              resets the counters
//	GET    /_sim/groups             -> [GroupView, ...]
//	GET    /_sim/templates          -> [TemplateView, ...]
//	GET    /_sim/images             -> [Image, ...]
//	POST   /_sim/images             {"name":"web-v3","family":"web","labels":{"app":"web"}} seeds an image
//	GET    /_sim/backend-services?name=NAME -> BackendServiceView
//	POST   /_sim/faults             {"method":"backendServices.patch","kind":"ConcurrentChange","count":1}
//	DELETE /_sim/faults             clears faults
//	POST   /_sim/never-healthy?group=NAME
//
// It has no authentication: serve it only on loopback. It never returns
// tokens.
func (s *Sim) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Calls()) })
	mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/groups", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Groups()) })
	mux.HandleFunc("GET /_sim/images", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Images()) })
	mux.HandleFunc("POST /_sim/images", s.addImageHandler)
	mux.HandleFunc("GET /_sim/templates", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Templates()) })
	mux.HandleFunc("GET /_sim/backend-services", func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.BackendService(r.URL.Query().Get("name"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such backend service"})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var fj struct {
			Method string `json:"method"`
			Kind   string `json:"kind"`
			Count  int    `json:"count"`
			Code   string `json:"code"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fj); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("bad fault JSON: %v", err)})
			return
		}
		kind, err := ParseFaultKind(fj.Kind)
		if err != nil || fj.Count < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("bad fault: kind %q, count %d", fj.Kind, fj.Count)})
			return
		}
		s.Inject(Fault{Method: fj.Method, Kind: kind, Count: fj.Count, Code: fj.Code})
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
	return mux
}
