package gcp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Name limits of Compute Engine: a resource name is at most 63 characters, an instance group's base
// instance name at most 58.
const (
	maxName         = 63
	maxBaseInstance = 58
)

// The instance states that count.
const (
	statusRunning = "RUNNING"
	actionNone    = "NONE"
	healthHealthy = "HEALTHY"
)

// defaultNetwork is the network of a template made without spec.gcp.network.
const defaultNetwork = "global/networks/default"

// gcpSpec returns the ServerGroup's GCP block, or an InvalidRequest error.
func gcpSpec(op string, sg *v1alpha1.ServerGroup) (*v1alpha1.GCPServerGroup, error) {
	if sg.Spec.GCP == nil {
		return nil, cloud.Invalid(op, "spec.gcp is required for a server group in a gcp account")
	}
	return sg.Spec.GCP, nil
}

// location says where the ServerGroup's managed instance group is: in a zone when spec.zones has one
// entry, else in the region.
func location(op string, sg *v1alpha1.ServerGroup) (zonal bool, loc string, err error) {
	region := sg.Spec.Region
	if region == "" {
		return false, "", cloud.Invalid(op, "spec.region is required")
	}
	if len(sg.Name) > maxName {
		return false, "", cloud.Invalid(op, fmt.Sprintf("metadata.name %s is longer than the %d characters of a GCP resource name", sg.Name, maxName))
	}
	if len(sg.Spec.Zones) == 1 {
		z := sg.Spec.Zones[0]
		if !strings.HasPrefix(z, region+"-") {
			return false, "", cloud.Invalid(op, fmt.Sprintf("spec.zones[0] %s is not a zone of region %s", z, region))
		}
		return true, z, nil
	}
	for i, z := range sg.Spec.Zones {
		if !strings.HasPrefix(z, region+"-") {
			return false, "", cloud.Invalid(op, fmt.Sprintf("spec.zones[%d] %s is not a zone of region %s", i, z, region))
		}
	}
	return false, region, nil
}

// getGroup returns the ServerGroup's managed instance group, nil when there is none.
func (c *Client) getGroup(ctx context.Context, sg *v1alpha1.ServerGroup) (*computepb.InstanceGroupManager, error) {
	zonal, loc, err := location("instanceGroupManagers.get", sg)
	if err != nil {
		return nil, err
	}
	var g *computepb.InstanceGroupManager
	if zonal {
		g, err = c.zoneMIGs.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: c.project, Zone: loc, InstanceGroupManager: sg.Name}, c.callOpts...)
		err = c.done("instanceGroupManagers.get", err)
	} else {
		g, err = c.regionMIGs.Get(ctx, &computepb.GetRegionInstanceGroupManagerRequest{Project: c.project, Region: loc, InstanceGroupManager: sg.Name}, c.callOpts...)
		err = c.done("regionInstanceGroupManagers.get", err)
	}
	if cloud.IsNotFound(err) {
		return nil, nil
	}
	return g, err
}

// ownGroup returns the ServerGroup's managed instance group, which must exist and be the ServerGroup's.
func (c *Client) ownGroup(ctx context.Context, op string, sg *v1alpha1.ServerGroup) (*computepb.InstanceGroupManager, error) {
	g, err := c.getGroup(ctx, sg)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: errors.New(groupObject(sg) + " not found")}
	}
	return g, cloud.Check(sg, groupObject(sg), ownerOf(g.GetDescription()))
}

