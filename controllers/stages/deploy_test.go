package stages

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// These tests run the stages against controller-runtime's fake client, with a stand-in for the
// ServerGroup controller (settle): they check the wiring (names, labels, patches, outputs, messages). The
// fake client does not keep metadata.generation, so a status is always taken as current here; the
// decisions' handling of generations is tested in deploy_strategy_test.go.

var fakeT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const testFinalizer = "delivery.gennaker.io/cloud-resource"

type fakeAPI struct {
	t  *testing.T
	c  client.WithWatch
	ns string
	// made is the creation time the next object gets.
	made time.Time
}

func newFakeAPI(t *testing.T, objs ...client.Object) *fakeAPI {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := coordinationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{t: t, ns: "shop", made: fakeT0}
	api.c = interceptor.NewClient(
		fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.ServerGroup{}).WithObjects(objs...).Build(),
		interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			obj.SetCreationTimestamp(metav1.NewTime(api.made))
			api.made = api.made.Add(time.Minute)
			return c.Create(ctx, obj, opts...)
		}})
	return api
}

func (a *fakeAPI) deps() Deps { return Deps{Client: a.c, APIReader: a.c} }

// existing makes a group of the shop-main cluster, settled, with its traffic and desired capacity.
func (a *fakeAPI) existing(name string, traffic v1alpha1.Traffic, desired int32) {
	a.t.Helper()
	g := sg(name, time.Time{})
	g.Generation = 0
	g.Namespace = a.ns
	g.Spec.Traffic = traffic
	g.Spec.Capacity = v1alpha1.Capacity{Min: desired, Desired: desired, Max: 5}
	g.Spec.AWS = &v1alpha1.AWSServerGroup{ImageID: "ami-0old"}
	if err := a.c.Create(context.Background(), &g); err != nil {
		a.t.Fatal(err)
	}
	a.settle()
}

// settle makes every group's status match its spec, as the ServerGroup controller does once the cloud
// has converged, and lets the groups being deleted go; but not the groups named in stuck.
func (a *fakeAPI) settle(stuck ...string) {
	a.t.Helper()
	ctx := context.Background()
	var list v1alpha1.ServerGroupList
	if err := a.c.List(ctx, &list); err != nil {
		a.t.Fatal(err)
	}
outer:
	for i := range list.Items {
		g := &list.Items[i]
		for _, s := range stuck {
			if s == g.Name {
				continue outer
			}
		}
		if deleting(g) {
			g.Finalizers = nil
			if err := a.c.Update(ctx, g); err != nil {
				a.t.Fatal(err)
			}
			continue
		}
		if len(g.Finalizers) == 0 {
			g.Finalizers = []string{testFinalizer}
			if err := a.c.Update(ctx, g); err != nil {
				a.t.Fatal(err)
			}
		}
		d := g.Spec.Capacity.Desired
		g.Status = v1alpha1.ServerGroupStatus{
			Status: v1alpha1.Status{ObservedGeneration: g.Generation, Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, LastTransitionTime: metav1.NewTime(fakeT0)},
				{Type: v1alpha1.ConditionHealthy, Status: metav1.ConditionTrue, Reason: "AllHealthy", LastTransitionTime: metav1.NewTime(fakeT0)},
				{Type: v1alpha1.ConditionTrafficEnabled, Status: cond(g.Spec.Traffic == v1alpha1.TrafficEnabled), Reason: "Traffic", LastTransitionTime: metav1.NewTime(fakeT0)},
			}},
			Instances: v1alpha1.Instances{Desired: d, Running: d, Healthy: d},
			Traffic:   g.Spec.Traffic,
		}
		if err := a.c.Status().Update(ctx, g); err != nil {
			a.t.Fatal(err)
		}
	}
}

// refuse makes a group's Ready condition say a person must act.
func (a *fakeAPI) refuse(name, reason, msg string) {
	a.t.Helper()
	g := a.get(name)
	g.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(fakeT0)}}
	if err := a.c.Status().Update(context.Background(), g); err != nil {
		a.t.Fatal(err)
	}
}

func cond(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

func (a *fakeAPI) get(name string) *v1alpha1.ServerGroup {
	a.t.Helper()
	var g v1alpha1.ServerGroup
	if err := a.c.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: name}, &g); err != nil {
		a.t.Fatalf("%s: %v", name, err)
	}
	return &g
}

