package aws

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// AWS tag keys accept the cloud package's canonical owner tags as they are, so the mapping is the identity;
// these names keep the provider's code readable.
const (
	TagManagedBy   = cloud.TagManagedBy
	TagServerGroup = cloud.TagServerGroup
	TagUID         = cloud.TagUID
	TagCluster     = cloud.TagCluster
)

// groupObject names a ServerGroup's Auto Scaling group in errors.
func groupObject(sg *v1alpha1.ServerGroup) string { return "Auto Scaling group " + sg.Name }

// templateObject names the launch template named after a ServerGroup in errors.
func templateObject(sg *v1alpha1.ServerGroup) string { return "launch template " + sg.Name }

// sortedTags returns the ServerGroup's tags in key order, so that requests are the same every time.
func sortedTags(sg *v1alpha1.ServerGroup) (keys []string, tags map[string]string) {
	tags = cloud.Tags(sg)
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, tags
}

// groupTags are the Auto Scaling group's tags, propagated to its instances. ResourceId is set for
// CreateOrUpdateTags; CreateAutoScalingGroup ignores it.
func groupTags(sg *v1alpha1.ServerGroup) []asgtypes.Tag {
	keys, tags := sortedTags(sg)
	out := make([]asgtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, asgtypes.Tag{
			Key: aws.String(k), Value: aws.String(tags[k]), PropagateAtLaunch: aws.Bool(true),
			ResourceId: aws.String(sg.Name), ResourceType: aws.String("auto-scaling-group"),
		})
	}
	return out
}

// templateTags are the tags of a launch template made for the ServerGroup.
func templateTags(sg *v1alpha1.ServerGroup) []ec2types.Tag {
	keys, tags := sortedTags(sg)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// groupOwner is who an Auto Scaling group's tags name.
func groupOwner(g *asgtypes.AutoScalingGroup) cloud.Owner {
	tags := make(map[string]string, len(g.Tags))
	for _, t := range g.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return cloud.ParseOwner(tags)
}

// templateOwner is who a launch template's tags name.
func templateOwner(t *ec2types.LaunchTemplate) cloud.Owner {
	tags := make(map[string]string, len(t.Tags))
	for _, tag := range t.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return cloud.ParseOwner(tags)
}

// Adopt rewrites the owner tags of the ServerGroup's Auto Scaling group to the ServerGroup, when
// cloud.Claim allows it. A launch template named after the ServerGroup that an earlier ServerGroup of the
// same namespace and name made (its tags say so) is taken over first, so that deleting the group deletes
// it too; one made outside Gennaker stays its maker's. The group keeps launching from the template and
// version it has.
func (c *Client) Adopt(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	const op = "CreateOrUpdateTags"
	r, err := c.regionOf(op, sg)
	if err != nil {
		return nil, err
	}
	g, err := mustDescribeGroup(ctx, r, op, sg.Name)
	if err != nil {
		return nil, err
	}
	adopt, err := cloud.Claim(sg, groupObject(sg), groupOwner(g))
	if err != nil || !adopt {
		return nil, err
	}
	if err := adoptTemplate(ctx, r, sg, g); err != nil {
		return nil, err
	}
	_, err = r.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: groupTags(sg)})
	return nil, wrap(op, err)
}

// adoptTemplate retags the launch template named after the ServerGroup, when the group launches from it
// and an earlier ServerGroup of this namespace and name made it.
func adoptTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup, g *asgtypes.AutoScalingGroup) error {
	if g.LaunchTemplate == nil || aws.ToString(g.LaunchTemplate.LaunchTemplateName) != sg.Name {
		return nil
	}
	t, err := describeTemplate(ctx, r, sg.Name)
	if err != nil || t == nil {
		return err
	}
	owner := templateOwner(t)
	if owner.None() {
		return nil
	}
	if adopt, err := cloud.Claim(sg, templateObject(sg), owner); err != nil || !adopt {
		return nil // someone else's, or already ours: either way, not to retag
	}
	_, err = r.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(t.LaunchTemplateId)}, Tags: templateTags(sg)})
	return wrap("CreateTags", err)
}
