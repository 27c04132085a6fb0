package controllers_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// shardPipeline deploys cluster shop-<stack> red/black; labels is the Pipeline's metadata.labels.
func shardPipeline(a *awsEnv, name, labels, stack string) string {
	return fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: %s, labels: %s}
spec:
  application: shop
  stages:
  - name: deploy
    deploy:
      clusters:
      - account: %s
        region: us-east-1
        stack: %s
        capacity: {min: 1, max: 2, desired: 1}
        strategy: RedBlack
        aws: {imageID: ami-00000000000000001, instanceType: m7g.large, targetGroupARNs: [%s], subnetIDs: [subnet-0a]}
`, name, labels, a.account, stack, targetGroup)
}

// TestShardsSplitTheWork runs two shards side by side, each a leader-elected manager with its own Lease
// and --watch-label-selector: one for `sharding.gennaker.io/key in (shard1)`, one for everything without
// the label. A shard1 run whose pipeline stage starts a child run that deploys, and an unlabelled run that
// deploys, both finish; the child and the ServerGroup carry their parent's shard, and the API server's
// managedFields show that each object was written by its own shard's manager only.
func TestShardsSplitTheWork(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	one := k8slabels.SelectorFromSet(k8slabels.Set{controllers.ShardLabel: "shard1"})
	unlabelledOnly, err := k8slabels.Parse("!" + controllers.ShardLabel)
	g.Expect(err).NotTo(HaveOccurred())
	o := a.manager().Controllers
	shard1 := startReplica(t, "gennaker-shard1", a.ns, "gennaker-shard1", o, one)
	unlabelled := startReplica(t, "gennaker-unlabelled", a.ns, "gennaker-unlabelled", o, unlabelledOnly)
	g.Eventually(func() bool { return shard1.leads() && unlabelled.leads() }, "30s", "10ms").Should(BeTrue(), "each shard leads its own Lease")

	apply(t, a.ns, shardPipeline(a, "release-1", "{sharding.gennaker.io/key: shard1}", "main")+`
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent, labels: {sharding.gennaker.io/key: shard1}}
spec:
  application: shop
  stages:
  - {name: child, pipeline: {name: release-1}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: after-parent, labels: {sharding.gennaker.io/key: shard1}}
spec:
  application: shop
  triggers:
  - {name: parent-done, pipeline: {pipeline: parent}}
  stages:
  - {name: settle, wait: {duration: 0s}}
