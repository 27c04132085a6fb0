package controllers_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

// The simulated AWS account of the cloud tests.
const (
	accessKeyID = "AKIDGENNAKERTEST0001"
	// secretKey is distinctive, so a test can search status, Events and logs for it.
	secretKey     = "gnkr-SECRET-do-not-leak-7f3a9c"
	targetGroup   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web/0123456789abcdef"
	targetGroupEU = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/fedcba9876543210"
	credentialKey = "credentials"
)

// awsEnv is a namespace, an AWS simulator, a Secret and a CloudAccount allowing the namespace, and a
// manager whose AWS provider talks to the simulator.
type awsEnv struct {
	ns      string
	account string
	sim     *awssim.Sim
	srv     *httptest.Server
	logs    *syncBuffer
}

// awsManager is how the cloud tests run the manager: the simulator's delays are a few hundred
// milliseconds, so the groups are polled often and transient errors retried quickly.
func (a *awsEnv) manager() testenv.Manager {
	return testenv.Manager{
		Controllers: controllers.Options{
			Providers:        map[v1alpha1.Provider]cloud.Provider{v1alpha1.ProviderAWS: &awscloud.Provider{MaxBackoff: 20 * time.Millisecond}},
			ServerGroupPoll:  100 * time.Millisecond,
			CloudMaxBackoff:  500 * time.Millisecond,
			CloudSlowBackoff: 200 * time.Millisecond,
		},
		Log: a.logs,
	}
}

// setupAWS prepares an awsEnv; start says whether to start the manager too.
func setupAWS(t *testing.T, start bool) *awsEnv {
	t.Helper()
	ns := env.Namespace(t)
	sim := awssim.New(awssim.Options{
		Keys:               map[string]string{accessKeyID: secretKey},
		LaunchDelay:        300 * time.Millisecond,
		TargetHealthyDelay: 300 * time.Millisecond,
		TerminateDelay:     100 * time.Millisecond,
		DeleteDelay:        200 * time.Millisecond,
	})
	sim.AddTargetGroup(targetGroup)
	sim.AddTargetGroup(targetGroupEU)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	a := &awsEnv{ns: ns, account: ns, sim: sim, srv: srv, logs: &syncBuffer{}}
	a.secret(t, "aws-credentials", "[default]\naws_access_key_id = "+accessKeyID+"\naws_secret_access_key = "+secretKey+"\n")
	a.createAccount(t, a.account, srv.URL, "aws-credentials", []string{ns})
	if start {
		env.StartManagerWith(t, a.manager())
	}
	return a
}

func (a *awsEnv) secret(t *testing.T, name, value string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name},
		Data:       map[string][]byte{credentialKey: []byte(value)},
	}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatalf("creating secret %s: %v", name, err)
	}
}

// createAccount makes a CloudAccount for the simulator, deleted when the test ends.
func (a *awsEnv) createAccount(t *testing.T, name, endpoint, secret string, allowed []string) {
	t.Helper()
	acc := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAWS,
			Credentials: v1alpha1.Credentials{
				Source:    v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: a.ns, Name: secret, Key: credentialKey},
			},
			AWS:               &v1alpha1.AWSAccount{Regions: []string{"us-east-1", "eu-west-1"}, Endpoint: v1alpha1.Endpoint(endpoint)},
			AllowedNamespaces: allowed,
		},
	}
	if err := env.Client.Create(context.Background(), acc); err != nil {
		t.Fatalf("creating account %s: %v", name, err)
	}
	t.Cleanup(func() { deleteAccount(acc) })
}

// deleteAccount deletes an account once the test's manager is gone, with it the controller that would
// release its in-use finalizer.
func deleteAccount(acc *v1alpha1.CloudAccount) {
	ctx := context.Background()
	_ = env.Client.Patch(ctx, acc, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	_ = env.Client.Delete(ctx, acc)
}

// serverGroup makes a ServerGroup of cluster shop-main in the account, as a person would: without the
// cluster label, which the controller adds.
func (a *awsEnv) serverGroup(t *testing.T, name string, desired int32, traffic v1alpha1.Traffic) *v1alpha1.ServerGroup {
	t.Helper()
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: a.account, Region: "us-east-1",
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:  traffic,
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
				ImageID: "ami-0abc1234def567890", InstanceType: "m7g.large",
				TargetGroupARNs: []string{targetGroup}, SubnetIDs: []string{"subnet-0a"},
			}},
		},
	}
	if err := env.Client.Create(context.Background(), sg); err != nil {
		t.Fatalf("creating server group %s: %v", name, err)
	}
	return sg
}

