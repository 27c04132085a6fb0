package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Launch template versions that are not numbers.
const (
	versionLatest  = "$Latest"
	versionDefault = "$Default"
)

// launchTemplate returns the launch template and version number the group is made from, making a
// template for the ServerGroup first when the spec needs one:
//   - spec.aws.launchTemplate alone: that template at its version, an alias resolved to its number, or the
//     number recorded in status when the group was first made;
//   - spec.aws.launchTemplate with imageID or instanceType: a template of the ServerGroup's name, made from
//     that version's data with the image and type replaced;
//   - imageID (and instanceType) alone: a template of the ServerGroup's name with them.
//
// The operator never adds a version to a template it did not make.
func launchTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup, spec *v1alpha1.AWSServerGroup) (*asgtypes.LaunchTemplateSpecification, error) {
	src := spec.LaunchTemplate
	if src != nil && spec.ImageID == "" && spec.InstanceType == "" {
		return pinnedVersion(ctx, r, sg, src)
	}
	if src == nil && spec.ImageID == "" {
		return nil, cloud.Invalid("CreateLaunchTemplate", "spec.aws.imageID is required when spec.aws.launchTemplate is not set")
	}
	data := &ec2types.RequestLaunchTemplateData{}
	desc := sg.Namespace + "/" + sg.Name
	token := []string{"template", sg.Name}
	if src != nil {
		v, err := describeVersion(ctx, r, src.Name, orLatest(src.Version))
		if err != nil {
			return nil, err
		}
		n := strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10)
		if data, err = requestData(v.LaunchTemplateData, src.Name, n); err != nil {
			return nil, err
		}
		desc += ", from launch template " + src.Name + " version " + n
		token = append(token, src.Name, n)
	}
	if spec.ImageID != "" {
		data.ImageId = aws.String(spec.ImageID)
	}
	if spec.InstanceType != "" {
		data.InstanceType = ec2types.InstanceType(spec.InstanceType)
	}
	return ownTemplate(ctx, r, sg, data, desc, append(token, spec.ImageID, spec.InstanceType))
}

func orLatest(version string) string {
	if version == "" {
		return versionLatest
	}
	return version
}

// pinnedVersion is the user's template at a version number: the one recorded in status when the group was
// first made (a group made again must not pick up a later $Latest), or spec's resolved now.
func pinnedVersion(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup, t *v1alpha1.LaunchTemplate) (*asgtypes.LaunchTemplateSpecification, error) {
	version := orLatest(t.Version)
	if a := sg.Status.AWS; a != nil && a.LaunchTemplate != nil && a.LaunchTemplate.Name == t.Name && isNumber(a.LaunchTemplate.Version) {
		version = a.LaunchTemplate.Version
	}
	if !isNumber(version) {
		v, err := describeVersion(ctx, r, t.Name, version)
		if err != nil {
			return nil, err
		}
		version = strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10)
	}
	return &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(t.Name), Version: aws.String(version)}, nil
}

func isNumber(version string) bool {
	_, err := strconv.ParseInt(version, 10, 64)
	return err == nil
}

// ownTemplate makes the launch template named after the ServerGroup, tagged as its own, and returns its
// version number. The client token, derived from the ServerGroup's UID and what the data comes from, gets
// a Create repeated after a crash the same template back; a template of that name that is already there is
// used only if its tags name this ServerGroup.
func ownTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup, data *ec2types.RequestLaunchTemplateData, desc string, token []string) (*asgtypes.LaunchTemplateSpecification, error) {
	const op = "CreateLaunchTemplate"
	out, err := r.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(sg.Name),
		LaunchTemplateData: data,
		VersionDescription: aws.String(desc),
		ClientToken:        aws.String(clientToken(sg, token...)),
		TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: templateTags(sg)}},
	})
	var t *ec2types.LaunchTemplate
	switch {
	case err == nil:
		t = out.LaunchTemplate
	case errorCode(err) == codeLTAlreadyExists:
		// Made by an earlier Create of this group whose token differed ($Latest moved since), or someone
		// else's.
		if t, err = describeTemplate(ctx, r, sg.Name); err != nil {
			return nil, err
		}
		if t == nil || cloud.Check(sg, templateObject(sg), templateOwner(t)) != nil {
			return nil, cloud.Invalid(op, fmt.Sprintf(
				"launch template %s exists and was not made for this server group; set spec.aws.launchTemplate to use it", sg.Name))
		}
	default:
		return nil, wrap(op, err)
	}
	if t == nil || t.DefaultVersionNumber == nil {
		return nil, &cloud.Error{Reason: cloud.Unknown, Op: op, Err: errors.New("no version number in the response")}
	}
	return &asgtypes.LaunchTemplateSpecification{
		LaunchTemplateName: aws.String(sg.Name),
		Version:            aws.String(strconv.FormatInt(aws.ToInt64(t.DefaultVersionNumber), 10)),
	}, nil
}

