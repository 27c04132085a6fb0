package aws_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	awsprovider "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

const (
	accountID = "123456789012"
	testKeyID = "AKIDGENNAKERTEST"
	region    = "us-east-1"
	tgA       = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/0123456789abcdef"
	tgB       = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/fedcba9876543210"

	launchDelay    = 10 * time.Second
	healthyDelay   = 20 * time.Second
	terminateDelay = 5 * time.Second
	deleteDelay    = 30 * time.Second

	maxAttempts = 5

	// keyUser is the identity of the access key testKeyID.
	keyUser = "arn:aws:iam::" + accountID + ":user/" + testKeyID
)

// env is a sim behind an httptest server and a Client connected to it through the real SDK.
type env struct {
	t        *testing.T
	ctx      context.Context
	clock    *awssim.Clock
	sim      *awssim.Sim
	srv      *httptest.Server
	provider *awsprovider.Provider
	client   cloud.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The clock starts at the real time: the SDK's credentials cache judges the expiry of the sim's
	// assumed-role credentials by the real clock.
	clock := awssim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim := awssim.New(awssim.Options{
		AccountID:          accountID,
		Keys:               map[string]string{testKeyID: secretValue},
		LaunchDelay:        launchDelay,
		TargetHealthyDelay: healthyDelay,
		TerminateDelay:     terminateDelay,
		DeleteDelay:        deleteDelay,
		Now:                clock.Now,
	})
	sim.AddTargetGroup(tgA)
	sim.AddTargetGroup(tgB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{
		t:        t,
		ctx:      context.Background(),
		clock:    clock,
		sim:      sim,
		srv:      srv,
		provider: &awsprovider.Provider{HTTPClient: srv.Client(), MaxAttempts: maxAttempts, MaxBackoff: time.Millisecond},
	}
	e.client = e.connect(e.account(), keyBlock(testKeyID))
	return e
}

// keyBlock is a Secret's credentials block for an access key whose secret is secretValue.
func keyBlock(id string) cloud.Credentials {
	return cloud.NewCredentials([]byte("[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secretValue + "\n"))
}

func (e *env) account() *v1alpha1.CloudAccount {
	return secretAccount(e.srv.URL)
}

func (e *env) connect(acct *v1alpha1.CloudAccount, creds cloud.Credentials) cloud.Client {
	e.t.Helper()
	c, err := e.provider.Connect(e.ctx, acct, creds)
	if err != nil {
		e.t.Fatalf("Connect: %v", err)
	}
	return c
}

// wantIdentity fails the test unless Verify through c succeeds and names the identity want.
func (e *env) wantIdentity(c cloud.Client, want string) {
	e.t.Helper()
	id, err := c.Verify(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if id != want {
		e.t.Errorf("identity %q, want %q", id, want)
	}
}

// serverGroup is a group of the application web made from a launch template of its own, in subnets, with
// target group A.
func serverGroup(name string, traffic v1alpha1.Traffic, desired int32) *v1alpha1.ServerGroup {
	return &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "team-a",
			Name:      name,
			UID:       types.UID("uid-" + name),
			Labels:    map[string]string{v1alpha1.LabelCluster: "web-main"},
		},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "web",
			Stack:       "main",
			Account:     "prod",
			Region:      region,
			Capacity:    v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:     traffic,
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
				ImageID:         "ami-0abc1234",
				InstanceType:    "m7g.large",
				TargetGroupARNs: []string{tgA},
				SubnetIDs:       []string{"subnet-a", "subnet-b"},
			}},
		},
	}
}

// sdkConfig is an aws.Config for the sim, as a team with its own tools has.
func (e *env) sdkConfig() aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, secretValue, ""),
		BaseEndpoint: aws.String(e.srv.URL),
		HTTPClient:   e.srv.Client(),
	}
}

func (e *env) ec2() *ec2.Client         { return ec2.NewFromConfig(e.sdkConfig()) }
func (e *env) asg() *autoscaling.Client { return autoscaling.NewFromConfig(e.sdkConfig()) }

func (e *env) create(sg *v1alpha1.ServerGroup) {
	e.t.Helper()
	if err := errOf(e.client.Create(e.ctx, sg)); err != nil {
		e.t.Fatalf("Create %s: %v", sg.Name, err)
	}
}

func (e *env) observe(sg *v1alpha1.ServerGroup) cloud.Observation {
	e.t.Helper()
	o, err := e.client.Observe(e.ctx, sg)
	if err != nil {
		e.t.Fatalf("Observe %s: %v", sg.Name, err)
	}
	return o
}

func (e *env) setTraffic(sg *v1alpha1.ServerGroup, t v1alpha1.Traffic) {
	e.t.Helper()
	if err := errOf(e.client.SetTraffic(e.ctx, sg, t)); err != nil {
		e.t.Fatalf("SetTraffic %s %s: %v", sg.Name, t, err)
	}
}

func (e *env) updateCapacity(sg *v1alpha1.ServerGroup) {
	e.t.Helper()
	if err := errOf(e.client.UpdateCapacity(e.ctx, sg, sg.Spec.Capacity)); err != nil {
		e.t.Fatalf("UpdateCapacity %s: %v", sg.Name, err)
	}
}

func (e *env) group(name string) awssim.GroupView {
	e.t.Helper()
	g, ok := e.sim.Group(name)
	if !ok {
		e.t.Fatalf("the sim has no group %s", name)
	}
	return g
}

// writes returns the calls of Calls() that are not reads.
func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if !strings.Contains(k, ":Describe") && !strings.Contains(k, ":GetCallerIdentity") {
			out[k] = v
		}
	}
	return out
}

// writesOf returns the writes f makes.
func (e *env) writesOf(f func()) map[string]int {
	e.sim.ResetCalls()
	f()
	return writes(e.sim.Calls())
}

func wantReason(t *testing.T, what string, err error, want cloud.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, want)
	}
	if got := cloud.ReasonOf(err); got != want {
		t.Fatalf("%s: reason %s, want %s (%v)", what, got, want, err)
	}
	assertNoSecret(t, err)
}

// errOf is the error of a call that may start a long-running operation; AWS never starts one.
func errOf(_ *v1alpha1.CloudOperation, err error) error { return err }