// Observe reads the managed instance group named after the ServerGroup, its instances, whether it is a
// backend of its backend services and, when it is, its instances' health there.
func (c *Client) Observe(ctx context.Context, sg *v1alpha1.ServerGroup) (cloud.Observation, error) {
	g, err := c.getGroup(ctx, sg)
	if err != nil || g == nil {
		return cloud.Observation{}, err
	}
	size := g.GetTargetSize()
	o := cloud.Observation{
		Exists:     true,
		Owner:      ownerOf(g.GetDescription()),
		ProviderID: g.GetSelfLink(),
		// A managed instance group without an autoscaler has a target size only: min and max are the spec's.
		Capacity: v1alpha1.Capacity{Min: sg.Spec.Capacity.Min, Max: sg.Spec.Capacity.Max, Desired: size},
		Status:   v1alpha1.CloudServerGroupStatus{GCP: &v1alpha1.GCPServerGroupStatus{InstanceTemplate: g.GetInstanceTemplate()}},
	}
	o.Instances.Desired = size
	var services []string
	if sg.Spec.GCP != nil {
		services = sg.Spec.GCP.BackendServices
	}
	var inAll bool
	o.Traffic, inAll, err = c.trafficOf(ctx, g, sg, services)
	if err != nil {
		return cloud.Observation{}, err
	}
	instances, err := c.listInstances(ctx, sg)
	if err != nil {
		return cloud.Observation{}, err
	}

	var running []string
	for _, in := range instances {
		if in.GetInstanceStatus() == statusRunning && !leaving(in) {
			running = append(running, trimLink(in.GetInstance()))
		}
	}
	o.Instances.Running = int32(len(running))
	// why holds, for each running instance a load balancer finds unhealthy, the reason.
	why := map[string]string{}
	byBackend := inAll && len(running) > 0
	if byBackend {
		for _, id := range running {
			why[id] = ""
		}
		for _, name := range services {
			project, bs := c.backendServiceRef(name)
			h, err := c.backends.GetHealth(ctx, &computepb.GetHealthBackendServiceRequest{Project: project, BackendService: bs,
				ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: proto.String(g.GetInstanceGroup())}}, c.callOpts...)
			if err := c.done("backendServices.getHealth", err); err != nil {
				return cloud.Observation{}, err
			}
			states := map[string]string{}
			for _, s := range h.GetHealthStatus() {
				states[trimLink(s.GetInstance())] = s.GetHealthState()
			}
			for _, id := range running {
				if why[id] != "" {
					continue
				}
				switch st, ok := states[id]; {
				case !ok:
					why[id] = "not yet checked by backend service " + bs
				case st != healthHealthy:
					why[id] = st + " in backend service " + bs
				}
			}
		}
	}

	var tally cloud.Tally
	for _, in := range instances {
		if leaving(in) {
			continue
		}
		id := trimLink(in.GetInstance())
		var reason string
		switch {
		case in.GetInstanceStatus() != statusRunning:
			reason = in.GetInstanceStatus()
		case in.GetCurrentAction() != actionNone:
			reason = in.GetCurrentAction()
		case byBackend:
			reason = why[id]
		}
		tally.Add(lastPart(id), reason)
	}
	o.Instances.Healthy = tally.Healthy
	o.Unhealthy = tally.Unhealthy(o.Instances.Desired, "not created yet")
	return o, nil
}

// leaving says whether the group is taking the instance away.
func leaving(in *computepb.ManagedInstance) bool {
	switch in.GetCurrentAction() {
	case "DELETING", "ABANDONING":
		return true
	}
	return false
}

// trafficOf says whether the group takes traffic: Enabled when it is a backend of every backend service
// of the spec, Disabled when of none. SetTraffic changes one service per call, so between the two it is
// half done: that is reported as the opposite of the spec's traffic, so that the controller goes on.
// inAll says whether it is a backend of every one (its instances' health is then theirs). A group with no
// backend services has no load balancer to be in or out of: its traffic is the spec's.
func (c *Client) trafficOf(ctx context.Context, g *computepb.InstanceGroupManager, sg *v1alpha1.ServerGroup, services []string) (t v1alpha1.Traffic, inAll bool, err error) {
	if len(services) == 0 {
		if sg.Spec.Traffic == v1alpha1.TrafficDisabled {
			return v1alpha1.TrafficDisabled, false, nil
		}
		return v1alpha1.TrafficEnabled, false, nil
	}
	in := 0
	for _, name := range services {
		bs, err := c.getBackendService(ctx, name)
		if cloud.IsNotFound(err) {
			continue // a group is no backend of a service that is gone
		}
		if err != nil {
			return "", false, err
		}
		if backendIndex(bs, g.GetInstanceGroup()) >= 0 {
			in++
		}
	}
	switch {
	case in == len(services):
		return v1alpha1.TrafficEnabled, true, nil
	case in == 0:
		return v1alpha1.TrafficDisabled, false, nil
	case sg.Spec.Traffic == v1alpha1.TrafficDisabled:
		return v1alpha1.TrafficEnabled, false, nil
	default:
		return v1alpha1.TrafficDisabled, false, nil
	}
}