// state is every group as "traffic/desired".
func (a *fakeAPI) state() map[string]string {
	var list v1alpha1.ServerGroupList
	if err := a.c.List(context.Background(), &list); err != nil {
		a.t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range list.Items {
		s := string(g.Spec.Traffic)
		if deleting(&g) {
			s = "Deleting"
		}
		out[g.Name] = s + "/" + string(rune('0'+g.Spec.Capacity.Desired))
	}
	return out
}

// stageRun is a stage of the run demo-x7k2p of pipeline release (application shop), as the engine gives
// it right after setting it Running.
func stageRun(st v1alpha1.Stage) *engine.StageRun {
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-x7k2p", Namespace: "shop", UID: "0b6f-uid"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "release"},
		Status: v1alpha1.ExecutionStatus{
			Phase:        v1alpha1.ExecutionRunning,
			Parameters:   map[string]string{"image": "ami-0new"},
			PipelineSpec: &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{st}},
		},
	}
	start := metav1.NewTime(fakeT0)
	return &engine.StageRun{
		Spec:      &st,
		Status:    &v1alpha1.StageStatus{Name: st.Name, Type: st.Type(), Phase: v1alpha1.StageRunning, StartTime: &start},
		Execution: ex,
		Now:       fakeT0,
		Vars:      engine.Vars(ex),
	}
}

func target(region string, strategy v1alpha1.Strategy, rb *v1alpha1.RedBlack) v1alpha1.DeployTarget {
	return v1alpha1.DeployTarget{
		Account: "aws-prod", Region: region, Stack: "main",
		Capacity: v1alpha1.Capacity{Min: 3, Desired: 3, Max: 5},
		Strategy: strategy, RedBlack: rb,
		CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
			LaunchTemplate:  &v1alpha1.LaunchTemplate{Name: "shop-${ execution.name }", Version: "$Latest"},
			ImageID:         "${ parameters.image }",
			InstanceType:    "m7g.large",
			TargetGroupARNs: []string{"arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/shop-${ execution.namespace }/1"},
			SubnetIDs:       []string{"subnet-0a"},
		}},
	}
}

func deployStage(targets ...v1alpha1.DeployTarget) v1alpha1.Stage {
	return v1alpha1.Stage{Name: "deploy", StageType: v1alpha1.StageType{Deploy: &v1alpha1.DeployStage{Clusters: targets}}}
}

func outputsOf(g Gomega, s *engine.StageRun) map[string]any {
	out := map[string]any{}
	for k, raw := range s.Status.Outputs {
		var v any
		g.ExpectWithOffset(1, json.Unmarshal(raw.Raw, &v)).To(Succeed())
		out[k] = v
	}
	return out
}

// checkUntilDone runs Checks, settling the groups after each and moving the clock, until the stage
// finishes.
func checkUntilDone(g Gomega, api *fakeAPI, st engine.Stage, s *engine.StageRun) {
	for range 50 {
		if s.Status.Phase != v1alpha1.StageRunning {
			return
		}
		api.settle()
		s.Now = s.Now.Add(time.Second)
		g.ExpectWithOffset(1, st.Check(context.Background(), s)).To(Succeed())
	}
	g.ExpectWithOffset(1, s.Status.Phase).NotTo(Equal(v1alpha1.StageRunning), s.Status.Message)
}

