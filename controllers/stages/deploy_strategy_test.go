package stages

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// cloud is a cluster as the deploy decisions see it, with a stand-in for the ServerGroup controller: the
// groups' specs change by the actions decide returns, and their status follows only when converge says.
type cloud struct {
	t      *testing.T
	now    time.Time
	groups map[string]*v1alpha1.ServerGroup
	// newGroup is the deploy's new group.
	newGroup string
}

func newCloud(t *testing.T) *cloud {
	return &cloud{t: t, now: clusterT0.Add(24 * time.Hour), groups: map[string]*v1alpha1.ServerGroup{}}
}

// add puts a converged group in the cluster, made at created.
func (c *cloud) add(name string, created time.Time, traffic v1alpha1.Traffic, desired int32) *v1alpha1.ServerGroup {
	g := sg(name, created)
	g.Spec.Traffic = traffic
	g.Spec.Capacity = v1alpha1.Capacity{Min: desired, Desired: desired, Max: 5}
	c.groups[name] = &g
	c.converge(name)
	return &g
}

// deploy adds the deploy's new group, just made: its status says nothing yet.
func (c *cloud) deploy(name string, traffic v1alpha1.Traffic) {
	g := sg(name, c.now)
	g.Spec.Traffic = traffic
	g.Generation = 1
	c.groups[name] = &g
	c.newGroup = name
}

// converge makes a group's status say the cloud matches its spec, all instances healthy. A group being
// deleted is gone once converged.
func (c *cloud) converge(names ...string) {
	for _, name := range names {
		g := c.groups[name]
		if deleting(g) {
			delete(c.groups, name)
			continue
		}
		gen := g.Generation
		g.Status.ObservedGeneration = gen
		d := g.Spec.Capacity.Desired
		g.Status.Instances = v1alpha1.Instances{Desired: d, Running: d, Healthy: d}
		g.Status.Traffic = g.Spec.Traffic
		cond := func(t string, ok bool, reason string) metav1.Condition {
			s := metav1.ConditionFalse
			if ok {
				s = metav1.ConditionTrue
			}
			return metav1.Condition{Type: t, Status: s, Reason: reason, ObservedGeneration: gen}
		}
		g.Status.Conditions = []metav1.Condition{
			cond(v1alpha1.ConditionReady, true, v1alpha1.ReasonAvailable),
			cond(v1alpha1.ConditionHealthy, true, "AllHealthy"),
			cond(v1alpha1.ConditionTrafficEnabled, g.Spec.Traffic == v1alpha1.TrafficEnabled, "Traffic"),
		}
	}
}

// refuse makes a group's Ready condition say a person must act.
func (c *cloud) refuse(name, reason, msg string) {
	g := c.groups[name]
	g.Status.ObservedGeneration = g.Generation
	g.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: g.Generation}}
}

func (c *cloud) view() clusterView {
	var v clusterView
	keys := make([]string, 0, len(c.groups))
	for k := range c.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := c.groups[k].DeepCopy()
		if k == c.newGroup {
			v.New = g
		} else {
			v.Others = append(v.Others, *g)
		}
	}
	return v
}

// apply makes the actions' changes to the specs, as the stage's patches and deletes would.
func (c *cloud) apply(actions []action) {
	for _, a := range actions {
		g, ok := c.groups[a.Group]
		if !ok {
			continue
		}
		g.Generation++
		switch a.Kind {
		case actionEnable:
			g.Spec.Traffic = v1alpha1.TrafficEnabled
		case actionDisable:
			g.Spec.Traffic = v1alpha1.TrafficDisabled
		case actionScaleDown:
			raw, _ := json.Marshal(a.Capacity)
			g.Annotations = map[string]string{v1alpha1.AnnotationScaledDownFrom: string(raw)}
			g.Spec.Capacity = v1alpha1.Capacity{Max: a.Capacity.Max}
		case actionRestore:
			g.Spec.Traffic = v1alpha1.TrafficEnabled
			if a.Capacity != nil {
				g.Spec.Capacity = *a.Capacity
				delete(g.Annotations, v1alpha1.AnnotationScaledDownFrom)
			}
		case actionDestroy:
			g.Generation--
			g.DeletionTimestamp = ptrTime(c.now)
			g.Finalizers = []string{"delivery.gennaker.io/cloud-resource"}
		}
	}
}