// listInstances lists the group's managed instances.
func (c *Client) listInstances(ctx context.Context, sg *v1alpha1.ServerGroup) ([]*computepb.ManagedInstance, error) {
	zonal, loc, err := location("listManagedInstances", sg)
	if err != nil {
		return nil, err
	}
	var it *compute.ManagedInstanceIterator
	op := "regionInstanceGroupManagers.listManagedInstances"
	if zonal {
		op = "instanceGroupManagers.listManagedInstances"
		it = c.zoneMIGs.ListManagedInstances(ctx, &computepb.ListManagedInstancesInstanceGroupManagersRequest{Project: c.project, Zone: loc, InstanceGroupManager: sg.Name}, c.callOpts...)
	} else {
		it = c.regionMIGs.ListManagedInstances(ctx, &computepb.ListManagedInstancesRegionInstanceGroupManagersRequest{Project: c.project, Region: loc, InstanceGroupManager: sg.Name}, c.callOpts...)
	}
	var out []*computepb.ManagedInstance
	for {
		in, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, c.done(op, err)
		}
		out = append(out, in)
	}
	return out, c.done(op, nil)
}

// Create makes the instance template the spec asks for (one call) and then, on the call after its
// operation ended, the managed instance group, both described as the ServerGroup's. Each insert carries a
// requestId derived from the ServerGroup's UID (see call), so an insert made again after a crash gets the
// first one's operation back instead of a second resource. A group of that name that exists already is left as it
// is: nil if it is the ServerGroup's, NotOwned if not. Traffic is set by SetTraffic once the group exists.
func (c *Client) Create(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	const op = "regionInstanceGroupManagers.insert"
	spec, err := gcpSpec(op, sg)
	if err != nil {
		return nil, err
	}
	zonal, loc, err := location(op, sg)
	if err != nil {
		return nil, err
	}
	g, err := c.getGroup(ctx, sg)
	if err != nil {
		return nil, err
	}
	if g != nil {
		return nil, cloud.Check(sg, groupObject(sg), ownerOf(g.GetDescription()))
	}
	tmpl, pending, err := c.template(ctx, sg, spec)
	if err != nil || pending != nil || tmpl == "" {
		return pending, err // tmpl "": made by someone since the look, the next call reads whose
	}
	base := sg.Name
	if len(base) > maxBaseInstance {
		base = strings.TrimRight(base[:maxBaseInstance], "-")
	}
	res := &computepb.InstanceGroupManager{
		Name:             proto.String(sg.Name),
		Description:      proto.String(description(sg)),
		InstanceTemplate: proto.String(tmpl),
		BaseInstanceName: proto.String(base),
		TargetSize:       proto.Int32(sg.Spec.Capacity.Desired),
	}
	if !zonal && len(sg.Spec.Zones) > 0 {
		res.DistributionPolicy = &computepb.DistributionPolicy{}
		for _, z := range sg.Spec.Zones {
			res.DistributionPolicy.Zones = append(res.DistributionPolicy.Zones, &computepb.DistributionPolicyZoneConfiguration{Zone: proto.String("zones/" + z)})
		}
	}
	o, err := c.call(sg, v1alpha1.OperationCreate, "instanceGroupManager", func(rid string) (*compute.Operation, error) {
		if zonal {
			o, err := c.zoneMIGs.Insert(ctx, &computepb.InsertInstanceGroupManagerRequest{Project: c.project, Zone: loc, InstanceGroupManagerResource: res, RequestId: &rid}, c.callOpts...)
			return o, c.done("instanceGroupManagers.insert", err)
		}
		o, err := c.regionMIGs.Insert(ctx, &computepb.InsertRegionInstanceGroupManagerRequest{Project: c.project, Region: loc, InstanceGroupManagerResource: res, RequestId: &rid}, c.callOpts...)
		return o, c.done(op, err)
	}, func() (bool, error) {
		g, err := c.getGroup(ctx, sg)
		return g != nil, err
	})
	if isReason(err, reasonAlreadyExists) {
		// Made since the look above: the next Observe says whose it is.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return started(v1alpha1.OperationCreate, o), nil
}

// started is the CloudOperation of an operation a call returned; nil when it has ended well already,
// so that nothing waits for it.
func started(action string, o *compute.Operation) *v1alpha1.CloudOperation {
	if o == nil || (o.Done() && operationError(o.Proto()) == nil) {
		return nil
	}
	return &v1alpha1.CloudOperation{Action: action, ID: o.Proto().GetSelfLink()}
}

// template returns the URL of the instance template the group is built from: the spec's, when it asks
// for nothing else, or else the one named after the ServerGroup, which it inserts when there is none
// (returning the insert's operation instead), or "" when one was made since it looked.
func (c *Client) template(ctx context.Context, sg *v1alpha1.ServerGroup, spec *v1alpha1.GCPServerGroup) (string, *v1alpha1.CloudOperation, error) {
	const op = "instanceTemplates.insert"
	if spec.Image == "" && spec.MachineType == "" {
		if spec.InstanceTemplate == "" {
			return "", nil, cloud.Invalid(op, "spec.gcp needs instanceTemplate, or image and machineType")
		}
		return c.templateURL(spec.InstanceTemplate), nil, nil
	}
	if spec.Image == "" {
		return "", nil, cloud.Invalid(op, "spec.gcp.image is required with machineType")
	}
	if spec.MachineType == "" && spec.InstanceTemplate == "" {
		return "", nil, cloud.Invalid(op, "spec.gcp.machineType is required with image, unless instanceTemplate gives it")
	}
	t, err := c.getTemplate(ctx, c.project, sg.Name)
	if err != nil {
		return "", nil, err
	}
	if t != nil {
		if err := cloud.Check(sg, templateObject(sg), ownerOf(t.GetDescription())); err != nil {
			return "", nil, err
		}
		return t.GetSelfLink(), nil, nil
	}
	props := &computepb.InstanceProperties{}
	if spec.InstanceTemplate != "" {
		project, name := c.ref(spec.InstanceTemplate)
		base, err := c.getTemplate(ctx, project, name)
		if err != nil {
			return "", nil, err
		}
		if base == nil {
			return "", nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("spec.gcp.instanceTemplate %s not found", spec.InstanceTemplate)}
		}
		props = proto.Clone(base.GetProperties()).(*computepb.InstanceProperties)
	}
	if spec.MachineType != "" {
		props.MachineType = proto.String(spec.MachineType)
	}
	setBootImage(props, imageURL(spec.Image))
	if spec.Network != "" || spec.Subnetwork != "" || len(props.NetworkInterfaces) == 0 {
		ni := &computepb.NetworkInterface{Network: proto.String(defaultNetwork)}
		if spec.Network != "" {
			ni.Network = proto.String(spec.Network)
		}
		if spec.Subnetwork != "" {
			ni.Subnetwork = proto.String(spec.Subnetwork)
		}
		props.NetworkInterfaces = []*computepb.NetworkInterface{ni}
	}
	if props.Labels == nil {
		props.Labels = map[string]string{}
	}
	for k, v := range instanceLabels(sg) {
		props.Labels[k] = v
	}
	o, err := c.call(sg, v1alpha1.OperationCreate, "instanceTemplate", func(rid string) (*compute.Operation, error) {
		o, err := c.templates.Insert(ctx, &computepb.InsertInstanceTemplateRequest{Project: c.project, RequestId: &rid,
			InstanceTemplateResource: &computepb.InstanceTemplate{Name: proto.String(sg.Name), Description: proto.String(description(sg)), Properties: props}}, c.callOpts...)
		return o, c.done(op, err)
	}, func() (bool, error) {
		t, err := c.getTemplate(ctx, c.project, sg.Name)
		return t != nil, err
	})
	if isReason(err, reasonAlreadyExists) {
		return "", nil, nil // the next call reads it
	}
	if err != nil {
		return "", nil, err
	}
	if s := started(v1alpha1.OperationCreate, o); s != nil {
		return "", s, nil
	}
	return o.Proto().GetTargetLink(), nil, nil
}