// describeVersion returns one version ($Latest, $Default or a number) of a launch template.
func describeVersion(ctx context.Context, r *regional, name, version string) (*ec2types.LaunchTemplateVersion, error) {
	const op = "DescribeLaunchTemplateVersions"
	out, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(name),
		Versions:           []string{version},
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(out.LaunchTemplateVersions) == 0 || out.LaunchTemplateVersions[0].VersionNumber == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: op, Err: fmt.Errorf("launch template %s has no version %s", name, version)}
	}
	return &out.LaunchTemplateVersions[0], nil
}

// describeTemplate returns the launch template of that name, nil when there is none.
func describeTemplate(ctx context.Context, r *regional, name string) (*ec2types.LaunchTemplate, error) {
	const op = "DescribeLaunchTemplates"
	out, err := r.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil {
		if err = wrap(op, err); cloud.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	for i := range out.LaunchTemplates {
		if aws.ToString(out.LaunchTemplates[i].LaunchTemplateName) == name {
			return &out.LaunchTemplates[i], nil
		}
	}
	return nil, nil
}

// deleteOwnTemplate deletes the launch template named after the ServerGroup when its tags name the
// ServerGroup (its UID); any other template of that name is left alone.
func deleteOwnTemplate(ctx context.Context, r *regional, sg *v1alpha1.ServerGroup) error {
	t, err := describeTemplate(ctx, r, sg.Name)
	if err != nil || t == nil || cloud.Check(sg, templateObject(sg), templateOwner(t)) != nil {
		return err
	}
	_, err = r.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: t.LaunchTemplateId})
	if err = wrap("DeleteLaunchTemplate", err); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}

// requestData is the request form of a launch template version's data, to make a template from. The
// SDK's response and request shapes share their field names, so a JSON round trip carries the data over;
// a field whose value does not survive it (a response-only member, such as a managed template's
// operator) is refused by name, since a template made without it would not be what the version is.
// Zero values (false, 0, "") count as absent: they are what the field's default gives anyway.
func requestData(d *ec2types.ResponseLaunchTemplateData, name, version string) (*ec2types.RequestLaunchTemplateData, error) {
	req := &ec2types.RequestLaunchTemplateData{}
	if d == nil {
		return req, nil
	}
	from, err := json.Marshal(d)
	if err == nil {
		err = json.Unmarshal(from, req)
	}
	var to []byte
	if err == nil {
		to, err = json.Marshal(req)
	}
	var before, after map[string]any
	if err == nil {
		err = errors.Join(json.Unmarshal(from, &before), json.Unmarshal(to, &after))
	}
	if err != nil {
		return nil, &cloud.Error{Reason: cloud.Unknown, Op: "CopyLaunchTemplateData", Err: err}
	}
	var lost []string
	for field, v := range before {
		if v = pruned(v); v != nil && !reflect.DeepEqual(v, pruned(after[field])) {
			lost = append(lost, field)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		return nil, cloud.Invalid("CopyLaunchTemplateData", fmt.Sprintf(
			"launch template %s version %s has %s, which cannot be copied into a launch template of the server group's own; "+
				"make a version with the image and instance type and name it in spec.aws.launchTemplate without imageID and instanceType",
			name, version, strings.Join(lost, ", ")))
	}
	return req, nil
}

// pruned is a decoded JSON value without its zero members: nil for a value that holds nothing else.
func pruned(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = pruned(e); e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			if e = pruned(e); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	case float64:
		if x == 0 {
			return nil
		}
	}
	return v
}
