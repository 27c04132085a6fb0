package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// releasePipeline deploys the shop-main cluster with a strategy; the image is the run's parameter.
func releasePipeline(a *awsEnv, name, strategy, options, timeout string) string {
	return fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: %s}
spec:
  application: shop
  limitConcurrent: true
  parameters: [{name: image, required: true}]
  stages:
  - name: deploy
    timeout: %s
    deploy:
      clusters:
      - account: %s
        region: us-east-1
        stack: main
        capacity: {min: 3, max: 5, desired: 3}
        strategy: %s
        %s
        aws:
          imageID: "${ parameters.image }"
          instanceType: m7g.large
          targetGroupARNs: [%s]
          subnetIDs: [subnet-0a]
`, name, timeout, a.account, strategy, options, targetGroup)
}

// outputs decodes a stage's outputs.
func outputs(g Gomega, st v1alpha1.StageStatus) map[string]any {
	out := map[string]any{}
	for k, v := range st.Outputs {
		var x any
		g.Expect(json.Unmarshal(v.Raw, &x)).To(Succeed())
		out[k] = x
	}
	return out
}

// groups lists the namespace's ServerGroups by name, with what a user checks of each.
type groupState struct {
	Traffic v1alpha1.Traffic
	Desired int32
	Healthy int32
}

func groups(g Gomega, ns string) map[string]groupState {
	var list v1alpha1.ServerGroupList
	g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]groupState{}
	for _, sg := range list.Items {
		if sg.DeletionTimestamp != nil {
			continue
		}
		out[sg.Name] = groupState{Traffic: sg.Status.Traffic, Desired: sg.Spec.Capacity.Desired, Healthy: sg.Status.Instances.Healthy}
	}
	return out
}

// asgNames lists the simulator's Auto Scaling groups that are not being deleted.
func asgNames(a *awsEnv) []string {
	var out []string
	for _, v := range a.sim.Groups() {
		if !v.Deleting {
			out = append(out, v.Name)
		}
	}
	sort.Strings(out)
	return out
}

// A red/black from v000 to v001: the new group takes traffic only once all its instances are healthy,
// the old one is then disabled and scaled to zero, and a third release destroys the oldest beyond
// maxRemainingServerGroups.
func TestDeployRedBlack(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {maxRemainingServerGroups: 2, delayBeforeScaleDown: 0s}`, "5m"))

	run(t, a.ns, "r1", "release", map[string]string{"image": "ami-00000000000000001"})
	ex := waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)
	out := outputs(g, stageOf(g, ex, "deploy"))
	g.Expect(out).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	g.Expect(out).To(HaveKeyWithValue("previousServerGroup", ""))
	g.Expect(out).To(HaveKeyWithValue("healthy", BeEquivalentTo(3)))
	g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{"shop-main-v000": {v1alpha1.TrafficEnabled, 3, 3}}))

	// While the second release runs, the load balancer never has fewer than 3 healthy targets, and the
	// old group leaves it only after the new one is in it with all 3 healthy.
	a.sim.ResetCalls()
	run(t, a.ns, "r2", "release", map[string]string{"image": "ami-00000000000000002"})
	g.Eventually(func(g Gomega) {
		st := groups(g, a.ns)
		if v0 := st["shop-main-v000"]; v0.Traffic == v1alpha1.TrafficDisabled {
			v1 := st["shop-main-v001"]
			g.Expect(v1.Traffic).To(Equal(v1alpha1.TrafficEnabled), "v000 left the load balancer before v001 was in it")
		}
		g.Expect(a.healthyTargets()).To(BeNumerically(">=", 3), "the load balancer lost healthy targets")
		g.Expect(execution(g, a.ns, "r2").Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
	}, "60s", "20ms").Should(Succeed())
	ex = execution(g, a.ns, "r2")
	out = outputs(g, stageOf(g, ex, "deploy"))
	g.Expect(out).To(HaveKeyWithValue("serverGroup", "shop-main-v001"))
	g.Expect(out).To(HaveKeyWithValue("previousServerGroup", "shop-main-v000"))
	g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	asg, _ := a.sim.Group("shop-main-v000")
	g.Expect(asg.TargetGroupARNs).To(BeEmpty())
	g.Expect(asg.SuspendedProcesses).To(ContainElement("AddToLoadBalancer"))
	// Scaled to zero: nothing runs; the instances still terminating are gone once AWS is done with them.
	for _, i := range asg.Instances {
		g.Expect(i.LifecycleState).To(Equal("Terminating"), "v000 still runs %s", i.ID)
	}
	g.Eventually(func() any { asg, _ := a.sim.Group("shop-main-v000"); return asg.Instances }).Should(BeEmpty())
	t.Logf("AWS API calls of a red/black of a 3-instance group, by operation: %v", a.sim.Calls())

	run(t, a.ns, "r3", "release", map[string]string{"image": "ami-00000000000000003"})
	waitPhase(g, a.ns, "r3", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
			"shop-main-v001": {v1alpha1.TrafficDisabled, 0, 0},
			"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3},
		}))
		g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v001", "shop-main-v002"}))
	}).Should(Succeed())
}