func (c *cloud) state() map[string]string {
	out := map[string]string{}
	for name, g := range c.groups {
		s := string(g.Spec.Traffic)
		if deleting(g) {
			s = "Deleting"
		}
		out[name] = s + "/" + string(rune('0'+g.Spec.Capacity.Desired))
	}
	return out
}

// run is a deploy of one cluster: its progress goes through JSON between Checks, as the stage's output
// does between reconciles.
type run struct {
	c    *cloud
	cfg  deployConfig
	p    clusterProgress
	last decision
}

func (r *run) check() decision {
	r.c.t.Helper()
	var p clusterProgress
	raw, err := json.Marshal(r.p)
	if err != nil {
		r.c.t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		r.c.t.Fatal(err)
	}
	r.last = decide(r.cfg, &p, r.c.view(), r.c.now)
	r.p = p
	r.c.apply(r.last.Actions)
	return r.last
}

func redBlackConfig() deployConfig {
	cfg, msg := newDeployConfig(&v1alpha1.DeployTarget{Strategy: v1alpha1.StrategyRedBlack, RedBlack: &v1alpha1.RedBlack{
		MaxRemainingServerGroups: 2, DelayBeforeDisable: "30s", DelayBeforeScaleDown: "5m",
	}}, "deploy.clusters[0]")
	if msg != "" {
		panic(msg)
	}
	return cfg
}

func kinds(actions []action) []string {
	out := []string{}
	for _, a := range actions {
		out = append(out, string(a.Kind)+" "+a.Group)
	}
	return out
}

func TestDeployConfigDefaults(t *testing.T) {
	g := NewWithT(t)
	cfg, msg := newDeployConfig(&v1alpha1.DeployTarget{}, "deploy.clusters[0]")
	g.Expect(msg).To(BeEmpty())
	g.Expect(cfg).To(Equal(deployConfig{Strategy: v1alpha1.StrategyRedBlack, MaxRemaining: 2, ScaleDown: true,
		DelayBeforeScaleDown: 5 * time.Minute, Rollback: true}), "RedBlack, with every default, when nothing is said")

	cfg, _ = newDeployConfig(&v1alpha1.DeployTarget{Strategy: v1alpha1.StrategyRedBlack, RedBlack: &v1alpha1.RedBlack{
		MaxRemainingServerGroups: 3, DelayBeforeDisable: "10s", ScaleDown: ptr.To(false), RollbackOnFailure: ptr.To(false),
	}}, "deploy.clusters[0]")
	g.Expect(cfg).To(Equal(deployConfig{Strategy: v1alpha1.StrategyRedBlack, MaxRemaining: 3, DelayBeforeDisable: 10 * time.Second,
		DelayBeforeScaleDown: 5 * time.Minute}), "fields left out keep their defaults")

	cfg, _ = newDeployConfig(&v1alpha1.DeployTarget{Strategy: v1alpha1.StrategyHighlander}, "deploy.clusters[0]")
	g.Expect(cfg.Rollback).To(BeFalse(), "only red/black rolls back")

	_, msg = newDeployConfig(&v1alpha1.DeployTarget{RedBlack: &v1alpha1.RedBlack{DelayBeforeScaleDown: "5 minutes"}}, "deploy.clusters[1]")
	g.Expect(msg).To(HavePrefix("deploy.clusters[1].redBlack.delayBeforeScaleDown: "))
	_, msg = newDeployConfig(&v1alpha1.DeployTarget{Strategy: "BlueGreen"}, "deploy.clusters[0]")
	g.Expect(msg).To(Equal(`deploy.clusters[0].strategy: "BlueGreen" is not RedBlack, Highlander or None`))
}

