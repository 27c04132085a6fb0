package aws_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestLaunchTemplatesAndClientTokens(t *testing.T) {
	e := newEnv(t)
	c := e.ec2()
	create := func(token, image string) (*ec2.CreateLaunchTemplateOutput, error) {
		return c.CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String("web"),
			ClientToken:        aws.String(token),
			VersionDescription: aws.String("first"),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image), InstanceType: ec2types.InstanceTypeT3Micro},
			TagSpecifications: []ec2types.TagSpecification{{
				ResourceType: ec2types.ResourceTypeLaunchTemplate,
				Tags:         []ec2types.Tag{{Key: aws.String("owner"), Value: aws.String("gennaker")}},
			}},
		})
	}

	first := try(create("tok-1", "ami-1")).must(t)
	lt := first.LaunchTemplate
	if aws.ToString(lt.LaunchTemplateName) != "web" || aws.ToInt64(lt.LatestVersionNumber) != 1 || aws.ToInt64(lt.DefaultVersionNumber) != 1 {
		t.Fatalf("unexpected template %+v", lt)
	}
	if len(lt.Tags) != 1 || aws.ToString(lt.Tags[0].Value) != "gennaker" {
		t.Fatalf("tags = %+v", lt.Tags)
	}

	// A retry with the same token returns the same template.
	again := try(create("tok-1", "ami-1")).must(t)
	if aws.ToString(again.LaunchTemplate.LaunchTemplateId) != aws.ToString(lt.LaunchTemplateId) {
		t.Fatalf("same ClientToken gave a different template: %s vs %s", aws.ToString(again.LaunchTemplate.LaunchTemplateId), aws.ToString(lt.LaunchTemplateId))
	}
	// The same token with other parameters is refused.
	_, err := create("tok-1", "ami-2")
	wantCode(t, err, "IdempotentParameterMismatch")
	// Another token for the same name is a duplicate.
	_, err = create("tok-2", "ami-1")
	wantCode(t, err, "InvalidLaunchTemplateName.AlreadyExistsException")

	newVersion := func(token string) *ec2types.LaunchTemplateVersion {
		out := try(c.CreateLaunchTemplateVersion(e.ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateName: aws.String("web"),
			SourceVersion:      aws.String("1"),
			VersionDescription: aws.String("second"),
			ClientToken:        aws.String(token),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-2")},
		})).must(t)
		return out.LaunchTemplateVersion
	}
	v2 := newVersion("ver-2")
	v2again := newVersion("ver-2")
	if aws.ToInt64(v2.VersionNumber) != 2 || aws.ToInt64(v2again.VersionNumber) != 2 {
		t.Fatalf("versions = %d, %d; want 2, 2", aws.ToInt64(v2.VersionNumber), aws.ToInt64(v2again.VersionNumber))
	}
	if d := v2.LaunchTemplateData; aws.ToString(d.ImageId) != "ami-2" || d.InstanceType != ec2types.InstanceTypeT3Micro {
		t.Fatalf("version 2 data = image %s type %s; want ami-2 and t3.micro inherited from version 1", aws.ToString(d.ImageId), d.InstanceType)
	}
	if aws.ToBool(v2.DefaultVersion) {
		t.Fatal("a new version must not become the default")
	}

	desc := try(c.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"web"}})).must(t)
	if len(desc.LaunchTemplates) != 1 || aws.ToInt64(desc.LaunchTemplates[0].LatestVersionNumber) != 2 || aws.ToInt64(desc.LaunchTemplates[0].DefaultVersionNumber) != 1 {
		t.Fatalf("DescribeLaunchTemplates = %+v", desc.LaunchTemplates)
	}
	vers := try(c.DescribeLaunchTemplateVersions(e.ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: lt.LaunchTemplateId,
		Versions:         []string{"$Latest", "$Default"},
	})).must(t)
	if len(vers.LaunchTemplateVersions) != 2 || aws.ToInt64(vers.LaunchTemplateVersions[0].VersionNumber) != 2 || aws.ToInt64(vers.LaunchTemplateVersions[1].VersionNumber) != 1 {
		t.Fatalf("$Latest/$Default resolved to %+v", vers.LaunchTemplateVersions)
	}
	all := try(c.DescribeLaunchTemplateVersions(e.ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("web")})).must(t)
	if len(all.LaunchTemplateVersions) != 2 {
		t.Fatalf("got %d versions, want 2", len(all.LaunchTemplateVersions))
	}

	_, err = c.DescribeLaunchTemplateVersions(e.ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("web"), Versions: []string{"7"}})
	wantCode(t, err, "InvalidLaunchTemplateId.VersionNotFound")
	_, err = c.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"nope"}})
	wantCode(t, err, "InvalidLaunchTemplateName.NotFoundException")
	_, err = c.CreateLaunchTemplateVersion(e.ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("nope"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-3")},
	})
	wantCode(t, err, "InvalidLaunchTemplateName.NotFoundException")

	views := e.sim.LaunchTemplates()
	if len(views) != 1 || views[0].LatestVersion != 2 || len(views[0].Versions) != 2 || views[0].Versions[1].ImageID != "ami-2" {
		t.Fatalf("LaunchTemplates() = %+v", views)
	}
	if got := e.sim.Calls()["ec2:CreateLaunchTemplate"]; got != 4 {
		t.Fatalf("ec2:CreateLaunchTemplate calls = %d, want 4", got)
	}

	try(c.DeleteLaunchTemplate(e.ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("web")})).must(t)
	_, err = c.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{aws.ToString(lt.LaunchTemplateId)}})
	wantCode(t, err, "InvalidLaunchTemplateId.NotFound")
}
