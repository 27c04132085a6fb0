package aws_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const testRole = "arn:aws:iam::210987654321:role/gennaker-deployer"

func TestGetCallerIdentity(t *testing.T) {
	e := newEnv(t)
	out := try(e.sts().GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})).must(t)
	if aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:user/"+testKey || !strings.HasPrefix(aws.ToString(out.UserId), "AIDA") {
		t.Fatalf("GetCallerIdentity = %s %s %s", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t)
	e.sim.AddRole(testRole, "ext-123")
	stsc := e.sts()

	_, err := stsc.AssumeRole(e.ctx, &sts.AssumeRoleInput{RoleArn: aws.String(testRole), RoleSessionName: aws.String("s1"), ExternalId: aws.String("wrong")})
	wantCode(t, err, "AccessDenied")
	if httpStatus(err) != http.StatusForbidden {
		t.Fatalf("AccessDenied status = %d, want 403", httpStatus(err))
	}
	_, err = stsc.AssumeRole(e.ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::210987654321:role/unknown"), RoleSessionName: aws.String("s1")})
	wantCode(t, err, "AccessDenied")

	// The usual in-cluster wiring: an assume-role provider in a cache.
	cfg := e.cfg()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, testRole, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String("ext-123")
		o.RoleSessionName = "gennaker"
	}))
	who := try(sts.NewFromConfig(cfg).GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})).must(t)
	if aws.ToString(who.Arn) != "arn:aws:sts::210987654321:assumed-role/gennaker-deployer/gennaker" || aws.ToString(who.Account) != "210987654321" {
		t.Fatalf("assumed identity = %s in %s", aws.ToString(who.Arn), aws.ToString(who.Account))
	}
	try(autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})).must(t)

	// Temporary credentials expire on the sim clock and need their token.
	out := try(stsc.AssumeRole(e.ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(testRole), RoleSessionName: aws.String("short"), ExternalId: aws.String("ext-123"), DurationSeconds: aws.Int32(900),
	})).must(t)
	creds := out.Credentials
	if !strings.HasPrefix(aws.ToString(creds.AccessKeyId), "ASIA") || !aws.ToTime(creds.Expiration).Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("credentials %s expiring %v", aws.ToString(creds.AccessKeyId), aws.ToTime(creds.Expiration))
	}
	tmp := e.config(testRegion, aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), aws.ToString(creds.SessionToken))
	try(ec2.NewFromConfig(tmp).DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})).must(t)
	noToken := e.config(testRegion, aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), "")
	_, err = autoscaling.NewFromConfig(noToken).DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "InvalidClientTokenId")
	e.clock.Advance(15 * time.Minute)
	_, err = autoscaling.NewFromConfig(tmp).DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "ExpiredToken")
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)

	unknown := e.config(testRegion, "AKIDUNKNOWN", "whatever", "")
	_, err := autoscaling.NewFromConfig(unknown).DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "InvalidClientTokenId")
	if httpStatus(err) != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", httpStatus(err))
	}
	_, err = sts.NewFromConfig(unknown).GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	// EC2 answers like the real one.
	_, err = ec2.NewFromConfig(unknown).DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{})
	wantCode(t, err, "AuthFailure")

	// Anonymous credentials make the SDK skip signing altogether.
	anon := e.cfg()
	anon.Credentials = aws.AnonymousCredentials{}
	_, err = autoscaling.NewFromConfig(anon).DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	wantCode(t, err, "MissingAuthenticationToken")
	if httpStatus(err) != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", httpStatus(err))
	}
	// Refused requests are counted too.
	if got := e.sim.Calls()["autoscaling:DescribeAutoScalingGroups"]; got != 2 {
		t.Fatalf("calls = %d, want 2", got)
	}

	// Raw requests: wrong service in the scope, and an unknown action.
	post := func(form url.Values, scopeService string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20250101/us-east-1/"+scopeService+"/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), testSecret) {
			t.Fatalf("response echoes the secret key: %s", b)
		}
		return resp.StatusCode, string(b)
	}
	status, body := post(url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}}, "ec2")
	if status != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("wrong scope: %d %s", status, body)
	}
	status, body = post(url.Values{"Action": {"LaunchRockets"}, "Version": {"2011-01-01"}}, "autoscaling")
	if status != http.StatusBadRequest || !strings.Contains(body, "<Code>InvalidAction</Code>") || !strings.Contains(body, "<RequestId>") {
		t.Fatalf("unknown action: %d %s", status, body)
	}
	status, body = post(url.Values{"Action": {"DescribeLaunchTemplates"}, "Version": {"2016-11-15"}}, "ec2")
	if status != http.StatusOK || !strings.Contains(body, "<DescribeLaunchTemplatesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">") {
		t.Fatalf("raw EC2 call: %d %s", status, body)
	}
}
