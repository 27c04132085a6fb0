package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// The Auto Scaling processes a disabled group has suspended.
const (
	procAddToLoadBalancer = "AddToLoadBalancer"
	procLaunch            = "Launch"
	procTerminate         = "Terminate"
)

// statusDeleting is the Status of an Auto Scaling group being deleted.
const statusDeleting = "Delete in progress"

// maxTargetGroupsPerCall is how many target groups one Attach/DetachLoadBalancerTargetGroups call takes.
const maxTargetGroupsPerCall = 10

// awsSpec returns the ServerGroup's AWS block, or an InvalidRequest error.
func awsSpec(op string, sg *v1alpha1.ServerGroup) (*v1alpha1.AWSServerGroup, error) {
	if sg.Spec.AWS == nil {
		return nil, cloud.Invalid(op, "spec.aws is required for a server group in an aws account")
	}
	return sg.Spec.AWS, nil
}

// describeGroup returns the Auto Scaling group of that name, nil when there is none.
func describeGroup(ctx context.Context, r *regional, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := r.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return nil, wrap("DescribeAutoScalingGroups", err)
	}
	for i := range out.AutoScalingGroups {
		if aws.ToString(out.AutoScalingGroups[i].AutoScalingGroupName) == name {
			return &out.AutoScalingGroups[i], nil
		}
	}
	return nil, nil
}

// mustDescribeGroup is describeGroup for operations that need the group: none is a NotFound error.
func mustDescribeGroup(ctx context.Context, r *regional, op, name string) (*asgtypes.AutoScalingGroup, error) {
	g, err := describeGroup(ctx, r, name)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("Auto Scaling group %s not found", name)}
	}
	return g, nil
}

// suspended returns the group's suspended processes.
func suspended(g *asgtypes.AutoScalingGroup) map[string]bool {
	s := make(map[string]bool, len(g.SuspendedProcesses))
	for _, p := range g.SuspendedProcesses {
		s[aws.ToString(p.ProcessName)] = true
	}
	return s
}

// trafficOf says whether the group takes traffic: every target group of the spec attached and
// AddToLoadBalancer not suspended.
func trafficOf(g *asgtypes.AutoScalingGroup, spec *v1alpha1.AWSServerGroup) v1alpha1.Traffic {
	if suspended(g)[procAddToLoadBalancer] {
		return v1alpha1.TrafficDisabled
	}
	if spec != nil {
		for _, arn := range spec.TargetGroupARNs {
			if !slices.Contains(g.TargetGroupARNs, arn) {
				return v1alpha1.TrafficDisabled
			}
		}
	}
	return v1alpha1.TrafficEnabled
}