func TestDeployStageRedBlack(t *testing.T) {
	g := NewWithT(t)
	defer func(d time.Duration) { serverGroupPoll = d }(serverGroupPoll)
	serverGroupPoll = time.Second
	api := newFakeAPI(t)
	api.existing("shop-main-v000", v1alpha1.TrafficEnabled, 3)
	st := All(api.deps())["deploy"]
	s := stageRun(deployStage(target("us-east-1", v1alpha1.StrategyRedBlack, &v1alpha1.RedBlack{DelayBeforeScaleDown: "0s"})))
	lost := s.Status.DeepCopy()

	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageRunning))
	g.Expect(s.Status.Message).To(Equal("shop-main-v001: 0/3 healthy"))
	g.Expect(s.Status.NextCheckTime.Time).To(BeTemporally("==", fakeT0.Add(time.Second)))
	made := api.get("shop-main-v001")
	g.Expect(made.Labels).To(HaveKeyWithValue(v1alpha1.LabelCluster, "shop-main"))
	g.Expect(made.Labels).To(HaveKeyWithValue(v1alpha1.LabelDeploy, deployKey("0b6f-uid", "deploy", 0)))
	g.Expect(made.Annotations).To(Equal(map[string]string{v1alpha1.AnnotationExecution: "demo-x7k2p"}))
	g.Expect(made.OwnerReferences).To(BeEmpty(), "server groups outlive their runs")
	g.Expect(made.Spec.Traffic).To(Equal(v1alpha1.TrafficDisabled))
	g.Expect(made.Spec.Application + "/" + made.Spec.Stack + "/" + made.Spec.Account + "/" + made.Spec.Region).To(Equal("shop/main/aws-prod/us-east-1"))
	g.Expect(made.Spec.AWS).To(Equal(&v1alpha1.AWSServerGroup{
		LaunchTemplate:  &v1alpha1.LaunchTemplate{Name: "shop-demo-x7k2p", Version: "$Latest"},
		ImageID:         "ami-0new",
		InstanceType:    "m7g.large",
		TargetGroupARNs: []string{"arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/shop-shop/1"},
		SubnetIDs:       []string{"subnet-0a"},
	}))
	out := outputsOf(g, s)
	g.Expect(out).To(HaveKeyWithValue("serverGroup", "shop-main-v001"))
	g.Expect(out).To(HaveKeyWithValue("previousServerGroup", "shop-main-v000"))
	g.Expect(out).To(HaveKeyWithValue("healthy", BeEquivalentTo(0)))
	g.Expect(out["serverGroups"]).To(Equal([]any{map[string]any{
		"account": "aws-prod", "region": "us-east-1", "cluster": "shop-main",
		"serverGroup": "shop-main-v001", "previousServerGroup": "shop-main-v000", "healthy": float64(0),
	}}))

	// The status write after Start was lost: Start again finds the group by its label, makes no v002.
	again := stageRun(*s.Spec)
	again.Status = lost
	g.Expect(st.Start(context.Background(), again)).To(Succeed())
	g.Expect(outputsOf(g, again)).To(HaveKeyWithValue("serverGroup", "shop-main-v001"))
	g.Expect(outputsOf(g, again)).To(HaveKeyWithValue("previousServerGroup", "shop-main-v000"))
	g.Expect(api.state()).To(HaveLen(2))

	checkUntilDone(g, api, st, s)
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageSucceeded), s.Status.Message)
	g.Expect(s.Status.Message).To(Equal("shop-main-v001 deployed, 3/3 healthy; disabled shop-main-v000 and scaled it down"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Disabled/0", "shop-main-v001": "Enabled/3"}))
	old := api.get("shop-main-v000")
	g.Expect(old.Spec.Capacity).To(Equal(v1alpha1.Capacity{Max: 5}))
	g.Expect(old.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationScaledDownFrom, MatchJSON(`{"min":3,"desired":3,"max":5}`)))
	g.Expect(old.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationExecution, "demo-x7k2p"))
	g.Expect(outputsOf(g, s)).To(HaveKeyWithValue("healthy", BeEquivalentTo(3)))

	// Canceling (as the engine would on a later branch's failure) puts everything back, twice over.
	for range 2 {
		g.Expect(st.Cancel(context.Background(), s)).To(Succeed())
	}
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Enabled/3", "shop-main-v001": "Disabled/3"}))
	g.Expect(api.get("shop-main-v000").Annotations).NotTo(HaveKey(v1alpha1.AnnotationScaledDownFrom))
	g.Expect(api.get("shop-main-v000").Spec.Capacity).To(Equal(v1alpha1.Capacity{Min: 3, Desired: 3, Max: 5}))
}