// The whole red/black path: the new group comes up disabled, takes traffic, the older ones that took
// traffic are disabled after delayBeforeDisable and scaled down after delayBeforeScaleDown, and the oldest
// beyond maxRemainingServerGroups is destroyed. Each delay is counted from a recorded time, so a Check
// after a restart neither waits it again nor skips it.
func TestRedBlackWholePath(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.add("shop-main-v000", clusterT0, v1alpha1.TrafficDisabled, 0)
	c.add("shop-main-v001", clusterT0.Add(time.Hour), v1alpha1.TrafficEnabled, 3)
	c.deploy("shop-main-v002", v1alpha1.TrafficDisabled)
	r := &run{c: c, cfg: redBlackConfig(), p: clusterProgress{ServerGroup: "shop-main-v002", PreviousServerGroup: "shop-main-v001"}}

	d := r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(d.Message).To(Equal("shop-main-v002: 0/3 healthy"))
	g.Expect(d.Next).To(BeTemporally("==", c.now.Add(serverGroupPoll)))

	c.converge("shop-main-v002")
	d = r.check()
	g.Expect(kinds(d.Actions)).To(Equal([]string{"enable shop-main-v002"}), "healthy beside the old one: it may take traffic")
	g.Expect(d.Message).To(Equal("shop-main-v002: enabling traffic, 3/3 healthy"))
	g.Expect(r.p.Healthy).To(BeEquivalentTo(3))

	d = r.check()
	g.Expect(d.Actions).To(BeEmpty(), "the status still describes the spec before the patch")
	g.Expect(d.Message).To(Equal("shop-main-v002: waiting to take traffic, 3/3 healthy"))

	c.converge("shop-main-v002")
	enabledAt := c.now
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(r.p.EnabledAt.Time).To(BeTemporally("==", enabledAt))
	g.Expect(d.Next).To(BeTemporally("==", enabledAt.Add(30*time.Second)))
	g.Expect(d.Message).To(Equal("shop-main-v002 takes traffic; disabling the older server groups at 2026-11-26T10:00:30Z"))
	g.Expect(c.state()["shop-main-v001"]).To(Equal("Enabled/3"), "both take traffic during delayBeforeDisable")

	// A restart 20s later: the delay still ends 30s after the new group took traffic.
	c.now = c.now.Add(20 * time.Second)
	d = r.check()
	g.Expect(d.Next).To(BeTemporally("==", enabledAt.Add(30*time.Second)))
	g.Expect(d.Actions).To(BeEmpty())

	c.now = enabledAt.Add(30 * time.Second)
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty(), "what to disable is recorded before anything is touched")
	g.Expect(r.p.Disable).To(Equal([]string{"shop-main-v001"}), "v000 took no traffic: not this stage's to disable")
	g.Expect(d.Next).To(BeTemporally("==", c.now))
	g.Expect(d.Message).To(Equal("disabling shop-main-v001"))

	d = r.check()
	g.Expect(kinds(d.Actions)).To(Equal([]string{"disable shop-main-v001"}))
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(d.Message).To(Equal("disabling shop-main-v001"))

	c.now = c.now.Add(2 * time.Second)
	c.converge("shop-main-v001")
	disabledAt := c.now
	d = r.check()
	g.Expect(r.p.DisabledAt.Time).To(BeTemporally("==", disabledAt))
	g.Expect(d.Next).To(BeTemporally("==", disabledAt.Add(5*time.Minute)))
	g.Expect(d.Message).To(Equal("shop-main-v002 takes traffic; scaling down shop-main-v001 at 2026-11-26T10:05:32Z"))

	// A restart during delayBeforeScaleDown does not start it again.
	c.now = c.now.Add(4 * time.Minute)
	d = r.check()
	g.Expect(d.Next).To(BeTemporally("==", disabledAt.Add(5*time.Minute)))
	g.Expect(r.p.ScaleDownPlanned).To(BeFalse())

	c.now = disabledAt.Add(5 * time.Minute)
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(r.p.ScaleDownPlanned).To(BeTrue())
	d = r.check()
	g.Expect(d.Actions).To(Equal([]action{{Kind: actionScaleDown, Group: "shop-main-v001", Capacity: &v1alpha1.Capacity{Min: 3, Desired: 3, Max: 5}}}))
	g.Expect(c.groups["shop-main-v001"].Annotations[v1alpha1.AnnotationScaledDownFrom]).To(MatchJSON(`{"min":3,"desired":3,"max":5}`))
	g.Expect(c.groups["shop-main-v001"].Spec.Capacity).To(Equal(v1alpha1.Capacity{Max: 5}), "max is left as it was")
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(d.Message).To(Equal("scaling down shop-main-v001"))

	c.converge("shop-main-v001")
	d = r.check()
	g.Expect(r.p.ScaledDownAt).NotTo(BeNil())
	g.Expect(r.p.Destroy).To(Equal([]string{"shop-main-v000"}), "v002 and v001 are the 2 kept")
	g.Expect(d.Actions).To(BeEmpty())
	d = r.check()
	g.Expect(kinds(d.Actions)).To(Equal([]string{"destroy shop-main-v000"}))
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty(), "deleting already")
	g.Expect(d.Message).To(Equal("destroying shop-main-v000"))
	g.Expect(d.Done).To(BeFalse(), "until it is gone")

	c.converge("shop-main-v000")
	d = r.check()
	g.Expect(d.Done).To(BeTrue())
	g.Expect(d.Message).To(Equal("shop-main-v002 deployed, 3/3 healthy; disabled shop-main-v001 and scaled it down; destroyed shop-main-v000"))
	g.Expect(c.state()).To(Equal(map[string]string{"shop-main-v001": "Disabled/0", "shop-main-v002": "Enabled/3"}))

	d = r.check()
	g.Expect(d.Done).To(BeTrue(), "done stays done")
	g.Expect(d.Actions).To(BeEmpty())
}