// Observe reads the Auto Scaling group named after the ServerGroup and, when its traffic is Enabled, the
// health of its instances in its target groups.
func (c *Client) Observe(ctx context.Context, sg *v1alpha1.ServerGroup) (cloud.Observation, error) {
	r, err := c.regionOf("DescribeAutoScalingGroups", sg)
	if err != nil {
		return cloud.Observation{}, err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil || g == nil {
		return cloud.Observation{}, err
	}
	spec := sg.Spec.AWS
	o := cloud.Observation{
		Exists:     true,
		Deleting:   aws.ToString(g.Status) == statusDeleting,
		Owner:      groupOwner(g),
		ProviderID: aws.ToString(g.AutoScalingGroupARN),
		Capacity: v1alpha1.Capacity{
			Min:     aws.ToInt32(g.MinSize),
			Max:     aws.ToInt32(g.MaxSize),
			Desired: aws.ToInt32(g.DesiredCapacity),
		},
		Traffic: trafficOf(g, spec),
	}
	o.Instances.Desired = o.Capacity.Desired
	if lt := g.LaunchTemplate; lt != nil {
		o.Status.AWS = &v1alpha1.AWSServerGroupStatus{LaunchTemplate: &v1alpha1.LaunchTemplate{
			Name: aws.ToString(lt.LaunchTemplateName), Version: aws.ToString(lt.Version),
		}}
	}

	var inService []string
	for _, in := range g.Instances {
		if in.LifecycleState == asgtypes.LifecycleStateInService {
			inService = append(inService, aws.ToString(in.InstanceId))
		}
	}
	o.Instances.Running = int32(len(inService))

	// why holds, per instance that is not healthy, the reason; byTarget says whether the load balancers
	// decide health.
	why := map[string]string{}
	byTarget := o.Traffic == v1alpha1.TrafficEnabled && spec != nil && len(spec.TargetGroupARNs) > 0 &&
		!o.Deleting && len(inService) > 0
	if byTarget {
		for _, id := range inService {
			why[id] = ""
		}
		for _, arn := range spec.TargetGroupARNs {
			out, err := r.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			if err != nil {
				return cloud.Observation{}, wrap("DescribeTargetHealth", err)
			}
			states := map[string]elbtypes.TargetHealthStateEnum{}
			for _, d := range out.TargetHealthDescriptions {
				if d.Target != nil && d.TargetHealth != nil {
					states[aws.ToString(d.Target.Id)] = d.TargetHealth.State
				}
			}
			for _, id := range inService {
				if why[id] != "" {
					continue
				}
				switch st, ok := states[id]; {
				case !ok:
					why[id] = "not registered in its target group"
				case st != elbtypes.TargetHealthStateEnumHealthy:
					why[id] = "target " + string(st)
				}
			}
		}
	}

	var tally cloud.Tally
	for _, in := range g.Instances {
		id := aws.ToString(in.InstanceId)
		var reason string
		switch {
		case isLeaving(in.LifecycleState):
			continue // on its way out; not part of the desired capacity
		case in.LifecycleState != asgtypes.LifecycleStateInService:
			reason = string(in.LifecycleState)
		case byTarget:
			reason = why[id]
		case aws.ToString(in.HealthStatus) != "Healthy":
			reason = "health status " + aws.ToString(in.HealthStatus)
		}
		tally.Add(id, reason)
	}
	o.Instances.Healthy = tally.Healthy
	o.Unhealthy = tally.Unhealthy(o.Instances.Desired, "not launched yet")
	return o, nil
}

// isLeaving says whether an instance in that state is leaving the group.
func isLeaving(s asgtypes.LifecycleState) bool {
	return strings.HasPrefix(string(s), "Terminat") || strings.HasPrefix(string(s), "Detach") ||
		strings.HasPrefix(string(s), "Warmed:")
}

// Create makes the launch template the spec asks for and the Auto Scaling group, both tagged as the
// ServerGroup's. A group of that name that exists already is left as it is: nil if it is the
// ServerGroup's, NotOwned if not.
func (c *Client) Create(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	const op = "CreateAutoScalingGroup"
	spec, err := awsSpec(op, sg)
	if err != nil {
		return nil, err
	}
	r, err := c.regionOf(op, sg)
	if err != nil {
		return nil, err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil {
		return nil, err
	}
	if g != nil {
		return nil, cloud.Check(sg, groupObject(sg), groupOwner(g))
	}
	lt, err := launchTemplate(ctx, r, sg, spec)
	if err != nil {
		return nil, err
	}

	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sg.Name),
		MinSize:              aws.Int32(sg.Spec.Capacity.Min),
		MaxSize:              aws.Int32(sg.Spec.Capacity.Max),
		DesiredCapacity:      aws.Int32(sg.Spec.Capacity.Desired),
		LaunchTemplate:       lt,
		Tags:                 groupTags(sg),
	}
	if len(spec.SubnetIDs) > 0 {
		in.VPCZoneIdentifier = aws.String(strings.Join(spec.SubnetIDs, ","))
	} else if len(sg.Spec.Zones) > 0 {
		in.AvailabilityZones = sg.Spec.Zones
	}
	enabled := sg.Spec.Traffic != v1alpha1.TrafficDisabled
	if enabled && len(spec.TargetGroupARNs) > 0 {
		in.TargetGroupARNs = spec.TargetGroupARNs
	}
	if _, err := r.asg.CreateAutoScalingGroup(ctx, in); err != nil {
		if errorCode(err) == codeASGAlreadyExists {
			// Made since the look above, by an earlier Create or by someone else: the next Observe says
			// whose it is.
			return nil, nil
		}
		return nil, wrap(op, err)
	}
	if !enabled {
		// Out of its load balancers, but launching: the instances come up and can be checked.
		_, err := r.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
			AutoScalingGroupName: aws.String(sg.Name),
			ScalingProcesses:     []string{procAddToLoadBalancer},
		})
		return nil, wrap("SuspendProcesses", err)
	}
	return nil, nil
}

// clientToken derives an idempotency token from the ServerGroup's UID and the request's parts, so the
// same request repeated after a crash gets the same result back.
func clientToken(sg *v1alpha1.ServerGroup, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	id := string(sg.UID)
	if id == "" {
		id = sg.Namespace + "/" + sg.Name
		if len(id) > 64 {
			sum := sha256.Sum256([]byte(id))
			id = hex.EncodeToString(sum[:16])
		}
	}
	return "gennaker-" + id + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// UpdateCapacity sets the group's min, max and desired capacity. A disabled group's Launch and Terminate
// processes are resumed first, or it would not scale.
func (c *Client) UpdateCapacity(ctx context.Context, sg *v1alpha1.ServerGroup, want v1alpha1.Capacity) (*v1alpha1.CloudOperation, error) {
	const op = "UpdateAutoScalingGroup"
	r, g, err := c.ownGroup(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	if err := resume(ctx, r, g, procLaunch, procTerminate); err != nil {
		return nil, err
	}
	if aws.ToInt32(g.MinSize) == want.Min && aws.ToInt32(g.MaxSize) == want.Max && aws.ToInt32(g.DesiredCapacity) == want.Desired {
		return nil, nil
	}
	_, err = r.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(sg.Name),
		MinSize:              aws.Int32(want.Min),
		MaxSize:              aws.Int32(want.Max),
		DesiredCapacity:      aws.Int32(want.Desired),
	})
	return nil, wrap(op, err)
}

