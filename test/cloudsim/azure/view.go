package azure

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// ScaleSetView is a scale set as a test inspects it.
type ScaleSetView struct {
	Name              string            `json:"name"`
	ResourceGroup     string            `json:"resourceGroup"`
	Location          string            `json:"location"`
	ProvisioningState string            `json:"provisioningState"`
	Tags              map[string]string `json:"tags,omitempty"`
	Capacity          int64             `json:"capacity"`
	VMSize            string            `json:"vmSize"`
	Image             string            `json:"image"`
	UpgradeMode       string            `json:"upgradeMode"`
	HealthExtension   bool              `json:"healthExtension"`
	// Pools are the backend pools the model's NIC IP configurations name.
	Pools     []string       `json:"pools,omitempty"`
	Instances []InstanceView `json:"instances,omitempty"`
}

// InstanceView is one instance of a scale set.
type InstanceView struct {
	ID                string `json:"id"`
	ProvisioningState string `json:"provisioningState"`
	// Health is vmHealth: healthy, initializing, unhealthy; empty without the health extension.
	Health      string `json:"health,omitempty"`
	LatestModel bool   `json:"latestModel"`
	// Pools are the backend pools the instance is in: those of the model it runs with.
	Pools []string `json:"pools,omitempty"`
}

// ScaleSet returns the scale set of that name, in any resource group.
func (s *Sim) ScaleSet(name string) (ScaleSetView, bool) {
	for _, v := range s.ScaleSets() {
		if strings.EqualFold(v.Name, name) {
			return v, true
		}
	}
	return ScaleSetView{}, false
}

// ScaleSets lists the scale sets, by resource group and name.
func (s *Sim) ScaleSets() []ScaleSetView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	s.advance(now)
	var out []ScaleSetView
	for _, k := range sortedKeys(s.scaleSets) {
		ss := s.scaleSets[k]
		v := ScaleSetView{
			Name: ss.name, ResourceGroup: ss.group, Location: str(ss.model["location"]), ProvisioningState: ss.state,
			Tags: map[string]string{}, Capacity: capacityOf(ss.model), VMSize: str(dig(ss.model, "sku", "name")),
			Image:           str(dig(ss.model, "properties", "virtualMachineProfile", "storageProfile", "imageReference", "id")),
			UpgradeMode:     str(dig(ss.model, "properties", "upgradePolicy", "mode")),
			HealthExtension: hasHealthExtension(ss.model),
			Pools:           poolsOf(nicConfigs(ss.model)),
		}
		if tags, ok := ss.model["tags"].(map[string]any); ok {
			for tk, tv := range tags {
				v.Tags[tk] = str(tv)
			}
		}
		for _, in := range ss.instances {
			v.Instances = append(v.Instances, InstanceView{
				ID: in.id, ProvisioningState: in.state, Health: s.health(ss, in, now),
				LatestModel: in.modelVersion == ss.modelVersion, Pools: poolsOf(in.nics),
			})
		}
		out = append(out, v)
	}
	return out
}

// SetTag sets a tag of the scale set of that name, as someone else's write would: its ETag changes. It
// says whether there is such a scale set.
func (s *Sim) SetTag(name, tag, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.scaleSets {
		if strings.EqualFold(ss.name, name) {
			model := deepCopy(ss.model).(map[string]any)
			tags, _ := model["tags"].(map[string]any)
			if tags == nil {
				tags = map[string]any{}
				model["tags"] = tags
			}
			tags[tag] = value
			s.setModel(ss, model)
			return true
		}
	}
	return false
}

// StopInstance deallocates an instance of the scale set of that name, as someone stopping it in the
// portal would: it stays provisioned (Succeeded) with PowerState/deallocated. It says whether there is
// such an instance.
func (s *Sim) StopInstance(name, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.scaleSets {
		if in := ss.instance(id); strings.EqualFold(ss.name, name) && in != nil {
			in.deallocated = true
			return true
		}
	}
	return false
}

// PoolMembers counts the instances a backend pool holds, and how many of them are provisioned and
// healthy: what the load balancer would send traffic to.
func (s *Sim) PoolMembers(pool string) (members, healthy int) {
	for _, v := range s.ScaleSets() {
		for _, in := range v.Instances {
			if in.ProvisioningState == stateDeleting || !slices.ContainsFunc(in.Pools, func(p string) bool { return strings.EqualFold(p, pool) }) {
				continue
			}
			members++
			if in.ProvisioningState == stateSucceeded && in.Health == "healthy" {
				healthy++
			}
		}
	}
	return members, healthy
}

// AdminPrefix is where AdminHandler is mounted by azuresim.
const AdminPrefix = "/_sim/"

// AdminHandler is a JSON API for scripts, with no authentication (azuresim serves it on loopback only):
//
//	GET  /_sim/scalesets              the scale sets (ScaleSetView)
//	GET  /_sim/calls                  Calls
//	GET  /_sim/images                 the gallery image versions (ImageVersionView)
//	POST /_sim/images                 {"gallery":"g","image":"web","version":"1.4.2","tags":{"app":"web"}} AddImage
//	POST /_sim/faults                 Inject a Fault (its JSON); DELETE clears them
//	POST /_sim/never-healthy?name=X   NeverHealthy
func (s *Sim) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AdminPrefix+"scalesets", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.ScaleSets())
	})
	mux.HandleFunc("GET "+AdminPrefix+"calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	mux.HandleFunc("GET "+AdminPrefix+"images", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Images())
	})
	mux.HandleFunc("POST "+AdminPrefix+"images", s.addImageHandler)
	mux.HandleFunc("POST "+AdminPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+AdminPrefix+"faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+AdminPrefix+"never-healthy", func(w http.ResponseWriter, r *http.Request) {
		s.NeverHealthy(r.URL.Query().Get("name"))
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
