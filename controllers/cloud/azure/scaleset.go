package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Provisioning states of a scale set and of its instances that the provider acts on.
const (
	stateSucceeded = "Succeeded"
	stateDeleting  = "Deleting"
)

// healthy is the vmHealth code of an instance the Application Health extension finds healthy.
const healthy = "HealthState/healthy"

// The Application Health extension every scale set gets, so that each instance has a vmHealth.
const (
	healthExtensionName      = "HealthExtension"
	healthExtensionPublisher = "Microsoft.ManagedServices"
	healthExtensionType      = "ApplicationHealthLinux"
	healthExtensionVersion   = "2.0"
	// healthPort is where the extension checks each instance, with TCP.
	healthPort = 80
)

// nicName and ipConfigName name the one NIC and IP configuration Create gives the instances.
const (
	nicName      = "primary"
	ipConfigName = "primary"
)

// azureSpec returns the ServerGroup's Azure block, or an InvalidRequest error.
func azureSpec(op string, sg *v1alpha1.ServerGroup) (*v1alpha1.AzureServerGroup, error) {
	if sg.Spec.Azure == nil {
		return nil, cloud.Invalid(op, "spec.azure is required for a server group in an azure account")
	}
	return sg.Spec.Azure, nil
}

// get returns the scale set named after the ServerGroup, nil when there is none.
func (c *Client) get(ctx context.Context, sg *v1alpha1.ServerGroup) (*armcompute.VirtualMachineScaleSet, error) {
	const op = "VirtualMachineScaleSets.Get"
	out, err := c.sets.Get(ctx, c.group, sg.Name, nil)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		return nil, wrap(op, err)
	}
	return &out.VirtualMachineScaleSet, nil
}

// own returns the ServerGroup's scale set, which must exist and be the ServerGroup's.
func (c *Client) own(ctx context.Context, op string, sg *v1alpha1.ServerGroup) (*armcompute.VirtualMachineScaleSet, error) {
	ss, err := c.get(ctx, sg)
	if err != nil {
		return nil, err
	}
	if ss == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("VM scale set %s not found in resource group %s", sg.Name, c.group)}
	}
	if err := cloud.Check(sg, setObject(sg), ownerOf(ss.Tags)); err != nil {
		return nil, err
	}
	return ss, nil
}

// instances lists the scale set's instances with their instance view, leaving out those being deleted.
func (c *Client) instances(ctx context.Context, sg *v1alpha1.ServerGroup) ([]*armcompute.VirtualMachineScaleSetVM, error) {
	var out []*armcompute.VirtualMachineScaleSetVM
	pager := c.vms.NewListPager(c.group, sg.Name, &armcompute.VirtualMachineScaleSetVMsClientListOptions{Expand: to("instanceView")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, wrap("VirtualMachineScaleSetVMs.List", err)
		}
		for _, vm := range page.Value {
			if vm != nil && str(vmProps(vm).ProvisioningState) != stateDeleting {
				out = append(out, vm)
			}
		}
	}
	return out, nil
}

// Observe reads the scale set named after the ServerGroup and its instances.
func (c *Client) Observe(ctx context.Context, sg *v1alpha1.ServerGroup) (cloud.Observation, error) {
	ss, err := c.get(ctx, sg)
	if err != nil || ss == nil {
		return cloud.Observation{}, err
	}
	var desired int32
	if ss.SKU != nil && ss.SKU.Capacity != nil {
		desired = int32(*ss.SKU.Capacity)
	}
	lo, hi := bounds(ss.Tags, desired)
	o := cloud.Observation{
		Exists:     true,
		Deleting:   ss.Properties != nil && str(ss.Properties.ProvisioningState) == stateDeleting,
		Owner:      ownerOf(ss.Tags),
		ProviderID: str(ss.ID),
		Capacity:   v1alpha1.Capacity{Min: lo, Max: hi, Desired: desired},
		Instances:  v1alpha1.Instances{Desired: desired},
		Status:     v1alpha1.CloudServerGroupStatus{Azure: &v1alpha1.AzureServerGroupStatus{}},
	}
	if o.Deleting {
		o.Traffic = v1alpha1.TrafficDisabled
		return o, nil
	}
	vms, err := c.instances(ctx, sg)
	if err != nil {
		return cloud.Observation{}, err
	}
	o.Traffic = trafficOf(sg, ss, vms)

	var tally cloud.Tally
	for _, vm := range vms {
		p := vmProps(vm)
		reason := ""
		switch state := str(p.ProvisioningState); {
		case state != stateSucceeded:
			reason = "provisioning " + state
		case powerState(p) != running:
			// Provisioned but stopped or deallocated: it serves nothing.
			reason = "power state " + strings.TrimPrefix(powerState(p), "PowerState/")
		default:
			o.Instances.Running++
			if h := vmHealth(p); h != healthy {
				reason = "vmHealth " + strings.TrimPrefix(h, "HealthState/")
			}
		}
		tally.Add(str(vm.Name), reason)
	}
	o.Instances.Healthy = tally.Healthy
	o.Unhealthy = tally.Unhealthy(o.Instances.Desired, "not created yet")
	return o, nil
}