// setBootImage makes image the boot disk's, adding a boot disk when there is none.
func setBootImage(props *computepb.InstanceProperties, image string) {
	for _, d := range props.Disks {
		if d.GetBoot() {
			if d.InitializeParams == nil {
				d.InitializeParams = &computepb.AttachedDiskInitializeParams{}
			}
			d.InitializeParams.SourceImage = proto.String(image)
			return
		}
	}
	props.Disks = append([]*computepb.AttachedDisk{{
		Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
		InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(image)},
	}}, props.Disks...)
}

// imageURL turns an image name into a path of this project; a family or URL ("projects/...",
// "global/images/family/...") is kept.
func imageURL(image string) string {
	if strings.Contains(image, "/") {
		return image
	}
	return "global/images/" + image
}

func (c *Client) getTemplate(ctx context.Context, project, name string) (*computepb.InstanceTemplate, error) {
	t, err := c.templates.Get(ctx, &computepb.GetInstanceTemplateRequest{Project: project, InstanceTemplate: name}, c.callOpts...)
	err = c.done("instanceTemplates.get", err)
	if cloud.IsNotFound(err) {
		return nil, nil
	}
	return t, err
}

// ref splits a name or URL of a global resource into its project (the account's by default) and name.
func (c *Client) ref(nameOrURL string) (project, name string) {
	project = c.project
	parts := strings.Split(trimLink(nameOrURL), "/")
	if len(parts) > 1 && parts[0] == "projects" {
		project = parts[1]
	}
	return project, lastPart(nameOrURL)
}