// A new group that never becomes healthy times the stage out; rollbackOnFailure leaves traffic on the
// old group and the new one disabled.
func TestDeployRedBlackRollback(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s, rollbackOnFailure: true}`, "4s"))
	run(t, a.ns, "r1", "release", map[string]string{"image": "ami-00000000000000001"})
	waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)

	a.sim.NeverHealthy("shop-main-v001")
	run(t, a.ns, "r2", "release", map[string]string{"image": "ami-00000000000000002"})
	ex := waitPhase(g, a.ns, "r2", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, ex, "deploy").Message).To(ContainSubstring("timed out"))
	g.Eventually(func(g Gomega) {
		st := groups(g, a.ns)
		g.Expect(st["shop-main-v000"]).To(Equal(groupState{v1alpha1.TrafficEnabled, 3, 3}))
		g.Expect(st["shop-main-v001"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
	}).Should(Succeed())
	asg, _ := a.sim.Group("shop-main-v000")
	g.Expect(asg.TargetGroupARNs).To(ConsistOf(targetGroup))
	g.Expect(a.healthyTargets()).To(Equal(3))
}

// Highlander keeps only the newest group once it is healthy.
func TestDeployHighlander(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, releasePipeline(a, "release", "Highlander", "", "5m"))
	for i, name := range []string{"r1", "r2", "r3"} {
		run(t, a.ns, name, "release", map[string]string{"image": fmt.Sprintf("ami-0000000000000000%d", i+1)})
		waitPhase(g, a.ns, name, v1alpha1.ExecutionSucceeded)
	}
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{"shop-main-v002": {v1alpha1.TrafficEnabled, 3, 3}}))
		g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v002"}))
	}).Should(Succeed())
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(3))
}

// The manager is killed and restarted at every step of a red/black (each change of the deploy stage's
// message); the deploy still finishes, with exactly one Auto Scaling group per ServerGroup.
func TestDeployRedBlackRestartEveryStep(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	stop := env.StartManagerWith(t, a.manager())
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 1s}`, "5m"))
	run(t, a.ns, "r1", "release", map[string]string{"image": "ami-00000000000000001"})
	waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)

	run(t, a.ns, "r2", "release", map[string]string{"image": "ami-00000000000000002"})
	seen := map[string]bool{}
	last := ""
	for restarts := 0; ; restarts++ {
		var ex *v1alpha1.Execution
		g.Eventually(func(g Gomega) {
			ex = execution(g, a.ns, "r2")
			msg := ""
			if len(ex.Status.Stages) > 0 {
				msg = ex.Status.Stages[0].Message
			}
			g.Expect(msg != last || ex.Status.Phase == v1alpha1.ExecutionSucceeded || ex.Status.Phase == v1alpha1.ExecutionFailed).To(BeTrue())
			last = msg
		}, "60s", "10ms").Should(Succeed())
		seen[last] = true
		if ex.Status.Phase == v1alpha1.ExecutionSucceeded || ex.Status.Phase == v1alpha1.ExecutionFailed {
			g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded), "%+v", ex.Status)
			t.Logf("%d restarts; deploy messages seen: %v", restarts, seen)
			break
		}
		stop()
		stop = env.StartManagerWith(t, a.manager())
	}
	g.Expect(len(seen)).To(BeNumerically(">=", 4), "the restarts fell between the red/black's steps")
	g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(2))
	g.Expect(a.sim.LaunchTemplates()).To(HaveLen(2))
}

