package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/test/testenv"
)

// replica is one manager of a leader-elected deployment, run in the test's process.
type replica struct {
	name string
	mgr  ctrl.Manager
	// crash stops the manager without releasing its lease, as a killed pod would leave it: the next
	// leader must wait for the lease to expire.
	crash func()
}

// Lease settings of the replica tests: short, so a failover takes seconds (the shipped defaults are 15s,
// 10s and 2s).
var (
	testLease = 2 * time.Second
	testRenew = 1500 * time.Millisecond
	testRetry = 200 * time.Millisecond
)

// startReplica starts a manager that takes part in the leader election of lease in namespace ns, with
// o's controller settings and, if sel is set, watching only what it matches (--watch-label-selector).
func startReplica(t *testing.T, name, ns, lease string, o controllers.Options, sel k8slabels.Selector) *replica {
	t.Helper()
	// Its own user agent: the API server names it in managedFields as what wrote each field.
	cfg := rest.CopyConfig(env.Config)
	cfg.UserAgent = name
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        testenv.Scheme,
		Cache:                         controllers.WithWatchSelector(controllers.CacheOptions(), sel),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
		LeaderElection:                true,
		LeaderElectionID:              lease,
		LeaderElectionNamespace:       ns,
		LeaderElectionReleaseOnCancel: false,
		LeaseDuration:                 &testLease,
		RenewDeadline:                 &testRenew,
		RetryPeriod:                   &testRetry,
	})
	if err != nil {
		t.Fatalf("creating manager %s: %v", name, err)
	}
	if err := controllers.SetupWithManager(mgr, o); err != nil {
		t.Fatalf("setting up manager %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A manager stopped by its context returns nil; one that lost its lease returns an error, which
		// is what a crashed leader's successor makes the old one see, and fine here.
		_ = mgr.Start(ctx)
	}()
	var once sync.Once
	r := &replica{name: name, mgr: mgr, crash: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(r.crash)
	return r
}

// leads says whether the replica has been elected.
func (r *replica) leads() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// failover crashes the leader and waits until next is elected; it returns how long that took.
func failover(t *testing.T, g *WithT, leader, next *replica) time.Duration {
	t.Helper()
	g.Expect(leader.leads()).To(BeTrue(), "%s is not the leader", leader.name)
	g.Expect(next.leads()).To(BeFalse(), "%s leads beside %s", next.name, leader.name)
	start := time.Now()
	leader.crash()
	g.Eventually(next.leads, "30s", "10ms").Should(BeTrue(), "%s never took over from %s", next.name, leader.name)
	took := time.Since(start)
	t.Logf("failover from %s to %s: %v (lease %v, renew deadline %v, retry %v)", leader.name, next.name, took.Round(time.Millisecond), testLease, testRenew, testRetry)
	return took
}

// calls counts a webhook receiver's requests by Idempotency-Key; a request without one is counted under "".
type calls struct {
	mu    sync.Mutex
	byKey map[string]int
}

func (c *calls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.byKey[r.Header.Get("Idempotency-Key")]++
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *calls) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byKey))
	for k, v := range c.byKey {
		out[k] = v
	}
	return out
}

// TestTwoReplicasFailover runs two managers against one API server with leader election, as the
// deployment's two replicas, and crashes the leader (its lease kept, as a killed pod leaves it) in the
// middle of a red/black, while a run waits on a judgment, and as a cron trigger fires. A crashed replica
// comes back as the standby, as its pod would. After each failover the new leader carries on: no cloud
// group is made twice or left behind, every webhook call of a run has that run's Idempotency-Key (a call
// repeated after a crash repeats the key), no cron time starts two runs, and a judgment patched while no
// replica leads is honoured.
func TestTwoReplicasFailover(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, false)
	hook := &calls{byKey: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	o := a.manager().Controllers
	lease := "gennaker-replicas"
	start := func(name string) *replica { return startReplica(t, name, a.ns, lease, o, nil) }

	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 0s}`, "5m")+fmt.Sprintf(`
  - {name: go-no-go, dependsOn: [deploy], manualJudgment: {instructions: "ship it?"}}
  - {name: notify, dependsOn: [go-no-go], webhook: {url: "%[1]s/released", body: '{"run": "${ execution.name }"}'}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: nightly}
spec:
  application: shop
  triggers: [{cron: {schedule: "* * * * *"}}]
  stages:
  - {name: notify, webhook: {url: "%[1]s/nightly", body: '{"run": "${ execution.name }"}'}}