// A Check repeated from the progress recorded before the last one (its status write was lost, or the
// controller died after acting) acts again only where the groups do not show the change yet.
func TestRedBlackLostWrites(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.add("shop-main-v001", clusterT0, v1alpha1.TrafficEnabled, 3)
	c.deploy("shop-main-v002", v1alpha1.TrafficDisabled)
	cfg := redBlackConfig()
	cfg.DelayBeforeDisable = 0
	cfg.DelayBeforeScaleDown = 0
	r := &run{c: c, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v002"}}

	// Every Check is made twice: once with its write lost, once again from the same progress.
	lossy := func() decision {
		before := r.p
		r.check()
		r.p = before
		return r.check()
	}
	c.converge("shop-main-v002")
	d := lossy()
	g.Expect(d.Actions).To(BeEmpty(), "the enable was made by the lost Check; its patch shows in the spec")
	c.converge("shop-main-v002")
	lossy()
	g.Expect(r.p.Disable).To(Equal([]string{"shop-main-v001"}))
	d = lossy()
	g.Expect(d.Actions).To(BeEmpty(), "disabled by the lost Check")
	g.Expect(r.p.Disable).To(Equal([]string{"shop-main-v001"}), "still known as disabled by this stage, for a rollback")
	c.converge("shop-main-v001")
	lossy()
	g.Expect(r.p.ScaleDownPlanned).To(BeTrue())
	d = lossy()
	g.Expect(d.Actions).To(BeEmpty(), "scaled down by the lost Check")
	g.Expect(c.groups["shop-main-v001"].Annotations[v1alpha1.AnnotationScaledDownFrom]).To(MatchJSON(`{"min":3,"desired":3,"max":5}`),
		"the capacity recorded is the one before the scale-down, not zero")
	c.converge("shop-main-v001")
	d = lossy()
	g.Expect(d.Done).To(BeTrue())
	g.Expect(c.state()).To(Equal(map[string]string{"shop-main-v001": "Disabled/0", "shop-main-v002": "Enabled/3"}))
}

// Rolling back puts traffic on the groups the stage disabled, at the capacity they were scaled down
// from, and disables the new group; asked again, it has nothing left to do.
func TestRedBlackRollback(t *testing.T) {
	setup := func(t *testing.T) (*cloud, *run) {
		c := newCloud(t)
		c.add("shop-main-v000", clusterT0, v1alpha1.TrafficDisabled, 0)
		c.add("shop-main-v001", clusterT0.Add(time.Hour), v1alpha1.TrafficEnabled, 3)
		c.deploy("shop-main-v002", v1alpha1.TrafficDisabled)
		cfg := redBlackConfig()
		cfg.DelayBeforeDisable = 0
		cfg.DelayBeforeScaleDown = 0
		return c, &run{c: c, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v002"}}
	}
	// until runs Checks, converging every group after each, until cond holds.
	until := func(c *cloud, r *run, cond func() bool) {
		for range 20 {
			if cond() {
				return
			}
			r.check()
			c.converge(c.newGroup, "shop-main-v001")
		}
		c.t.Fatal("never got there")
	}

	t.Run("before the new group is healthy", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		c.refuse("shop-main-v002", v1alpha1.ReasonInvalidRequest, "the launch template has no such AMI")
		d := r.check()
		g.Expect(d.Failure).To(Equal("shop-main-v002: Ready=False InvalidRequest: the launch template has no such AMI"))
		g.Expect(r.p.Failure).To(Equal(d.Failure))
		g.Expect(rollback(r.cfg, &r.p, c.view())).To(BeEmpty(), "the new group takes no traffic, the old ones were not touched")
		g.Expect(r.check().Failure).To(Equal(d.Failure), "a failed cluster stays failed")
	})

	t.Run("after the new group took traffic", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		until(c, r, func() bool { return r.p.EnabledAt != nil })
		g.Expect(kinds(rollback(r.cfg, &r.p, c.view()))).To(Equal([]string{"disable shop-main-v002"}))
	})

	t.Run("after the old group was disabled", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		until(c, r, func() bool { return r.p.DisabledAt != nil })
		acts := rollback(r.cfg, &r.p, c.view())
		g.Expect(acts).To(Equal([]action{{Kind: actionRestore, Group: "shop-main-v001"}, {Kind: actionDisable, Group: "shop-main-v002"}}))
		c.apply(acts)
		g.Expect(rollback(r.cfg, &r.p, c.view())).To(BeEmpty(), "safe to ask twice")
		g.Expect(c.state()).To(Equal(map[string]string{"shop-main-v000": "Disabled/0", "shop-main-v001": "Enabled/3", "shop-main-v002": "Disabled/3"}),
			"v000 was not disabled by this stage and stays as it was")
	})

	t.Run("after the old group was scaled down", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		until(c, r, func() bool { return r.p.ScaledDownAt != nil })
		g.Expect(c.state()["shop-main-v001"]).To(Equal("Disabled/0"))
		acts := rollback(r.cfg, &r.p, c.view())
		g.Expect(acts).To(Equal([]action{
			{Kind: actionRestore, Group: "shop-main-v001", Capacity: &v1alpha1.Capacity{Min: 3, Desired: 3, Max: 5}},
			{Kind: actionDisable, Group: "shop-main-v002"},
		}))
		c.apply(acts)
		g.Expect(c.groups["shop-main-v001"].Annotations).NotTo(HaveKey(v1alpha1.AnnotationScaledDownFrom))
		g.Expect(rollback(r.cfg, &r.p, c.view())).To(BeEmpty())
		g.Expect(c.state()["shop-main-v001"]).To(Equal("Enabled/3"))
	})

	t.Run("the scale-down was planned but not made", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		until(c, r, func() bool { return r.p.ScaleDownPlanned })
		// A stale annotation from an older deploy must not shrink a group that was never scaled down.
		c.groups["shop-main-v001"].Annotations = map[string]string{v1alpha1.AnnotationScaledDownFrom: `{"min":1,"desired":1,"max":2}`}
		g.Expect(rollback(r.cfg, &r.p, c.view())).To(Equal([]action{
			{Kind: actionRestore, Group: "shop-main-v001"}, {Kind: actionDisable, Group: "shop-main-v002"},
		}))
	})

	t.Run("an old group that fails while being disabled", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		until(c, r, func() bool { return len(r.p.Disable) > 0 })
		r.check() // the disable
		c.refuse("shop-main-v001", v1alpha1.ReasonAccountNotAllowed, "the account does not allow namespace shop")
		d := r.check()
		g.Expect(d.Failure).To(Equal("shop-main-v001: Ready=False AccountNotAllowed: the account does not allow namespace shop"))
		g.Expect(kinds(rollback(r.cfg, &r.p, c.view()))).To(Equal([]string{"restore shop-main-v001", "disable shop-main-v002"}))
	})

	t.Run("the new group deleted", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		delete(c.groups, "shop-main-v002")
		g.Expect(r.check().Failure).To(Equal("shop-main-v002 was deleted before the deploy finished"))
	})

	t.Run("without rollbackOnFailure", func(t *testing.T) {
		g := NewWithT(t)
		c, r := setup(t)
		r.cfg.Rollback = false
		until(c, r, func() bool { return r.p.DisabledAt != nil })
		g.Expect(rollback(r.cfg, &r.p, c.view())).To(BeEmpty())
	})
}

