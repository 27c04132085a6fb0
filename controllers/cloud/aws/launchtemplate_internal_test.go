package aws

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// A version's data is carried over to a request field by field, nested shapes included; a field that
// cannot be (a response-only member) is refused by its name.
func TestRequestData(t *testing.T) {
	full := &ec2types.ResponseLaunchTemplateData{
		ImageId:      aws.String("ami-1"),
		InstanceType: ec2types.InstanceTypeM7gLarge,
		KeyName:      aws.String("ops"),
		UserData:     aws.String("IyEvYmluL3No"),
		EbsOptimized: aws.Bool(true),
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMapping{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs:        &ec2types.LaunchTemplateEbsBlockDevice{VolumeSize: aws.Int32(40), VolumeType: ec2types.VolumeTypeGp3, Encrypted: aws.Bool(true)},
		}},
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecification{Arn: aws.String("arn:aws:iam::123456789012:instance-profile/web")},
		MetadataOptions:    &ec2types.LaunchTemplateInstanceMetadataOptions{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2)},
		NetworkInterfaces: []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), Groups: []string{"sg-1"}, AssociatePublicIpAddress: aws.Bool(false),
		}},
		InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptions{
			MarketType:  ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.LaunchTemplateSpotMarketOptions{ValidUntil: aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))},
		},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecification{{
			ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("team"), Value: aws.String("shop")}},
		}},
		SecurityGroupIds: []string{"sg-1"},
	}
	req, err := requestData(full, "web-base", "3")
	if err != nil {
		t.Fatal(err)
	}
	want := &ec2types.RequestLaunchTemplateData{
		ImageId:      aws.String("ami-1"),
		InstanceType: ec2types.InstanceTypeM7gLarge,
		KeyName:      aws.String("ops"),
		UserData:     aws.String("IyEvYmluL3No"),
		EbsOptimized: aws.Bool(true),
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs:        &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(40), VolumeType: ec2types.VolumeTypeGp3, Encrypted: aws.Bool(true)},
		}},
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: aws.String("arn:aws:iam::123456789012:instance-profile/web")},
		MetadataOptions:    &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2)},
		NetworkInterfaces: []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecificationRequest{{
			DeviceIndex: aws.Int32(0), Groups: []string{"sg-1"}, AssociatePublicIpAddress: aws.Bool(false),
		}},
		InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{
			MarketType:  ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.LaunchTemplateSpotMarketOptionsRequest{ValidUntil: aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))},
		},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{
			ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("team"), Value: aws.String("shop")}},
		}},
		SecurityGroupIds: []string{"sg-1"},
	}
	// The SDK's shapes have unexported members that cmp cannot look into; their JSON is what matters.
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(req)
	if diff := cmp.Diff(string(wantJSON), string(gotJSON)); diff != "" {
		t.Errorf("request data (-want +got):\n%s", diff)
	}

	// A managed template's operator is response-only: the copy would not be managed.
	managed := *full
	managed.Operator = &ec2types.OperatorResponse{Managed: aws.Bool(true), Principal: aws.String("eks.amazonaws.com")}
	managed.NetworkInterfaces = []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecification{{
		DeviceIndex: aws.Int32(0), Ipv6Addresses: []ec2types.InstanceIpv6Address{{Ipv6Address: aws.String("2001:db8::1"), IsPrimaryIpv6: aws.Bool(true)}},
	}}
	_, err = requestData(&managed, "web-base", "3")
	if cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), "launch template web-base version 3 has NetworkInterfaces, Operator, which cannot be copied") {
		t.Errorf("error %v", err)
	}

	if req, err := requestData(nil, "web-base", "1"); err != nil || req == nil {
		t.Errorf("no data: %v %v", req, err)
	}
}