// templateURL is the URL of an instance template given by name or URL.
func (c *Client) templateURL(nameOrURL string) string {
	if strings.Contains(nameOrURL, "/") {
		return nameOrURL
	}
	return "projects/" + c.project + "/global/instanceTemplates/" + nameOrURL
}

func (c *Client) backendServiceRef(nameOrURL string) (project, name string) { return c.ref(nameOrURL) }

// UpdateCapacity resizes the group to the desired capacity; min and max are not the cloud's.
func (c *Client) UpdateCapacity(ctx context.Context, sg *v1alpha1.ServerGroup, want v1alpha1.Capacity) (*v1alpha1.CloudOperation, error) {
	const op = "regionInstanceGroupManagers.resize"
	g, err := c.ownGroup(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	if g.GetTargetSize() == want.Desired {
		return nil, nil
	}
	zonal, loc, err := location(op, sg)
	if err != nil {
		return nil, err
	}
	var o *compute.Operation
	if zonal {
		o, err = c.zoneMIGs.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{Project: c.project, Zone: loc, InstanceGroupManager: sg.Name, Size: want.Desired}, c.callOpts...)
		err = c.done("instanceGroupManagers.resize", err)
	} else {
		o, err = c.regionMIGs.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{Project: c.project, Region: loc, InstanceGroupManager: sg.Name, Size: want.Desired}, c.callOpts...)
		err = c.done(op, err)
	}
	if err != nil {
		return nil, err
	}
	return started(v1alpha1.OperationUpdateCapacity, o), nil
}

