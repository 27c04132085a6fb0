package azure

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Provisioning states of a scale set and of an instance.
const (
	stateCreating  = "Creating"
	stateUpdating  = "Updating"
	stateSucceeded = "Succeeded"
	stateFailed    = "Failed"
	stateDeleting  = "Deleting"
)

// Health extension types whose presence gives instances a vmHealth.
var healthExtensionTypes = map[string]bool{"ApplicationHealthLinux": true, "ApplicationHealthWindows": true}

// scaleSet is one virtual machine scale set.
type scaleSet struct {
	group, name string
	// model is the resource as PUT and PATCHed, without what ARM computes (id, provisioningState).
	model        map[string]any
	state        string
	modelVersion int
	// etag changes with every write of the model; a PUT or PATCH with an If-Match of another is refused.
	etag      int
	instances []*instance
	next      int
	uniqueID  string
	created   time.Time
	// busy is the operation in progress that refuses another mutation, "" when none.
	busy string
}

// instance is one VM of a scale set.
type instance struct {
	id            string
	state         string
	provisionedAt time.Time
	deleteAt      time.Time
	// modelVersion and nics are the scale set model the instance runs with: set when it is made, and
	// again only when manualupgrade applies the model to it.
	modelVersion int
	nics         any
	// deallocated is an instance someone stopped (StopInstance): provisioned, but not running.
	deallocated bool
}

// operation is one long-running operation.
type operation struct {
	id       string
	location string
	kind     string
	set      string // scaleSets key
	start    time.Time
	doneAt   time.Time
	status   string // InProgress, Succeeded, Failed
	fail     *armError
	// apply runs when it succeeds.
	apply func(now time.Time)
}

func key(group, name string) string { return strings.ToLower(group) + "/" + strings.ToLower(name) }

// resourceID is the ARM ID of a scale set.
func (s *Sim) resourceID(ss *scaleSet) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s",
		s.opts.SubscriptionID, ss.group, ss.name)
}

func notFound(rt route) *armError {
	return errorf(http.StatusNotFound, "ResourceNotFound",
		"The Resource 'Microsoft.Compute/virtualMachineScaleSets/%s' under resource group '%s' was not found.", rt.name, rt.group)
}

// scaleSetRequest answers the scale set operations; f is a FailOperation fault for the operation the
// request starts, or nil.
func (s *Sim) scaleSetRequest(w http.ResponseWriter, r *http.Request, rt route, f *Fault, now time.Time) {
	ss := s.scaleSets[key(rt.group, rt.name)]
	var err *armError
	switch rt.op {
	case "VirtualMachineScaleSets.Get":
		if ss == nil {
			err = notFound(rt)
			break
		}
		writeJSON(w, http.StatusOK, s.view(ss))
	case "VirtualMachineScaleSetVMs.List":
		if ss == nil {
			err = errorf(http.StatusNotFound, "ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", rt.name)
			break
		}
		expand := strings.EqualFold(r.URL.Query().Get("$expand"), "instanceView")
		vms := []any{}
		for _, in := range ss.instances {
			vms = append(vms, s.instanceJSON(ss, in, expand, now))
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": vms})
	case "VirtualMachineScaleSets.CreateOrUpdate":
		err = s.put(w, r, rt, ss, f, now)
	case "VirtualMachineScaleSets.Update":
		err = s.patch(w, r, rt, ss, f, now)
	case "VirtualMachineScaleSets.Delete":
		err = s.delete(w, r, rt, ss, now)
	case "VirtualMachineScaleSets.UpdateInstances":
		err = s.manualUpgrade(w, r, rt, ss, f, now)
	}
	if err != nil {
		writeError(w, err)
	}
}

// readBody decodes a JSON object body.
func readBody(r *http.Request) (map[string]any, *armError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidRequestContent", "reading the body: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
	}
	return m, nil
}

// refuseBusy is the 409 of a mutation while an operation of the scale set runs.
func refuseBusy(ss *scaleSet) *armError {
	if ss.state == stateDeleting {
		return errorf(http.StatusConflict, "OperationNotAllowed", "The scale set %s is being deleted.", ss.name)
	}
	if ss.busy != "" {
		return errorf(http.StatusConflict, "OperationNotAllowed",
			"Operation is not allowed since the scale set %s is in the middle of another operation (%s).", ss.name, ss.busy)
	}
	return nil
}