func getAccount(g Gomega, name string) *v1alpha1.CloudAccount {
	var a v1alpha1.CloudAccount
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &a)).To(Succeed())
	return &a
}

func getGroup(g Gomega, ns, name string) *v1alpha1.ServerGroup {
	var sg v1alpha1.ServerGroup
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &sg)).To(Succeed())
	return &sg
}

// cond returns a condition of any Gennaker object, current or not.
func cond(obj v1alpha1.Conditioned, t string) metav1.Condition {
	if c := meta.FindStatusCondition(obj.GetStatus().Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// current says whether a condition describes the object's current generation with the given status.
func current(obj interface {
	v1alpha1.Conditioned
}, t string, s metav1.ConditionStatus) bool {
	c := cond(obj, t)
	return c.Status == s && c.ObservedGeneration == obj.GetGeneration() && obj.GetStatus().ObservedGeneration == obj.GetGeneration()
}

// syncBuffer is a bytes.Buffer the manager's goroutines may write to while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// healthyTargets counts the instances healthy in the load balancer's target group, whatever their group.
func (a *awsEnv) healthyTargets() int {
	n := 0
	for _, v := range a.sim.Groups() {
		for _, i := range v.Instances {
			if i.TargetHealth[targetGroup] == "healthy" {
				n++
			}
		}
	}
	return n
}

// sdk is an AWS SDK configuration for the simulator, as a team with its own tools (or EKS, or a person at
// the console) has: what it does there, the operator did not do.
func (a *awsEnv) sdk() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretKey, ""),
		BaseEndpoint: aws.String(a.srv.URL),
		HTTPClient:   a.srv.Client(),
	}
}

func (a *awsEnv) asg() *autoscaling.Client { return autoscaling.NewFromConfig(a.sdk()) }
func (a *awsEnv) ec2() *ec2.Client         { return ec2.NewFromConfig(a.sdk()) }

// baseTemplate makes a team's launch template, with one version.
func (a *awsEnv) baseTemplate(t *testing.T, name, image string) {
	t.Helper()
	if _, err := a.ec2().CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image), InstanceType: ec2types.InstanceTypeM7gLarge},
	}); err != nil {
		t.Fatalf("creating launch template %s: %v", name, err)
	}
}

// templateVersion adds a version with another image to a team's launch template, as the team would.
func (a *awsEnv) templateVersion(t *testing.T, name, image string) {
	t.Helper()
	if _, err := a.ec2().CreateLaunchTemplateVersion(context.Background(), &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String(name), SourceVersion: aws.String("$Latest"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image)},
	}); err != nil {
		t.Fatalf("adding a version to launch template %s: %v", name, err)
	}
}

// handMadeGroup makes an Auto Scaling group of 2 (min 1, max 3) from a template of its own, with tags.
func (a *awsEnv) handMadeGroup(t *testing.T, name string, tags map[string]string) {
	t.Helper()
	a.baseTemplate(t, name+"-lt", "ami-0handmade00000000")
	var ts []asgtypes.Tag
	for k, v := range tags {
		ts = append(ts, asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(true)})
	}
	if _, err := a.asg().CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name + "-lt"), Version: aws.String("1")},
		MinSize:              aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(2),
		VPCZoneIdentifier: aws.String("subnet-0a"),
		Tags:              ts,
	}); err != nil {
		t.Fatalf("creating Auto Scaling group %s: %v", name, err)
	}
}

// deleteASG force-deletes an Auto Scaling group behind the operator's back.
func (a *awsEnv) deleteASG(t *testing.T, name string) {
	t.Helper()
	if _, err := a.asg().DeleteAutoScalingGroup(context.Background(), &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true),
	}); err != nil {
		t.Fatalf("deleting Auto Scaling group %s: %v", name, err)
	}
}

// writes keeps the calls that are not reads.
func writes(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if _, op, _ := strings.Cut(k, ":"); !strings.HasPrefix(op, "Describe") && op != "GetCallerIdentity" {
			out[k] = v
		}
	}
	return out
}

// gone says whether an object is gone from the API server.
func gone(obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object)))
	}
}