// running is the PowerState status code of an instance that runs.
const running = "PowerState/running"

// powerState is an instance's PowerState status code from its instance view, "PowerState/unknown"
// without one.
func powerState(p *armcompute.VirtualMachineScaleSetVMProperties) string {
	if p.InstanceView != nil {
		for _, st := range p.InstanceView.Statuses {
			if st != nil && strings.HasPrefix(str(st.Code), "PowerState/") {
				return str(st.Code)
			}
		}
	}
	return "PowerState/unknown"
}

// vmHealth is an instance's Application Health extension status code, "no vmHealth" without one.
func vmHealth(p *armcompute.VirtualMachineScaleSetVMProperties) string {
	if p.InstanceView == nil || p.InstanceView.VMHealth == nil || p.InstanceView.VMHealth.Status == nil {
		return "HealthState/unknown (no Application Health extension)"
	}
	return str(p.InstanceView.VMHealth.Status.Code)
}

// trafficOf says whether the group takes traffic, from what its instances run with: Enabled when the
// model's NIC IP configurations list every pool of the spec and so does every instance's. When the model
// has none of the spec's pools left but an instance still runs in one (SetTraffic Disabled half way,
// before updateInstances), the group still takes traffic: Enabled. Anything else is Disabled. Only the
// spec's pools count: a pool someone else added (an outbound rule's, for SNAT) is not traffic. A spec
// without backendAddressPoolIDs has no load balancer to be in: its traffic is the spec's.
func trafficOf(sg *v1alpha1.ServerGroup, ss *armcompute.VirtualMachineScaleSet, vms []*armcompute.VirtualMachineScaleSetVM) v1alpha1.Traffic {
	var want []string
	if sg.Spec.Azure != nil {
		want = sg.Spec.Azure.BackendAddressPoolIDs
	}
	if len(want) == 0 {
		if sg.Spec.Traffic == v1alpha1.TrafficDisabled {
			return v1alpha1.TrafficDisabled
		}
		return v1alpha1.TrafficEnabled
	}
	model := modelPools(ss)
	all, some := true, false
	for _, vm := range vms {
		pools := poolsOf(vmNICs(vm))
		all = all && containsAll(pools, want)
		some = some || containsAny(pools, want)
	}
	switch {
	case containsAll(model, want) && all:
		return v1alpha1.TrafficEnabled
	case !containsAny(model, want) && some:
		return v1alpha1.TrafficEnabled
	}
	return v1alpha1.TrafficDisabled
}