func (s *Sim) put(w http.ResponseWriter, r *http.Request, rt route, ss *scaleSet, f *Fault, now time.Time) *armError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if ss != nil && r.Header.Get("If-None-Match") == "*" {
		return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "The scale set %s exists already (If-None-Match: *).", ss.name)
	}
	if err := checkIfMatch(r, rt, ss); err != nil {
		return err
	}
	if ss != nil {
		if err := refuseBusy(ss); err != nil {
			return err
		}
	}
	model := stripComputed(body)
	if err := s.validate(model, true); err != nil {
		return err
	}
	status := http.StatusOK
	if ss == nil {
		status = http.StatusCreated
		ss = &scaleSet{group: rt.group, name: rt.name, uniqueID: s.newID(), created: now, state: stateCreating}
		s.scaleSets[key(rt.group, rt.name)] = ss
	} else {
		ss.state = stateUpdating
	}
	s.setModel(ss, model)
	s.scale(ss, now)
	op := s.startOperation(ss, rt.op, now, s.opts.OperationDelay, f, nil)
	s.operationHeaders(w, r, op)
	writeJSON(w, status, s.view(ss))
	return nil
}

func (s *Sim) patch(w http.ResponseWriter, r *http.Request, rt route, ss *scaleSet, f *Fault, now time.Time) *armError {
	if ss == nil {
		return notFound(rt)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, rt, ss); err != nil {
		return err
	}
	if err := refuseBusy(ss); err != nil {
		return err
	}
	model := deepCopy(ss.model).(map[string]any)
	patch := stripComputed(body)
	if tags, ok := patch["tags"]; ok {
		// ARM replaces the tags of a PATCH whole.
		model["tags"] = tags
		delete(patch, "tags")
	}
	model = mergePatch(model, patch).(map[string]any)
	if err := s.validate(model, false); err != nil {
		return err
	}
	ss.state = stateUpdating
	s.setModel(ss, model)
	s.scale(ss, now)
	op := s.startOperation(ss, rt.op, now, s.opts.OperationDelay, f, nil)
	s.operationHeaders(w, r, op)
	writeJSON(w, http.StatusOK, s.view(ss))
	return nil
}