// maxFingerprintRetries is how many times a backend service is read again when someone else changed it
// between our read and our write; before each, a pause of up to fingerprintJitter times the attempt, so
// that writers racing on one busy service (every group of a cluster is its backend) fall apart.
const (
	maxFingerprintRetries = 8
	fingerprintJitter     = 10 * time.Millisecond
)

// SetTraffic makes the group a backend of each of its backend services (Enabled) or of none of them
// (Disabled). Each change is a read-modify-write of the whole backend service with its fingerprint, so a
// change someone else made in between is refused by the cloud instead of overwritten: the service is read
// again and the change made on what is there now. One backend service is changed per call; the next
// call, after that operation, does the next.
func (c *Client) SetTraffic(ctx context.Context, sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) (*v1alpha1.CloudOperation, error) {
	const op = "SetTraffic"
	if t != v1alpha1.TrafficEnabled && t != v1alpha1.TrafficDisabled {
		return nil, cloud.Invalid(op, fmt.Sprintf("traffic must be %s or %s, not %q", v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled, t))
	}
	spec, err := gcpSpec(op, sg)
	if err != nil {
		return nil, err
	}
	g, err := c.ownGroup(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	return c.setTraffic(ctx, g, spec.BackendServices, t == v1alpha1.TrafficEnabled)
}

// setTraffic adds the group to, or removes it from, the first of the backend services that needs it.
func (c *Client) setTraffic(ctx context.Context, g *computepb.InstanceGroupManager, services []string, in bool) (*v1alpha1.CloudOperation, error) {
	group := g.GetInstanceGroup()
	for _, name := range services {
		for try := 0; ; try++ {
			bs, err := c.getBackendService(ctx, name)
			if !in && cloud.IsNotFound(err) {
				break // gone, so not a backend: nothing to take the group out of (and Delete is not stuck)
			}
			if err != nil {
				return nil, err
			}
			i := backendIndex(bs, group)
			if in == (i >= 0) {
				break // as wanted already
			}
			if in {
				bs.Backends = append(bs.Backends, newBackend(bs, group))
			} else {
				bs.Backends = append(bs.Backends[:i:i], bs.Backends[i+1:]...)
			}
			project, bsName := c.backendServiceRef(name)
			// Update, not Patch: the SDK leaves an empty list out of a patch, so the last backend could
			// never be removed with one.
			o, err := c.backends.Update(ctx, &computepb.UpdateBackendServiceRequest{Project: project, BackendService: bsName, BackendServiceResource: bs}, c.callOpts...)
			err = c.done("backendServices.update", err)
			if httpCode(err) == http.StatusPreconditionFailed && try < maxFingerprintRetries {
				// Changed by someone else since the read: read it again.
				select {
				case <-time.After(time.Duration(rand.Int64N(int64(fingerprintJitter) * int64(try+1)))):
					continue
				case <-ctx.Done():
					return nil, c.done("backendServices.update", ctx.Err())
				}
			}
			if err != nil {
				return nil, err
			}
			return started(v1alpha1.OperationSetTraffic, o), nil
		}
	}
	return nil, nil
}

func (c *Client) getBackendService(ctx context.Context, nameOrURL string) (*computepb.BackendService, error) {
	project, name := c.backendServiceRef(nameOrURL)
	bs, err := c.backends.Get(ctx, &computepb.GetBackendServiceRequest{Project: project, BackendService: name}, c.callOpts...)
	return bs, c.done("backendServices.get", err)
}

// backendIndex is the index of the group among the service's backends, -1 when it is not one.
func backendIndex(bs *computepb.BackendService, group string) int {
	for i, b := range bs.GetBackends() {
		if trimLink(b.GetGroup()) == trimLink(group) {
			return i
		}
	}
	return -1
}

// newBackend is a backend for group, balanced like the service's first backend (a service's backends
// must agree on their balancing mode), or by utilization when it has none.
func newBackend(bs *computepb.BackendService, group string) *computepb.Backend {
	if len(bs.Backends) > 0 {
		b := proto.Clone(bs.Backends[0]).(*computepb.Backend)
		b.Group = proto.String(group)
		b.Description = nil
		return b
	}
	return &computepb.Backend{Group: proto.String(group), BalancingMode: proto.String("UTILIZATION"), CapacityScaler: proto.Float32(1)}
}

// Delete takes the group out of its backend services (a backend cannot be deleted), deletes it with its
// instances and then deletes the instance template made for it, one operation per call; it says gone
// once none is left. A group that is not the ServerGroup's is refused (NotOwned) without a write; a
// template named after the ServerGroup is deleted only if its description names it.
func (c *Client) Delete(ctx context.Context, sg *v1alpha1.ServerGroup) (bool, *v1alpha1.CloudOperation, error) {
	const op = "regionInstanceGroupManagers.delete"
	zonal, loc, err := location(op, sg)
	if err != nil {
		return false, nil, err
	}
	g, err := c.getGroup(ctx, sg)
	if err != nil {
		return false, nil, err
	}
	if g != nil {
		if err := cloud.Check(sg, groupObject(sg), ownerOf(g.GetDescription())); err != nil {
			return false, nil, err
		}
		if sg.Spec.GCP != nil {
			if s, err := c.setTraffic(ctx, g, sg.Spec.GCP.BackendServices, false); err != nil || s != nil {
				return false, opAs(s, v1alpha1.OperationDelete), err
			}
		}
		o, err := c.call(sg, v1alpha1.OperationDelete, "instanceGroupManager", func(rid string) (*compute.Operation, error) {
			if zonal {
				o, err := c.zoneMIGs.Delete(ctx, &computepb.DeleteInstanceGroupManagerRequest{Project: c.project, Zone: loc, InstanceGroupManager: sg.Name, RequestId: &rid}, c.callOpts...)
				return o, c.done("instanceGroupManagers.delete", err)
			}
			o, err := c.regionMIGs.Delete(ctx, &computepb.DeleteRegionInstanceGroupManagerRequest{Project: c.project, Region: loc, InstanceGroupManager: sg.Name, RequestId: &rid}, c.callOpts...)
			return o, c.done(op, err)
		}, func() (bool, error) {
			g, err := c.getGroup(ctx, sg)
			return g == nil, err
		})
		if cloud.IsNotFound(err) || isReason(err, reasonNotReady) {
			return false, nil, nil // gone since, or being deleted: the next call sees which
		}
		if err != nil {
			return false, nil, err
		}
		return false, started(v1alpha1.OperationDelete, o), nil
	}
	t, err := c.getTemplate(ctx, c.project, sg.Name)
	if err != nil {
		return false, nil, err
	}
	if t == nil || cloud.Check(sg, templateObject(sg), ownerOf(t.GetDescription())) != nil {
		return true, nil, nil
	}
	o, err := c.call(sg, v1alpha1.OperationDelete, "instanceTemplate", func(rid string) (*compute.Operation, error) {
		o, err := c.templates.Delete(ctx, &computepb.DeleteInstanceTemplateRequest{Project: c.project, InstanceTemplate: sg.Name, RequestId: &rid}, c.callOpts...)
		return o, c.done("instanceTemplates.delete", err)
	}, func() (bool, error) {
		t, err := c.getTemplate(ctx, c.project, sg.Name)
		return t == nil, err
	})
	if cloud.IsNotFound(err) {
		return true, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if s := started(v1alpha1.OperationDelete, o); s != nil {
		return false, s, nil
	}
	return true, nil, nil
}

// opAs relabels an operation with the action that started it.
func opAs(s *v1alpha1.CloudOperation, action string) *v1alpha1.CloudOperation {
	if s != nil {
		s.Action = action
	}
	return s
}

// Operation reads the operation once, by its selfLink: a global, regional or zonal one.
func (c *Client) Operation(ctx context.Context, sg *v1alpha1.ServerGroup, op v1alpha1.CloudOperation) (bool, error) {
	parts := strings.Split(trimLink(op.ID), "/")
	var o *computepb.Operation
	var err error
	switch {
	case len(parts) == 5 && parts[0] == "projects" && parts[2] == "global" && parts[3] == "operations":
		o, err = c.globalOps.Get(ctx, &computepb.GetGlobalOperationRequest{Project: parts[1], Operation: parts[4]}, c.callOpts...)
		err = c.done("globalOperations.get", err)
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "regions" && parts[4] == "operations":
		o, err = c.regionOps.Get(ctx, &computepb.GetRegionOperationRequest{Project: parts[1], Region: parts[3], Operation: parts[5]}, c.callOpts...)
		err = c.done("regionOperations.get", err)
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "zones" && parts[4] == "operations":
		o, err = c.zoneOps.Get(ctx, &computepb.GetZoneOperationRequest{Project: parts[1], Zone: parts[3], Operation: parts[5]}, c.callOpts...)
		err = c.done("zoneOperations.get", err)
	default:
		// Not one of ours: nothing to wait for; the group is observed afresh.
		return true, nil
	}
	if cloud.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if o.GetStatus() != computepb.Operation_DONE {
		return false, nil
	}
	if err := operationError(o); err != nil {
		c.mu.Lock()
		c.reported[trimLink(o.GetSelfLink())] = true
		c.mu.Unlock()
		return true, err
	}
	return true, nil
}

// maxReplays is how many finished operations call follows past in one call: one per failure, or per
// time the object was deleted or remade outside Gennaker, since GCP last forgot a requestId.
const maxReplays = 16

// call makes an insert or delete with a requestId derived from the ServerGroup's UID, the action and the
// object, so that a call repeated after a crash, before its operation reached status, gets the first
// one's operation back from GCP instead of making a second object. GCP answers a requestId it has seen
// with that request's operation however old, so an operation that has ended is a replay when the object
// is not as it left it (settled says whether it is: deleted or remade outside Gennaker since), or when it
// failed and Operation has reported that: the call is then made again with the next requestId, derived
// from the previous one and that operation's selfLink (this process starts where it got to last time).
// The chain needs nothing stored, so a restarted
// manager walks it to the same place (it reports each failed operation on it once more, as Operation's
// memory is gone) and never makes an object twice.
func (c *Client) call(sg *v1alpha1.ServerGroup, action, object string, do func(requestID string) (*compute.Operation, error), settled func() (bool, error)) (*compute.Operation, error) {
	id := string(sg.UID)
	if id == "" {
		id = sg.Namespace + "/" + sg.Name
	}
	key := id + "\x00" + action + "\x00" + object
	c.mu.Lock()
	last := c.last[key]
	if c.reported[last.operation] {
		last.requestID = requestID(last.requestID, last.operation)
	}
	c.mu.Unlock()
	rid := last.requestID
	if rid == "" {
		rid = requestID(id, action, object)
	}
	for range maxReplays {
		o, err := do(rid)
		var link string
		if o != nil {
			link = trimLink(o.Proto().GetSelfLink())
		}
		c.mu.Lock()
		c.last[key] = requestLink{rid, link}
		c.mu.Unlock()
		if err != nil || o == nil || !o.Done() {
			return o, err
		}
		if operationError(o.Proto()) != nil {
			c.mu.Lock()
			seen := c.reported[link]
			c.mu.Unlock()
			if !seen {
				return o, nil // for Operation to report
			}
		} else if ok, err := settled(); err != nil || ok {
			return o, err
		}
		rid = requestID(rid, link)
	}
	return nil, &cloud.Error{Reason: cloud.Unknown, Op: action + " " + object,
		Err: fmt.Errorf("%d requestIds in a row were answered with operations that had ended; try again once GCP has forgotten them", maxReplays)}
}

// requestID is a name-based UUID (version 5 layout) of the words.
func requestID(words ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(words, "\x00")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// trimLink reduces a URL or partial path to what follows "projects/", so that the forms compare equal.
func trimLink(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

func lastPart(link string) string { return link[strings.LastIndex(link, "/")+1:] }