// Create makes the scale set, tagged as the ServerGroup's, and returns its creation. A scale set of that
// name that exists already is left as it is: nil if it is the ServerGroup's, NotOwned if not. The PUT
// carries If-None-Match: *, so that a scale set made meanwhile by anyone is never overwritten.
func (c *Client) Create(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	const op = "VirtualMachineScaleSets.CreateOrUpdate"
	spec, err := azureSpec(op, sg)
	if err != nil {
		return nil, err
	}
	for field, v := range map[string]string{"imageID": spec.ImageID, "vmSize": spec.VMSize, "subnetID": spec.SubnetID} {
		if v == "" {
			return nil, cloud.Invalid(op, "spec.azure."+field+" is required")
		}
	}
	ss, err := c.get(ctx, sg)
	if err != nil {
		return nil, err
	}
	if ss != nil {
		return nil, cloud.Check(sg, setObject(sg), ownerOf(ss.Tags))
	}
	var pools []string
	if sg.Spec.Traffic != v1alpha1.TrafficDisabled {
		pools = spec.BackendAddressPoolIDs
	}
	model := armcompute.VirtualMachineScaleSet{
		Location: to(sg.Spec.Region),
		Tags:     ownTags(sg, nil, sg.Spec.Capacity),
		SKU:      &armcompute.SKU{Name: to(spec.VMSize), Capacity: to(int64(sg.Spec.Capacity.Desired))},
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			OrchestrationMode: to(armcompute.OrchestrationModeUniform),
			UpgradePolicy:     &armcompute.UpgradePolicy{Mode: to(armcompute.UpgradeModeManual)},
			// No extra instances made and dropped on a scale-out: the instances observed are the capacity.
			Overprovision: to(false),
			VirtualMachineProfile: &armcompute.VirtualMachineScaleSetVMProfile{
				StorageProfile: &armcompute.VirtualMachineScaleSetStorageProfile{
					ImageReference: &armcompute.ImageReference{ID: to(spec.ImageID)},
				},
				NetworkProfile: &armcompute.VirtualMachineScaleSetNetworkProfile{
					NetworkInterfaceConfigurations: []*armcompute.VirtualMachineScaleSetNetworkConfiguration{{
						Name: to(nicName),
						Properties: &armcompute.VirtualMachineScaleSetNetworkConfigurationProperties{
							Primary: to(true),
							IPConfigurations: []*armcompute.VirtualMachineScaleSetIPConfiguration{{
								Name: to(ipConfigName),
								Properties: &armcompute.VirtualMachineScaleSetIPConfigurationProperties{
									Primary:                         to(true),
									Subnet:                          &armcompute.APIEntityReference{ID: to(spec.SubnetID)},
									LoadBalancerBackendAddressPools: subResources(pools),
								},
							}},
						},
					}},
				},
				ExtensionProfile: &armcompute.VirtualMachineScaleSetExtensionProfile{
					Extensions: []*armcompute.VirtualMachineScaleSetExtension{{
						Name: to(healthExtensionName),
						Properties: &armcompute.VirtualMachineScaleSetExtensionProperties{
							Publisher:               to(healthExtensionPublisher),
							Type:                    to(healthExtensionType),
							TypeHandlerVersion:      to(healthExtensionVersion),
							AutoUpgradeMinorVersion: to(true),
							Settings:                map[string]any{"protocol": "tcp", "port": healthPort},
						},
					}},
				},
			},
		},
	}
	if len(sg.Spec.Zones) > 0 {
		for _, z := range sg.Spec.Zones {
			model.Zones = append(model.Zones, to(z))
		}
	}
	poller, err := c.sets.BeginCreateOrUpdate(ctx, c.group, sg.Name, model,
		&armcompute.VirtualMachineScaleSetsClientBeginCreateOrUpdateOptions{IfNoneMatch: to("*")})
	if err != nil {
		if isStatus(err, http.StatusPreconditionFailed) {
			// Made since the look above, by an earlier Create or by someone else: the next Observe says
			// whose it is.
			return nil, nil
		}
		return nil, wrap(op, err)
	}
	return started(v1alpha1.OperationCreate, poller)
}

// Adopt rewrites the owner tags of the ServerGroup's scale set to the ServerGroup, when cloud.Claim allows
// it; its other tags, and the capacity bounds it has, stay.
func (c *Client) Adopt(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	const op = "VirtualMachineScaleSets.Update"
	ss, err := c.get(ctx, sg)
	if err != nil {
		return nil, err
	}
	if ss == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("VM scale set %s not found in resource group %s", sg.Name, c.group)}
	}
	adopt, err := cloud.Claim(sg, setObject(sg), ownerOf(ss.Tags))
	if err != nil || !adopt {
		return nil, err
	}
	var desired int32
	if ss.SKU != nil && ss.SKU.Capacity != nil {
		desired = int32(*ss.SKU.Capacity)
	}
	lo, hi := bounds(ss.Tags, desired)
	return c.update(ctx, v1alpha1.OperationAdopt, sg, ss, armcompute.VirtualMachineScaleSetUpdate{
		Tags: ownTags(sg, ss.Tags, v1alpha1.Capacity{Min: lo, Max: hi, Desired: desired}),
	})
}