---`+shardPipeline(a, "release-edge", "{}", "edge"))
	ex := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Pipeline: "parent"}}
	ex.Name, ex.Namespace, ex.Labels = "in-shard1", a.ns, map[string]string{controllers.ShardLabel: "shard1"}
	g.Expect(env.Client.Create(context.Background(), ex)).To(Succeed())
	run(t, a.ns, "unlabelled", "release-edge", nil)

	parent := waitPhase(g, a.ns, "in-shard1", v1alpha1.ExecutionSucceeded)
	child, _ := outputs(g, stageOf(g, parent, "child"))["execution"].(string)
	g.Expect(child).NotTo(BeEmpty())
	waitPhase(g, a.ns, "unlabelled", v1alpha1.ExecutionSucceeded)
	// The run parent's end triggers stays in the shard too, and that shard runs it to the end.
	var triggered string
	g.Eventually(func(g Gomega) {
		var list v1alpha1.ExecutionList
		g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(a.ns))).To(Succeed())
		for _, ex := range list.Items {
			if ex.Spec.Pipeline == "after-parent" {
				triggered = ex.Name
			}
		}
		g.Expect(triggered).NotTo(BeEmpty(), "the pipeline trigger started no run")
	}).Should(Succeed())
	g.Expect(execution(g, a.ns, triggered).Labels).To(HaveKeyWithValue(controllers.ShardLabel, "shard1"), "the triggered run left its Pipeline's shard")
	waitPhase(g, a.ns, triggered, v1alpha1.ExecutionSucceeded)
	g.Expect(execution(g, a.ns, child).Labels).To(HaveKeyWithValue(controllers.ShardLabel, "shard1"), "the child run left its parent's shard")
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
			"shop-main-v000": {v1alpha1.TrafficEnabled, 1, 1},
			"shop-edge-v000": {v1alpha1.TrafficEnabled, 1, 1},
		}))
	}).Should(Succeed())
	g.Expect(getGroup(g, a.ns, "shop-main-v000").Labels).To(HaveKeyWithValue(controllers.ShardLabel, "shard1"))
	g.Expect(getGroup(g, a.ns, "shop-edge-v000").Labels).NotTo(HaveKey(controllers.ShardLabel))

	writers := func(obj client.Object) []string {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		var out []string
		for _, f := range obj.GetManagedFields() {
			out = append(out, f.Manager)
		}
		return out
	}
	key := func(o client.Object, name string) client.Object { o.SetNamespace(a.ns); o.SetName(name); return o }
	for _, c := range []struct {
		obj        client.Object
		own, other string
	}{
		{key(&v1alpha1.Execution{}, "in-shard1"), "gennaker-shard1", "gennaker-unlabelled"},
		{key(&v1alpha1.Execution{}, child), "gennaker-shard1", "gennaker-unlabelled"},
		{key(&v1alpha1.Pipeline{}, "parent"), "gennaker-shard1", "gennaker-unlabelled"},
		{key(&v1alpha1.ServerGroup{}, "shop-main-v000"), "gennaker-shard1", "gennaker-unlabelled"},
		{key(&v1alpha1.Execution{}, triggered), "gennaker-shard1", "gennaker-unlabelled"},
		{key(&v1alpha1.Execution{}, "unlabelled"), "gennaker-unlabelled", "gennaker-shard1"},
		{key(&v1alpha1.Pipeline{}, "release-edge"), "gennaker-unlabelled", "gennaker-shard1"},
		{key(&v1alpha1.ServerGroup{}, "shop-edge-v000"), "gennaker-unlabelled", "gennaker-shard1"},
	} {
		w := writers(c.obj)
		g.Expect(w).To(ContainElement(c.own), "%T %s was not written by its shard", c.obj, c.obj.GetName())
		g.Expect(w).NotTo(ContainElement(c.other), "%T %s was written by the other shard", c.obj, c.obj.GetName())
	}
	g.Expect(asgNames(a)).To(Equal([]string{"shop-edge-v000", "shop-main-v000"}))
}

// TestShardedAccountHeldForEveryShard: a CloudAccount shared by two shards is looked after by one of them
// (the unlabelled shard; shard1 runs with SkipCloudAccounts, as --cloud-accounts=false). That shard counts
// the ServerGroups of both, although its cache holds only its own, and does not let the account go while
// a group of the other shard still needs it to delete its cloud group.
func TestShardedAccountHeldForEveryShard(t *testing.T) {
	g := testenv.NewWithT(t)
	ctx := context.Background()
	a := setupAWS(t, false)
	unlabelledOnly, err := k8slabels.Parse("!" + controllers.ShardLabel)
	g.Expect(err).NotTo(HaveOccurred())
	other, owner := a.manager().Controllers, a.manager().Controllers
	other.Sharded, other.SkipCloudAccounts = true, true
	owner.Sharded = true
	shard1 := startReplica(t, "gennaker-shard1", a.ns, "gennaker-shard1", other,
		k8slabels.SelectorFromSet(k8slabels.Set{controllers.ShardLabel: "shard1"}))
	unlabelled := startReplica(t, "gennaker-unlabelled", a.ns, "gennaker-unlabelled", owner, unlabelledOnly)
	g.Eventually(func() bool { return shard1.leads() && unlabelled.leads() }, "30s", "10ms").Should(BeTrue())

	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "shop-main-v000", Labels: map[string]string{controllers.ShardLabel: "shard1"}},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: a.account, Region: "us-east-1",
			Capacity: v1alpha1.Capacity{Min: 0, Max: 2, Desired: 1},
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
				ImageID: "ami-0abc1234def567890", InstanceType: "m7g.large", SubnetIDs: []string{"subnet-0a"},
			}},
		},
	}
	g.Expect(env.Client.Create(ctx, sg)).To(Succeed())
	g.Eventually(func() []string { return asgNames(a) }).Should(Equal([]string{"shop-main-v000"}), "shard1 makes its group")
	user := a.ns + "/shop-main-v000"
	g.Eventually(func(g Gomega) {
		acc := getAccount(g, a.account)
		g.Expect(cond(acc, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(acc.Status.ServerGroups).To(Equal(int32(1)))
		g.Expect(acc.Status.UsedBy).To(Equal([]string{user}))
	}, "30s").Should(Succeed(), "the account counts the other shard's group")
	acc := getAccount(g, a.account)
	for _, f := range acc.GetManagedFields() {
		g.Expect(f.Manager).NotTo(Equal("gennaker-shard1"), "a shard with --cloud-accounts=false wrote the account")
	}

	// Deleting the account waits for the group of the other shard, which still deletes its cloud group.
	g.Expect(env.Client.Delete(ctx, acc)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := cond(getAccount(g, a.account), v1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonInUse))
		g.Expect(c.Message).To(ContainSubstring(user))
	}).Should(Succeed(), "the account is let go while another shard's group uses it")
	g.Expect(env.Client.Delete(ctx, sg)).To(Succeed())
	g.Eventually(gone(sg)).Should(BeTrue())
	g.Expect(asgNames(a)).To(BeEmpty(), "the group's deletion left its cloud group")
	g.Eventually(gone(acc), "30s").Should(BeTrue(), "the account is held after its last group went")
}