// ownGroup returns the region's clients and the ServerGroup's Auto Scaling group, which must exist and be
// the ServerGroup's.
func (c *Client) ownGroup(ctx context.Context, op string, sg *v1alpha1.ServerGroup) (*regional, *asgtypes.AutoScalingGroup, error) {
	r, err := c.regionOf(op, sg)
	if err != nil {
		return nil, nil, err
	}
	g, err := mustDescribeGroup(ctx, r, op, sg.Name)
	if err != nil {
		return nil, nil, err
	}
	if err := cloud.Check(sg, groupObject(sg), groupOwner(g)); err != nil {
		return nil, nil, err
	}
	return r, g, nil
}

// resume resumes those of the processes that the group has suspended.
func resume(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, procs ...string) error {
	return setSuspended(ctx, r, g, false, procs)
}

// suspend suspends those of the processes that the group has not suspended.
func suspend(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, procs ...string) error {
	return setSuspended(ctx, r, g, true, procs)
}

// setSuspended suspends the processes (or resumes them, when want is false), calling Auto Scaling only for
// those the group does not have that way already.
func setSuspended(ctx context.Context, r *regional, g *asgtypes.AutoScalingGroup, want bool, procs []string) error {
	s := suspended(g)
	var todo []string
	for _, p := range procs {
		if s[p] != want {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if want {
		_, err := r.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
			AutoScalingGroupName: g.AutoScalingGroupName,
			ScalingProcesses:     todo,
		})
		return wrap("SuspendProcesses", err)
	}
	_, err := r.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
		AutoScalingGroupName: g.AutoScalingGroupName,
		ScalingProcesses:     todo,
	})
	return wrap("ResumeProcesses", err)
}

// SetTraffic puts the group in its target groups or takes it out, making only the calls the group's
// current state needs.
func (c *Client) SetTraffic(ctx context.Context, sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) (*v1alpha1.CloudOperation, error) {
	const op = "SetTraffic"
	spec, err := awsSpec(op, sg)
	if err != nil {
		return nil, err
	}
	r, g, err := c.ownGroup(ctx, op, sg)
	if err != nil {
		return nil, err
	}
	switch t {
	case v1alpha1.TrafficEnabled:
		if err := resume(ctx, r, g, procAddToLoadBalancer, procLaunch, procTerminate); err != nil {
			return nil, err
		}
		var attach []string
		for _, arn := range spec.TargetGroupARNs {
			if !slices.Contains(g.TargetGroupARNs, arn) {
				attach = append(attach, arn)
			}
		}
		for chunk := range slices.Chunk(attach, maxTargetGroupsPerCall) {
			if _, err := r.asg.AttachLoadBalancerTargetGroups(ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{
				AutoScalingGroupName: aws.String(sg.Name),
				TargetGroupARNs:      chunk,
			}); err != nil {
				return nil, wrap("AttachLoadBalancerTargetGroups", err)
			}
		}
		return nil, nil
	case v1alpha1.TrafficDisabled:
		for chunk := range slices.Chunk(g.TargetGroupARNs, maxTargetGroupsPerCall) {
			if _, err := r.asg.DetachLoadBalancerTargetGroups(ctx, &autoscaling.DetachLoadBalancerTargetGroupsInput{
				AutoScalingGroupName: aws.String(sg.Name),
				TargetGroupARNs:      chunk,
			}); err != nil {
				return nil, wrap("DetachLoadBalancerTargetGroups", err)
			}
		}
		return nil, suspend(ctx, r, g, procAddToLoadBalancer, procLaunch, procTerminate)
	}
	return nil, cloud.Invalid(op, fmt.Sprintf("traffic must be %s or %s, not %q", v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled, t))
}

// Delete force-deletes the group with its instances, then the launch template made for it. A group that
// is not the ServerGroup's is refused (NotOwned) without a write; a template named after the ServerGroup
// is deleted only if its tags name it.
func (c *Client) Delete(ctx context.Context, sg *v1alpha1.ServerGroup) (bool, *v1alpha1.CloudOperation, error) {
	const op = "DeleteAutoScalingGroup"
	r, err := c.regionOf(op, sg)
	if err != nil {
		return false, nil, err
	}
	g, err := describeGroup(ctx, r, sg.Name)
	if err != nil {
		return false, nil, err
	}
	if g != nil {
		if err := cloud.Check(sg, groupObject(sg), groupOwner(g)); err != nil {
			return false, nil, err
		}
		if aws.ToString(g.Status) == statusDeleting {
			return false, nil, nil
		}
		_, err := r.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(sg.Name),
			ForceDelete:          aws.Bool(true),
		})
		if err != nil && !cloud.IsNotFound(wrap(op, err)) {
			return false, nil, wrap(op, err)
		}
		return false, nil, nil
	}
	if err := deleteOwnTemplate(ctx, r, sg); err != nil {
		return false, nil, err
	}
	return true, nil, nil
}

// Operation is never asked: every Auto Scaling call takes effect when it returns, and the group's
// progress shows on the next Observe.
func (c *Client) Operation(context.Context, *v1alpha1.ServerGroup, v1alpha1.CloudOperation) (bool, error) {
	return true, nil
}