// UpdateCapacity sets the scale set's capacity to want.Desired and keeps want's bounds in its tags, in
// one PATCH.
func (c *Client) UpdateCapacity(ctx context.Context, sg *v1alpha1.ServerGroup, want v1alpha1.Capacity) (*v1alpha1.CloudOperation, error) {
	const op = "VirtualMachineScaleSets.Update"
	ss, err := c.own(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	var desired int32
	if ss.SKU != nil && ss.SKU.Capacity != nil {
		desired = int32(*ss.SKU.Capacity)
	}
	lo, hi := bounds(ss.Tags, desired)
	if (v1alpha1.Capacity{Min: lo, Max: hi, Desired: desired}) == want {
		return nil, nil
	}
	return c.update(ctx, v1alpha1.OperationUpdateCapacity, sg, ss, armcompute.VirtualMachineScaleSetUpdate{
		SKU:  &armcompute.SKU{Capacity: to(int64(want.Desired))},
		Tags: ownTags(sg, ss.Tags, want),
	})
}

// SetTraffic puts the scale set in its backend pools or takes it out, one step per call: first the
// model's NIC IP configurations (a PATCH), then, once that is done, the instances that do not run with
// the model yet (updateInstances). Only the spec's backendAddressPoolIDs are added or removed: Enabled is
// all of them, Disabled none, and any other pool the NICs are in stays.
func (c *Client) SetTraffic(ctx context.Context, sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) (*v1alpha1.CloudOperation, error) {
	const op = "SetTraffic"
	spec, err := azureSpec(op, sg)
	if err != nil {
		return nil, err
	}
	if t != v1alpha1.TrafficEnabled && t != v1alpha1.TrafficDisabled {
		return nil, cloud.Invalid(op, fmt.Sprintf("traffic must be %s or %s, not %q", v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled, t))
	}
	ss, err := c.own(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	want := spec.BackendAddressPoolIDs
	if len(want) == 0 {
		return nil, nil // no load balancer: nothing to move
	}
	inModel := func(pools []string) bool {
		if t == v1alpha1.TrafficEnabled {
			return containsAll(pools, want)
		}
		return !containsAny(pools, want)
	}
	if !inModel(modelPools(ss)) {
		nics, err := updateNICs(ss, want, t)
		if err != nil {
			return nil, err
		}
		return c.update(ctx, v1alpha1.OperationSetTraffic, sg, ss, armcompute.VirtualMachineScaleSetUpdate{
			Properties: &armcompute.VirtualMachineScaleSetUpdateProperties{
				VirtualMachineProfile: &armcompute.VirtualMachineScaleSetUpdateVMProfile{
					NetworkProfile: &armcompute.VirtualMachineScaleSetUpdateNetworkProfile{NetworkInterfaceConfigurations: nics},
				},
			},
		})
	}
	vms, err := c.instances(ctx, sg)
	if err != nil {
		return nil, err
	}
	var stale []*string
	for _, vm := range vms {
		if !inModel(poolsOf(vmNICs(vm))) {
			stale = append(stale, vm.InstanceID)
		}
	}
	if len(stale) == 0 {
		return nil, nil
	}
	poller, err := c.sets.BeginUpdateInstances(ctx, c.group, sg.Name, armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs{InstanceIDs: stale}, nil)
	if err != nil {
		return nil, wrap("VirtualMachineScaleSets.UpdateInstances", err)
	}
	return started(v1alpha1.OperationSetTraffic, poller)
}

// updateNICs is the scale set's NIC configurations with the backend pools of traffic t: want added to the
// primary IP configuration for Enabled, want removed from every IP configuration for Disabled; other
// pools stay. The rest of each configuration is
// carried over as the scale set has it (through JSON, the two SDK types having the same wire form),
// since a PATCH replaces the list whole.
func updateNICs(ss *armcompute.VirtualMachineScaleSet, want []string, t v1alpha1.Traffic) ([]*armcompute.VirtualMachineScaleSetUpdateNetworkConfiguration, error) {
	b, err := json.Marshal(modelNICs(ss))
	if err != nil {
		return nil, wrap("SetTraffic", err)
	}
	var nics []*armcompute.VirtualMachineScaleSetUpdateNetworkConfiguration
	if err := json.Unmarshal(b, &nics); err != nil {
		return nil, wrap("SetTraffic", err)
	}
	primaryDone := false
	for ni, nic := range nics {
		if nic == nil || nic.Properties == nil {
			continue
		}
		for ii, ip := range nic.Properties.IPConfigurations {
			if ip == nil {
				continue
			}
			if ip.Properties == nil {
				ip.Properties = &armcompute.VirtualMachineScaleSetUpdateIPConfigurationProperties{}
			}
			if t == v1alpha1.TrafficDisabled {
				kept := []*armcompute.SubResource{} // empty, not nil: the PATCH must name the list to replace it
				for _, r := range ip.Properties.LoadBalancerBackendAddressPools {
					if r == nil || r.ID == nil || !containsFold(want, *r.ID) {
						kept = append(kept, r)
					}
				}
				ip.Properties.LoadBalancerBackendAddressPools = kept
				continue
			}
			primary := (nic.Properties.Primary != nil && *nic.Properties.Primary || ni == 0) &&
				(ip.Properties.Primary != nil && *ip.Properties.Primary || ii == 0)
			if primaryDone || !primary {
				continue
			}
			have := poolsOfRefs(ip.Properties.LoadBalancerBackendAddressPools)
			for _, id := range want {
				if !containsFold(have, id) {
					ip.Properties.LoadBalancerBackendAddressPools = append(ip.Properties.LoadBalancerBackendAddressPools, &armcompute.SubResource{ID: to(id)})
				}
			}
			primaryDone = true
		}
	}
	if t == v1alpha1.TrafficEnabled && !primaryDone {
		return nil, cloud.Invalid("SetTraffic", "the scale set has no NIC IP configuration to put in the backend pools")
	}
	return nics, nil
}

// update PATCHes the scale set ss, as read, and returns the operation, as action. The PATCH carries
// If-Match with the ETag of ss: the patch was computed from ss (the tags and NIC lists it carries replace
// the scale set's whole, and ss was checked to be ours), so a scale set changed since by anyone must not
// be written over. Then ARM answers 412, and the error is retryable: the next reconcile reads it again.
func (c *Client) update(ctx context.Context, action string, sg *v1alpha1.ServerGroup, ss *armcompute.VirtualMachineScaleSet, patch armcompute.VirtualMachineScaleSetUpdate) (*v1alpha1.CloudOperation, error) {
	const op = "VirtualMachineScaleSets.Update"
	if ss.Etag == nil || *ss.Etag == "" {
		return nil, &cloud.Error{Reason: cloud.Unknown, Op: op, Err: fmt.Errorf("VM scale set %s was read without an etag: not written, so as not to overwrite a change", sg.Name)}
	}
	poller, err := c.sets.BeginUpdate(ctx, c.group, sg.Name, patch, &armcompute.VirtualMachineScaleSetsClientBeginUpdateOptions{IfMatch: ss.Etag})
	if isStatus(err, http.StatusPreconditionFailed) {
		return nil, &cloud.Error{Reason: cloud.Unknown, Op: op, Err: fmt.Errorf("VM scale set %s was changed by someone else since it was read (etag %s); it is read again on the next try", sg.Name, *ss.Etag)}
	}
	if err != nil {
		return nil, wrap("VirtualMachineScaleSets.Update", err)
	}
	return started(action, poller)
}

// Delete deletes the scale set with its instances. One that is not the ServerGroup's is refused
// (NotOwned) without a write; one being deleted is left to finish.
func (c *Client) Delete(ctx context.Context, sg *v1alpha1.ServerGroup) (bool, *v1alpha1.CloudOperation, error) {
	const op = "VirtualMachineScaleSets.Delete"
	ss, err := c.get(ctx, sg)
	if err != nil {
		return false, nil, err
	}
	if ss == nil {
		return true, nil, nil
	}
	if err := cloud.Check(sg, setObject(sg), ownerOf(ss.Tags)); err != nil {
		return false, nil, err
	}
	if ss.Properties != nil && str(ss.Properties.ProvisioningState) == stateDeleting {
		return false, nil, nil
	}
	poller, err := c.sets.BeginDelete(ctx, c.group, sg.Name, nil)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return true, nil, nil
		}
		return false, nil, wrap(op, err)
	}
	o, err := started(v1alpha1.OperationDelete, poller)
	return false, o, err
}