// Without scaleDown the older groups stay at their capacity, and no delay is waited for it.
func TestRedBlackWithoutScaleDown(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.add("shop-main-v001", clusterT0, v1alpha1.TrafficEnabled, 3)
	c.deploy("shop-main-v002", v1alpha1.TrafficDisabled)
	cfg := redBlackConfig()
	cfg.DelayBeforeDisable = 0
	cfg.ScaleDown = false
	r := &run{c: c, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v002"}}
	for range 10 {
		if r.check().Done {
			break
		}
		c.converge("shop-main-v001", "shop-main-v002")
	}
	g.Expect(r.last.Done).To(BeTrue())
	g.Expect(c.state()).To(Equal(map[string]string{"shop-main-v001": "Disabled/3", "shop-main-v002": "Enabled/3"}))
	g.Expect(r.last.Message).To(Equal("shop-main-v002 deployed, 3/3 healthy; disabled shop-main-v001"))
}

// The first deploy of a cluster has nothing to disable or destroy.
func TestRedBlackFirstDeploy(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.deploy("shop-main-v000", v1alpha1.TrafficDisabled)
	r := &run{c: c, cfg: redBlackConfig(), p: clusterProgress{ServerGroup: "shop-main-v000"}}
	c.converge("shop-main-v000")
	g.Expect(kinds(r.check().Actions)).To(Equal([]string{"enable shop-main-v000"}))
	c.converge("shop-main-v000")
	c.now = c.now.Add(30 * time.Second) // delayBeforeDisable, though there is nothing to disable
	r.check()
	c.now = c.now.Add(30 * time.Second)
	d := r.check()
	g.Expect(d.Done).To(BeTrue(), "%+v", d)
	g.Expect(d.Message).To(Equal("shop-main-v000 deployed, 3/3 healthy"))
}

func TestBeyondMaxRemaining(t *testing.T) {
	at := func(h int) time.Time { return clusterT0.Add(time.Duration(h) * time.Hour) }
	disabled := func(name string, h int) v1alpha1.ServerGroup {
		g := sg(name, at(h))
		g.Spec.Traffic = v1alpha1.TrafficDisabled
		g.Status.Traffic = v1alpha1.TrafficDisabled
		return g
	}
	g := NewWithT(t)
	others := []v1alpha1.ServerGroup{disabled("shop-main-v003", 3), disabled("shop-main-v001", 1), disabled("shop-main-v002", 2), disabled("shop-main-v000", 0)}
	g.Expect(beyond(others, 2)).To(Equal([]string{"shop-main-v000", "shop-main-v001", "shop-main-v002"}), "oldest first; the new one counts")
	g.Expect(beyond(others, 3)).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
	g.Expect(beyond(others, 1)).To(HaveLen(4), "only the new group is kept")
	g.Expect(beyond(others, 5)).To(BeEmpty())
	g.Expect(beyond(nil, 1)).To(BeEmpty())

	// A group in use by traffic (desired or observed) is never destroyed.
	enabled := sg("shop-main-v001", at(1))
	draining := disabled("shop-main-v000", 0)
	draining.Status.Traffic = v1alpha1.TrafficEnabled
	g.Expect(beyond([]v1alpha1.ServerGroup{disabled("shop-main-v002", 2), enabled, draining}, 2)).To(BeEmpty())

	// Groups being deleted are neither counted nor destroyed again.
	gone := disabled("shop-main-v002", 2)
	gone.DeletionTimestamp = ptrTime(at(5))
	g.Expect(beyond([]v1alpha1.ServerGroup{gone, disabled("shop-main-v001", 1), disabled("shop-main-v000", 0)}, 2)).To(Equal([]string{"shop-main-v000"}))
}

// Highlander: once the new group is healthy and takes traffic, every older group is destroyed, those
// taking traffic included.
func TestHighlander(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.add("shop-main-v000", clusterT0, v1alpha1.TrafficDisabled, 3)
	c.add("shop-main-v001", clusterT0.Add(time.Hour), v1alpha1.TrafficEnabled, 3)
	c.deploy("shop-main-v002", v1alpha1.TrafficEnabled)
	cfg, _ := newDeployConfig(&v1alpha1.DeployTarget{Strategy: v1alpha1.StrategyHighlander}, "deploy.clusters[0]")
	r := &run{c: c, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v002"}}

	d := r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(d.Message).To(Equal("shop-main-v002: waiting to take traffic, 0/3 healthy"))
	c.converge("shop-main-v002")
	d = r.check()
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(r.p.Destroy).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
	d = r.check()
	g.Expect(kinds(d.Actions)).To(Equal([]string{"destroy shop-main-v000", "destroy shop-main-v001"}))
	d = r.check()
	g.Expect(d.Message).To(Equal("destroying shop-main-v000, shop-main-v001"))
	c.converge("shop-main-v000")
	g.Expect(r.check().Message).To(Equal("destroying shop-main-v001"))
	c.converge("shop-main-v001")
	d = r.check()
	g.Expect(d.Done).To(BeTrue())
	g.Expect(d.Message).To(Equal("shop-main-v002 deployed, 3/3 healthy; destroyed shop-main-v000, shop-main-v001"))
	g.Expect(rollback(cfg, &r.p, c.view())).To(BeEmpty(), "highlander leaves the new group as it is")
}

// None: the new group only has to become healthy; the others are left alone.
func TestNoneStrategy(t *testing.T) {
	g := NewWithT(t)
	c := newCloud(t)
	c.add("shop-main-v001", clusterT0, v1alpha1.TrafficEnabled, 3)
	c.deploy("shop-main-v002", v1alpha1.TrafficEnabled)
	cfg, _ := newDeployConfig(&v1alpha1.DeployTarget{Strategy: v1alpha1.StrategyNone}, "deploy.clusters[0]")
	r := &run{c: c, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v002"}}
	g.Expect(r.check().Message).To(Equal("shop-main-v002: 0/3 healthy"))
	c.converge("shop-main-v002")
	d := r.check()
	g.Expect(d.Done).To(BeTrue())
	g.Expect(d.Actions).To(BeEmpty())
	g.Expect(c.state()).To(Equal(map[string]string{"shop-main-v001": "Enabled/3", "shop-main-v002": "Enabled/3"}))

	c2 := newCloud(t)
	c2.deploy("shop-main-v000", v1alpha1.TrafficEnabled)
	c2.refuse("shop-main-v000", v1alpha1.ReasonAccountNotFound, "spec.account: CloudAccount aws-prod not found")
	r2 := &run{c: c2, cfg: cfg, p: clusterProgress{ServerGroup: "shop-main-v000"}}
	g.Expect(r2.check().Failure).To(Equal("shop-main-v000: Ready=False AccountNotFound: spec.account: CloudAccount aws-prod not found"))
	g.Expect(rollback(cfg, &r2.p, c2.view())).To(BeEmpty())
}