`, srv.URL))

	r1 := start("replica-1")
	g.Eventually(r1.leads, "30s", "10ms").Should(BeTrue())
	r2 := start("replica-2")
	g.Consistently(r2.leads, "1s", "50ms").Should(BeFalse(), "two replicas lead at once")

	// v000, the group a red/black replaces, under the first leader.
	run(t, a.ns, "first", "release", map[string]string{"image": "ami-00000000000000001"})
	patch(t, a.ns, "first", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}`)
	waitPhase(g, a.ns, "first", v1alpha1.ExecutionSucceeded)

	// Crash 1: mid red/black, once the ServerGroup v001 exists and before it is healthy.
	run(t, a.ns, "second", "release", map[string]string{"image": "ami-00000000000000002"})
	g.Eventually(func(g Gomega) {
		g.Expect(groups(g, a.ns)).To(HaveKey("shop-main-v001"))
	}, "30s", "10ms").Should(Succeed())
	var took []time.Duration
	took = append(took, failover(t, g, r1, r2))
	r1 = start("replica-1-restarted")

	// Crash 2: while the run waits on its judgment; the judgment is patched before anyone leads again.
	waitStagePhase(g, a.ns, "second", "go-no-go", v1alpha1.StageWaitingForJudgment)
	g.Expect(r1.leads()).To(BeFalse())
	r2.crash()
	crashed := time.Now()
	patch(t, a.ns, "second", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"while no one leads"}}}}`)
	g.Expect(r1.leads()).To(BeFalse(), "the lease expired before the judgment was patched: it no longer shows a judgment made while no replica leads")
	g.Eventually(r1.leads, "30s", "10ms").Should(BeTrue())
	took = append(took, time.Since(crashed))
	t.Logf("failover from replica-2 to replica-1-restarted: %v", took[1].Round(time.Millisecond))
	second := waitPhase(g, a.ns, "second", v1alpha1.ExecutionSucceeded)
	judged := meta.FindStatusCondition(stageOf(g, second, "go-no-go").Conditions, v1alpha1.ConditionJudged)
	g.Expect(judged).NotTo(BeNil(), "the judgment made while no replica led is not recorded")
	g.Expect(judged.Reason).To(Equal("Continue"))
	g.Expect(judged.Message).To(ContainSubstring("while no one leads"))
	r2 = start("replica-2-restarted")

	// Crash 3: the moment a cron trigger has started a run, before or after the leader recorded it.
	var fired v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		var list v1alpha1.ExecutionList
		g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(a.ns), client.MatchingLabels{v1alpha1.LabelPipeline: "nightly"})).To(Succeed())
		g.Expect(list.Items).NotTo(BeEmpty())
		fired = list.Items[0]
	}, "90s", "10ms").Should(Succeed(), "the cron trigger never fired")
	took = append(took, failover(t, g, r1, r2))
	waitPhase(g, a.ns, fired.Name, v1alpha1.ExecutionSucceeded)
	// The new leader records the fire (or its own, for the same due time): the trigger has moved past it,
	// and that due time has exactly one run.
	due := strings.TrimPrefix(fired.Name, "nightly-cron0-")
	g.Eventually(func(g Gomega) {
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: "nightly"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).NotTo(BeEmpty())
		g.Expect(fmt.Sprint(pl.Status.Triggers[0].LastScheduleTime.Unix()) >= due).To(BeTrue(), "the trigger did not move past %s", due)
	}).Should(Succeed())
	var nightly v1alpha1.ExecutionList
	g.Expect(env.Client.List(context.Background(), &nightly, client.InNamespace(a.ns), client.MatchingLabels{v1alpha1.LabelPipeline: "nightly"})).To(Succeed())
	perDue := map[string]int{}
	for _, ex := range nightly.Items {
		perDue[ex.Name]++
		g.Expect(ex.Name).To(HavePrefix("nightly-cron0-"), "a nightly run that no due time names")
	}
	for name, n := range perDue {
		g.Expect(n).To(Equal(1), "due time of %s started %d runs", name, n)
	}

	// The cloud: v000 and v001 once each, no Auto Scaling group without its ServerGroup.
	g.Eventually(func(g Gomega) {
		g.Expect(asgNames(a)).To(Equal([]string{"shop-main-v000", "shop-main-v001"}))
		g.Expect(groups(g, a.ns)).To(Equal(map[string]groupState{
			"shop-main-v000": {v1alpha1.TrafficDisabled, 0, 0},
			"shop-main-v001": {v1alpha1.TrafficEnabled, 3, 3},
		}))
	}).Should(Succeed())

	// The webhooks: every call carried its run's key; a repeat (a crash between the call and its status
	// write) repeats the key, so the receiver can tell it from a second delivery.
	var runs []string
	for _, name := range []string{"first", "second"} {
		runs = append(runs, string(execution(g, a.ns, name).UID)+"/notify")
	}
	for _, ex := range nightly.Items {
		if ex.Status.Phase == v1alpha1.ExecutionSucceeded {
			runs = append(runs, string(ex.UID)+"/notify")
		}
	}
	got := hook.snapshot()
	g.Expect(got).NotTo(HaveKey(""), "a webhook call without an Idempotency-Key")
	for _, key := range runs {
		g.Expect(got).To(HaveKey(key), "run %s never called its webhook", key)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	g.Expect(keys).To(ConsistOf(runs), "a webhook call with a key of no run's stage")
	t.Logf("failovers: %v; webhook calls by key: %v", took, got)
}
