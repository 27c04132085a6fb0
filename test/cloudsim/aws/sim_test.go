package aws_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	cloudsim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

func TestRegionsAreIsolated(t *testing.T) {
	e := newEnv(t)
	east, west := e.cfg(), e.config("eu-west-1", testKey, testSecret, "")
	e.template(east, "web")

	in := func(zone string) *autoscaling.CreateAutoScalingGroupInput {
		return &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String("web"),
			LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
			MinSize:              aws.Int32(0), MaxSize: aws.Int32(1),
			AvailabilityZones: []string{zone},
		}
	}
	_, err := autoscaling.NewFromConfig(west).CreateAutoScalingGroup(e.ctx, in("eu-west-1a"))
	wantCode(t, err, "ValidationError") // the template lives in us-east-1
	_, err = autoscaling.NewFromConfig(east).CreateAutoScalingGroup(e.ctx, in("eu-west-1a"))
	wantCode(t, err, "ValidationError") // a zone of another region

	e.template(west, "web") // no clash with us-east-1's "web"
	try(autoscaling.NewFromConfig(west).CreateAutoScalingGroup(e.ctx, in("eu-west-1a"))).must(t)
	try(autoscaling.NewFromConfig(east).CreateAutoScalingGroup(e.ctx, in("us-east-1a"))).must(t)
	groups := e.sim.Groups()
	if len(groups) != 2 || groups[0].Region != "eu-west-1" || groups[1].Region != "us-east-1" {
		t.Fatalf("Groups() = %+v", groups)
	}

	// testTG is in us-east-1 and invisible from eu-west-1.
	_, err = elbv2.NewFromConfig(west).DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{testTG}})
	var nf *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want *TargetGroupNotFoundException", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	e.template(e.cfg(), "web")
	c := e.asg()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CreateAutoScalingGroup(e.ctx, &autoscaling.CreateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(fmt.Sprintf("g%d", i)),
				LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")},
				MinSize:              aws.Int32(1), MaxSize: aws.Int32(2),
				AvailabilityZones: []string{"us-east-1a"},
			})
			errs <- err
			_, err = c.DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for _, g := range e.sim.Groups() {
		for _, in := range g.Instances {
			if ids[in.ID] {
				t.Fatalf("instance ID %s used twice", in.ID)
			}
			ids[in.ID] = true
		}
	}
	if len(ids) != n {
		t.Fatalf("%d instances, want %d", len(ids), n)
	}
}

func TestAdminHandler(t *testing.T) {
	e := newEnv(t)
	admin := httptest.NewServer(e.sim.AdminHandler())
	t.Cleanup(admin.Close)
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		resp, err := admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, string(try(io.ReadAll(resp.Body)).must(t))
	}

	if status, body := do(http.MethodPost, "/_sim/faults", `{"service":"autoscaling","action":"DescribeAutoScalingGroups","kind":"throttle","count":1}`); status != http.StatusNoContent {
		t.Fatalf("inject: %d %s", status, body)
	}
	try(e.asg().DescribeAutoScalingGroups(e.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})).must(t)
	status, body := do(http.MethodGet, "/_sim/calls", "")
	var calls map[string]int
	if err := json.Unmarshal([]byte(body), &calls); err != nil || status != http.StatusOK || calls["autoscaling:DescribeAutoScalingGroups"] != 2 {
		t.Fatalf("calls: %d %s (%v)", status, body, err)
	}
	if status, _ := do(http.MethodDelete, "/_sim/calls", ""); status != http.StatusNoContent || len(e.sim.Calls()) != 0 {
		t.Fatalf("reset calls: %d, %v", status, e.sim.Calls())
	}

	e.template(e.cfg(), "web")
	createGroup(t, e, "web", 1, 1, 1)
	if status, body := do(http.MethodPost, "/_sim/never-healthy?group=web", ""); status != http.StatusNoContent {
		t.Fatalf("never-healthy: %d %s", status, body)
	}
	status, body = do(http.MethodGet, "/_sim/groups", "")
	var groups []cloudsim.GroupView
	if err := json.Unmarshal([]byte(body), &groups); err != nil || status != http.StatusOK || len(groups) != 1 || !groups[0].NeverHealthy || len(groups[0].Instances) != 1 {
		t.Fatalf("groups: %d %s (%v)", status, body, err)
	}
	if strings.Contains(body, testSecret) {
		t.Fatal("admin API leaks the secret key")
	}

	for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"Slow","delay":"soon"}`, `not json`, `{"kind":"Throttle","count":-1}`} {
		if status, _ := do(http.MethodPost, "/_sim/faults", bad); status != http.StatusBadRequest {
			t.Fatalf("fault %s: status %d, want 400", bad, status)
		}
	}
	if status, _ := do(http.MethodPost, "/_sim/never-healthy", ""); status != http.StatusBadRequest {
		t.Fatalf("never-healthy without group: %d", status)
	}
}