// started is the operation a poller follows, nil when it ended with its first answer.
func started[T any](action string, p *runtime.Poller[T]) (*v1alpha1.CloudOperation, error) {
	if p.Done() {
		return nil, nil
	}
	tok, err := p.ResumeToken()
	if err != nil {
		return nil, wrap(action, err)
	}
	return &v1alpha1.CloudOperation{Action: action, ID: tok}, nil
}

// Operation resumes the poller the operation's resume token describes and polls it once: one GET of its
// Azure-AsyncOperation URL, and, once it has ended, the final GET of the resource or Location. It never
// waits. An operation ARM no longer knows (404), or a token that is not a poller's, is done: the caller
// observes the group afresh.
func (c *Client) Operation(ctx context.Context, sg *v1alpha1.ServerGroup, op v1alpha1.CloudOperation) (bool, error) {
	tok := op.ID
	if err := c.checkToken(tok); err != nil {
		// Done, so that the caller forgets it: polling it would hand the ARM token to whoever wrote it.
		return true, err
	}
	switch tokenType(tok) {
	case "VirtualMachineScaleSetsClientCreateOrUpdateResponse":
		p, err := c.sets.BeginCreateOrUpdate(ctx, c.group, sg.Name, armcompute.VirtualMachineScaleSet{},
			&armcompute.VirtualMachineScaleSetsClientBeginCreateOrUpdateOptions{ResumeToken: tok})
		return pollOnce(ctx, op.Action, p, err)
	case "VirtualMachineScaleSetsClientUpdateResponse":
		p, err := c.sets.BeginUpdate(ctx, c.group, sg.Name, armcompute.VirtualMachineScaleSetUpdate{},
			&armcompute.VirtualMachineScaleSetsClientBeginUpdateOptions{ResumeToken: tok})
		return pollOnce(ctx, op.Action, p, err)
	case "VirtualMachineScaleSetsClientUpdateInstancesResponse":
		p, err := c.sets.BeginUpdateInstances(ctx, c.group, sg.Name, armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs{},
			&armcompute.VirtualMachineScaleSetsClientBeginUpdateInstancesOptions{ResumeToken: tok})
		return pollOnce(ctx, op.Action, p, err)
	case "VirtualMachineScaleSetsClientDeleteResponse":
		p, err := c.sets.BeginDelete(ctx, c.group, sg.Name, &armcompute.VirtualMachineScaleSetsClientBeginDeleteOptions{ResumeToken: tok})
		return pollOnce(ctx, op.Action, p, err)
	}
	return true, nil
}