// A third red/black destroys the oldest group beyond maxRemainingServerGroups; the sequence goes on.
func TestDeployStageDestroysBeyondMaxRemaining(t *testing.T) {
	g := NewWithT(t)
	api := newFakeAPI(t)
	api.existing("shop-main-v008", v1alpha1.TrafficDisabled, 0)
	api.existing("shop-main-v009", v1alpha1.TrafficEnabled, 3)
	st := All(api.deps())["deploy"]
	s := stageRun(deployStage(target("us-east-1", "", &v1alpha1.RedBlack{DelayBeforeScaleDown: "0s"})))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	checkUntilDone(g, api, st, s)
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageSucceeded), s.Status.Message)
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v009": "Disabled/0", "shop-main-v010": "Enabled/3"}))
}

// Clusters deploy in parallel; the same cluster name in two regions shares the namespace's object names.
// One failing fails the stage, after the others are rolled back.
func TestDeployStageSeveralClusters(t *testing.T) {
	g := NewWithT(t)
	api := newFakeAPI(t)
	api.existing("shop-main-v000", v1alpha1.TrafficEnabled, 3)
	st := All(api.deps())["deploy"]
	rb := &v1alpha1.RedBlack{DelayBeforeScaleDown: "0s"}
	s := stageRun(deployStage(target("us-east-1", v1alpha1.StrategyRedBlack, rb), target("us-west-2", v1alpha1.StrategyRedBlack, rb)))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Message).To(Equal("aws-prod/us-east-1: shop-main-v001: 0/3 healthy; aws-prod/us-west-2: shop-main-v002: 0/3 healthy"))
	g.Expect(api.get("shop-main-v002").Spec.Region).To(Equal("us-west-2"))
	list := outputsOf(g, s)["serverGroups"].([]any)
	g.Expect(list[1]).To(HaveKeyWithValue("previousServerGroup", ""), "us-west-2 had no group")

	// us-east-1 gets as far as moving traffic; us-west-2's group is refused.
	api.settle()
	s.Now = s.Now.Add(time.Second)
	g.Expect(st.Check(context.Background(), s)).To(Succeed())
	for i := 0; i < 10 && !strings.Contains(s.Status.Message, "shop-main-v001 deployed"); i++ {
		api.settle("shop-main-v002")
		s.Now = s.Now.Add(time.Second)
		g.Expect(st.Check(context.Background(), s)).To(Succeed())
	}
	g.Expect(s.Status.Message).To(Equal("aws-prod/us-east-1: shop-main-v001 deployed, 3/3 healthy; disabled shop-main-v000 and scaled it down; " +
		"aws-prod/us-west-2: shop-main-v002: waiting to take traffic, 3/3 healthy"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Disabled/0", "shop-main-v001": "Enabled/3", "shop-main-v002": "Enabled/3"}))
	api.refuse("shop-main-v002", v1alpha1.ReasonInvalidRequest, "InvalidAMIID.NotFound: ami-0new")
	g.Expect(st.Check(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(s.Status.Message).To(Equal("aws-prod/us-west-2: shop-main-v002: Ready=False InvalidRequest: InvalidAMIID.NotFound: ami-0new; " +
		"rolled back: enabled shop-main-v000 at desired 3, disabled shop-main-v001, disabled shop-main-v002"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Enabled/3", "shop-main-v001": "Disabled/3", "shop-main-v002": "Disabled/3"}),
		"the finished cluster is rolled back too, so both regions end on the old version")
}

func TestDeployStageFailsBeforeMakingAnything(t *testing.T) {
	g := NewWithT(t)
	api := newFakeAPI(t)
	st := All(api.deps())["deploy"]
	bad := target("us-west-2", v1alpha1.StrategyHighlander, nil)
	bad.AWS.SubnetIDs = []string{"subnet-0a", "${ parameters.subnet }"}
	s := stageRun(deployStage(target("us-east-1", v1alpha1.StrategyHighlander, nil), bad))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(s.Status.Message).To(HavePrefix("deploy.clusters[1].aws.subnetIDs[1]: "))
	g.Expect(api.state()).To(BeEmpty())

	s = stageRun(deployStage(target("us-east-1", v1alpha1.StrategyNone, nil), target("us-east-1", v1alpha1.StrategyNone, nil)))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Message).To(Equal("deploy.clusters[1]: cluster shop-main in aws-prod/us-east-1 is deploy.clusters[0] already"))
	g.Expect(api.state()).To(BeEmpty())

	long := target("us-east-1", v1alpha1.StrategyNone, nil)
	long.Detail = "a-very-long-detail-that-makes-the-cluster-name-too-long-for-a-label"
	s = stageRun(deployStage(long))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Message).To(HavePrefix("deploy.clusters[0]: cluster name shop-main-a-very-long"))
}

// A person deletes the new group while the deploy waits for it.
func TestDeployStageNewGroupDeleted(t *testing.T) {
	g := NewWithT(t)
	api := newFakeAPI(t)
	st := All(api.deps())["deploy"]
	s := stageRun(deployStage(target("us-east-1", v1alpha1.StrategyNone, nil)))
	g.Expect(st.Start(context.Background(), s)).To(Succeed())
	g.Expect(api.c.Delete(context.Background(), api.get("shop-main-v000"))).To(Succeed())
	g.Expect(st.Check(context.Background(), s)).To(Succeed())
	g.Expect(s.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(s.Status.Message).To(Equal("shop-main-v000 was deleted before the deploy finished"))
}

func serverGroupStage(name string, t v1alpha1.StageType) v1alpha1.Stage {
	return v1alpha1.Stage{Name: name, StageType: t}
}

func clusterTarget(sel v1alpha1.TargetSelector) v1alpha1.ServerGroupTarget {
	return v1alpha1.ServerGroupTarget{Cluster: "shop-main", Account: "aws-prod", Region: "us-east-1", Target: sel}
}

func TestServerGroupStagesWithFakeAPI(t *testing.T) {
	g := NewWithT(t)
	api := newFakeAPI(t)
	api.existing("shop-main-v000", v1alpha1.TrafficDisabled, 0)
	api.existing("shop-main-v001", v1alpha1.TrafficEnabled, 3)
	old := api.get("shop-main-v000")
	old.Annotations = map[string]string{v1alpha1.AnnotationScaledDownFrom: `{"min":2,"desired":2,"max":5}`}
	g.Expect(api.c.Update(context.Background(), old)).To(Succeed())
	all := All(api.deps())
	ctx := context.Background()

	// rollbackCluster: v000 back at the capacity it was scaled down from, then v001 out.
	rc := stageRun(serverGroupStage("rollback", v1alpha1.StageType{RollbackCluster: &v1alpha1.RollbackClusterStage{
		Account: "aws-prod", Region: "us-east-1", Cluster: "shop-main"}}))
	g.Expect(all["rollbackCluster"].Start(ctx, rc)).To(Succeed())
	g.Expect(outputsOf(g, rc)).To(Equal(map[string]any{"serverGroup": "shop-main-v000", "disabledServerGroup": "shop-main-v001"}))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Enabled/2", "shop-main-v001": "Enabled/3"}),
		"the newest keeps traffic until the previous one takes it")
	g.Expect(api.get("shop-main-v000").Annotations).To(Equal(map[string]string{v1alpha1.AnnotationExecution: "demo-x7k2p"}))
	checkUntilDone(g, api, all["rollbackCluster"], rc)
	g.Expect(rc.Status.Phase).To(Equal(v1alpha1.StageSucceeded), rc.Status.Message)
	g.Expect(rc.Status.Message).To(Equal("shop-main-v000 takes traffic again; shop-main-v001 is out of its load balancers"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Enabled/2", "shop-main-v001": "Disabled/3"}))

	// resizeServerGroup of the Previous group (v000, made first).
	rs := stageRun(serverGroupStage("resize", v1alpha1.StageType{ResizeServerGroup: &v1alpha1.ResizeServerGroupStage{
		ServerGroupTarget: clusterTarget(v1alpha1.TargetPrevious), Capacity: v1alpha1.Capacity{Min: 1, Desired: 4, Max: 5}}}))
	g.Expect(all["resizeServerGroup"].Start(ctx, rs)).To(Succeed())
	g.Expect(outputsOf(g, rs)).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	checkUntilDone(g, api, all["resizeServerGroup"], rs)
	g.Expect(rs.Status.Message).To(Equal("shop-main-v000 resized to min 1, desired 4, max 5, 4 healthy"))

	// enableServerGroup by name, disableServerGroup of the Oldest.
	en := stageRun(serverGroupStage("enable", v1alpha1.StageType{EnableServerGroup: &v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v001"}}))
	g.Expect(all["enableServerGroup"].Start(ctx, en)).To(Succeed())
	g.Expect(en.Status.Phase).To(Equal(v1alpha1.StageRunning), "the patch is not observed yet")
	checkUntilDone(g, api, all["enableServerGroup"], en)
	g.Expect(en.Status.Message).To(Equal("shop-main-v001 takes traffic, 3/3 healthy"))
	dis := stageRun(serverGroupStage("disable", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{ServerGroupTarget: clusterTarget(v1alpha1.TargetOldest)}}))
	g.Expect(all["disableServerGroup"].Start(ctx, dis)).To(Succeed())
	checkUntilDone(g, api, all["disableServerGroup"], dis)
	g.Expect(dis.Status.Message).To(Equal("shop-main-v000 is out of its load balancers"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v000": "Disabled/4", "shop-main-v001": "Enabled/3"}))

	// destroyServerGroup of the Oldest: it waits for the finalizer.
	de := stageRun(serverGroupStage("destroy", v1alpha1.StageType{DestroyServerGroup: &v1alpha1.DestroyServerGroupStage{ServerGroupTarget: clusterTarget(v1alpha1.TargetOldest)}}))
	g.Expect(all["destroyServerGroup"].Start(ctx, de)).To(Succeed())
	g.Expect(de.Status.Message).To(Equal("destroying shop-main-v000"))
	g.Expect(api.state()).To(HaveKeyWithValue("shop-main-v000", "Deleting/4"))
	checkUntilDone(g, api, all["destroyServerGroup"], de)
	g.Expect(de.Status.Message).To(Equal("shop-main-v000 destroyed"))
	g.Expect(api.state()).To(Equal(map[string]string{"shop-main-v001": "Enabled/3"}))

	// Missing targets fail with the field and the namespace.
	miss := stageRun(serverGroupStage("missing", v1alpha1.StageType{DisableServerGroup: &v1alpha1.DisableServerGroupStage{ServerGroupTarget: v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v007"}}}))
	g.Expect(all["disableServerGroup"].Start(ctx, miss)).To(Succeed())
	g.Expect(miss.Status.Message).To(Equal("disableServerGroup.serverGroup: shop-main-v007 not found in namespace shop"))
	prev := stageRun(serverGroupStage("prev", v1alpha1.StageType{EnableServerGroup: ptrTarget(clusterTarget(v1alpha1.TargetPrevious))}))
	g.Expect(all["enableServerGroup"].Start(ctx, prev)).To(Succeed())
	g.Expect(prev.Status.Message).To(Equal("enableServerGroup.target: cluster shop-main in aws-prod/us-east-1 in namespace shop has no Previous server group (it has 1)"))
	rb := stageRun(serverGroupStage("rollback", v1alpha1.StageType{RollbackCluster: &v1alpha1.RollbackClusterStage{
		Account: "aws-prod", Region: "us-east-1", Cluster: "shop-main"}}))
	g.Expect(all["rollbackCluster"].Start(ctx, rb)).To(Succeed())
	g.Expect(rb.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(rb.Status.Message).To(Equal("rollbackCluster: cluster shop-main in aws-prod/us-east-1 in namespace shop has no previous server group to roll back to (it has 1)"))

	// A group whose account does not allow the namespace fails the stage waiting on it.
	api.refuse("shop-main-v001", v1alpha1.ReasonAccountNotAllowed, "spec.account: aws-prod does not allow namespace shop")
	rs = stageRun(serverGroupStage("resize", v1alpha1.StageType{ResizeServerGroup: &v1alpha1.ResizeServerGroupStage{
		ServerGroupTarget: v1alpha1.ServerGroupTarget{ServerGroup: "shop-main-v001"}, Capacity: v1alpha1.Capacity{Desired: 1, Max: 5}}}))
	g.Expect(all["resizeServerGroup"].Start(ctx, rs)).To(Succeed())
	g.Expect(rs.Status.Phase).To(Equal(v1alpha1.StageFailed))
	g.Expect(rs.Status.Message).To(Equal("shop-main-v001: Ready=False AccountNotAllowed: spec.account: aws-prod does not allow namespace shop"))
}

func ptrTarget(t v1alpha1.ServerGroupTarget) *v1alpha1.ServerGroupTarget { return &t }