// The server-group stages act on one group picked by name or by age in its cluster.
func TestServerGroupStages(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s}`, "5m"))
	for i, name := range []string{"r1", "r2"} {
		run(t, a.ns, name, "release", map[string]string{"image": fmt.Sprintf("ami-0000000000000000%d", i+1)})
		waitPhase(g, a.ns, name, v1alpha1.ExecutionSucceeded)
	}
	apply(t, a.ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: ops}
spec:
  application: shop
  stages:
  - name: rollback
    rollbackCluster: {account: %[1]s, region: us-east-1, cluster: shop-main}
  - name: resize
    dependsOn: [rollback]
    resizeServerGroup: {cluster: shop-main, account: %[1]s, region: us-east-1, target: Previous, capacity: {min: 0, desired: 1, max: 5}}
  - name: enable
    dependsOn: [resize]
    enableServerGroup: {serverGroup: shop-main-v001}
  - name: disable
    dependsOn: [enable]
    disableServerGroup: {cluster: shop-main, account: %[1]s, region: us-east-1, target: Oldest}
  - name: destroy
    dependsOn: [disable]
    destroyServerGroup: {cluster: shop-main, account: %[1]s, region: us-east-1, target: Oldest}
  - name: missing
    dependsOn: [destroy]
    enableServerGroup: {serverGroup: shop-main-v007}
`, a.account))
	run(t, a.ns, "ops1", "ops", nil)
	ex := waitPhase(g, a.ns, "ops1", v1alpha1.ExecutionFailed)
	g.Expect(outputs(g, stageOf(g, ex, "rollback"))).To(And(
		HaveKeyWithValue("serverGroup", "shop-main-v000"), HaveKeyWithValue("disabledServerGroup", "shop-main-v001")))
	g.Expect(outputs(g, stageOf(g, ex, "resize"))).To(HaveKeyWithValue("serverGroup", "shop-main-v000"))
	g.Expect(stageOf(g, ex, "missing").Message).To(ContainSubstring("shop-main-v007 not found"))
	g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3}}))
	g.Expect(apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: "shop-main-v000"}, &v1alpha1.ServerGroup{}))).To(BeTrue())
	g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v001"}))
}

// One deploy stage with two clusters, in two regions, deploys both in parallel: each region gets its own
// group behind its own load balancer, and the outputs list both.
func TestDeployTwoRegions(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  application: shop
  stages:
  - name: deploy
    deploy:
      clusters:
      - account: %[1]s
        region: us-east-1
        stack: main
        capacity: {min: 1, max: 3, desired: 2}
        aws: {imageID: ami-00000000000000001, instanceType: m7g.large, targetGroupARNs: [%[2]s], subnetIDs: [subnet-0a]}
      - account: %[1]s
        region: eu-west-1
        stack: main
        capacity: {min: 1, max: 3, desired: 3}
        aws: {imageID: ami-00000000000000009, instanceType: m7g.large, targetGroupARNs: [%[3]s], subnetIDs: [subnet-0e]}
`, a.account, targetGroup, targetGroupEU))
	run(t, a.ns, "r1", "release", nil)
	ex := waitPhase(g, a.ns, "r1", v1alpha1.ExecutionSucceeded)
	out := outputs(g, stageOf(g, ex, "deploy"))
	g.Expect(out["serverGroups"]).To(ConsistOf(
		And(HaveKeyWithValue("region", "us-east-1"), HaveKeyWithValue("serverGroup", "shop-main-v000"), HaveKeyWithValue("healthy", BeEquivalentTo(2))),
		And(HaveKeyWithValue("region", "eu-west-1"), HaveKeyWithValue("serverGroup", "shop-main-v001"), HaveKeyWithValue("healthy", BeEquivalentTo(3))),
	))
	regions := map[string]string{}
	for _, v := range a.sim.Groups() {
		regions[v.Name] = v.Region
		g.Expect(v.TargetGroupARNs).To(HaveLen(1))
		g.Expect(v.TargetGroupARNs[0]).To(ContainSubstring(":" + v.Region + ":"))
	}
	g.Expect(regions).To(Equal(map[string]string{"shop-main-v000": "us-east-1", "shop-main-v001": "eu-west-1"}))
}

// With every other status write of the Executions lost after the work behind it was done (a controller
// killed between creating a ServerGroup and recording it, between patching one and recording that), two
// red/blacks still make exactly one ServerGroup and one Auto Scaling group each.
func TestDeployLostStatusWrites(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	lossy := &losingWrites{resource: "executions", every: 2}
	m := a.manager()
	m.Config = rest.CopyConfig(env.Config)
	m.Config.Wrap(func(rt http.RoundTripper) http.RoundTripper { lossy.next = rt; return lossy })
	env.StartManagerWith(t, m)
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s}`, "5m"))
	for i, name := range []string{"r1", "r2"} {
		run(t, a.ns, name, "release", map[string]string{"image": fmt.Sprintf("ami-0000000000000000%d", i+1)})
		waitPhase(g, a.ns, name, v1alpha1.ExecutionSucceeded)
	}
	g.Expect(lossy.lost.Load()).To(BeNumerically(">=", 4))
	t.Logf("%d execution status writes lost", lossy.lost.Load())
	g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
		"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
		"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
	}))
	g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
	g.Expect(a.sim.Calls()["autoscaling:CreateAutoScalingGroup"]).To(Equal(2))
}