// checkToken refuses a resume token that would send a request, with the ARM bearer token azcore attaches
// to every poll, anywhere but this account's subscription on its Resource Manager endpoint. The token
// comes from status.operation, which anyone allowed to patch a ServerGroup's status can write. Every
// string in it that is a URL, or is named like one, must have the endpoint's scheme and host and a path
// under /subscriptions/<subscriptionID>/ (which the Microsoft.Compute operation URLs are too).
func (c *Client) checkToken(tok string) error {
	const op = "Operation"
	var t struct {
		Token map[string]any `json:"token"`
	}
	if json.Unmarshal([]byte(tok), &t) != nil || t.Token == nil {
		return nil // not a poller's token: Operation calls it done without a request
	}
	base, err := url.Parse(c.raw.Endpoint())
	if err != nil {
		return wrap(op, err)
	}
	prefix := "/subscriptions/" + strings.ToLower(c.subscription) + "/"
	for k, v := range t.Token {
		s, ok := v.(string)
		if !ok || s == "" || !strings.HasSuffix(strings.ToLower(k), "url") && !strings.Contains(s, "://") {
			continue
		}
		u, err := url.Parse(s)
		refuse := err != nil || u.User != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) ||
			!strings.HasPrefix(strings.ToLower(u.Path), prefix) || slices.Contains(strings.Split(u.Path, "/"), "..")
		if refuse {
			return cloud.Invalid(op, fmt.Sprintf("status.operation.id: its %s is not under %s%s on the account's Resource Manager endpoint; the operation is dropped and the group observed afresh",
				k, strings.TrimSuffix(c.raw.Endpoint(), "/"), prefix))
		}
	}
	return nil
}

