package gitops_test

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// handMade makes an Auto Scaling group by hand, as a team with its own tools would: no owner tags.
func (w *world) handMade(name string) (*autoscaling.CreateAutoScalingGroupOutput, error) {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, ""),
		BaseEndpoint: aws.String(w.url),
	}
	ctx := context.Background()
	if _, err := ec2.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name + "-lt"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-0handmade00000000"), InstanceType: ec2types.InstanceTypeM7gLarge},
	}); err != nil {
		return nil, err
	}
	return autoscaling.NewFromConfig(cfg).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name + "-lt"), Version: aws.String("1")},
		MinSize:              aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(1),
		VPCZoneIdentifier: aws.String("subnet-0a"),
		Tags:              []asgtypes.Tag{{Key: aws.String("team"), Value: aws.String("shop"), PropagateAtLaunch: aws.Bool(true)}},
	})
}