func (s *Sim) delete(w http.ResponseWriter, r *http.Request, rt route, ss *scaleSet, now time.Time) *armError {
	if ss == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if ss.state == stateDeleting {
		s.operationHeaders(w, r, s.operations[ss.busy])
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	ss.state = stateDeleting
	for _, in := range ss.instances {
		if in.state != stateDeleting {
			in.state, in.deleteAt = stateDeleting, now.Add(s.opts.DeleteDelay)
		}
	}
	k := key(ss.group, ss.name)
	op := s.startOperation(ss, rt.op, now, s.opts.DeleteDelay, nil, func(time.Time) { delete(s.scaleSets, k) })
	s.operationHeaders(w, r, op)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Sim) manualUpgrade(w http.ResponseWriter, r *http.Request, rt route, ss *scaleSet, f *Fault, now time.Time) *armError {
	if ss == nil {
		return notFound(rt)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := refuseBusy(ss); err != nil {
		return err
	}
	raw, _ := body["instanceIds"].([]any)
	if len(raw) == 0 {
		return errorf(http.StatusBadRequest, "InvalidParameter", "instanceIds is required.")
	}
	var ids []string
	for _, v := range raw {
		id, _ := v.(string)
		if id == "*" {
			ids = nil
			for _, in := range ss.instances {
				ids = append(ids, in.id)
			}
			break
		}
		if ss.instance(id) == nil {
			return errorf(http.StatusBadRequest, "InvalidParameter", "The instance ID %q is not in the scale set %s.", id, ss.name)
		}
		ids = append(ids, id)
	}
	ss.state = stateUpdating
	version, nics := ss.modelVersion, deepCopy(nicConfigs(ss.model))
	op := s.startOperation(ss, rt.op, now, s.opts.OperationDelay, f, func(time.Time) {
		for _, id := range ids {
			if in := ss.instance(id); in != nil && in.state != stateDeleting {
				in.modelVersion, in.nics = version, deepCopy(nics)
			}
		}
	})
	s.operationHeaders(w, r, op)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// etagOf is the scale set's ETag as ARM sends it, quoted.
func etagOf(ss *scaleSet) string { return fmt.Sprintf("%q", strconv.Itoa(ss.etag)) }

// checkIfMatch refuses with 412 a write whose If-Match is not the scale set's current ETag ("*": any
// scale set that exists).
func checkIfMatch(r *http.Request, rt route, ss *scaleSet) *armError {
	m := r.Header.Get("If-Match")
	if m == "" || ss != nil && (m == "*" || m == etagOf(ss)) {
		return nil
	}
	return errorf(http.StatusPreconditionFailed, "PreconditionFailed",
		"The scale set %s does not match the If-Match condition %s: it was changed since it was read.", rt.name, m)
}

func (ss *scaleSet) instance(id string) *instance {
	for _, in := range ss.instances {
		if in.id == id {
			return in
		}
	}
	return nil
}

// setModel replaces the model; a change of the VM profile is a new model version, which the instances
// run with only once manualupgrade applies it to them.
func (s *Sim) setModel(ss *scaleSet, model map[string]any) {
	if !reflect.DeepEqual(dig(ss.model, "properties", "virtualMachineProfile"), dig(model, "properties", "virtualMachineProfile")) {
		ss.modelVersion++
	}
	ss.model = model
	ss.etag++
}

// scale adds or removes instances to match sku.capacity: new ones run the current model, the highest
// instance IDs go first.
func (s *Sim) scale(ss *scaleSet, now time.Time) {
	want := capacityOf(ss.model)
	var live []*instance
	for _, in := range ss.instances {
		if in.state != stateDeleting {
			live = append(live, in)
		}
	}
	for n := int64(len(live)); n < want; n++ {
		ss.instances = append(ss.instances, &instance{
			id: strconv.Itoa(ss.next), state: stateCreating, provisionedAt: now.Add(s.opts.ProvisionDelay),
			modelVersion: ss.modelVersion, nics: deepCopy(nicConfigs(ss.model)),
		})
		ss.next++
	}
	for i := len(live) - 1; int64(i) >= want; i-- {
		live[i].state, live[i].deleteAt = stateDeleting, now.Add(s.opts.DeleteDelay)
	}
}

// startOperation records an operation of ss that ends after d, Failed when f says so; apply, if any,
// runs when it succeeds.
func (s *Sim) startOperation(ss *scaleSet, kind string, now time.Time, d time.Duration, f *Fault, apply func(time.Time)) *operation {
	op := &operation{
		id: s.newID(), location: strings.ToLower(str(ss.model["location"])), kind: kind, set: key(ss.group, ss.name),
		start: now, doneAt: now.Add(d), status: "InProgress", apply: apply,
	}
	if f != nil && f.FailOperation {
		op.fail = f.operationError()
	}
	s.operations[op.id] = op
	ss.busy = op.id
	s.advance(now) // an operation without delay is over at once
	return op
}

// operationHeaders are the long-running operation headers of a mutation's answer.
func (s *Sim) operationHeaders(w http.ResponseWriter, r *http.Request, op *operation) {
	if op == nil {
		return
	}
	base := fmt.Sprintf("%s/subscriptions/%s/providers/Microsoft.Compute/locations/%s", baseURL(r), s.opts.SubscriptionID, op.location)
	q := "?api-version=" + APIVersion
	w.Header().Set("Azure-AsyncOperation", base+"/operations/"+op.id+q)
	w.Header().Set("Location", base+"/operationResults/"+op.id+q)
	w.Header().Set("Retry-After", fmt.Sprint(int(s.opts.RetryAfter/time.Second)))
}

// getOperation answers a poll of Azure-AsyncOperation (the status document) or of Location (202 while
// in progress, then the result).
func (s *Sim) getOperation(w http.ResponseWriter, rt route) {
	op := s.operations[rt.id]
	if op == nil || op.location != rt.location {
		writeError(w, errorf(http.StatusNotFound, "NotFound", "The operation %s was not found.", rt.id))
		return
	}
	if op.status == "InProgress" {
		w.Header().Set("Retry-After", fmt.Sprint(int(s.opts.RetryAfter/time.Second)))
	}
	if rt.op == "OperationResults.Get" {
		switch op.status {
		case "InProgress":
			w.WriteHeader(http.StatusAccepted)
		case "Failed":
			writeError(w, &armError{Status: http.StatusInternalServerError, Code: op.fail.Code, Message: op.fail.Message})
		default:
			w.WriteHeader(http.StatusOK)
		}
		return
	}
	doc := map[string]any{"name": op.id, "status": op.status, "startTime": op.start.UTC().Format(time.RFC3339Nano)}
	if op.status != "InProgress" {
		doc["endTime"] = op.doneAt.UTC().Format(time.RFC3339Nano)
	}
	if op.fail != nil && op.status == "Failed" {
		doc["error"] = map[string]string{"code": op.fail.Code, "message": op.fail.Message}
	}
	writeJSON(w, http.StatusOK, doc)
}

// view is the scale set as GET returns it.
func (s *Sim) view(ss *scaleSet) map[string]any {
	v := deepCopy(ss.model).(map[string]any)
	v["id"] = s.resourceID(ss)
	v["name"] = ss.name
	v["type"] = "Microsoft.Compute/virtualMachineScaleSets"
	v["etag"] = etagOf(ss)
	props, _ := v["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		v["properties"] = props
	}
	props["provisioningState"] = ss.state
	props["uniqueId"] = ss.uniqueID
	props["timeCreated"] = ss.created.UTC().Format(time.RFC3339Nano)
	if props["orchestrationMode"] == nil {
		props["orchestrationMode"] = "Uniform"
	}
	return v
}

// instanceJSON is an instance as the VMs list returns it.
func (s *Sim) instanceJSON(ss *scaleSet, in *instance, expand bool, now time.Time) map[string]any {
	props := map[string]any{
		"provisioningState":  in.state,
		"latestModelApplied": in.modelVersion == ss.modelVersion,
		"networkProfileConfiguration": map[string]any{
			"networkInterfaceConfigurations": deepCopy(in.nics),
		},
	}
	if expand {
		iv := map[string]any{"statuses": []any{
			map[string]any{"code": "ProvisioningState/" + strings.ToLower(in.state)},
			map[string]any{"code": "PowerState/" + powerState(in)},
		}}
		if h := s.health(ss, in, now); h != "" {
			iv["vmHealth"] = map[string]any{"status": map[string]any{"code": "HealthState/" + h}}
		}
		props["instanceView"] = iv
	}
	return map[string]any{
		"id":         s.resourceID(ss) + "/virtualMachines/" + in.id,
		"name":       ss.name + "_" + in.id,
		"type":       "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
		"instanceId": in.id,
		"location":   ss.model["location"],
		"sku":        ss.model["sku"],
		"properties": props,
	}
}

// powerState is what an instance's PowerState status says.
func powerState(in *instance) string {
	switch {
	case in.deallocated:
		return "deallocated"
	case in.state == stateSucceeded:
		return "running"
	}
	return "starting"
}

// health is an instance's vmHealth (healthy, initializing, unhealthy), "" without the health extension.
func (s *Sim) health(ss *scaleSet, in *instance, now time.Time) string {
	if !hasHealthExtension(ss.model) {
		return ""
	}
	switch {
	case s.never[strings.ToLower(ss.name)] || in.deallocated:
		return "unhealthy"
	case in.state == stateSucceeded && !now.Before(in.provisionedAt.Add(s.opts.HealthyDelay)):
		return "healthy"
	}
	return "initializing"
}

// advance brings operations and instances up to now.
func (s *Sim) advance(now time.Time) {
	for _, id := range sortedKeys(s.operations) {
		op := s.operations[id]
		if op.status != "InProgress" || now.Before(op.doneAt) {
			continue
		}
		ss := s.scaleSets[op.set]
		if op.fail != nil {
			op.status = "Failed"
		} else {
			op.status = "Succeeded"
			if op.apply != nil {
				op.apply(now)
			}
		}
		if ss != nil && ss.busy == op.id {
			ss.busy = ""
			if ss.state != stateDeleting {
				ss.state = map[bool]string{true: stateFailed, false: stateSucceeded}[op.fail != nil]
			}
		}
	}
	for _, ss := range s.scaleSets {
		kept := ss.instances[:0]
		for _, in := range ss.instances {
			switch {
			case in.state == stateCreating && !now.Before(in.provisionedAt):
				in.state = stateSucceeded
			case in.state == stateDeleting && !now.Before(in.deleteAt):
				continue
			}
			kept = append(kept, in)
		}
		ss.instances = kept
	}
}

// validate checks a scale set model as ARM would, before anything changes.
func (s *Sim) validate(m map[string]any, create bool) *armError {
	bad := func(format string, args ...any) *armError {
		return errorf(http.StatusBadRequest, "InvalidParameter", format, args...)
	}
	if str(m["location"]) == "" {
		return errorf(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
	}
	if tags, ok := m["tags"]; ok && tags != nil {
		tm, ok := tags.(map[string]any)
		if !ok {
			return bad("tags must be an object")
		}
		if len(tm) > 50 {
			return errorf(http.StatusBadRequest, "InvalidTagCount", "A resource can have at most 50 tags.")
		}
		for k, v := range tm {
			if k == "" || len(k) > 512 || strings.ContainsAny(k, `<>%&\?/`) {
				return errorf(http.StatusBadRequest, "InvalidTagNameCharacters",
					"The tag name '%s' has invalid characters '<,>,%%,&,\\,?,/' or is empty or too long.", k)
			}
			if vs, ok := v.(string); !ok || len(vs) > 256 {
				return errorf(http.StatusBadRequest, "InvalidTagValueLength", "The value of tag '%s' must be a string of at most 256 characters.", k)
			}
		}
	}
	sku, _ := m["sku"].(map[string]any)
	if sku == nil || str(sku["name"]) == "" {
		return bad("sku.name (the VM size) is required.")
	}
	c, ok := sku["capacity"].(float64)
	if !ok || c < 0 || c > 1000 || c != float64(int64(c)) {
		return bad("sku.capacity must be a whole number from 0 to 1000.")
	}
	if mode := str(dig(m, "properties", "upgradePolicy", "mode")); mode != "" && mode != "Manual" && mode != "Automatic" && mode != "Rolling" {
		return bad("upgradePolicy.mode %q is not one of Manual, Automatic, Rolling.", mode)
	}
	profile, _ := dig(m, "properties", "virtualMachineProfile").(map[string]any)
	if profile == nil {
		if create {
			return bad("properties.virtualMachineProfile is required.")
		}
		return nil
	}
	img, _ := dig(profile, "storageProfile", "imageReference").(map[string]any)
	if img == nil || (str(img["id"]) == "" && (str(img["publisher"]) == "" || str(img["offer"]) == "" || str(img["sku"]) == "")) {
		return bad("virtualMachineProfile.storageProfile.imageReference needs an id, or a publisher, offer and sku.")
	}
	nics, _ := nicConfigs(m).([]any)
	if len(nics) == 0 {
		return bad("virtualMachineProfile.networkProfile.networkInterfaceConfigurations needs at least one entry.")
	}
	for i, n := range nics {
		nm, _ := n.(map[string]any)
		if str(nm["name"]) == "" {
			return bad("networkInterfaceConfigurations[%d].name is required.", i)
		}
		ips, _ := dig(nm, "properties", "ipConfigurations").([]any)
		if len(ips) == 0 {
			return bad("networkInterfaceConfigurations[%d].properties.ipConfigurations needs at least one entry.", i)
		}
		for j, ip := range ips {
			im, _ := ip.(map[string]any)
			if str(im["name"]) == "" {
				return bad("ipConfigurations[%d].name is required.", j)
			}
			if subnet := str(dig(im, "properties", "subnet", "id")); !strings.Contains(strings.ToLower(subnet), "/subnets/") {
				return bad("ipConfigurations[%d].properties.subnet.id must be a subnet resource ID, not %q.", j, subnet)
			}
			pools, _ := dig(im, "properties", "loadBalancerBackendAddressPools").([]any)
			for _, p := range pools {
				id := str(dig(p, "id"))
				if !s.pools[strings.ToLower(id)] {
					return errorf(http.StatusBadRequest, "InvalidResourceReference",
						"Resource %s referenced by the scale set was not found.", id)
				}
			}
		}
	}
	return nil
}

// stripComputed drops from a request body what ARM computes and ignores on input.
func stripComputed(m map[string]any) map[string]any {
	delete(m, "id")
	delete(m, "name")
	delete(m, "type")
	delete(m, "etag")
	if props, ok := m["properties"].(map[string]any); ok {
		delete(props, "provisioningState")
		delete(props, "uniqueId")
		delete(props, "timeCreated")
	}
	return m
}

// mergePatch applies a JSON merge patch (RFC 7386): objects merge, null deletes, anything else
// (lists included) replaces.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return deepCopy(patch)
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// dig walks a decoded JSON value by object keys; nil when a step is missing.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func nicConfigs(model map[string]any) any {
	return dig(model, "properties", "virtualMachineProfile", "networkProfile", "networkInterfaceConfigurations")
}

func capacityOf(model map[string]any) int64 {
	c, _ := dig(model, "sku", "capacity").(float64)
	return int64(c)
}

func hasHealthExtension(model map[string]any) bool {
	exts, _ := dig(model, "properties", "virtualMachineProfile", "extensionProfile", "extensions").([]any)
	for _, e := range exts {
		if healthExtensionTypes[str(dig(e, "properties", "type"))] {
			return true
		}
	}
	return false
}

// poolsOf lists the backend pool IDs NIC configurations name.
func poolsOf(nics any) []string {
	var out []string
	list, _ := nics.([]any)
	for _, n := range list {
		ips, _ := dig(n, "properties", "ipConfigurations").([]any)
		for _, ip := range ips {
			pools, _ := dig(ip, "properties", "loadBalancerBackendAddressPools").([]any)
			for _, p := range pools {
				out = append(out, str(dig(p, "id")))
			}
		}
	}
	return out
}