// pollOnce polls p once and, when it has ended, reads its outcome.
func pollOnce[T any](ctx context.Context, action string, p *runtime.Poller[T], err error) (bool, error) {
	if err != nil {
		return true, nil // not a token of ours: observe afresh
	}
	if _, err := p.Poll(ctx); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return true, nil
		}
		return false, wrap(action, err)
	}
	if !p.Done() {
		return false, nil
	}
	if _, err := p.Result(ctx); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return true, nil // the resource went with it (a delete, or someone else's)
		}
		return true, wrap(action, err)
	}
	return true, nil
}

// isStatus says whether err is an ARM answer of that HTTP status.
func isStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

func vmProps(vm *armcompute.VirtualMachineScaleSetVM) *armcompute.VirtualMachineScaleSetVMProperties {
	if vm.Properties == nil {
		return &armcompute.VirtualMachineScaleSetVMProperties{}
	}
	return vm.Properties
}

// vmNICs are the NIC configurations an instance runs with.
func vmNICs(vm *armcompute.VirtualMachineScaleSetVM) []*armcompute.VirtualMachineScaleSetNetworkConfiguration {
	p := vmProps(vm)
	if p.NetworkProfileConfiguration == nil {
		return nil
	}
	return p.NetworkProfileConfiguration.NetworkInterfaceConfigurations
}

// modelNICs are the NIC configurations of the scale set's model.
func modelNICs(ss *armcompute.VirtualMachineScaleSet) []*armcompute.VirtualMachineScaleSetNetworkConfiguration {
	if ss.Properties == nil || ss.Properties.VirtualMachineProfile == nil || ss.Properties.VirtualMachineProfile.NetworkProfile == nil {
		return nil
	}
	return ss.Properties.VirtualMachineProfile.NetworkProfile.NetworkInterfaceConfigurations
}

func modelPools(ss *armcompute.VirtualMachineScaleSet) []string { return poolsOf(modelNICs(ss)) }

// poolsOf lists the backend pools NIC configurations name.
func poolsOf(nics []*armcompute.VirtualMachineScaleSetNetworkConfiguration) []string {
	var out []string
	for _, n := range nics {
		if n == nil || n.Properties == nil {
			continue
		}
		for _, ip := range n.Properties.IPConfigurations {
			if ip != nil && ip.Properties != nil {
				out = append(out, poolsOfRefs(ip.Properties.LoadBalancerBackendAddressPools)...)
			}
		}
	}
	return out
}

func poolsOfRefs(refs []*armcompute.SubResource) []string {
	var out []string
	for _, r := range refs {
		if r != nil && r.ID != nil {
			out = append(out, *r.ID)
		}
	}
	return out
}

func subResources(ids []string) []*armcompute.SubResource {
	out := make([]*armcompute.SubResource, 0, len(ids))
	for _, id := range ids {
		out = append(out, &armcompute.SubResource{ID: to(id)})
	}
	return out
}

// containsAll says whether have names every ID of want; ARM IDs compare without case.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !containsFold(have, w) {
			return false
		}
	}
	return true
}

// containsAny says whether have names any ID of want.
func containsAny(have, want []string) bool {
	return slices.ContainsFunc(want, func(w string) bool { return containsFold(have, w) })
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
